"""batch from bulk_water PNG files into a PandasHDFStore: streamtrack vs trackpy.

    python benchmarks/bench_batch.py [--frames 100]

Both read the same PNG files (trackpy through pims, as its tutorial does),
take the green channel, locate with diameter 11 (invert=True) and put every
frame into a PandasHDFStore. Reported in ms/frame, with ratios:
trackpy batch(processes=1), trackpy batch() (all cores), streamtrack batch()
(all cores), and the floor: decoding the PNGs alone, one thread.
"""
import argparse
import os
import tempfile
import warnings

import numpy as np
import pims
import trackpy

import streamtrack
from streamtrack import _fastpath

from _common import bulk_water_files, rounds, spread


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    trackpy.quiet()
    streamtrack.quiet()
    files = bulk_water_files(args.frames)
    n = len(files)
    workdir = tempfile.mkdtemp()

    @pims.pipeline
    def tp_green(image):
        return image[:, :, 1]

    @streamtrack.pipeline
    def st_green(image):
        return image[:, :, 1]

    def run_trackpy(processes):
        path = os.path.join(workdir, f"tp{processes}.h5")
        if os.path.exists(path):
            os.remove(path)
        frames = tp_green(pims.ImageSequence(files))
        with trackpy.PandasHDFStore(path) as s:
            trackpy.batch(frames, 11, invert=True, output=s, processes=processes)
        return path

    def run_ours():
        path = os.path.join(workdir, "st.h5")
        if os.path.exists(path):
            os.remove(path)
        frames = st_green(streamtrack.open(files))
        with streamtrack.PandasHDFStore(path) as s:
            streamtrack.batch(frames, 11, invert=True, output=s)
        return path

    def decode_only():
        frames = streamtrack.open(files)
        for i in range(len(frames)):
            frames[i]

    # warm up: JIT/caches, file cache
    trackpy.locate(np.asarray(tp_green(pims.ImageSequence(files[:1]))[0]), 11)
    streamtrack.batch(st_green(streamtrack.open(files[:2])), 11)
    assert _fastpath.wait(("locate", 2, "uint8"))  # compiled in the background
    decode_only()

    times = rounds({"decode": decode_only, "tp1": lambda: run_trackpy(1),
                    "tpa": lambda: run_trackpy("auto"), "ours": run_ours}, args.repeats)
    vs_tp1 = [a / b for a, b in zip(times["tp1"], times["ours"])]
    vs_tpa = [a / b for a, b in zip(times["tpa"], times["ours"])]
    vs_floor = [a / b for a, b in zip(times["ours"], times["decode"])]
    with streamtrack.PandasHDFStore(os.path.join(workdir, "st.h5"), mode="r") as a, \
            trackpy.PandasHDFStore(os.path.join(workdir, "tp1.h5"), mode="r") as b:
        same = len(a.dump()) == len(b.dump()) and a.frames == list(b.frames)
        worst = float(np.max(np.abs(a.dump()[["y", "x"]].to_numpy()
                                    - b.dump()[["y", "x"]].to_numpy())))
    ms = 1e3 / n
    print(f"batch: {n} bulk_water PNG frames -> PandasHDFStore, {os.cpu_count()} cores, "
          f"{args.repeats} interleaved rounds, min / median / max")
    print(f"  decode PNGs only (floor)       : {spread(times['decode'], ms)} ms/frame")
    print(f"  trackpy batch(processes=1)     : {spread(times['tp1'], ms)} ms/frame")
    print(f"  trackpy batch() (all cores)    : {spread(times['tpa'], ms)} ms/frame")
    print(f"  streamtrack batch() (all cores): {spread(times['ours'], ms)} ms/frame")
    print(f"  ratio vs trackpy processes=1   : {spread(vs_tp1)} x (target >= 3x)")
    print(f"  ratio vs trackpy all cores     : {spread(vs_tpa)} x (target >= 2x)")
    print(f"  ours / decode floor            : {spread(vs_floor)}")
    print(f"  same frames and features as trackpy: {same}; max position difference "
          f"{worst:.1e} px")


if __name__ == "__main__":
    main()
