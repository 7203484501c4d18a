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


def rounds(runs, repeats, loops=1):
    """Run every callable of ``runs`` (name -> fn) ``loops`` times per round,
    ``repeats`` rounds, interleaved so that machine noise hits all alike;
    name -> seconds per call, one value per round."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            for _ in range(loops):
                fn()
            times[name].append((time.perf_counter() - start) / loops)
    return times


def loops_for(fn, seconds=0.2):
    """How many calls of ``fn`` take about ``seconds`` (at least 1): calls of a
    few milliseconds timed one at a time are mostly timer and cache noise."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, int(seconds / max(once, 1e-6)))


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
