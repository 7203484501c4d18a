"""Compiled kernels prepared in the background: same results on both paths,
no wait for a compile, and a kernel that disagrees is never used."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack import _fastpath, _kernels, _verify, synthetic
from streamtrack.linking import _assignment

from test_locate import PARAMS, spots_image


def all_settled():
    """Let every preparation under way finish: tests that patch kernels or
    listen for notices must not meet another key's background thread."""
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
        fast, slow = both_paths(lambda: st.locate(volume, diameter))
        assert len(slow) > 0
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def compiled_specialisations():
    dispatchers = [getattr(_kernels, n) for n in dir(_kernels)
                   if hasattr(getattr(_kernels, n), "signatures")]
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
    real = _kernels.refine_com

    def off_by_a_little(*args):
        results = real(*args)
        results[:, 0] += 1e-12
        return results

    monkeypatch.setattr(_kernels, "refine_com", off_by_a_little)
    assert "differs" in _verify.check(("locate", 2, "uint8"))


def test_a_solver_that_disagrees_is_refused(monkeypatch):
    all_settled()
    real = _assignment.solve_groups

    def drops_one_link(*args):
        return max(real(*args) - 1, 0)

    monkeypatch.setattr(_assignment, "solve_groups", drops_one_link)
    assert "differs" in _verify.check(("link",))


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


def run_fresh(code, **env):
    """Run ``code`` in a fresh interpreter; return its stdout lines."""
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                         capture_output=True, text=True, timeout=300, check=True)
    return out.stdout.split()


def test_first_locate_does_not_wait_for_a_compile(tmp_path):
    """With an empty numba cache the first frames take the numpy path while the
    kernels compile in the background; the results are the same."""
    lines = run_fresh("""
        import numpy as np
        import streamtrack as st
        from streamtrack import _fastpath, synthetic
        frames, _ = synthetic.brownian_movie(n_particles=30, n_frames=3, seed=1)
        first = st.locate(frames[0], 11)
        print(_fastpath.state(("locate", 2, frames[0].dtype.name)))
        assert _fastpath.wait(("locate", 2, frames[0].dtype.name))
        again = st.locate(frames[0], 11)
        print(first.equals(again), len(first))
    """, NUMBA_CACHE_DIR=str(tmp_path))
    assert lines[0] == "preparing"
    assert lines[1] == "True" and int(lines[2]) > 20


def test_no_fastpath_never_imports_numba():
    lines = run_fresh("""
        import sys
        import pandas as pd
        import streamtrack as st
        from streamtrack import synthetic
        frames, _ = synthetic.brownian_movie(n_particles=30, n_frames=4, seed=1)
        features = pd.concat([st.locate(f, 11) for f in frames])
        st.link(features, 5)
        print(len(features), "numba" in sys.modules)
    """, STREAMTRACK_NO_FASTPATH="1")
    assert int(lines[0]) > 60 and lines[1] == "False"


def test_a_long_compile_is_announced_to_listeners(monkeypatch):
    """Progress bars and status lines hear "compiling kernels" once the
    preparation has taken longer than a cache load, and None when it ends."""
    import time

    all_settled()
    heard = []
    monkeypatch.setattr(_fastpath, "COMPILE_NOTICE_AFTER", 0.05)
    monkeypatch.setattr(_verify, "check", lambda key: time.sleep(0.5))
    _fastpath.add_listener(heard.append)
    key = ("test", "slow compile")
    try:
        assert not _fastpath.ready(key)
        assert _fastpath.state(key) == "preparing"
        assert _fastpath.wait(key)
    finally:
        _fastpath.remove_listener(heard.append)
        _fastpath._settled.pop(key, None)
        _fastpath._threads.pop(key, None)
    assert heard == ["compiling kernels, first run only", None]


def test_a_listener_added_during_a_compile_hears_of_it_at_once(monkeypatch):
    all_settled()
    heard = []
    monkeypatch.setattr(_fastpath, "_announced", {("test", "compiling")})
    _fastpath.add_listener(heard.append)
    _fastpath.remove_listener(heard.append)
    assert heard == ["compiling kernels, first run only"]


def test_cli_progress_bar_says_when_kernels_compile():
    from streamtrack.cli import _progress

    all_settled()
    bar = _progress(10, "locate", quiet=True)
    try:
        _fastpath._notify("compiling kernels, first run only")
        assert bar.desc.startswith("locate (compiling kernels, first run only)")
        _fastpath._notify(None)
        assert bar.desc.rstrip(": ") == "locate"
    finally:
        bar.close()
    assert bar._compile_notice not in _fastpath._listeners


def test_a_forked_child_prepares_its_own_kernels(tmp_path):
    """A fork while the kernels were being prepared leaves the child without
    that thread: the child must start its own instead of waiting for ever."""
    lines = run_fresh("""
        import os
        from streamtrack import _fastpath
        key = ("locate", 2, "uint16")
        _fastpath.ready(key)                       # preparation starts
        pid = os.fork()
        if pid == 0:
            ok = _fastpath.wait(key, timeout=240)
            os.write(1, f"child {ok}\\n".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent", _fastpath.wait(key))
    """, NUMBA_CACHE_DIR=str(tmp_path))
    assert lines == ["child", "True", "parent", "True"]


def test_big_endian_images_locate_like_native_ones_on_both_paths():
    """Some TIFFs hold big-endian pixels: the compiled path must take them too."""
    image, _ = spots_image(np.uint16, seed=6)
    swapped = image.astype(image.dtype.newbyteorder(">"))
    assert _fastpath.wait(("locate", 2, "uint16"))
    native = st.locate(image, 11)
    fast, slow = both_paths(lambda: st.locate(swapped, 11))
    pd.testing.assert_frame_equal(fast, native, check_exact=True)
    pd.testing.assert_frame_equal(slow, native, check_exact=True)
