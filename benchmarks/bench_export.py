"""Exports of a linked chunked store to GEFF, CSV and Parquet: time per million
nodes (rows) and peak memory, at two movie lengths.

    python benchmarks/bench_export.py [--frames 2000 20000] [--features 500]
                                      [--formats geff csv parquet]
    python benchmarks/bench_export.py --frames 10000 100000     # the long movie
    python benchmarks/bench_export.py --end-rate 0.1           # many short trajectories

A linked :class:`PandasHDFStoreChunked` of ``frames`` x ``features``
trajectories (locate's columns, Brownian steps, trajectories ending with
probability ``--end-rate`` per frame, 1/2000 by default; 0.1: trajectories of
10 frames, millions of particles in a long movie, of which only those seen
lately should be held; units recorded) is written once into the temp folder
and reused. Each export runs in a fresh process (so its peak RSS is
its own): ``streamtrack.exchange.export(store, out)``; ``read`` only streams
the store (what every export costs at least). Printed per format and length:
seconds, seconds per million nodes, peak RSS, the RSS before the export
(after imports and opening the store) and at a quarter, half, three
quarters and the end of the movie: memory is flat when it stops growing
with the movie.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

SUFFIX = {"geff": ".geff", "csv": ".csv", "parquet": ".parquet", "read": ""}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def store_path(n_frames, n_features, end_rate=1 / 2000):
    """A linked chunked store of ``n_frames`` x ``n_features`` (written once, then reused)."""
    import pandas as pd

    import streamtrack as st
    from streamtrack.workflow import save_units

    tag = "" if end_rate == 1 / 2000 else f"_end{end_rate:g}"
    path = os.path.join(tempfile.gettempdir(), f"export_bench_{n_frames}x{n_features}{tag}.h5")
    if os.path.exists(path + ".done"):
        return path
    for stale in (path, path + ".chunks"):
        if os.path.isdir(stale):
            shutil.rmtree(stale)
        elif os.path.exists(stale):
            os.remove(stale)
    rng = np.random.default_rng(1)
    pos = rng.uniform(20, 492, (n_features, 2))
    ids = np.arange(n_features)
    next_id = n_features
    columns = {name: rng.uniform(0.1, 1000, n_features)
               for name in ("mass", "size", "ecc", "signal", "raw_mass", "ep")}
    with st.PandasHDFStoreChunked(path, mode="w") as store:
        for t in range(n_frames):
            pos += rng.normal(0, np.sqrt(0.5), pos.shape)
            ended = rng.random(n_features) < end_rate
            if ended.any():
                pos[ended] = rng.uniform(20, 492, (int(ended.sum()), 2))
                ids[ended] = np.arange(next_id, next_id + ended.sum())
                next_id += int(ended.sum())
            keep = rng.random(n_features) > 0.02        # a few missed detections: gaps
            store.put(pd.DataFrame({"y": pos[keep, 0], "x": pos[keep, 1],
                                    **{k: v[keep] for k, v in columns.items()},
                                    "frame": t, "particle": ids[keep]}))
        save_units(store, mpp=0.35, fps=24.0)
    open(path + ".done", "w").close()
    return path


def child(fmt, path):
    import streamtrack as st
    from streamtrack import exchange

    out = os.path.join(tempfile.mkdtemp(prefix="export_bench_"), "tracks" + SUFFIX[fmt])
    try:
        with st.PandasHDFStoreChunked(path, mode="r") as store:
            n_frames = len(store.frames)
            marks = {round(n_frames * q): q for q in (0.25, 0.5, 0.75, 1.0)}
            rss_at = {}

            def progress(done):  # RSS at a quarter, half, ... of the movie
                for frame, q in marks.items():
                    if done >= frame and q not in rss_at:
                        rss_at[q] = round(current_rss_mb())

            before = current_rss_mb()
            start = time.perf_counter()
            if fmt == "read":  # the reading alone: what every export costs at least
                from streamtrack.exchange._source import Source

                result = sum(len(t) for t in Source(store, "read").blocks(progress))
            else:
                result = exchange.export(store, out, progress=progress)
            seconds = time.perf_counter() - start
        nodes = result["nodes"] if isinstance(result, dict) else result
        size = 0 if fmt == "read" else (
            sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
            if os.path.isdir(out) else os.path.getsize(out))
        print("RESULT " + json.dumps(dict(seconds=seconds, nodes=nodes, rss=peak_rss_mb(),
                                          rss_before=before, mb=size / 2**20,
                                          rss_at=list(rss_at.values()))))
    finally:
        shutil.rmtree(os.path.dirname(out), ignore_errors=True)


def spawn(fmt, path):
    out = subprocess.run([sys.executable, __file__, "--child", fmt, "--store", path],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(out.stderr[-3000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--end-rate", type=float, default=1 / 2000,
                        help="probability per frame that a trajectory ends (default 1/2000)")
    parser.add_argument("--formats", nargs="+", choices=sorted(SUFFIX),
                        default=["read", "geff", "csv", "parquet"],
                        help="'read': only stream the store (the floor of every export)")
    parser.add_argument("--child", choices=sorted(SUFFIX), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.store)
    paths = {}
    for n in args.frames:
        start = time.perf_counter()
        paths[n] = store_path(n, args.features, args.end_rate)
        print(f"store {n:,} frames x {args.features}: {paths[n]} "
              f"({time.perf_counter() - start:.1f} s to write or find)", flush=True)
    for fmt in args.formats:
        print(f"{fmt}:", flush=True)
        runs = {}
        for n in args.frames:
            r = runs[n] = spawn(fmt, paths[n])
            print(f"  {n:,} frames, {r['nodes']:,} nodes: {r['seconds']:.1f} s, "
                  f"{r['seconds'] / r['nodes'] * 1e6:.2f} s per million nodes; peak RSS "
                  f"{r['rss']:.0f} MB (before the export {r['rss_before']:.0f} MB; at 1/4, "
                  f"1/2, 3/4, all of the movie {', '.join(map(str, r['rss_at']))} MB); "
                  f"output {r['mb']:.0f} MB", flush=True)
        if len(runs) > 1:
            small, big = runs[min(runs)], runs[max(runs)]
            print(f"  peak RSS {max(runs):,} vs {min(runs):,} frames: {big['rss']:.0f} vs "
                  f"{small['rss']:.0f} MB ({100 * (big['rss'] / small['rss'] - 1):+.1f}%)",
                  flush=True)


if __name__ == "__main__":
    main()
