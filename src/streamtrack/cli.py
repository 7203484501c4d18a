"""The ``streamtrack`` command line: ``locate`` a movie into a store, ``demo``.

Examples
--------
::

    streamtrack locate 'movie/*.png' -d 11 --channel 1 --invert -o features.h5
    streamtrack demo
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

STORES = {
    "frames": "PandasHDFStore",
    "big": "PandasHDFStoreBig",
    "single": "PandasHDFStoreSingleNode",
}


def _odd_or_tuple(text):
    parts = [int(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _float_or_tuple(text):
    parts = [float(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _add_locate_options(parser):
    g = parser.add_argument_group("locate options (as streamtrack.locate)")
    g.add_argument("-d", "--diameter", type=_odd_or_tuple, required=True,
                   help="feature diameter in pixels, odd (e.g. 11, or 9,11 per axis)")
    g.add_argument("--minmass", type=float, default=None, help="minimum integrated brightness")
    g.add_argument("--maxsize", type=float, default=None, help="maximum radius of gyration")
    g.add_argument("--separation", type=_float_or_tuple, default=None,
                   help="minimum distance between features (default diameter + 1)")
    g.add_argument("--noise-size", type=_float_or_tuple, default=1, help="noise filter sigma")
    g.add_argument("--smoothing-size", type=_odd_or_tuple, default=None,
                   help="background boxcar size (default diameter)")
    g.add_argument("--threshold", type=float, default=None, help="bandpass clip threshold")
    g.add_argument("--invert", action="store_true", help="dark features on a bright background")
    g.add_argument("--percentile", type=float, default=64, help="maxima brightness percentile")
    g.add_argument("--topn", type=int, default=None, help="keep the N brightest features")
    g.add_argument("--max-iterations", type=int, default=10, help="refinement steps")
    g.add_argument("--no-characterize", action="store_true",
                   help="skip size, ecc, signal, raw_mass and ep")


def _locate_kwargs(args):
    return dict(minmass=args.minmass, maxsize=args.maxsize, separation=args.separation,
                noise_size=args.noise_size, smoothing_size=args.smoothing_size,
                threshold=args.threshold, invert=args.invert, percentile=args.percentile,
                topn=args.topn, max_iterations=args.max_iterations,
                characterize=not args.no_characterize)


def _open_frames(sources, channel):
    import streamtrack as tp

    frames = tp.open(sources[0] if len(sources) == 1 else list(sources))
    if channel is not None:
        @tp.pipeline
        def pick_channel(image):
            if image.ndim != 3:
                raise ValueError(f"--channel {channel} given, but frames are not colour "
                                 f"images (shape {image.shape}).")
            return image[..., channel]
        frames = pick_channel(frames)
    return frames


def _open_output(path, kind, overwrite):
    import streamtrack as tp

    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose "
                                  "another -o.")
        os.remove(path)
    return getattr(tp, STORES[kind])(path)


def _progress(total, desc, quiet):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=quiet, file=sys.stderr)


def cmd_locate(args):
    import streamtrack as tp

    tp.quiet()  # the progress bar replaces per-frame log lines
    frames = _open_frames(args.frames, args.channel)
    total = len(frames) if hasattr(frames, "__len__") else None
    counts = []
    with _open_output(args.output, args.store, args.overwrite) as store, \
            _progress(total, "locate", args.quiet) as bar:
        def after_locate(frame_no, features):
            counts.append(len(features))
            bar.update(1)
            bar.set_postfix(features=len(features))
            return features
        tp.batch(frames, args.diameter, output=store, processes=args.processes,
                 after_locate=after_locate, meta=args.meta, **_locate_kwargs(args))
    print(f"{len(counts)} frames, {sum(counts)} features "
          f"({np.mean(counts) if counts else 0:.1f} per frame) -> {args.output}")
    return 0


def _match(found, truth, max_distance):
    """Greedy-free matching: each true particle to its nearest feature."""
    from scipy.spatial import cKDTree

    if len(found) == 0:
        return np.full(len(truth), np.inf)
    dist, _ = cKDTree(found).query(truth, distance_upper_bound=max_distance)
    return dist


def cmd_demo(args):
    import streamtrack as tp
    from streamtrack import synthetic

    tp.quiet()
    workdir = args.output or tempfile.mkdtemp(prefix="streamtrack-demo-")
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "demo.h5")
    if os.path.exists(path):
        os.remove(path)
    print(f"Synthetic movie: {args.n_particles} Brownian particles, {args.n_frames} frames "
          f"of {args.size}x{args.size} px (known positions).")
    frames, truth = synthetic.brownian_movie(n_particles=args.n_particles,
                                             n_frames=args.n_frames,
                                             shape=(args.size, args.size), seed=args.seed)
    start = time.perf_counter()
    with tp.PandasHDFStore(path) as store, _progress(len(frames), "locate", args.quiet) as bar:
        tp.batch(frames, args.diameter, minmass=args.minmass, output=store,
                 processes="auto", after_locate=lambda n, f: (bar.update(1), f)[1])
        elapsed = time.perf_counter() - start
        n_frames, found = len(store), store.dump()
    print(f"Located {len(found)} features in {n_frames} frames in {elapsed:.2f} s "
          f"-> {path}")
    errors, missed = [], 0
    for frame_no, true_frame in truth.groupby("frame"):
        got = found[found["frame"] == frame_no]
        dist = _match(got[["y", "x"]].to_numpy(), true_frame[["y", "x"]].to_numpy(),
                      args.diameter / 2)
        missed += int(np.isinf(dist).sum())
        errors.extend(dist[np.isfinite(dist)])
    errors = np.asarray(errors)
    extra = len(found) - len(errors)
    print(f"Truth: {len(truth)} particle positions. Found {len(errors)} "
          f"({100 * len(errors) / len(truth):.1f}%), missed {missed}, spurious {extra}.")
    if len(errors):
        print(f"Position error: RMS {np.sqrt(np.mean(errors ** 2)):.3f} px, "
              f"max {errors.max():.3f} px.")
    return 0 if len(errors) >= 0.95 * len(truth) else 1


def build_parser():
    parser = argparse.ArgumentParser(
        prog="streamtrack",
        description="Streaming, trackpy-compatible particle tracking.")
    parser.add_argument("--version", action="version",
                        version=f"streamtrack {__import__('streamtrack').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("locate", help="locate features in a movie, streaming into a store",
                       description="Locate features frame by frame into an HDF5 store "
                                   "that trackpy can read.")
    p.add_argument("frames", nargs="+",
                   help="a quoted glob ('movie/*.png'), a folder, a (multi-page) TIFF, "
                        "or several image files")
    p.add_argument("-o", "--output", required=True, help="HDF5 store to write")
    p.add_argument("--channel", type=int, default=None,
                   help="colour channel to analyse for RGB(A) frames (0=red, 1=green, ...)")
    p.add_argument("--store", choices=sorted(STORES), default="frames",
                   help="store layout: frames=PandasHDFStore (default), "
                        "big=PandasHDFStoreBig, single=PandasHDFStoreSingleNode")
    p.add_argument("--processes", default="auto",
                   type=lambda s: s if s == "auto" else int(s),
                   help="parallel workers ('auto' = all cores)")
    p.add_argument("--meta", default=None, help="also write the parameters to this YAML file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_locate_options(p)
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("demo", help="run the pipeline on a built-in synthetic movie",
                       description="Generate a synthetic movie with known truth, run "
                                   "locate on it and compare with the truth.")
    p.add_argument("--n-particles", type=int, default=50)
    p.add_argument("--n-frames", type=int, default=100)
    p.add_argument("--size", type=int, default=256, help="frame width and height, px")
    p.add_argument("-d", "--diameter", type=int, default=11)
    p.add_argument("--minmass", type=float, default=500,
                   help="minimum feature mass (synthetic spots have ~1900, noise < 150)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="folder for demo.h5 (default: a temp dir)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        # user errors: one clear line, no traceback
        print(f"streamtrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every frame stored so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
