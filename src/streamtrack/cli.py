"""The ``streamtrack`` command line: ``locate``, ``link``, ``track``, ``demo``.

Examples
--------
::

    streamtrack locate 'movie/*.png' -d 11 --channel 1 --invert -o features.h5
    streamtrack link features.h5 -s 3 --memory 3
    streamtrack track 'movie/*.png' -d 11 -s 3 --channel 1 --invert -o tracks.h5
    streamtrack locate 'movie/*.png' -d 11 --scheduler tcp://host:8786 -o features.h5
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
    "chunked": "PandasHDFStoreChunked",
}


def _odd_or_tuple(text):
    parts = [int(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _float_or_tuple(text):
    parts = [float(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _add_movie_options(p):
    """Input movie and output store options of 'locate' and 'track'."""
    p.add_argument("frames", nargs="+",
                   help="a quoted glob ('movie/*.png'), a folder, a (multi-page) TIFF, "
                        "or several image files")
    p.add_argument("-o", "--output", required=True, help="HDF5 store to write")
    p.add_argument("--channel", type=int, default=None,
                   help="colour channel to analyse for RGB(A) frames (0=red, 1=green, ...)")
    p.add_argument("--store", choices=sorted(STORES), default="frames",
                   help="store layout: frames=PandasHDFStore (default), "
                        "big=PandasHDFStoreBig, single=PandasHDFStoreSingleNode, "
                        "chunked=PandasHDFStoreChunked (for long movies: flat cost at any "
                        "length, nothing lost if the process is killed)")
    p.add_argument("--processes", default="auto",
                   type=lambda s: s if s == "auto" else int(s),
                   help="parallel locate workers ('auto' = all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="locate on a Dask cluster: its scheduler address (tcp://host:8786); "
                        "the workers read the frames, so they need the same paths "
                        "(pip install 'napari-streamtrack[distributed]')")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


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


def _add_link_options(parser):
    g = parser.add_argument_group("link options (as streamtrack.link)")
    g.add_argument("-s", "--search-range", type=_float_or_tuple, required=True,
                   help="largest displacement between frames, px (or one per axis: 3,5)")
    g.add_argument("--memory", type=int, default=0,
                   help="frames a particle may vanish and keep its id")
    g.add_argument("--adaptive-stop", type=float, default=None,
                   help="shrink the search range in crowded subnetworks down to this")
    g.add_argument("--adaptive-step", type=float, default=0.95,
                   help="factor per adaptive shrinking step")
    g.add_argument("--max-subnet-size", type=int, default=200,
                   help="largest subnetwork solved before SubnetOversizeException")
    g.add_argument("--predict", choices=["none", "drift", "nearest"], default="none",
                   help="predict positions from the drift or the nearest velocity")


def _link_kwargs(args):
    return dict(memory=args.memory, adaptive_stop=args.adaptive_stop,
                adaptive_step=args.adaptive_step, max_subnet_size=args.max_subnet_size)


def _predictor(name):
    from streamtrack import predict

    return {"none": None, "drift": predict.DriftPredict,
            "nearest": predict.NearestVelocityPredict}[name]


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


def _open_output(path, kind, overwrite, resume=False):
    import shutil

    import streamtrack as tp
    from streamtrack.stores import open_store

    if os.path.exists(path):
        if resume:
            return open_store(path)  # whatever layout the first run chose
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass --resume to continue the run that "
                                  "wrote it, --overwrite to replace it, or choose another -o.")
        os.remove(path)
        if os.path.isdir(path + ".chunks"):
            shutil.rmtree(path + ".chunks")
    return getattr(tp, STORES[kind])(path)


def _progress(total, desc, quiet):
    """A tqdm bar that also says when kernels compile (first run on a machine)."""
    from tqdm import tqdm

    from . import _fastpath

    class Bar(tqdm):
        def close(self):
            _fastpath.remove_listener(self._compile_notice)
            super().close()

        def _compile_notice(self, message):
            self.set_description(f"{desc} ({message})" if message else desc)

    bar = Bar(total=total, desc=desc, unit="frame", disable=quiet, file=sys.stderr)
    _fastpath.add_listener(bar._compile_notice)
    return bar


def cmd_locate(args):
    import streamtrack as tp

    tp.quiet()  # the progress bar replaces per-frame log lines
    frames = _open_frames(args.frames, args.channel)
    counts = []
    with _open_output(args.output, args.store, args.overwrite, args.resume) as store:
        if args.resume:
            from streamtrack._batch import _after_processed

            frames = _after_processed(frames, store)
        total = len(frames) if hasattr(frames, "__len__") else None
        bar = _progress(total, "locate", args.quiet)
        def after_locate(frame_no, features):
            counts.append(len(features))
            bar.update(1)
            bar.set_postfix(features=len(features))
            return features
        with bar:
            tp.batch(frames, args.diameter, output=store, processes=args.processes,
                     after_locate=after_locate, meta=args.meta, client=args.scheduler,
                     **_locate_kwargs(args))
    print(f"{len(counts)} frames, {sum(counts)} features "
          f"({np.mean(counts) if counts else 0:.1f} per frame) -> {args.output}")
    return 0


def cmd_link(args):
    import streamtrack as tp
    from streamtrack.linking import link_df_iter, link_store_iter
    from streamtrack.stores import open_store

    tp.quiet()
    predictor = _predictor(args.predict)
    if predictor is not None and args.resume:
        raise ValueError("--resume keeps a checkpoint of the linker, which cannot hold a "
                         "predictor's state; link with --predict in one run.")
    kwargs = _link_kwargs(args)
    with open_store(args.store) as store:
        if predictor is None:
            # checkpointed: 'link --resume' continues a killed run, or links
            # frames appended since, with the same ids an unbroken run gives
            found = store.load_checkpoint("link") if args.resume else None
            todo = len(store) if found is None else sum(t > found[0] for t in store.frames)
            with _progress(todo, "link", args.quiet) as bar:
                for _ in link_store_iter(store, args.search_range, resume=args.resume,
                                         **kwargs):
                    bar.update(1)
            n_frames = todo
        else:
            with _progress(len(store), "link", args.quiet) as bar:
                for linked in predictor().link_df_iter(store, args.search_range, **kwargs):
                    store.put(linked)  # written back before the next frame is read
                    bar.update(1)
            n_frames = len(store)
        ids = set()
        for t in store.frames:
            frame = store.get(t)
            if "particle" in frame.columns:
                ids.update(frame["particle"].tolist())
    print(f"linked {n_frames} frames: {len(ids)} trajectories in {args.store}")
    return 0


def _track_into(store, frames, args, bar):
    """Locate and link in one streaming pass; returns (frames, features, ids)."""
    import streamtrack as tp
    from streamtrack.linking import LinkingOutput

    output = LinkingOutput(store, args.search_range, **_link_kwargs(args))
    counts = []

    def after_locate(frame_no, features):
        counts.append(len(features))
        bar.update(1)
        bar.set_postfix(features=len(features), trajectories=output.linker.next_id)
        return features

    # demo's settings have no scheduler: it always runs locally
    tp.batch(frames, args.diameter, output=output, processes=args.processes,
             after_locate=after_locate, client=getattr(args, "scheduler", None),
             **_locate_kwargs(args))
    return len(counts), sum(counts), output.linker.next_id


def cmd_track(args):
    import streamtrack as tp

    tp.quiet()
    if args.predict != "none":
        raise ValueError("--predict needs the linked frames in order; run 'streamtrack "
                         "locate' then 'streamtrack link --predict ...'.")
    frames = _open_frames(args.frames, args.channel)
    with _open_output(args.output, args.store, args.overwrite) as store, \
            _progress(len(frames), "track", args.quiet) as bar:
        n_frames, n_features, n_ids = _track_into(store, frames, args, bar)
    print(f"{n_frames} frames, {n_features} features, {n_ids} trajectories -> {args.output}")
    return 0


def _match(found, truth, max_distance):
    """One-to-one matching of true positions to features (assignment, capped);
    returns (truth index, feature index, distance) of the matched pairs."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    if len(found) == 0 or len(truth) == 0:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    dist = cdist(truth, found)
    rows, cols = linear_sum_assignment(np.where(dist <= max_distance, dist, 1e9))
    ok = dist[rows, cols] <= max_distance
    return rows[ok], cols[ok], dist[rows, cols][ok]


def cmd_demo(args):
    import argparse as _argparse

    import streamtrack as tp
    from streamtrack import synthetic

    tp.quiet()
    workdir = args.output or tempfile.mkdtemp(prefix="streamtrack-demo-")
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "demo.h5")
    if os.path.exists(path):
        os.remove(path)
    print(f"Synthetic movie: {args.n_particles} Brownian particles, {args.n_frames} frames of "
          f"{args.size}x{args.size} px, known positions and trajectories (seed {args.seed}).")
    frames, truth = synthetic.brownian_movie(n_particles=args.n_particles,
                                             n_frames=args.n_frames,
                                             shape=(args.size, args.size),
                                             diffusion=args.diffusion, seed=args.seed)
    settings = _argparse.Namespace(
        diameter=args.diameter, minmass=args.minmass, maxsize=None, separation=None,
        noise_size=1, smoothing_size=None, threshold=None, invert=False, percentile=64,
        topn=None, max_iterations=10, no_characterize=False, search_range=args.search_range,
        memory=args.memory, adaptive_stop=None, adaptive_step=0.95, max_subnet_size=200,
        processes="auto")
    print(f"Locating (diameter {args.diameter}, minmass {args.minmass:g}) and linking "
          f"(search_range {args.search_range:g}, memory {args.memory}) in one streaming pass "
          f"into {path}")
    start = time.perf_counter()
    with tp.PandasHDFStore(path) as store, _progress(len(frames), "track", args.quiet) as bar:
        _track_into(store, frames, settings, bar)
    elapsed = time.perf_counter() - start
    with tp.PandasHDFStore(path, mode="r") as store:
        found = store.dump()
    # features against the true positions, frame by frame (one-to-one)
    errors, assigned = [], []
    for frame_no, true_frame in truth.groupby("frame"):
        got = found[found["frame"] == frame_no]
        ti, fi, dist = _match(got[["y", "x"]].to_numpy(), true_frame[["y", "x"]].to_numpy(),
                              args.diameter / 2)
        errors.extend(dist)
        assigned.append(pd_frame(true_frame["particle"].to_numpy()[ti],
                                  got["particle"].to_numpy()[fi]))
    errors = np.asarray(errors)
    n_true = len(truth)
    print(f"Done in {elapsed:.2f} s ({len(frames) / elapsed:.0f} frames/s): {len(found)} "
          f"features, {found['particle'].nunique()} trajectories.")
    print(f"Detection: {len(errors)} of {n_true} true positions found "
          f"({100 * len(errors) / n_true:.1f}%), {len(found) - len(errors)} spurious; "
          f"position error RMS {np.sqrt(np.mean(errors ** 2)):.3f} px, "
          f"max {errors.max():.3f} px.")
    pairs = np.concatenate(assigned) if assigned else np.empty((0, 2), int)
    isolated = _isolated_particles(truth, args.diameter + 1)
    whole = set()
    for particle in range(args.n_particles):
        ids = pairs[pairs[:, 0] == particle, 1]
        if len(ids) == args.n_frames and len(set(ids.tolist())) == 1 and \
                (pairs[pairs[:, 1] == ids[0], 0] == particle).all():
            whole.add(particle)
    print(f"Linking: {len(whole)} of {args.n_particles} true trajectories recovered whole "
          f"(one id in every frame, nothing else under that id); "
          f"{len(whole & isolated)} of the {len(isolated)} that never pass closer than "
          f"{args.diameter + 1} px to another particle (closer spots merge into one).")
    good = len(errors) >= 0.9 * n_true and isolated <= whole
    print("Result: " + ("OK" if good else "WORSE THAN EXPECTED"))
    return 0 if good else 1


def _isolated_particles(truth, separation):
    """True particles never closer than ``separation`` to another one."""
    from scipy.spatial import cKDTree

    crowded = set()
    for _, frame in truth.groupby("frame"):
        pos = frame[["y", "x"]].to_numpy()
        for i, j in cKDTree(pos).query_pairs(separation):
            crowded.update((int(frame["particle"].iloc[i]), int(frame["particle"].iloc[j])))
    return set(truth["particle"].unique().tolist()) - crowded


def pd_frame(true_ids, particle_ids):
    return np.column_stack([true_ids, particle_ids]).astype(np.int64)


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
    _add_movie_options(p)
    p.add_argument("--meta", default=None, help="also write the parameters to this YAML file")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same -o: skip the frames the "
                        "store records as processed")
    _add_locate_options(p)
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("link", help="link the features of a store in place",
                       description="Link a framewise store frame by frame, writing the "
                                   "particle column back into it.")
    p.add_argument("store", help="HDF5 store written by 'locate' (or by trackpy)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue from the linker checkpoint in the store: the rest of an "
                        "interrupted run, or frames appended since the last link")
    _add_link_options(p)
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("track", help="locate and link a movie in one streaming pass",
                       description="Locate features and link them into trajectories in one "
                                   "pass, frame by frame, into an HDF5 store.")
    _add_movie_options(p)
    _add_locate_options(p)
    _add_link_options(p)
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("demo", help="run the pipeline on a built-in synthetic movie",
                       description="Generate a synthetic movie with known truth, run "
                                   "locate on it and compare with the truth.")
    p.add_argument("--n-particles", type=int, default=30)
    p.add_argument("--n-frames", type=int, default=100)
    p.add_argument("--size", type=int, default=384, help="frame width and height, px")
    p.add_argument("-d", "--diameter", type=int, default=11)
    p.add_argument("--minmass", type=float, default=500,
                   help="minimum feature mass (synthetic spots have ~1900, noise < 150)")
    p.add_argument("-s", "--search-range", type=float, default=5)
    p.add_argument("--memory", type=int, default=3)
    p.add_argument("--diffusion", type=float, default=0.25, help="px^2 per frame")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="folder for demo.h5 (default: a temp dir)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from streamtrack.exceptions import StoreError, SubnetOversizeException

    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError, StoreError,
            SubnetOversizeException) as exc:
        # user errors: one clear line, no traceback
        print(f"streamtrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every frame stored so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
