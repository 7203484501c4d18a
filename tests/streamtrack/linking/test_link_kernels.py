"""The compiled assignment solver: same links as scipy's, refused when it disagrees."""
import numpy as np
import pandas as pd

import streamtrack as st
from streamtrack import _fastpath
from streamtrack.linking import _assignment, _verify


def both_paths(fn):
    with _fastpath.forced(True):
        fast = fn()
    with _fastpath.forced(False):
        slow = fn()
    return fast, slow


def test_a_solver_that_disagrees_is_refused(monkeypatch):
    for thread in list(_fastpath._threads.values()):  # no preparation meets the patch
        thread.join()
    real = _assignment.solve_groups

    def drops_one_link(*args):
        return max(real(*args) - 1, 0)

    monkeypatch.setattr(_assignment, "solve_groups", drops_one_link)
    assert "differs" in _verify.check(("link",))


def test_the_link_check_is_registered():
    assert _fastpath._checks["link"] is _verify.check
    assert _fastpath.describe(("link",)) == "linking"


def test_link_gives_the_same_ids_on_both_paths():
    assert _fastpath.wait(("link",))
    rng = np.random.default_rng(5)
    rows = []
    pos = rng.uniform(0, 80, (400, 2))  # dense: many multi-particle subnetworks
    for t in range(8):
        pos = pos + rng.normal(0, 0.7, pos.shape)
        rows.append(pd.DataFrame({"y": pos[:, 0], "x": pos[:, 1], "frame": t}))
    features = pd.concat(rows, ignore_index=True)
    fast, slow = both_paths(lambda: st.link(features, 2.0, memory=1))
    assert slow["particle"].nunique() < 600  # most particles linked through
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
