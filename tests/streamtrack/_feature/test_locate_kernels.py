"""The compiled locate kernels: same bits as the numpy/scipy path, compiled
with exactly the types real calls use, and refused when they disagree."""
import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack import _fastpath, synthetic
from streamtrack._feature import kernels, verify
from streamtrack.linking import _assignment

from test_locate import PARAMS, spots_image


def all_settled():
    """Let every preparation under way finish: tests that patch kernels must
    not meet another key's background thread."""
    for thread in list(_fastpath._threads.values()):
        thread.join()


def both_paths(fn):
    with _fastpath.forced(True):
        fast = fn()
    with _fastpath.forced(False):
        slow = fn()
    return fast, slow


@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.int16])
def test_locate_gives_the_same_bits_on_both_paths(dtype, params):
    assert _fastpath.wait(("locate", 2, np.dtype(dtype).name))
    image, _ = spots_image(dtype, seed=3)
    fast, slow = both_paths(lambda: st.locate(image, **params))
    # (on a float image, in [0, 1], minmass=200 or threshold=5 rightly leave nothing)
    assert len(slow) > 0 or (np.dtype(dtype).kind == "f" and {"minmass", "threshold"} & set(params))
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_3d_locate_gives_the_same_bits_on_both_paths():
    assert _fastpath.wait(("locate", 3, "uint8"))
    rng = np.random.default_rng(2)
    volume = rng.integers(0, 40, (20, 40, 40)).astype(np.uint8)
    for p in rng.uniform(6, 34, (8, 3)) * [0.5, 1, 1]:
        z, y, x = np.ogrid[:20, :40, :40]
        blob = 180 * np.exp(-((z - p[0]) ** 2 + (y - p[1]) ** 2 + (x - p[2]) ** 2) / 4.5)
        volume = np.maximum(volume, blob.astype(np.uint8))
    for diameter in (7, (5, 7, 7)):
        # both_paths calls the lambda at once, within this iteration
        fast, slow = both_paths(lambda: st.locate(volume, diameter))  # noqa: B023
        assert len(slow) > 0
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def compiled_specialisations():
    dispatchers = [getattr(kernels, n) for n in dir(kernels)
                   if hasattr(getattr(kernels, n), "signatures")]
    return sum(len(d.signatures) for d in dispatchers + [_assignment.solve_groups])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_preparation_compiles_what_real_calls_use(dtype):
    """After ``wait``, locating and linking compile nothing more (else the first
    real frame would stall on a compile after all)."""
    assert _fastpath.wait(("locate", 2, np.dtype(dtype).name))
    assert _fastpath.wait(("link",))
    all_settled()
    before = compiled_specialisations()
    image, _ = spots_image(dtype, seed=4)
    st.locate(image, 11, invert=True)
    st.locate(image, 9, characterize=False, preprocess=False)
    frames, _ = synthetic.brownian_movie(n_particles=40, n_frames=5, seed=2)
    features = pd.concat([st.locate(f, 11) for f in frames])
    st.link(features, 5, memory=2)
    assert compiled_specialisations() == before


def test_a_kernel_that_disagrees_is_refused(monkeypatch):
    all_settled()
    real = kernels.refine_com

    def off_by_a_little(*args):
        results = real(*args)
        results[:, 0] += 1e-12
        return results

    monkeypatch.setattr(kernels, "refine_com", off_by_a_little)
    assert "differs" in verify.check(("locate", 2, "uint8"))


def test_the_locate_check_is_registered_with_fastpath():
    assert _fastpath._checks["locate"] is verify.check
    assert _fastpath.describe(("locate", 2, "uint16")) == "locating 2-D uint16 images"


def test_big_endian_images_locate_like_native_ones_on_both_paths():
    """Some TIFFs hold big-endian pixels: the compiled path must take them too."""
    image, _ = spots_image(np.uint16, seed=6)
    swapped = image.astype(image.dtype.newbyteorder(">"))
    assert _fastpath.wait(("locate", 2, "uint16"))
    native = st.locate(image, 11)
    fast, slow = both_paths(lambda: st.locate(swapped, 11))
    pd.testing.assert_frame_equal(fast, native, check_exact=True)
    pd.testing.assert_frame_equal(slow, native, check_exact=True)
