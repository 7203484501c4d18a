"""Streaming link from a store with write-back, and its memory, vs trackpy.

    python benchmarks/bench_link_stream.py [--memory-frames 300]

1. bulk_water (300 frames, located with diameter 11, invert=True) in a
   PandasHDFStore: ``for f in link_df_iter(store, 5, memory=3): store.put(f)``,
   trackpy's and ours, each on its own copy of the same file; same
   trajectories?  ms per frame and the ratio.
2. Peak RSS of a streaming link (in a fresh process) of a synthetic store of
   N and 10 N frames (1000 random walkers): the growth must stay under 10%.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import streamtrack

from _common import bulk_water_files, compiled_kernels_ready

LINK_AND_MEASURE = """
import resource, sys, streamtrack as st
with st.PandasHDFStore(sys.argv[1]) as s:
    for f in st.link_df_iter(s, 5, memory=3):
        s.put(f)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def partition(df):
    return {frozenset(zip(g["frame"], g["y"].round(6), g["x"].round(6)))
            for _, g in df.groupby("particle")}


def bulk_water_link(workdir):
    import trackpy

    trackpy.quiet()
    streamtrack.quiet()

    @streamtrack.pipeline
    def green(image):
        return image[:, :, 1]

    base = os.path.join(workdir, "bulk.h5")
    with streamtrack.PandasHDFStore(base) as s:
        streamtrack.batch(green(streamtrack.open(bulk_water_files())), 11, invert=True,
                          output=s)
        n = len(s)
    ours, theirs = base + ".ours.h5", base + ".trackpy.h5"
    shutil.copyfile(base, ours)
    shutil.copyfile(base, theirs)
    trackpy.link(pd.DataFrame({"frame": [0, 1], "y": [0.0, 0.1], "x": [0.0, 0.0]}), 1)
    start = time.perf_counter()
    with trackpy.PandasHDFStore(theirs) as s:
        for f in trackpy.link_df_iter(s, 5, memory=3):
            s.put(f)
    t_tp = time.perf_counter() - start
    start = time.perf_counter()
    with streamtrack.PandasHDFStore(ours) as s:
        for f in streamtrack.link_df_iter(s, 5, memory=3):
            s.put(f)
    t_st = time.perf_counter() - start
    with streamtrack.PandasHDFStore(ours, mode="r") as a, \
            streamtrack.PandasHDFStore(theirs, mode="r") as b:
        same = partition(a.dump()) == partition(b.dump())
    print(f"streaming link + write-back, bulk_water {n} frames, search_range 5, memory 3:")
    print(f"  trackpy link_df_iter + put   : {t_tp:6.2f} s ({t_tp / n * 1e3:5.1f} ms/frame)")
    print(f"  streamtrack link_df_iter + put: {t_st:6.2f} s ({t_st / n * 1e3:5.1f} ms/frame)")
    print(f"  speed-up: {t_tp / t_st:5.2f}x (target >= 3x); identical trajectories: {same}")


def synthetic_store(path, n_frames, n_particles=1000, seed=0):
    rng = np.random.default_rng(seed)
    side = np.sqrt(n_particles * 400.0)
    pos = rng.uniform(0, side, (n_particles, 2))
    with streamtrack.PandasHDFStore(path) as s:
        for t in range(n_frames):
            pos += rng.normal(0, 1.0, pos.shape)
            keep = rng.random(n_particles) > 0.02  # blinking
            s.put(pd.DataFrame({"y": pos[keep, 0], "x": pos[keep, 1],
                                "mass": rng.random(keep.sum()), "frame": t}))


def peak_rss_kb(path):
    out = subprocess.run([sys.executable, "-c", LINK_AND_MEASURE, path],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def memory_growth(workdir, n_frames):
    rss = {}
    for n in (n_frames, 10 * n_frames):
        path = os.path.join(workdir, f"walk{n}.h5")
        synthetic_store(path, n)
        rss[n] = peak_rss_kb(path)
    small, large = rss[n_frames], rss[10 * n_frames]
    print("peak RSS of streaming link + write-back (1000 walkers/frame, fresh process):")
    print(f"  {n_frames:6d} frames: {small / 1024:7.1f} MB")
    print(f"  {10 * n_frames:6d} frames: {large / 1024:7.1f} MB  "
          f"(+{100 * (large - small) / small:.1f}%, target < 10%)")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-frames", type=int, default=300)
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    workdir = tempfile.mkdtemp()
    bulk_water_link(workdir)
    memory_growth(workdir, args.memory_frames)


if __name__ == "__main__":
    main()
