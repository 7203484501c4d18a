"""First-call cost in fresh processes: cold (empty numba cache) and warm.

    python benchmarks/bench_startup.py [--runs 5]

Each run is a new interpreter. "cold" gives it a new, empty NUMBA_CACHE_DIR
(a fresh install, a new Dask worker image); "warm" reuses the cache a cold
run filled. Timed inside the child, after ``import numpy, pandas`` (which
every trackpy script has paid for before it locates):

- first locate: ``import streamtrack`` + the first ``locate`` of a bulk_water
  frame (green channel, diameter 11, invert);
- first link: ``import streamtrack`` + the first ``link`` of 600 particles
  over 10 frames (search_range 5, memory 3);
- kernels ready: from the first locate until the compiled kernels serve
  (they compile in the background; until then numpy/scipy give the same
  results);
- also the whole child process, interpreter start included.

Goals (issue 9): cold first locate <= 3 s, first link <= 1 s, warm first
locate <= 0.5 s. Prints min/median/max over the runs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import bulk_water_files, spread

CHILD = r"""
import json, sys, time
t_start = time.perf_counter()
import numpy as np, pandas as pd
import imageio.v3 as iio
what, image_file = sys.argv[1], sys.argv[2]
if what == "locate":
    image = iio.imread(image_file)[:, :, 1]
    t0 = time.perf_counter()
    import streamtrack as tp
    features = tp.locate(image, 11, invert=True)
    t1 = time.perf_counter()
    from streamtrack import _fastpath
    _fastpath.wait(("locate", 2, "uint8"))
    t2 = time.perf_counter()
    again = tp.locate(image, 11, invert=True)
    assert again.equals(features)
    print(json.dumps(dict(first=t1 - t0, ready=t2 - t0, n=len(features),
                          process=t1 - t_start)))
else:
    rng = np.random.default_rng(0)
    pos = rng.random((600, 2)) * 500
    frames = []
    for t in range(10):
        pos = pos + rng.normal(0, 1, pos.shape)
        frames.append(pd.DataFrame({"y": pos[:, 0], "x": pos[:, 1], "frame": t}))
    df = pd.concat(frames, ignore_index=True)
    t0 = time.perf_counter()
    import streamtrack as tp
    linked = tp.link(df, 5, memory=3)
    t1 = time.perf_counter()
    print(json.dumps(dict(first=t1 - t0, n=int(linked.particle.nunique()),
                          process=t1 - t_start)))
"""


def child(what, image_file, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, what, image_file], env=env,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    image_file = bulk_water_files(1)[0]
    rows = {}
    for _ in range(args.runs):
        for what in ("locate", "link"):
            # a new empty cache for each cold child, then a warm child on it
            with tempfile.TemporaryDirectory() as cache:
                cold = child(what, image_file, cache)
                warm = child(what, image_file, cache)
            for label, result in (("cold", cold), ("warm", warm)):
                for key in ("first", "ready", "process"):
                    if key in result:
                        rows.setdefault((what, label, key), []).append(result[key])
    names = {"first": "first call (import + call)", "ready": "until kernels serve",
             "process": "whole process to result"}
    print(f"fresh processes, {args.runs} runs each (NUMBA_CACHE_DIR empty = cold), "
          "min / median / max")
    for (what, label, k), values in rows.items():
        print(f"  {what:6s} {label}  {names[k]:27s} {spread(values, fmt='6.3f')} s")


if __name__ == "__main__":
    main()
