"""The ``streamtrack`` command line: ``locate``, ``link``, ``track``, ``demo``, ``check``,
``analyse``, ``export``.

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
    streamtrack analyse tracks.h5 --min-length 25 -o analysis/
    streamtrack export tracks.h5 tracks.geff      # or tracks.csv, tracks.parquet
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace

import numpy as np

from streamtrack import workflow
from streamtrack.params import LINK, LOCATE, UNITS
from streamtrack.workflow import LAYOUTS


# Option types: argparse puts "argument -d/--diameter: " before the message
# of an ArgumentTypeError, and exits with code 2 (a usage error).
def _parsed_by(param):
    """An argparse ``type`` from a parameter specification."""
    def parse(text):
        try:
            return param.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = param.kind  # argparse names it in "invalid ... value"
    return parse


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


def _number(low=None, strict=False):
    """A finite number (>= or > ``low``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = np.isfinite(value) and (low is None or value > low or (not strict and value == low))
        if not ok:
            what = ("a finite number" if low is None else
                    f"a {'positive ' if strict and low == 0 else ''}number"
                    f"{'' if strict and low == 0 else f' >= {low:g}'}")
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


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
    p.add_argument("--store", choices=sorted(LAYOUTS), default="frames",
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


def _add_options(parser, operation, title, skip=()):
    """The options of ``operation`` (a :mod:`streamtrack.params` specification)."""
    group = parser.add_argument_group(title)
    for param in operation:
        if param.name in skip:
            continue
        flags = [param.short, param.flag] if param.short else [param.flag]
        text = operation.help(param.name).replace("%", "%%")
        if param.kind == "bool":
            group.add_argument(*flags, dest=param.name, help=text,
                               action="store_false" if param.default else "store_true")
        elif param.kind == "choice":
            group.add_argument(*flags, dest=param.name, choices=param.choices,
                               default=param.default, help=text)
        else:
            group.add_argument(*flags, dest=param.name, type=_parsed_by(param),
                               required=param.required,
                               default=None if param.required else param.default, help=text)


def _options(args, operation, skip=()):
    """``operation``'s keyword arguments from parsed ``args``."""
    return {param.name: getattr(args, param.name) for param in operation
            if param.name not in skip}


def _locate_kwargs(args):
    return _options(args, LOCATE, skip=("diameter",))


def _link_kwargs(args):
    return _options(args, LINK, skip=("search_range", "predictor"))


def _checked_frames(args):
    """Open the movie and check every option on its first frame, writing nothing.

    The output is opened (and with --overwrite emptied) only after this
    returns, so a bad option never costs a stored frame or leaves a file.
    """
    _check_output_path(args.output, getattr(args, "meta", None))
    LOCATE.check({**_locate_kwargs(args), "diameter": args.diameter})
    UNITS.check(_options(args, UNITS))
    if hasattr(args, "search_range"):  # track: the link options too
        LINK.check({**_link_kwargs(args), "search_range": args.search_range,
                    "predictor": args.predictor})
    frames = workflow.open_movie(args.frames, args.channel, "--channel")
    _check_not_an_input(frames, args)
    if len(frames) == 0:
        raise ValueError(f"{' '.join(args.frames)} holds no frames; check the path.")
    # decodes one frame, through the channel selection
    first = workflow.check_first_frame(frames, args.diameter, args.channel, name="--channel",
                                       **_locate_kwargs(args))
    if hasattr(args, "search_range"):
        from streamtrack.linking._api import check_search_range

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

    from streamtrack.stores import open_store
    from streamtrack.stores._integrity import holds_store

    # a chunked store whose entry file is missing is still a store: its
    # chunks are data (opening it rebuilds the entry file)
    orphan = not os.path.exists(path) and holds_store(path + ".chunks")
    if os.path.exists(path) or orphan:
        if resume:  # whatever layout the first run chose
            return workflow.new_store(path, "chunked") if orphan else open_store(path)
        if not overwrite:
            what = (f"{path} is missing but {path}.chunks holds a chunked store" if orphan
                    else f"{path} exists")
            raise FileExistsError(f"{what}; pass --resume to continue the run that "
                                  "wrote it, --overwrite to replace it, or choose another -o.")
        if not orphan:
            os.remove(path)
        if os.path.isdir(path + ".chunks"):
            shutil.rmtree(path + ".chunks")
    return workflow.new_store(path, kind)


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


def cmd_locate(args):
    import streamtrack as tp

    tp.quiet()  # the progress bar replaces per-frame log lines
    frames = _checked_frames(args)
    client = _connect(args.scheduler)
    counts = []
    try:
        with _output(args, args.resume) as (store, located):
            # checks (a resume's records) come before --meta or the store is written
            run = workflow.locate_into(frames, store, args.diameter, source=" ".join(args.frames),
                                       channel=args.channel, processes=args.processes,
                                       client=client, resume=args.resume, meta=args.meta,
                                       channel_name="--channel", units=_options(args, UNITS),
                                       **_locate_kwargs(args))
            total = None
            if hasattr(frames, "__len__"):
                total = len(frames) - (len(store.processed_frames) if args.resume else 0)
            with _progress(total, "locate", args.quiet) as bar:
                for frame_no, features in run:
                    located.append(frame_no)
                    counts.append(len(features))
                    bar.update(1)
                    bar.set_postfix(features=len(features))
    finally:
        if client is not None:
            client.close()
    print(f"{len(counts)} frames, {sum(counts)} features "
          f"({np.mean(counts) if counts else 0:.1f} per frame) -> {args.output}")
    return 0


def cmd_link(args):
    import streamtrack as tp
    from streamtrack.stores import open_store

    tp.quiet()
    if args.predictor != "none" and args.resume:
        raise ValueError("--resume keeps a checkpoint of the linker, which cannot hold a "
                         "predictor's state; link with --predict in one run.")
    with open_store(args.store) as store:
        # checks every option (and against the first frame) before writing
        run = workflow.link_in_place(store, args.search_range, predictor=args.predictor,
                                     resume=args.resume, **_link_kwargs(args))
        n_frames = workflow.frames_to_link(store, args.resume)
        with _progress(n_frames, "link", args.quiet) as bar:
            for _ in run:
                bar.update(1)
        n_ids = workflow.trajectory_count(store)
    print(f"linked {n_frames} frames: {n_ids} trajectories in {args.store}")
    return 0


def cmd_track(args):
    import streamtrack as tp

    tp.quiet()
    if args.predictor != "none":
        raise ValueError("--predict needs the linked frames in order; run 'streamtrack "
                         "locate' then 'streamtrack link --predict ...'.")
    frames = _checked_frames(args)
    client = _connect(args.scheduler)
    counts, n_ids = [], 0
    try:
        with _output(args, args.resume) as (store, located):
            run = workflow.track_into(frames, store, args.diameter, args.search_range,
                                      link_options=_link_kwargs(args),
                                      source=" ".join(args.frames), channel=args.channel,
                                      processes=args.processes, client=client,
                                      resume=args.resume, channel_name="--channel",
                                      units=_options(args, UNITS), **_locate_kwargs(args))
            total = len(frames) if hasattr(frames, "__len__") else None
            with _progress(total, "track", args.quiet) as bar:
                for frame_no, features, n_ids in run:
                    if features is None:  # a resume links the stored frames first
                        bar.set_description(f"track (linking stored frame {frame_no})")
                        continue
                    if args.resume and not located:
                        bar.set_description("track")
                        bar.reset(len(frames) - len(store.processed_frames) + 1
                                  if total is not None else None)
                    located.append(frame_no)
                    counts.append(len(features))
                    bar.update(1)
                    bar.set_postfix(features=len(features), trajectories=n_ids)
    finally:
        if client is not None:
            client.close()
    print(f"{len(counts)} frames, {sum(counts)} features, {n_ids} trajectories "
          f"-> {args.output}")
    return 0


#: ``streamtrack demo``'s values where they are not the parameters' defaults
DEMO = {"diameter": 11, "minmass": 500.0, "search_range": 5.0, "memory": 3}


def cmd_demo(args):
    import pandas as pd

    import streamtrack as tp
    from streamtrack import synthetic

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
    true_drift = np.asarray(args.drift, dtype=float)  # (y, x) px/frame
    true_d = args.diffusion * args.mpp ** 2 * args.fps  # µm²/s
    print(f"Synthetic movie: {args.n_particles} Brownian particles, {args.n_frames} frames of "
          f"{args.size}x{args.size} px, known positions and trajectories (seed {args.seed}).")
    print(f"Truth: D = {args.diffusion:g} px²/frame = {true_d:#.3g} µm²/s (at {args.mpp:g} "
          f"µm/px, {args.fps:g} frames/s), constant drift ({true_drift[0]:.3f}, "
          f"{true_drift[1]:.3f}) px/frame (y, x).")
    frames, truth = synthetic.brownian_movie(n_particles=args.n_particles,
                                             n_frames=args.n_frames,
                                             shape=(args.size, args.size),
                                             diffusion=args.diffusion, drift=tuple(true_drift),
                                             seed=args.seed)
    locate_kwargs = {**LOCATE.defaults(), "minmass": args.minmass}
    locate_kwargs.pop("diameter")
    link_kwargs = {**LINK.defaults(), "memory": args.memory}
    for name in ("search_range", "predictor"):
        link_kwargs.pop(name)
    print(f"Locating (diameter {args.diameter}, minmass {args.minmass:g}) and linking "
          f"(search_range {args.search_range:g}, memory {args.memory}) in one streaming pass "
          f"into {path}")
    start = time.perf_counter()
    with workflow.new_store(path, "frames") as store, \
            _progress(len(frames), "track", args.quiet) as bar:
        for _ in workflow.track_into(frames, store, args.diameter, args.search_range,
                                     link_options=link_kwargs, source="synthetic",
                                     checkpoints=False,
                                     units={"mpp": args.mpp, "fps": args.fps}, **locate_kwargs):
            bar.update(1)
    elapsed = time.perf_counter() - start
    with tp.PandasHDFStore(path, mode="r") as store:
        found = store.dump()
        units = workflow.units(store)  # the analysis takes its units from the store
    s = synthetic.score(found, truth, args.diameter)
    print(f"Done in {elapsed:.2f} s ({len(frames) / elapsed:.0f} frames/s): {len(found)} "
          f"features, {found['particle'].nunique()} trajectories.")
    print(f"Detection: {s['matched']} of {s['n_true']} true positions found "
          f"({100 * s['matched'] / s['n_true']:.1f}%), {s['spurious']} spurious; "
          f"position error RMS {s['rms_error']:.3f} px, max {s['max_error']:.3f} px.")
    print(f"Linking: {len(s['whole'])} of {args.n_particles} true trajectories recovered whole "
          f"(one id in every frame, nothing else under that id); "
          f"{len(s['whole'] & s['isolated'])} of the {len(s['isolated'])} that never pass "
          f"closer than {args.diameter + 1} px to another particle (closer spots merge into "
          "one).")
    good = s["matched"] >= 0.9 * s["n_true"] and s["isolated"] <= s["whole"]

    # trackpy's walkthrough analysis of the linked table, in the units of the store.
    # Precision: the mean of n_steps steps gives the drift to sqrt(2 D / n_steps)
    # px/frame per axis; the fit gives D to about 3% from the default movie's 3960
    # steps, but only to 10% or worse from fewer than 2500 steps or 40 frames.
    stub, max_lagtime = min(25, args.n_frames), min(10, args.n_frames - 1)
    n_steps = args.n_particles * (args.n_frames - 1)
    drift_tolerance = 4 * np.sqrt(2 * args.diffusion / max(n_steps, 1))  # 4 standard errors
    d_checked = n_steps >= 2500 and args.n_frames >= 40
    kept = tp.filter_stubs(found, stub) if max_lagtime >= 2 else found.iloc[:0]
    drift = tp.compute_drift(kept) if len(kept) else None
    if max_lagtime < 2:
        print("Motion: not analysed (a fit of the mean squared displacement needs 3 frames "
              "or more).")
    elif drift is None or drift.empty:
        print(f"Motion: no trajectory of {stub} frames or more to analyse.")
        good = False
    else:
        # the drift is constant: its rate is the total drift over the frames it spans
        first = kept["frame"].min()
        velocity = drift[["y", "x"]].iloc[-1].to_numpy() / (drift.index[-1] - first)
        drift_ok = bool(np.all(np.abs(velocity - true_drift) <= drift_tolerance))
        print(f"Drift: ({velocity[0]:.3f}, {velocity[1]:.3f}) px/frame recovered (true "
              f"({true_drift[0]:.3f}, {true_drift[1]:.3f}), tolerance ±{drift_tolerance:.3f}: "
              "4 standard errors).")
        # subtract that constant drift (compute_drift's frame-by-frame drift would also
        # take away the particles' mean random step, lowering D by a factor 1 - 1/N)
        frame_nos = pd.Index(np.arange(first, kept["frame"].max() + 1), name="frame")
        line = pd.DataFrame(np.outer(frame_nos - first, velocity), index=frame_nos,
                            columns=["y", "x"])
        msd = tp.emsd(tp.subtract_drift(kept, line), units["mpp"], units["fps"],
                      max_lagtime=max_lagtime)
        fit = tp.utils.fit_powerlaw(msd, plot=False)
        exponent, d = float(fit["n"].iloc[0]), float(fit["A"].iloc[0]) / 4  # MSD = 4 D t
        error = d / true_d - 1
        d_ok = abs(error) <= 0.1 or not d_checked
        print(f"Diffusion: D = {d:#.3g} µm²/s recovered (true {true_d:#.3g}, "
              f"{100 * error:+.1f}%), exponent n = {exponent:.2f}: power-law fit of the MSD of "
              f"{kept['particle'].nunique()} trajectories of {stub}+ frames, drift subtracted, "
              f"lag times {1 / units['fps']:g} to {max_lagtime / units['fps']:g} s"
              + ("." if d_checked else f"; not checked: {n_steps} steps (D is expected within "
                                       "10% from 2500 steps and 40 frames)."))
        good = good and drift_ok and d_ok
    print("Result: " + ("OK" if good else "WORSE THAN EXPECTED"))
    return 0 if good else 1


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


def cmd_analyse(args):
    """Drift, MSDs and power-law fit of a linked store: printed, and written to -o."""
    from streamtrack import analysis
    from streamtrack.stores import open_store

    analysis.check_output(args.output, args.overwrite)  # before any reading
    bars = {}

    def progress(stage, done, total):
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = _progress(total, stage, args.quiet)
        bars[stage].update(done - bars[stage].n)

    with open_store(args.store, mode="r") as store:
        recorded = workflow.units(store)
        missing = [name for name in ("mpp", "fps")
                   if getattr(args, name) is None and recorded.get(name) is None]
        if missing:
            raise ValueError(
                f"{' and '.join(missing)} unknown (microns per pixel, frames per second): "
                f"pass {' '.join(f'--{m} {m.upper()}' for m in missing)}, or record the units "
                "in the store (streamtrack locate/track --mpp M --fps F, or "
                "streamtrack.workflow.save_units(store, mpp=M, fps=F)).")
        try:
            with warnings.catch_warnings():
                # the summary says it (a "Warning:" line)
                warnings.filterwarnings("ignore", message="analyse: ", category=UserWarning)
                result = analysis.analyse(store, args.mpp, args.fps, args.min_length,
                                          not args.no_drift, args.max_lagtime,
                                          progress=progress)
        finally:
            for bar in bars.values():
                bar.close()
    for line in result.summary():
        print(line)
    paths = result.write(args.output, overwrite=args.overwrite)
    print(f"Wrote {', '.join(os.path.basename(p) for p in paths)} to {args.output}")
    return 0


def cmd_export(args):
    """A store to GEFF, CSV or Parquet (the format from the output's extension)."""
    from streamtrack import exchange
    from streamtrack.exceptions import StoreDamageWarning
    from streamtrack.exchange._source import check_output
    from streamtrack.stores import open_store

    # every check before the store is read or anything is written
    fmt = exchange.export_format(args.output)
    check_output(args.output, args.overwrite, "", directory=fmt == "geff", flag="--overwrite")
    if fmt == "parquet":
        from streamtrack.exchange._tables import _pyarrow

        _pyarrow("export")
    if not os.path.exists(args.store) and not os.path.isdir(args.store + ".chunks"):
        raise FileNotFoundError(f"{args.store} does not exist; check the path.")
    with open_store(args.store, mode="r") as store, \
            _progress(len(store.frames), "export", args.quiet) as bar, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)        # printed below, one line each
        warnings.simplefilter("error", StoreDamageWarning)  # a store that lost data stops
        result = exchange.export(store, args.output, overwrite=args.overwrite,
                                 progress=lambda done: bar.update(done - bar.n))
    for warning in caught:
        text = " ".join(str(warning.message).split())
        for prefix in ("to_geff: ", "to_csv: ", "to_parquet: "):
            text = text.removeprefix(prefix)
        print(f"streamtrack export: warning: {text}", file=sys.stderr)
    if fmt == "geff":
        print(f"{result['nodes']} nodes, {result['edges']} edges -> {args.output}")
    else:
        print(f"{result} rows -> {args.output}")
    return 0


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
    _add_options(p, LOCATE, "locate options (as streamtrack.locate)")
    _add_options(p, UNITS, "units of the movie (recorded in the store for its analysis)")
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("link", help="link the features of a store in place",
                       description="Link a framewise store frame by frame, writing the "
                                   "particle column back into it.")
    p.add_argument("store", help="HDF5 store written by 'locate' (or by trackpy)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue from the linker checkpoint in the store: the rest of an "
                        "interrupted run, or frames appended since the last link")
    _add_options(p, LINK, "link options (as streamtrack.link)")
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("track", help="locate and link a movie in one streaming pass",
                       description="Locate features and link them into trajectories in one "
                                   "pass, frame by frame, into an HDF5 store.")
    _add_movie_options(p)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same -o, with the same "
                        "options: link the stored frames after the linker checkpoint, then "
                        "locate and link the frames after the last one processed")
    _add_options(p, LOCATE, "locate options (as streamtrack.locate)")
    _add_options(p, LINK, "link options (as streamtrack.link)")
    _add_options(p, UNITS, "units of the movie (recorded in the store for its analysis)")
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("demo", help="run the pipeline on a built-in synthetic movie",
                       description="Generate a synthetic movie with known truth (positions, "
                                   "trajectories, diffusion coefficient, drift), locate and "
                                   "link it, measure its drift and diffusion coefficient "
                                   "as trackpy's walkthrough does, and compare with the "
                                   "truth.")
    p.add_argument("--n-particles", type=_int_at_least(1, "a number of particles >= 1"),
                   default=40)
    p.add_argument("--n-frames", type=_int_at_least(1, "a number of frames >= 1"),
                   default=100)
    p.add_argument("--size", type=_int_at_least(16, "a frame size of at least 16 px"),
                   default=384, help="frame width and height, px")
    p.add_argument("-d", "--diameter", type=_parsed_by(replace(LOCATE["diameter"], kind="odd")),
                   default=DEMO["diameter"])
    p.add_argument("--minmass", type=_number(), default=DEMO["minmass"],
                   help="minimum feature mass (synthetic spots have ~1900, noise < 150)")
    p.add_argument("-s", "--search-range", type=_number(0, strict=True),
                   default=DEMO["search_range"])
    p.add_argument("--memory", type=_int_at_least(0, "a number of frames >= 0"),
                   default=DEMO["memory"])
    p.add_argument("--diffusion", type=_number(0, strict=True), default=0.25,
                   help="diffusion coefficient, px^2 per frame")
    p.add_argument("--drift", type=_number(), nargs=2, metavar=("DY", "DX"),
                   default=[0.1, 0.15],
                   help="constant drift of every particle (the stage), px per frame along y "
                        "and x")
    p.add_argument("--mpp", type=_number(0, strict=True), default=0.5,
                   help="microns per pixel (recorded in demo.h5)")
    p.add_argument("--fps", type=_number(0, strict=True), default=4.0,
                   help="frames per second (recorded in demo.h5); D is the MSD's power-law "
                        "fit at 1 s, best determined when 1 s is 1-10 frames (the lag "
                        "times fitted)")
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

    p = sub.add_parser("analyse", help="drift, mean squared displacements and diffusion of "
                                       "a linked store",
                       description="Stream a linked store twice (a scan, then one pass "
                                   "measuring the drift and the MSDs) and report the "
                                   "trajectories kept, the drift and the power-law fit of "
                                   "the ensemble MSD (D when the exponent is close to 1); "
                                   "write emsd.csv, imsd.csv, drift.csv (px, trackpy's "
                                   "compute_drift table), track_lengths.csv, msd.png, "
                                   "drift.png and track_lengths.png into the -o folder.")
    p.add_argument("store", help="linked HDF5 store (streamtrack link/track, or trackpy)")
    p.add_argument("--mpp", type=_number(0, strict=True), default=None,
                   help="microns per pixel (default: the store's units record)")
    p.add_argument("--fps", type=_number(0, strict=True), default=None,
                   help="frames per second (default: the store's units record)")
    p.add_argument("--min-length", type=_int_at_least(0, "a number of positions >= 0"),
                   default=25, help="keep trajectories with at least this many positions "
                                    "(filter_stubs; default 25)")
    p.add_argument("--no-drift", action="store_true",
                   help="measure the drift but do not subtract it before the MSDs")
    p.add_argument("--max-lagtime", type=_int_at_least(1, "a number of frames >= 1"),
                   default=100, help="longest lag time of the MSDs, frames (default 100)")
    p.add_argument("-o", "--output", required=True, help="folder for the tables and figures")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the tables and figures already in the -o folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_analyse)

    p = sub.add_parser("export", help="write a store's trajectories to GEFF, CSV or Parquet",
                       description="Stream a store (any layout) into a GEFF (a zarr folder: "
                                   "one node per feature, one edge per link, the units "
                                   "record as axis scales), a CSV or a Parquet file (rows "
                                   "in frame order, trackpy's columns, the units in a "
                                   "header comment or the file metadata). The format "
                                   "comes from OUTPUT's extension: .geff or .zarr, .csv, "
                                   ".parquet (needs pip install "
                                   "'napari-streamtrack[parquet]').")
    p.add_argument("store", help="HDF5 store (streamtrack or trackpy; linked for edges)")
    p.add_argument("output", help="tracks.geff, tracks.zarr, tracks.csv or tracks.parquet")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (once the new one is complete)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)
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
    from streamtrack.exceptions import StoreDamageWarning, StoreError, SubnetOversizeException

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
