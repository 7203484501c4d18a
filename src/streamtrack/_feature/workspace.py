"""Per-thread scratch arrays for the compiled path.

A frame-sized float64 array is megabytes; glibc serves such requests with
fresh mmap'ed pages, and faulting them in cost ~25% of locate's time on
bulk_water. Reusing one set of buffers per thread (batch runs several
threads) removes that. Buffers never leave streamtrack: every result handed
to a caller is a new array.
"""
import threading

import numpy as np

_local = threading.local()


def buffer(name, shape, dtype):
    """An uninitialised array, reused by later calls with the same name in this thread."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    dtype = np.dtype(dtype)
    array = cache.get(name)
    if array is None or array.shape != tuple(shape) or array.dtype != dtype:
        array = cache[name] = np.empty(shape, dtype=dtype)
    return array
