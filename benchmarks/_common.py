"""Shared helpers for the benchmarks: data location, timing, one-thread setup."""
import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BULK_WATER = os.environ.get(
    "STREAMTRACK_BULK_WATER",
    os.path.join(HERE, "..", "..", "shared", "data", "bulk_water"))


def bulk_water_files(n=None):
    files = sorted(glob.glob(os.path.join(BULK_WATER, "*.png")))
    if not files:
        sys.exit(f"bulk_water PNGs not found in {BULK_WATER}; set STREAMTRACK_BULK_WATER")
    return files[:n] if n else files


def best_of(fn, repeat=3):
    """Minimum wall time of ``repeat`` calls (the least disturbed run), and the
    last call's result (to check that both sides computed the same)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def single_thread():
    """Pin BLAS/numba thread pools to one thread (call before importing them)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"


def rounds(runs, repeats):
    """Run every callable of ``runs`` (name -> fn) once per round, ``repeats``
    rounds, interleaved so that machine noise hits all alike; name -> times."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def spread(values, scale=1.0, fmt="7.2f"):
    """'min / median / max' of ``values`` times ``scale``."""
    import statistics

    v = [x * scale for x in values]
    return f"{min(v):{fmt}} / {statistics.median(v):{fmt}} / {max(v):{fmt}}"


def compiled_kernels_ready():
    """Wait for streamtrack's compiled kernels (uint8 locate, link): they get
    ready in the background, and a timing should not include the numpy path
    that serves meanwhile (bench_startup.py measures that phase)."""
    import streamtrack._feature  # noqa: F401 - registers the "locate" kernels' check
    import streamtrack.linking  # noqa: F401 - registers the "link" check
    from streamtrack import _fastpath

    assert _fastpath.wait(("locate", 2, "uint8")) and _fastpath.wait(("link",))
