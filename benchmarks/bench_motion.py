"""Trajectory analysis on the walkthrough's table: streamtrack vs trackpy 0.7, in one process.

    python benchmarks/bench_motion.py [--repeats 5]

The table is trackpy's walkthrough on bulk_water: the green channel of all 300
frames, located with diameter 11, minmass 20, invert; linked with search_range
5, memory 3; ``filter_stubs(t, 25)`` and the mass/size/ecc cut; the drift
subtracted; mpp 100/285, fps 24. Each function runs on the same table on both
sides in interleaved rounds; prints ms per call (min / median / max) and the
speed-up per round, and checks the results are equal (relative 1e-9).

Targets (issue 12): imsd and emsd >= 10x, compute_drift >= 5x, filter_stubs >= 3x.
Then the same streamtrack calls streamed from chunked stores holding the same
tables, against the DataFrame calls on a table already in memory and on the
store's ``dump()`` (what a user of a store would otherwise run): target within
2x. Calls of a few ms are timed in loops of ~0.2 s per round.
"""
import argparse
import warnings

import imageio.v3 as iio
import numpy as np
import pandas as pd
import trackpy

import streamtrack

from _common import bulk_water_files, loops_for, rounds, spread

MPP, FPS = 100 / 285.0, 24


def walkthrough_table(n_frames):
    frames = np.stack([iio.imread(f)[:, :, 1] for f in bulk_water_files(n_frames)])
    features = streamtrack.batch(frames, 11, minmass=20, invert=True)
    t = streamtrack.link(features, 5, memory=3)
    t1 = streamtrack.filter_stubs(t, 25)
    t2 = t1[(t1["mass"] > 50) & (t1["size"] < 2.6) & (t1["ecc"] < 0.3)]
    return t, t2, streamtrack.subtract_drift(t2.copy(), streamtrack.compute_drift(t2))


def same(a, b):
    """Equal to relative 1e-9 (Series or DataFrame, NaN equal to NaN)."""
    if isinstance(a, pd.Series):
        a, b = a.to_frame(), b.to_frame()
    if a.shape != b.shape or list(map(str, a.columns)) != list(map(str, b.columns)):
        return False
    x, y = a.to_numpy(float), b.to_numpy(float)
    return bool(np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    trackpy.quiet()
    streamtrack.quiet()
    linked, cut, tm = walkthrough_table(args.frames)
    print(f"walkthrough table: {len(linked):,} rows, {linked['particle'].nunique():,} "
          f"trajectories; after the cuts {len(tm):,} rows, {tm['particle'].nunique():,} "
          f"trajectories; {args.repeats} interleaved rounds, min / median / max")
    cases = {
        "filter_stubs": (lambda m: m.filter_stubs(linked, 25), 3),
        "compute_drift": (lambda m: m.compute_drift(cut), 5),
        "imsd": (lambda m: m.imsd(tm, MPP, FPS), 10),
        "emsd": (lambda m: m.emsd(tm, MPP, FPS), 10),
    }
    for name, (call, target) in cases.items():
        equal = same(call(streamtrack), call(trackpy))
        times = rounds({"trackpy": lambda c=call: c(trackpy),
                        "ours": lambda c=call: c(streamtrack)}, args.repeats,
                       loops_for(lambda c=call: c(streamtrack)))
        ratios = [a / b for a, b in zip(times["trackpy"], times["ours"])]
        print(f"  {name:14s} trackpy {spread(times['trackpy'], 1e3, '8.1f')} ms | "
              f"streamtrack {spread(times['ours'], 1e3, '8.1f')} ms | "
              f"speed-up {spread(ratios)} x (target >= {target}x) | equal: {equal}")
    streamed(linked, cut, tm, args.repeats)


def to_store(table, path):
    store = streamtrack.PandasHDFStoreChunked(path, mode="w")
    for _, frame in table.reset_index(drop=True).groupby("frame", sort=True):
        store.put(frame.reset_index(drop=True))
    store.close()
    return streamtrack.PandasHDFStoreChunked(path, mode="r")


def streamed(linked, cut, tm, repeats):
    """The same calls streamed from chunked stores (sealed, opened read-only)
    against the DataFrame calls: target within 2x."""
    import os
    import tempfile

    folder = tempfile.mkdtemp(prefix="bench_motion_")
    stores = {name: to_store(table, os.path.join(folder, f"{name}.h5"))
              for name, table in (("linked", linked), ("cut", cut), ("tm", tm))}
    print(f"streamed from PandasHDFStoreChunked (read-only, sealed) vs the same call on the "
          f"DataFrame; {repeats} interleaved rounds, min / median / max")
    cases = {
        "filter_stubs": lambda src: streamtrack.filter_stubs(src, 25),
        "compute_drift": lambda src: streamtrack.compute_drift(src),
        "imsd": lambda src: streamtrack.imsd(src, MPP, FPS),
        "emsd": lambda src: streamtrack.emsd(src, MPP, FPS),
    }
    inputs = {"filter_stubs": "linked", "compute_drift": "cut", "imsd": "tm", "emsd": "tm"}
    tables = {"linked": linked.reset_index(drop=True), "cut": cut.reset_index(drop=True),
              "tm": tm.reset_index(drop=True)}
    for name, call in cases.items():
        store, table = stores[inputs[name]], tables[inputs[name]]
        equal = same(call(store), call(table))
        times = rounds({"table": lambda c=call, t=table: c(t),
                        "dump": lambda c=call, s=store: c(s.dump()),
                        "store": lambda c=call, s=store: c(s)}, repeats,
                       loops_for(lambda c=call, s=store: c(s)))
        ratios = [a / b for a, b in zip(times["store"], times["table"])]
        vs_dump = [a / b for a, b in zip(times["store"], times["dump"])]
        print(f"  {name:14s} DataFrame {spread(times['table'], 1e3, '6.1f')} ms | "
              f"dump() + DataFrame {spread(times['dump'], 1e3, '6.1f')} ms | "
              f"streamed {spread(times['store'], 1e3, '6.1f')} ms | streamed / DataFrame "
              f"{spread(ratios)} | streamed / (dump + DataFrame) {spread(vs_dump)} "
              f"(target <= 2) | equal: {equal}")
    for store in stores.values():
        store.close()


if __name__ == "__main__":
    main()
