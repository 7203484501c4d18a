"""In-memory linking of random walks: streamtrack vs trackpy ``link``.

    python benchmarks/bench_link.py [--particles 1000 10000] [--frames 20]

Random walks (step sigma 1 px per axis) at ~one particle per 400 px^2,
search_range 5. Prints us per particle per frame for both, the ratio, and
whether the trajectories (the partition of rows into particles) are identical.
Then bulk_water, all 300 frames located with ``locate(frame[:, :, 1], 11,
invert=True)``, linked with search_range 3 and with 5 / memory 3: same
trajectories as trackpy?
"""
import argparse
import time
import warnings

import numpy as np
import pandas as pd
import trackpy

import streamtrack

from _common import compiled_kernels_ready


def random_walks(n, frames, seed=0):
    rng = np.random.default_rng(seed)
    side = np.sqrt(n * 400.0)
    pos = rng.uniform(0, side, (n, 2))
    rows = []
    for t in range(frames):
        pos = pos + rng.normal(0, 1.0, pos.shape)
        rows.append(pd.DataFrame({"frame": t, "y": pos[:, 0], "x": pos[:, 1]}))
    f = pd.concat(rows, ignore_index=True)
    return f.sample(frac=1, random_state=seed)  # rows in no particular order


def partition(df):
    return set(df.groupby("particle").apply(lambda g: tuple(sorted(g.index))).tolist())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--particles", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--search-range", type=float, default=5)
    parser.add_argument("--memory", type=int, default=0)
    parser.add_argument("--no-bulk-water", action="store_true")
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    trackpy.quiet()
    streamtrack.link(random_walks(10, 3), 5)  # warm-up (cached kernels)
    trackpy.link(random_walks(50, 3), 5)  # warm-up (numba JIT)
    for n in args.particles:
        f = random_walks(n, args.frames)
        start = time.perf_counter()
        theirs = trackpy.link(f, args.search_range, memory=args.memory)
        t_tp = time.perf_counter() - start
        start = time.perf_counter()
        ours = streamtrack.link(f, args.search_range, memory=args.memory)
        t_st = time.perf_counter() - start
        per = 1e6 / (n * args.frames)
        same = partition(ours) == partition(theirs)
        print(f"{n:6d} particles x {args.frames} frames: trackpy {t_tp * per:6.2f} us, "
              f"streamtrack {t_st * per:6.2f} us per particle-frame; "
              f"speed-up {t_tp / t_st:5.1f}x (target >= 10x); identical trajectories: {same}")
    if not args.no_bulk_water:
        bulk_water()


def bulk_water():
    from _common import bulk_water_files

    @streamtrack.pipeline
    def green(image):
        return image[:, :, 1]

    streamtrack.quiet()
    features = streamtrack.batch(green(streamtrack.open(bulk_water_files())), 11, invert=True)
    for search_range, memory in ((3, 0), (5, 3)):
        start = time.perf_counter()
        theirs = trackpy.link(features, search_range, memory=memory)
        t_tp = time.perf_counter() - start
        start = time.perf_counter()
        ours = streamtrack.link(features, search_range, memory=memory)
        t_st = time.perf_counter() - start
        print(f"bulk_water {features['frame'].nunique()} frames, {len(features)} features, "
              f"search_range {search_range}, memory {memory}: identical trajectories: "
              f"{partition(ours) == partition(theirs)} ({ours['particle'].nunique()} "
              f"particles); trackpy {t_tp:.2f} s, streamtrack {t_st:.2f} s "
              f"({t_tp / t_st:.1f}x)")


if __name__ == "__main__":
    main()
