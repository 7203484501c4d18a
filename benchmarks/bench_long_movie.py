"""A 100,000-frame movie through batch and streaming link, in flat time and memory.

    python benchmarks/bench_long_movie.py [--frames 100000] [--features 500]
                                          [--compare-frames 10000] [--no-trackpy]
    python benchmarks/bench_long_movie.py --analysis [--frames 100000] ...

Each run is a fresh process (so peak RSS is its own): a synthetic movie of
``features`` Brownian particles per frame (512x512, rendered on the fly by a
generator, never held), ``batch`` into the store recommended for long movies
(:class:`PandasHDFStoreChunked`), then ``link_df_iter`` over the store with
every frame put back. Printed: ms per frame for the first and the last 10,000
frames of each phase, peak RSS against the ``compare-frames`` run, the time
of ``len``/``max_frame``/``frames``/``get``/``put`` near frame 100 and near the
last frame, and trackpy 0.7 on the ``compare-frames`` run (its
``PandasHDFStoreBig``, the trackpy store meant for many frames).

``--analysis``: ``emsd``, then ``streamtrack analyse``'s work, streamed from a
linked chunked store of ``frames`` (and ``compare-frames``) frames x
``features`` trajectories (written once into the temp folder), each in a
fresh process: time and peak RSS.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from _common import compiled_kernels_ready

SHAPE = 512
DIAMETER, MINMASS, SEARCH_RANGE = 7, 300, 3.0


def movie(n_frames, n_features, seed=0):
    """Frames of Brownian particles (uint8), generated one at a time."""
    rng = np.random.default_rng(seed)
    lo, hi = 12.0, SHAPE - 13.0
    # on a jittered grid: particles start apart, as in a dilute sample
    side = int(np.ceil(np.sqrt(n_features)))
    grid = np.stack(np.meshgrid(np.linspace(lo + 5, hi - 5, side),
                                np.linspace(lo + 5, hi - 5, side)), -1).reshape(-1, 2)
    pos = grid[:n_features] + rng.normal(0, 1, (n_features, 2))
    offsets = np.arange(-4, 5)
    # camera noise from a bank of images: drawing 262,144 normals per frame
    # would cost more than locating the frame
    noise = rng.normal(20, 3, (16, SHAPE, SHAPE))
    for t in range(n_frames):
        pos += rng.normal(0, 0.4, pos.shape)
        pos = np.clip(pos, lo, hi)
        centre = np.round(pos).astype(int)
        frac = pos - centre
        dy = offsets[None, :, None] - frac[:, 0, None, None]
        dx = offsets[None, None, :] - frac[:, 1, None, None]
        patches = 180.0 * np.exp(-(dy ** 2 + dx ** 2) / (2 * 1.5 ** 2))
        rows = (centre[:, 0, None, None] + offsets[None, :, None]).repeat(9, 2)
        cols = (centre[:, 1, None, None] + offsets[None, None, :]).repeat(9, 1)
        image = noise[t % len(noise)].copy()
        np.add.at(image, (rows, cols), patches)
        yield np.clip(image, 0, 255).astype(np.uint8)


class _IndexableMovie:
    """The same movie for trackpy's batch, which indexes frames (read in order only)."""

    def __init__(self, n_frames, n_features):
        self._frames = movie(n_frames, n_features)
        self._n, self._next, self._last = n_frames, 0, None

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        # trackpy's batch iterates the frames, then indexes the one it just got
        if i == self._next - 1:
            return self._last
        if i != self._next or i >= self._n:
            raise IndexError("frames are generated in order")
        self._next += 1
        self._last = next(self._frames)
        return self._last


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def block_times(stamps, block):
    stamps = np.asarray(stamps)
    per = np.diff(stamps) * 1000
    return float(per[:block].mean()), float(per[-block:].mean())


def run_streamtrack(n_frames, n_features, path):
    import streamtrack as st

    st.quiet()
    stamps = []
    with st.PandasHDFStoreChunked(path, mode="w") as store:
        stamps.append(time.perf_counter())
        for _ in st.batch_iter(movie(n_frames, n_features), DIAMETER, output=store,
                               minmass=MINMASS):
            stamps.append(time.perf_counter())
        n_found = sum(len(store.get(t)) for t in store.frames[:100]) / 100
        link_stamps = [time.perf_counter()]
        for linked in st.link_df_iter(store, SEARCH_RANGE, memory=1):
            store.put(linked)
            link_stamps.append(time.perf_counter())
        ops = store_op_times(store)
    return dict(batch=stamps, link=link_stamps, rss=peak_rss_mb(), ops=ops,
                features_per_frame=n_found)


def store_op_times(store, repeats=50):
    """Seconds per call of each operation near the first and the last frame."""
    out = {}
    last = store.max_frame
    for label, t in (("early", 100), ("late", last - 100)):
        # one untimed get and put first: the first touch of a chunk opens its
        # file, and the first put there seals the chunk the writer leaves
        store.put(store.get(t))
        timings = {}
        # the lambdas run within this iteration, t is the current one
        for name, call in (("len", lambda: len(store)), ("max_frame", lambda: store.max_frame),
                           ("frames", lambda: store.frames),
                           ("get", lambda: store.get(t))):  # noqa: B023
            start = time.perf_counter()
            for _ in range(repeats):
                call()
            timings[name] = (time.perf_counter() - start) / repeats
        frame = store.get(t)
        start = time.perf_counter()
        for _ in range(repeats):
            store.put(frame)
        timings["put"] = (time.perf_counter() - start) / repeats
        out[label] = timings
    return out


def run_trackpy(n_frames, n_features, path):
    import trackpy

    trackpy.quiet()
    start = time.perf_counter()
    with trackpy.PandasHDFStoreBig(path, mode="w") as store:
        trackpy.batch(_IndexableMovie(n_frames, n_features), DIAMETER, output=store,
                      minmass=MINMASS,
                      processes=1)
        located = time.perf_counter()
        for linked in trackpy.link_df_iter(store, SEARCH_RANGE, memory=1):
            store.put(linked)
    done = time.perf_counter()
    return dict(batch_s=located - start, link_s=done - located, rss=peak_rss_mb())


# ------------------------------------------------------------ analysis of a linked store
MPP, FPS, MAX_LAGTIME = 0.35, 24.0, 100


def linked_store_path(n_frames, n_features):
    """A linked chunked store of ``n_frames`` x ``n_features`` (written once, then reused).

    Brownian trajectories (D = 0.25 px^2/frame) that end with probability
    1/2000 per frame, a new particle taking the place: trajectories of every
    length, most longer than 10 x max_lagtime (summed in the ring), some
    shorter (held whole).
    """
    import streamtrack as st

    path = os.path.join(tempfile.gettempdir(), f"linked_{n_frames}x{n_features}.h5")
    if os.path.exists(path + ".done"):
        return path
    rng = np.random.default_rng(1)
    pos = rng.uniform(20, 492, (n_features, 2))
    ids = np.arange(n_features)
    next_id = n_features
    mass = rng.uniform(300, 600, n_features)
    with st.PandasHDFStoreChunked(path, mode="w") as store:
        for t in range(n_frames):
            pos += rng.normal(0, np.sqrt(0.5), pos.shape)
            ended = rng.random(n_features) < 1 / 2000
            if ended.any():
                pos[ended] = rng.uniform(20, 492, (int(ended.sum()), 2))
                ids[ended] = np.arange(next_id, next_id + ended.sum())
                next_id += int(ended.sum())
            store.put(pd_frame(t, ids, pos, mass))
        from streamtrack.workflow import save_units
        save_units(store, mpp=MPP, fps=FPS)
    open(path + ".done", "w").close()
    return path


def pd_frame(t, ids, pos, mass):
    import pandas as pd

    return pd.DataFrame({"y": pos[:, 0], "x": pos[:, 1], "mass": mass, "size": 1.5,
                         "frame": t, "particle": ids.copy()})


def run_emsd(path):
    """emsd of the store, streamed: time and peak RSS of this process."""
    import streamtrack as st

    with st.PandasHDFStoreChunked(path, mode="r") as store:
        n_frames = len(store)
        before = peak_rss_mb()
        start = time.perf_counter()
        result = st.emsd(store, max_lagtime=MAX_LAGTIME)   # the store's units
        elapsed = time.perf_counter() - start
    return dict(frames=n_frames, seconds=elapsed, rss=peak_rss_mb(), rss_before=before,
                msd_1=float(result.iloc[0]), lags=len(result))


def run_analyse(path):
    """``streamtrack analyse``'s work (both passes, no files): time and peak RSS."""
    import streamtrack as st
    from streamtrack.analysis import analyse

    with st.PandasHDFStoreChunked(path, mode="r") as store:
        n_frames = len(store)
        before = peak_rss_mb()
        start = time.perf_counter()
        result = analyse(store, max_lagtime=MAX_LAGTIME)
        elapsed = time.perf_counter() - start
    return dict(frames=n_frames, seconds=elapsed, rss=peak_rss_mb(), rss_before=before,
                msd_1=float(result.emsd["msd"].iloc[0]), lags=len(result.emsd))


def analysis_main(args):
    print(f"emsd streamed from a linked PandasHDFStoreChunked: {args.features} particles/frame, "
          f"max_lagtime {MAX_LAGTIME}, units from the store", flush=True)
    for what in args.what:
        runs = {}
        print(f"  {what}:" + (" streamtrack.analysis.analyse (streamtrack analyse without "
                              "the files)" if what == "analyse" else ""))
        for n in (args.compare_frames, args.frames):
            path = linked_store_path(n, args.features)
            runs[n] = spawn(what, n, args.features, path)
            r = runs[n]
            print(f"    {n:,} frames: {r['seconds']:.1f} s ({1e3 * r['seconds'] / n:.2f} "
                  f"ms/frame), peak RSS {r['rss']:.1f} MB (after imports and opening "
                  f"{r['rss_before']:.1f} MB); MSD at lag 1: {r['msd_1']:.5f} um^2", flush=True)
        small, big = runs[args.compare_frames], runs[args.frames]
        growth = 100 * (big["rss"] - small["rss"]) / small["rss"]
        print(f"    peak RSS {args.frames:,} vs {args.compare_frames:,} frames: "
              f"{big['rss']:.1f} vs {small['rss']:.1f} MB ({growth:+.1f}%, target within 10%)",
              flush=True)


def child(args):
    if args.child in ("emsd", "analyse"):
        run = run_emsd if args.child == "emsd" else run_analyse
        print("RESULT " + json.dumps(run(args.store)))
        return
    path = os.path.join(tempfile.mkdtemp(prefix="long_movie_"), "movie.h5")
    run = run_trackpy if args.child == "trackpy" else run_streamtrack
    result = run(args.frames, args.features, path)
    print("RESULT " + json.dumps(result))


def spawn(which, frames, features, store=None):
    out = subprocess.run([sys.executable, __file__, "--child", which, "--frames", str(frames),
                          "--features", str(features)] + (["--store", store] if store else []),
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(out.stderr[-3000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--compare-frames", type=int, default=10_000)
    parser.add_argument("--no-trackpy", action="store_true")
    parser.add_argument("--child", choices=["streamtrack", "trackpy", "emsd", "analyse"])
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--what", nargs="+", choices=["emsd", "analyse"],
                        default=["emsd", "analyse"], help="with --analysis: which calls")
    parser.add_argument("--analysis", action="store_true",
                        help="only emsd streamed from a linked store of --frames (and "
                             "--compare-frames) frames: time and peak RSS")
    parser.add_argument("--ops-only", metavar="STORE",
                        help="only time the store operations of an existing chunked store")
    parser.add_argument("--trackpy-only", action="store_true",
                        help="only the trackpy run on --compare-frames frames")
    args = parser.parse_args()
    compiled_kernels_ready()
    if args.child:
        return child(args)
    if args.analysis:
        return analysis_main(args)
    if args.ops_only:
        import streamtrack as st

        with st.PandasHDFStoreChunked(args.ops_only) as store:
            ops = store_op_times(store)
        print(f"store operations on {args.ops_only} ({len(store):,} frames), microseconds "
              "per call (near frame 100 / near the last frame):")
        for op in ("len", "max_frame", "frames", "get", "put"):
            print(f"    {op:10s} {ops['early'][op] * 1e6:10.1f} {ops['late'][op] * 1e6:10.1f}")
        return None
    if args.trackpy_only:
        theirs = spawn("trackpy", args.compare_frames, args.features)
        print(f"trackpy 0.7, {args.compare_frames:,} frames: batch {theirs['batch_s']:.0f} s + "
              f"link_df_iter/put {theirs['link_s']:.0f} s, peak RSS {theirs['rss']:.1f} MB")
        return None
    block = min(10_000, args.compare_frames)
    print(f"long movie: {args.features} particles/frame, {SHAPE}x{SHAPE}, "
          f"PandasHDFStoreChunked, batch then link_df_iter + put (search_range "
          f"{SEARCH_RANGE}, memory 1)", flush=True)
    small = spawn("streamtrack", args.compare_frames, args.features)
    big = spawn("streamtrack", args.frames, args.features)
    for name, run in ((f"{args.compare_frames:,} frames", small), (f"{args.frames:,} frames", big)):
        b0, b1 = block_times(run["batch"], block)
        l0, l1 = block_times(run["link"], block)
        total = (run["batch"][-1] - run["batch"][0]) + (run["link"][-1] - run["link"][0])
        print(f"  {name}: {run['features_per_frame']:.0f} features/frame found; total "
              f"{total:.0f} s; peak RSS {run['rss']:.1f} MB")
        print(f"    batch ms/frame: first {block:,} {b0:.2f}, last {block:,} {b1:.2f} "
              f"({100 * (b1 - b0) / b0:+.1f}%)")
        print(f"    link+put ms/frame: first {block:,} {l0:.2f}, last {block:,} {l1:.2f} "
              f"({100 * (l1 - l0) / l0:+.1f}%)")
    growth = 100 * (big["rss"] - small["rss"]) / small["rss"]
    print(f"  peak RSS {args.frames:,} vs {args.compare_frames:,} frames: {big['rss']:.1f} vs "
          f"{small['rss']:.1f} MB ({growth:+.1f}%, target < 10%)")
    print("  store operations, microseconds per call (near frame 100 / near the last frame):")
    for op in ("len", "max_frame", "frames", "get", "put"):
        early, late = big["ops"]["early"][op] * 1e6, big["ops"]["late"][op] * 1e6
        print(f"    {op:10s} {early:10.1f} {late:10.1f}")
    if not args.no_trackpy:
        theirs = spawn("trackpy", args.compare_frames, args.features)
        ours = (small["batch"][-1] - small["batch"][0]) + (small["link"][-1] - small["link"][0])
        total = theirs["batch_s"] + theirs["link_s"]
        print(f"  trackpy 0.7, {args.compare_frames:,} frames (batch processes=1 + link_df_iter "
              f"+ put, PandasHDFStoreBig): {theirs['batch_s']:.0f} + {theirs['link_s']:.0f} s, "
              f"peak RSS {theirs['rss']:.1f} MB; streamtrack {ours:.0f} s "
              f"({total / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
