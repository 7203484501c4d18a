"""The ``streamtrack`` command line: ``locate``, ``link``, ``track``, ``demo``, ``check``.

Examples
--------
::

    streamtrack locate 'movie/*.png' -d 11 --channel 1 --invert -o features.h5
    streamtrack link features.h5 -s 3 --memory 3
    streamtrack track 'movie/*.png' -d 11 -s 3 --channel 1 --invert -o tracks.h5
    streamtrack track 'movie/*.png' -d 11 -s 3 --channel 1 --invert -o tracks.h5 --resume
    streamtrack locate 'movie/*.png' -d 11 --scheduler tcp://host:8786 -o features.h5
    streamtrack demo
    streamtrack check features.h5      # reads it all; exit 0 when sound
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings

import numpy as np

STORES = {
    "frames": "PandasHDFStore",
    "big": "PandasHDFStoreBig",
    "single": "PandasHDFStoreSingleNode",
    "chunked": "PandasHDFStoreChunked",
}


# Option types: argparse puts "argument -d/--diameter: " before the message
# of an ArgumentTypeError, and exits with code 2 (a usage error).
def _odd_or_tuple(text):
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an odd integer such as 11, or one per axis such as 9,11; got "
            f"{text!r}") from None
    if any(p <= 0 or p % 2 == 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected odd positive integers (feature sizes are odd: round up), got {text!r}")
    return parts[0] if len(parts) == 1 else tuple(parts)


def _float_or_tuple(text):
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number such as 5, or one per axis such as 3,5; got {text!r}") from None
    if not all(np.isfinite(parts)):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return parts[0] if len(parts) == 1 else tuple(parts)


def _int_at_least(low, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def _workers(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of workers >= 1, "
                                         f"got {text!r}")
    return value


def _odd_int(text):
    value = _odd_or_tuple(text)
    if isinstance(value, tuple):
        raise argparse.ArgumentTypeError(f"expected one odd integer such as 11, got {text!r}")
    return value


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_movie_options(p):
    """Input movie and output store options of 'locate' and 'track'."""
    p.add_argument("frames", nargs="+",
                   help="a quoted glob ('movie/*.png'), a folder, a (multi-page) TIFF, "
                        "or several image files")
    p.add_argument("-o", "--output", required=True, help="HDF5 store to write")
    p.add_argument("--channel", type=_int_at_least(0, "a channel number >= 0 (0=red, "
                                                      "1=green, 2=blue, 3=alpha)"),
                   default=None,
                   help="colour channel to analyse for RGB(A) frames (0=red, 1=green, ...)")
    p.add_argument("--store", choices=sorted(STORES), default="frames",
                   help="store layout: frames=PandasHDFStore (default), "
                        "big=PandasHDFStoreBig, single=PandasHDFStoreSingleNode, "
                        "chunked=PandasHDFStoreChunked (for long movies: flat cost at any "
                        "length, nothing lost if the process is killed)")
    p.add_argument("--processes", default="auto", type=_workers,
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
                                 f"images (shape {image.shape}); leave --channel out.")
            if channel >= image.shape[-1]:
                raise ValueError(f"--channel {channel} is out of range: the frames have "
                                 f"{image.shape[-1]} channels (shape {image.shape}); pick "
                                 f"one of 0-{image.shape[-1] - 1}, e.g. --channel 1 (green).")
            return image[..., channel]
        frames = pick_channel(frames)
    return frames


def _checked_frames(args):
    """Open the movie and check every option on its first frame, writing nothing.

    The output is opened (and with --overwrite emptied) only after this
    returns, so a bad option never costs a stored frame or leaves a file.
    """
    from streamtrack._locate import check_arguments

    _check_output_path(args.output, getattr(args, "meta", None))
    frames = _open_frames(args.frames, args.channel)
    _check_not_an_input(frames, args)
    if len(frames) == 0:
        raise ValueError(f"{' '.join(args.frames)} holds no frames; check the path.")
    first = frames[0]  # decodes one frame, through the channel selection
    if args.channel is None and first.ndim == 3 and first.shape[-1] in (3, 4) and \
            not isinstance(args.diameter, tuple):
        raise ValueError(f"the frames are colour images (shape {first.shape}); choose the "
                         "channel to analyse with --channel N (0=red, 1=green, 2=blue), e.g. "
                         "--channel 1.")
    check_arguments(first, args.diameter, **_locate_kwargs(args))
    if hasattr(args, "search_range"):  # track: the link options too
        from streamtrack.linking import Linker
        from streamtrack.linking._api import check_search_range

        Linker(args.search_range, **_link_kwargs(args))
        check_search_range(args.search_range, ["z", "y", "x"][-np.squeeze(first).ndim:])
    return frames


def _check_not_an_input(frames, args):
    """-o and --meta must not name a frame file: --overwrite (or the meta file,
    written at the first frame) would replace part of the movie."""
    inputs = {os.path.realpath(f) for f in (frames.filenames or [])}
    inputs.update(os.path.realpath(f) for f in args.frames if os.path.isfile(f))
    for option, target in (("-o/--output", args.output), ("--meta", getattr(args, "meta", None))):
        if target is not None and os.path.realpath(target) in inputs:
            raise ValueError(f"{option} {target} is one of the input frames; writing there "
                             "would replace part of the movie: choose another path.")
    meta = getattr(args, "meta", None)
    if meta is not None and os.path.realpath(meta) == os.path.realpath(args.output):
        raise ValueError(f"--meta {meta} is the output store (-o); choose another path, "
                         "e.g. run.yml.")


def _check_output_path(path, meta=None):
    for option, target in (("-o/--output", path), ("--meta", meta)):
        if target is None:
            continue
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{option} {target}: the folder {folder} does not exist; "
                                    "create it first or choose another path.")
        if os.path.isdir(target):
            raise IsADirectoryError(f"{option} {target} is a folder; give a file name, e.g. "
                                    f"{os.path.join(target, 'features.h5')}.")


def _connect(address):
    """A client of the scheduler at ``address``, connected before the output is touched."""
    if address is None:
        return None
    from streamtrack._distributed import _import_distributed

    distributed = _import_distributed()
    try:
        return distributed.Client(address, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise OSError(f"--scheduler {address}: cannot connect ({exc}); check the address "
                      "and that the scheduler runs.") from None


def _open_output(path, kind, overwrite, resume=False):
    import shutil

    import streamtrack as tp
    from streamtrack.stores import open_store
    from streamtrack.stores._integrity import holds_store

    # a chunked store whose entry file is missing is still a store: its
    # chunks are data (opening it rebuilds the entry file)
    orphan = not os.path.exists(path) and holds_store(path + ".chunks")
    if os.path.exists(path) or orphan:
        if resume:  # whatever layout the first run chose
            return tp.PandasHDFStoreChunked(path) if orphan else open_store(path)
        if not overwrite:
            what = (f"{path} is missing but {path}.chunks holds a chunked store" if orphan
                    else f"{path} exists")
            raise FileExistsError(f"{what}; pass --resume to continue the run that "
                                  "wrote it, --overwrite to replace it, or choose another -o.")
        if not orphan:
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


#: the store's record of the input options that are not locate's own
INPUT_RECORD = "locate_input"


@contextlib.contextmanager
def _output(args, resume=False):
    """``_open_output``, removing the store again if this run made it and the run
    failed before a single frame was located (a failure leaves no empty file)."""
    from streamtrack.stores._integrity import holds_store

    # a chunked store whose top-level file was lost still exists: its chunks
    existed = os.path.exists(args.output) or holds_store(args.output + ".chunks")
    store = _open_output(args.output, args.store, args.overwrite, resume)
    located = []  # after_locate appends: from then on the store is kept
    try:
        with store:
            yield store, located
    except Exception:
        if not located and not (existed and resume):
            _remove_new_store(args.output)
        raise


def _remove_new_store(path):
    import shutil

    for target in (path, path + ".chunks"):
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.exists(target):
            os.remove(target)


def _check_resumed_input(store, args):
    """``--resume`` must use the locate options and --channel of the run it continues."""
    from streamtrack._batch import _check_resumed_record, _locate_record

    _check_resumed_record(store, _locate_record(args.diameter, _locate_kwargs(args)))
    saved = store.metadata.get(INPUT_RECORD) if hasattr(store, "metadata") else None
    if saved is not None and saved.get("channel") != args.channel:
        raise ValueError(f"--resume must use the options of the run it continues; the "
                         f"store was written with --channel {saved.get('channel')}, this run "
                         f"gives {args.channel}. Resume with the stored value, or locate into "
                         "a new store.")


def cmd_locate(args):
    import streamtrack as tp

    tp.quiet()  # the progress bar replaces per-frame log lines
    frames = _checked_frames(args)
    client = _connect(args.scheduler)
    counts = []
    try:
        with _output(args, args.resume) as (store, located):
            if args.resume:
                from streamtrack._batch import _after_processed

                _check_resumed_input(store, args)  # before --meta or the store is written
                frames = _after_processed(frames, store)
            total = len(frames) if hasattr(frames, "__len__") else None
            bar = _progress(total, "locate", args.quiet)

            def after_locate(frame_no, features):
                if not located and hasattr(store, "save_metadata"):
                    store.save_metadata(INPUT_RECORD, {"channel": args.channel})
                located.append(frame_no)
                counts.append(len(features))
                bar.update(1)
                bar.set_postfix(features=len(features))
                return features
            with bar:
                tp.batch(frames, args.diameter, output=store, processes=args.processes,
                         after_locate=after_locate, meta=args.meta, client=client,
                         **_locate_kwargs(args))
    finally:
        if client is not None:
            client.close()
    print(f"{len(counts)} frames, {sum(counts)} features "
          f"({np.mean(counts) if counts else 0:.1f} per frame) -> {args.output}")
    return 0


def cmd_link(args):
    import streamtrack as tp
    from streamtrack.linking import link_store_iter
    from streamtrack.stores import open_store

    tp.quiet()
    predictor = _predictor(args.predict)
    if predictor is not None and args.resume:
        raise ValueError("--resume keeps a checkpoint of the linker, which cannot hold a "
                         "predictor's state; link with --predict in one run.")
    kwargs = _link_kwargs(args)
    with open_store(args.store) as store:
        _check_link_input(store, args)  # before the first frame is rewritten
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


def _check_link_input(store, args):
    """Check the link options against the store's first frame, writing nothing.

    A search range with one value per axis of other data would otherwise
    fail only at the second frame, after the first was rewritten and the
    run's options recorded over those of the last complete link.
    """
    from streamtrack.linking import Linker
    from streamtrack.linking._api import _pos_columns, check_search_range

    Linker(args.search_range, **_link_kwargs(args))
    for t in store.frames:
        frame = store.get(t)
        if len(frame):
            check_search_range(args.search_range, _pos_columns(frame.columns, None))
            return


def _track_into(output, frames, args, bar, located=None, client=None, first=None):
    """Locate into ``output`` (a LinkingOutput), linking in the same streaming pass.

    ``first()``, if given, runs once the first frame is located, before it is
    stored. Returns (frames located, features, trajectories).
    """
    import streamtrack as tp

    counts = []
    located = [] if located is None else located

    def after_locate(frame_no, features):
        if not located and first is not None:
            first()
        located.append(frame_no)
        counts.append(len(features))
        bar.update(1)
        bar.set_postfix(features=len(features), trajectories=output.linker.next_id)
        return features

    tp.batch(frames, args.diameter, output=output, processes=args.processes,
             after_locate=after_locate, client=client, **_locate_kwargs(args))
    return len(counts), sum(counts), output.linker.next_id


def _track_output(store, frames, args):
    """The linking output of 'track', and the frames it still has to locate.

    With --resume: the locate options (and --channel) and the link options
    are checked against the store's records, then the stored frames after
    the linker checkpoint are linked, so the linker stands at the last
    processed frame and locating continues after it. Nothing is written
    before every check passed.
    """
    from streamtrack.linking._store import _CheckpointedOutput

    if not args.resume:
        return _CheckpointedOutput(store, args.search_range, **_link_kwargs(args)), frames
    from streamtrack._batch import _after_processed

    _check_resumed_input(store, args)
    output, pending, n_pending = _CheckpointedOutput.resuming(store, args.search_range,
                                                              **_link_kwargs(args))
    frames = _after_processed(frames, store)
    if n_pending:  # a frame or two after a kill; the whole store after an older version
        with _progress(n_pending, "link", args.quiet) as bar:
            for _ in pending:
                bar.update(1)
    return output, frames


def cmd_track(args):
    import streamtrack as tp
    from streamtrack._batch import RECORD, _locate_record

    tp.quiet()
    if args.predict != "none":
        raise ValueError("--predict needs the linked frames in order; run 'streamtrack "
                         "locate' then 'streamtrack link --predict ...'.")
    frames = _checked_frames(args)
    client = _connect(args.scheduler)
    try:
        with _output(args, args.resume) as (store, located):
            output, frames = _track_output(store, frames, args)

            def record():
                # what 'track --resume' and 'locate --resume' check a resume against
                if hasattr(store, "save_metadata"):
                    store.save_metadata(RECORD, _locate_record(args.diameter,
                                                               _locate_kwargs(args)))
                    store.save_metadata(INPUT_RECORD, {"channel": args.channel})
            total = len(frames) if hasattr(frames, "__len__") else None
            with _progress(total, "track", args.quiet) as bar:
                n_frames, n_features, n_ids = _track_into(output, frames, args, bar,
                                                          located, client, record)
    finally:
        if client is not None:
            client.close()
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
    from streamtrack.linking import LinkingOutput

    tp.quiet()
    if args.output is not None and os.path.exists(args.output) and \
            not os.path.isdir(args.output):
        raise NotADirectoryError(f"-o {args.output} is a file; demo -o takes a folder "
                                 "(demo.h5 is written there).")
    if args.output is not None and os.path.exists(os.path.join(args.output, "demo.h5")) \
            and not args.overwrite:
        raise FileExistsError(f"{os.path.join(args.output, 'demo.h5')} exists; pass "
                              "--overwrite to replace it, or choose another -o folder.")
    workdir = args.output or tempfile.mkdtemp(prefix="streamtrack-demo-")
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "demo.h5")
    if os.path.exists(path):  # --overwrite
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
        _track_into(LinkingOutput(store, settings.search_range, **_link_kwargs(settings)),
                    frames, settings, bar)
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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the whole usage block first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def cmd_check(args):
    """Report on a whole store: a summary line, then one line per problem."""
    from streamtrack.stores._integrity import check_store

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report says it all, once
        summary, problems, notes = check_store(args.store)
    print(summary)
    for line in notes:
        print(f"note: {line}")
    for line in problems:
        print(f"problem: {line}")
    print(f"{len(problems)} problem(s)" if problems else "sound")
    return 1 if problems else 0


def build_parser():
    parser = _Parser(
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
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same -o, with the same "
                        "options: link the stored frames after the linker checkpoint, then "
                        "locate and link the frames after the last one processed")
    _add_locate_options(p)
    _add_link_options(p)
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("demo", help="run the pipeline on a built-in synthetic movie",
                       description="Generate a synthetic movie with known truth, run "
                                   "locate on it and compare with the truth.")
    p.add_argument("--n-particles", type=_int_at_least(1, "a number of particles >= 1"),
                   default=30)
    p.add_argument("--n-frames", type=_int_at_least(1, "a number of frames >= 1"),
                   default=100)
    p.add_argument("--size", type=_int_at_least(16, "a frame size of at least 16 px"),
                   default=384, help="frame width and height, px")
    p.add_argument("-d", "--diameter", type=_odd_int, default=11)
    p.add_argument("--minmass", type=_finite_float, default=500,
                   help="minimum feature mass (synthetic spots have ~1900, noise < 150)")
    p.add_argument("-s", "--search-range", type=_positive_float, default=5)
    p.add_argument("--memory", type=_int_at_least(0, "a number of frames >= 0"), default=3)
    p.add_argument("--diffusion", type=_non_negative_float, default=0.25,
                   help="px^2 per frame")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="folder for demo.h5 (default: a temp dir)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a demo.h5 already in the -o folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check", help="read a whole store and report damage",
                       description="Read every frame of a store (any of trackpy's three "
                                   "layouts, or the chunked one: every chunk checksum and "
                                   "journal too). Exit code 0 when sound; otherwise 1, with "
                                   "one line per problem.")
    p.add_argument("store", help="HDF5 store written by streamtrack or trackpy")
    p.set_defaults(func=cmd_check)
    return parser


def _one_line_repairs(command):
    """A ``warnings.formatwarning`` that shows a StoreRepairWarning as one line.

    Python's own format (``file:line: StoreRepairWarning: ...`` and the source
    line) points into streamtrack's code, which the user need not read: the
    message says what was repaired. Other warnings keep Python's format.
    Replacing the format, not ``showwarning``, leaves warnings that are
    recorded (``catch_warnings(record=True)``, ``pytest.warns``) as they are.
    """
    from streamtrack.exceptions import StoreRepairWarning

    original = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):
        if issubclass(category, StoreRepairWarning):
            return f"streamtrack {command}: repaired: {' '.join(str(message).split())}\n"
        return original(message, category, filename, lineno, line)
    return formatwarning


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from streamtrack import _fastpath
    from streamtrack.exceptions import StoreError, SubnetOversizeException
    from streamtrack.exceptions import StoreDamageWarning

    original_format = warnings.formatwarning
    warnings.formatwarning = _one_line_repairs(args.command)
    try:
        with warnings.catch_warnings():
            # a store that lost data stops the command with the store's
            # message (a StoreError too); 'check' reports it instead
            warnings.simplefilter("error", StoreDamageWarning)
            return args.func(args)
    except (ValueError, TypeError, OSError, ImportError, StoreError,
            SubnetOversizeException) as exc:
        # user errors: one clear line, no traceback, and no wait at exit for
        # a kernel compile under way (it is for runs that go on)
        _fastpath.skip_wait_at_exit()
        print(f"streamtrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _fastpath.skip_wait_at_exit()
        print("interrupted; every frame stored so far is kept", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = original_format  # main() may run inside a program


if __name__ == "__main__":
    sys.exit(main())
