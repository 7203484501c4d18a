"""batch on a Dask LocalCluster (2 single-threaded worker processes) vs one thread.

    python benchmarks/bench_distributed.py [--frames 100] [--repeat 3]

Both locate the same bulk_water PNG files (green channel, diameter 11,
invert=True, minmass=20) into a DataFrame: ``batch(..., processes=1)`` in
this process on one thread, and ``batch(..., client=client)`` with
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, whose
workers read and decode the files themselves. Reported: frames/s of each
(best of ``--repeat``, after a warm-up of both), their ratio (target >= 1.5x
on a 2-core machine, where the scheduler and the driver share the cores with
the workers) and whether the results are identical.
"""
import argparse
import os
import warnings

from _common import best_of, bulk_water_files, compiled_kernels_ready, single_thread

single_thread()  # one thread per process, workers included (they inherit it)

import pandas as pd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import streamtrack  # noqa: E402

SETTINGS = dict(invert=True, minmass=20)


@streamtrack.pipeline
def green(image):
    # module level: the workers get it by value (this is __main__), like
    # any function of the caller's script; a lambda would do as well
    return image[:, :, 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compiled_kernels_ready()
    warnings.simplefilter("ignore")
    streamtrack.quiet()
    files = bulk_water_files(args.frames)
    n = len(files)
    frames = green(streamtrack.open(files))

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        def local():
            return streamtrack.batch(frames, 11, processes=1, **SETTINGS)

        def distributed():
            return streamtrack.batch(frames, 11, client=client, **SETTINGS)

        # warm up: file cache, compiled kernels loaded (and checked) in every process
        streamtrack.batch(frames[:2], 11, processes=1, **SETTINGS)
        streamtrack.batch(frames, 11, client=client, **SETTINGS)

        t_local, ours_local = best_of(local, args.repeat)
        t_dist, ours_dist = best_of(distributed, args.repeat)
        workers = sum(client.nthreads().values())

    try:
        pd.testing.assert_frame_equal(ours_dist, ours_local)
        identical = True
    except AssertionError:
        identical = False
    print(f"batch: {n} bulk_water PNG frames (green channel, diameter 11, invert, "
          f"minmass 20), {os.cpu_count()} cores, {len(ours_local)} features")
    print(f"  batch(processes=1), one thread          : {n / t_local:7.1f} frames/s "
          f"({t_local * 1e3 / n:5.2f} ms/frame)")
    print(f"  batch(client=...), {workers} workers x 1 thread : {n / t_dist:7.1f} frames/s "
          f"({t_dist * 1e3 / n:5.2f} ms/frame)")
    print(f"  ratio distributed / one thread          : {t_local / t_dist:6.2f}x "
          f"(target >= 1.5x)")
    print(f"  identical results (pandas.testing)      : {identical}")


if __name__ == "__main__":
    main()
