"""When compiled kernels may serve, and getting them ready without a wait.

The compiled kernels (`_feature.kernels`, `linking._assignment`) copy the
arithmetic of the numpy/scipy code that trackpy runs, and every one has a
numpy/scipy twin in streamtrack that gives the same bits. Compiling them costs
~10-30 s on a machine whose numba cache is empty (a fresh install, a new Dask
worker image), and loading them from the cache still ~0.3 s; neither should
delay the first result. So:

- a call asks ``ready(key)`` once; until the kernel set ``key`` is ready it
  takes the numpy/scipy path, and the first such question starts one daemon
  thread that compiles (or loads) the set and checks it: both paths are run on
  the same small inputs and must agree bit for bit;
- only then does ``ready(key)`` answer True. A set that disagrees (a scipy
  release could change its arithmetic: it did once for ``uniform_filter1d``)
  is never used, with a warning; results never depend on which path ran.

Keys name what the kernels are specialised for: ``("locate", ndim, dtype)``
(the image given to ``locate``) and ``("link",)``. ``wait(key)`` blocks until
the set is settled (benchmarks, tests, a server warming up).
``STREAMTRACK_NO_FASTPATH=1`` keeps every call on the numpy/scipy path and
never imports numba.

This module imports none of the code it serves: the code that uses a kind of
kernel set registers, when it is imported, the check that proves such a set
right (`register_check`; the ``"locate"`` check in `_feature.verify`, the
``"link"`` check in `linking._verify`). A key of a kind nobody registered is
refused with a LookupError.
"""
import atexit
import logging
import os
import sys
import threading

logger = logging.getLogger("streamtrack")

COMPILE_NOTICE_AFTER = 1.0  # seconds: a warm cache loads well within this

_lock = threading.Lock()
_threads = {}   # key -> the thread preparing it
_settled = {}   # key -> True (verified) / False (failed or disagreed)
_local = threading.local()
_listeners = set()  # callables told "compiling ..." and then None (progress bars)
_announced = set()  # keys whose compile was announced and is still under way
_checks = {}        # kind (a key's first item) -> check(key): None, or what differed
_descriptions = {}  # kind -> describe(key): the key in words, for messages
COMPILING = "compiling kernels, first run only"


_notice_lock = threading.Lock()  # _announced and _listeners change together
_exit_wait = [True]


def register_check(kind, check, describe=None):
    """Name the check of the kernel sets whose keys start with ``kind``.

    Called by the code that uses those kernels, when it is imported.

    Parameters
    ----------
    kind : str
        The first item of the keys (``"locate"``, ``"link"``).
    check : callable
        ``check(key)``, run in the preparation thread: compiles (or loads)
        the set ``key`` and returns None when it gives the same bits as its
        numpy/scipy twin, else a one-line description of what differed (an
        exception counts as a failed check too).
    describe : callable, optional
        ``describe(key)``: the set in words for messages ("locating 2-D
        uint8 images"). Default: the items of ``key``.

    Returns
    -------
    callable
        ``check``.
    """
    _checks[kind] = check
    _descriptions[kind] = describe
    return check


def add_listener(callback):
    """Call ``callback(message)`` when a compile is under way (a one-line
    message, after ``COMPILE_NOTICE_AFTER`` s, or at once if one already is)
    and ``callback(None)`` when it ends."""
    with _notice_lock:
        _listeners.add(callback)
        compiling = bool(_announced)
    if compiling:
        callback(COMPILING)
    return callback


def skip_wait_at_exit():
    """Do not wait at exit for a compile under way (a run that failed or was
    interrupted: the user should get the prompt back at once)."""
    _exit_wait[0] = False


def remove_listener(callback):
    with _notice_lock:
        _listeners.discard(callback)


def _notify(message):
    with _notice_lock:
        callbacks = list(_listeners)
    for callback in callbacks:
        try:
            callback(message)
        except Exception:  # noqa: BLE001 - a display must not break the compile
            logger.debug("compile listener failed", exc_info=True)


def disabled():
    return bool(os.environ.get("STREAMTRACK_NO_FASTPATH"))


def ready(key):
    """True when the kernel set ``key`` is compiled and verified.

    Otherwise False, after starting (once per process) its preparation in a
    background thread. Inside a preparation the path is forced (see `forced`).
    """
    forced_value = getattr(_local, "forced", None)
    if forced_value is not None:
        return forced_value
    settled = _settled.get(key)
    if settled is not None:
        return settled
    if disabled():
        return False
    _start(key)
    return False


def wait(key, timeout=None):
    """Prepare ``key`` if needed and block until it is settled; return ``ready(key)``."""
    if disabled():
        return False
    thread = _start(key)
    if thread is not None:
        thread.join(timeout)
    return _settled.get(key, False)


def state(key):
    """``'ready'``, ``'failed'``, ``'preparing'`` or ``'idle'`` (for messages and tests)."""
    if key in _settled:
        return "ready" if _settled[key] else "failed"
    return "preparing" if key in _threads else "idle"


class forced:
    """Context manager: in this thread, ``ready()`` answers ``value`` (the
    preparation runs both paths this way; tests use it too)."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        self.previous = getattr(_local, "forced", None)
        _local.forced = self.value
        return self

    def __exit__(self, *exc):
        _local.forced = self.previous


def _after_fork_in_child():
    """A forked child has none of the parent's threads: forget those still
    preparing (settled results stay valid) so that the child starts its own."""
    global _lock
    _lock = threading.Lock()
    _threads.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _finish_at_exit():
    """Let a compile under way finish before the interpreter exits, so that
    numba caches it: a short script would otherwise compile afresh every run."""
    running = [t for t in _threads.values() if t.is_alive()] if _exit_wait[0] else []
    for thread in running:
        thread.join(COMPILE_NOTICE_AFTER)  # loading a warm cache ends well within this
    if any(t.is_alive() for t in running):
        print("streamtrack: finishing the kernel compile before exit (first run on this "
              "machine only).", file=sys.stderr)
    for thread in running:
        thread.join()


def _start(key):
    if key[0] not in _checks:
        raise LookupError(f"no kernel check is registered for {key[0]!r} kernel sets (key "
                          f"{key!r}): import the code that uses them first, which registers "
                          "it (_fastpath.register_check).")
    with _lock:
        if key in _settled:
            return None
        thread = _threads.get(key)
        if thread is None:
            if not _threads:
                atexit.register(_finish_at_exit)
            thread = threading.Thread(target=_prepare, args=(key,), daemon=True,
                                      name=f"streamtrack-kernels-{'-'.join(map(str, key))}")
            _threads[key] = thread
            thread.start()
        return thread


def describe(key):
    describer = _descriptions.get(key[0])
    return describer(key) if describer is not None else " ".join(map(str, key))


def _announce(key):
    with _notice_lock:
        if key in _settled:  # the timer fired as the preparation ended
            return
        _announced.add(key)
    logger.info("Compiling kernels for %s (first run on this machine only); meanwhile "
                "the numpy/scipy path gives the same results, more slowly.", describe(key))
    _notify(COMPILING)


def _prepare(key):
    notice = threading.Timer(COMPILE_NOTICE_AFTER, _announce, args=(key,))
    notice.daemon = True
    notice.start()
    try:
        problem = _checks[key[0]](key)
    except Exception as exc:  # noqa: BLE001 - a kernel that fails to build is not fatal
        problem = f"{type(exc).__name__}: {exc}"
    finally:
        notice.cancel()
    if problem:
        logger.warning("streamtrack: compiled kernels for %s are not used (%s); the "
                       "numpy/scipy path serves instead.", describe(key), problem)
    with _notice_lock:
        _settled[key] = not problem
        ended = key in _announced
        _announced.discard(key)
        ended = ended and not _announced
    if ended:
        _notify(None)
