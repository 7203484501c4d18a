"""Store put / get / frames / iterate per frame, the three classes, vs trackpy.

    python benchmarks/bench_stores.py [--frames 300] [--rows 500]

Each store gets N frames of R rows (9 float columns + frame). Times are ms per
frame (``frames`` per call); ratio = trackpy time / streamtrack time.
Write-back = iterate the store and put each frame back with a new ``particle``
column (the linking pattern); trackpy's SingleNode would append duplicates, so
for it the frames go into a second SingleNode file, as its docs advise.
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import trackpy

import streamtrack

CLASSES = ["PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode"]


def make_frames(n, rows):
    rng = np.random.default_rng(0)
    cols = ["y", "x", "mass", "size", "ecc", "signal", "raw_mass", "ep", "extra"]
    return [pd.DataFrame(rng.random((rows, len(cols))), columns=cols).assign(frame=t)
            for t in range(n)]


def measure(module, name, frames, workdir):
    cls = getattr(module, name)
    path = os.path.join(workdir, f"{module.__name__}-{name}.h5")
    out = {}
    with cls(path) as s:
        start = time.perf_counter()
        for f in frames:
            s.put(f)
        out["put"] = (time.perf_counter() - start) / len(frames)
    with cls(path) as s:
        start = time.perf_counter()
        for _ in range(20):
            listed = s.frames
        out["frames"] = (time.perf_counter() - start) / 20
        assert len(listed) == len(frames)
        sample = np.linspace(0, len(frames) - 1, 50).astype(int)
        start = time.perf_counter()
        for n in sample:
            s.get(int(n))
        out["get"] = (time.perf_counter() - start) / len(sample)
        start = time.perf_counter()
        for _ in s:
            pass
        out["iterate"] = (time.perf_counter() - start) / len(frames)
    target_path = path
    if module is trackpy and name == "PandasHDFStoreSingleNode":
        target_path = path + ".linked.h5"
    s = cls(path)
    target = cls(target_path) if target_path != path else s
    try:
        start = time.perf_counter()
        for f in s:
            target.put(f.assign(particle=np.arange(len(f))))
        out["write-back"] = (time.perf_counter() - start) / len(frames)
    finally:
        if target is not s:
            target.close()
        s.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--classes", nargs="+", default=CLASSES, choices=CLASSES)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    frames = make_frames(args.frames, args.rows)
    workdir = tempfile.mkdtemp()
    print(f"stores: {args.frames} frames x {args.rows} rows x 10 columns; ms per frame "
          "(ratio = trackpy / streamtrack)")
    print(f"{'class':26s} {'operation':11s} {'trackpy':>9s} {'streamtrack':>12s} {'ratio':>7s}")
    for name in args.classes:
        theirs = measure(trackpy, name, frames, workdir)
        ours = measure(streamtrack, name, frames, workdir)
        for op in ours:
            print(f"{name:26s} {op:11s} {theirs[op] * 1e3:9.2f} {ours[op] * 1e3:12.2f} "
                  f"{theirs[op] / ours[op]:7.2f}")


if __name__ == "__main__":
    main()
