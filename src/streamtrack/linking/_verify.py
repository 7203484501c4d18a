"""Prove the compiled assignment solver equals scipy's.

The check of the kernel set ``("link",)``, registered with `_fastpath` by this
package (``_fastpath.register_check``), which runs it in its background
thread before the solver may serve: a ``Linker`` links the same frames
twice, once forced onto the compiled solver (which compiles it, or loads it
from numba's cache) and once onto scipy's ``linear_sum_assignment``, and the
particle ids must be identical. ``check(key)`` returns None, or what differed.
"""
import numpy as np

from .. import _fastpath
from ._linker import Linker


def check(key):
    """None if the compiled solver gives scipy's links on test frames, else what differed."""
    rng = np.random.default_rng(7)
    # a jittered lattice (many small subnetworks), then one shifted by half a
    # spacing along x: every particle ties between two neighbours, in chains
    side = np.arange(0, 40, 4.0)
    lattice = np.array(np.meshgrid(side, side, indexing="ij")).reshape(2, -1).T
    frames = [lattice + rng.normal(0, 0.8, lattice.shape) for _ in range(4)]
    frames += [lattice.copy(), lattice + [0.0, 2.0]]
    results = []
    for compiled in (True, False):
        with _fastpath.forced(compiled):
            linker = Linker(2.5, memory=1)
            results.append([linker.step(t, pos).copy() for t, pos in enumerate(frames)])
    if not all(np.array_equal(a, b) for a, b in zip(*results)):
        return "the compiled assignment solver differs from scipy's linear_sum_assignment"
    return None


def describe(key):
    """``key`` in words, for `_fastpath`'s messages."""
    return "linking"
