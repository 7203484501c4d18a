"""A store bigger than napari can hold: open it, step through it, watch memory.

    xvfb-run -a python benchmarks/bench_plugin_window.py [--frames 100000] [--features 25]
                                                         [--store PandasHDFStoreChunked]

Writes (once, cached in the temp folder) a linked store (default the chunked
store recommended for long movies; trackpy's PandasHDFStoreBig works too, but
100,000 nodes in one HDF5 group take a minute to open) of
``frames`` x ``features`` random features, opens it in a napari viewer through
the plugin's reader -- which opens it windowed, since it holds more than
2 million features -- then moves the time slider across the whole movie
(big jumps, then single steps at the end) and prints the process's RSS as it
goes, the time each refill took, and for comparison the RSS of the whole
table as one DataFrame (what a reader that loads everything would need, before
napari's own copies).
"""
import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
import psutil


def build_store(path, n_frames, n_features, store_class):
    import streamtrack as st

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    ids = np.arange(n_features)
    with getattr(st, store_class)(path, mode="w") as store:
        pos = rng.random((n_features, 2)) * 500
        for t in range(n_frames):
            pos += rng.normal(0, 0.5, pos.shape)
            store.put(pd.DataFrame({"y": pos[:, 0], "x": pos[:, 1],
                                    "mass": rng.random(n_features) * 1000,
                                    "size": rng.random(n_features) + 2,
                                    "frame": t, "particle": ids}))
            if t % 10000 == 0:
                print(f"  writing: frame {t} ({time.perf_counter() - start:.0f} s)", flush=True)


def rss_mb():
    return psutil.Process().memory_info().rss / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--jumps", type=int, default=400)
    parser.add_argument("--store", default="PandasHDFStoreChunked",
                        choices=["PandasHDFStoreChunked", "PandasHDFStoreBig",
                                 "PandasHDFStore", "PandasHDFStoreSingleNode"])
    args = parser.parse_args()
    path = os.path.join(tempfile.gettempdir(),
                        f"streamtrack_window_{args.store}_{args.frames}x{args.features}.h5")
    if not os.path.exists(path + ".complete"):  # an interrupted build is rebuilt
        print(f"building {path} ...", flush=True)
        build_store(path, args.frames, args.features, args.store)
        open(path + ".complete", "w").close()

    import napari
    from qtpy.QtCore import QCoreApplication

    from napari_streamtrack import _window

    viewer = napari.Viewer(show=True)
    QCoreApplication.processEvents()
    before = rss_mb()
    start = time.perf_counter()
    viewer.open(path, plugin="napari-streamtrack")
    window = _window.attached_window(viewer.layers[0])
    assert window is not None, "the store was not opened windowed"
    window.wait(60)
    opened = time.perf_counter() - start
    after_open = rss_mb()
    size = os.path.getsize(path) + sum(
        os.path.getsize(os.path.join(path + ".chunks", n))
        for n in (os.listdir(path + ".chunks") if os.path.isdir(path + ".chunks") else []))
    print(f"{args.store}: {args.frames} frames x {args.features} features "
          f"({args.frames * args.features / 1e6:.1f} M features), {size / 2**20:.0f} MB on disk")
    print(f"  viewer before opening : {before:8.1f} MB RSS")
    print(f"  after opening         : {after_open:8.1f} MB RSS ({opened:.2f} s to open)")

    samples, refill = [], []
    steps = list(np.linspace(0, args.frames - 1, args.jumps).astype(int))
    steps += list(range(args.frames - 200, args.frames))  # then frame by frame
    for i, step in enumerate(steps):
        t0 = time.perf_counter()
        viewer.dims.set_current_step(0, int(step))
        window.wait(60)
        refill.append(time.perf_counter() - t0)
        if i % 50 == 0 or i == len(steps) - 1:
            samples.append((int(step), rss_mb()))
    for step, mb in samples:
        print(f"  at frame {step:7d}      : {mb:8.1f} MB RSS")
    first, last = samples[0][1], samples[-1][1]
    peak = max(mb for _, mb in samples)
    print(f"  growth first -> last step: {last - first:+.1f} MB "
          f"({100 * (last - first) / first:+.1f}%), peak {peak:.1f} MB")
    refill_ms = 1000 * np.asarray(refill)
    print(f"  refill after a step: median {np.median(refill_ms):.1f} ms, "
          f"95th percentile {np.percentile(refill_ms, 95):.1f} ms "
          f"(jumps {np.median(refill_ms[:args.jumps]):.1f} ms, "
          f"single steps {np.median(refill_ms[args.jumps:]):.1f} ms)")
    whole = args.frames * args.features * 7 * 8 / 2**20
    print(f"  the whole table as one DataFrame would take ~{whole:.0f} MB before napari "
          "copies it into layers")
    viewer.close()


if __name__ == "__main__":
    main()
