"""The background compile service: no wait for a compile, notices to listeners,
fork and exit handling, checks registered by the code that uses the kernels.

(The kernels themselves: tests/streamtrack/_feature/test_locate_kernels.py and
tests/streamtrack/linking/test_link_kernels.py.)"""
import os
import subprocess
import sys
import textwrap

from streamtrack import _fastpath


def all_settled():
    """Let every preparation under way finish: tests that patch kernels or
    listen for notices must not meet another key's background thread."""
    for thread in list(_fastpath._threads.values()):
        thread.join()


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
    monkeypatch.setitem(_fastpath._checks, "test", lambda key: time.sleep(0.5))
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
        import streamtrack._feature  # registers the locate kernels' check
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


def test_fastpath_imports_none_of_the_code_it_serves():
    """Importing `_fastpath` imports no feature or linking code; importing that
    code registers its check, and a key nobody registered is refused."""
    lines = run_fresh("""
        import sys
        from streamtrack import _fastpath
        users = [m for m in sys.modules if m.startswith(("streamtrack._feature",
                                                           "streamtrack.linking"))]
        print(len(users), sorted(_fastpath._checks))
        try:
            _fastpath.wait(("locate", 2, "uint8"))
        except LookupError as exc:
            print("refused", "register_check" in str(exc), _fastpath.state(("locate", 2, "uint8")))
        import streamtrack.linking._linker
        print(sorted(_fastpath._checks))
        import streamtrack
        streamtrack.locate
        print(sorted(_fastpath._checks))
    """)
    assert lines == ["0", "[]", "refused", "True", "idle", "['link']", "['link',", "'locate']"]


def test_a_check_that_raises_is_a_failed_check(monkeypatch, caplog):
    all_settled()
    key = ("test", "broken")

    def broken(key):
        raise RuntimeError("no compiler")

    monkeypatch.setitem(_fastpath._checks, "test", broken)
    monkeypatch.setitem(_fastpath._descriptions, "test", lambda key: "testing things")
    try:
        assert not _fastpath.wait(key)
        assert _fastpath.state(key) == "failed"
    finally:
        _fastpath._settled.pop(key, None)
        _fastpath._threads.pop(key, None)
    assert "testing things" in caplog.text and "RuntimeError: no compiler" in caplog.text
