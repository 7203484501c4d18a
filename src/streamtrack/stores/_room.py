"""Room for HDF5 writes: check it before writing, and what to do when a write fails anyway.

HDF5 cannot undo a write that fails half way (a full disk, ``ulimit -f``):
blocks it rewrote in place already point at blocks it could not write, and
PyTables ignores the error of a flush. The stores of trackpy's layouts
therefore check the file size limit and reserve disk blocks before HDF5
writes anything (:func:`reserve_blocks`), check after each flush that every
byte reached the file, and when one did not, release the file without
another HDF5 write (:func:`._tables.close_without_writing`) and reopen it to
say what is readable (:func:`survey`).
"""
import ctypes
import errno
import os
import re
import sys

from .errors import short_reason

# Room a write is given before HDF5 starts it. Measured: a put grows the file
# by at most 1.25 x (the frame's bytes + 64 KiB), the 64 KiB being a table
# chunk; node headers, B-tree nodes and attributes come on top.
ROOM_FIXED = 192 * 1024
# a new node's name goes into the root group's name heap, which HDF5 grows by
# copying it whole to a block twice the size
ROOM_PER_NODE = 48
# reserved at a time beyond what a write needs (most writes then need no syscall)
RESERVE_AHEAD = 8 * 1024 * 1024
# an attribute lands in the root group's header, or a continuation block of it
ROOM_ATTRIBUTE = 64 * 1024


def room_for(df, nodes=0):
    """Bytes to have in hand before HDF5 writes ``df`` (twice what it needs)."""
    return 2 * _frame_bytes(df) + ROOM_FIXED + ROOM_PER_NODE * nodes


def _frame_bytes(df):
    dtypes = [*df.dtypes.tolist(), df.index.dtype]
    if all(getattr(d, "kind", "O") in "biufc" for d in dtypes):
        # the usual numeric frame: itemsizes, without pandas' deep memory_usage
        # (which costs a tenth of a put)
        return len(df) * sum(d.itemsize for d in dtypes)
    return int(df.memory_usage(index=True, deep=True).sum())  # strings: their lengths


class WritesLost(OSError):
    """HDF5 accepted a flush whose writes did not all reach the file."""

    def __init__(self, size, end):
        super().__init__(f"HDF5 could write only {size:,} of {end:,} bytes")
        self.size, self.end = size, end


def io_failure(exc):
    """True for errors of the file itself (HDF5 or the OS), not of the data."""
    if isinstance(exc, OSError):
        return True
    tables = sys.modules.get("tables")
    return tables is not None and isinstance(exc, tables.HDF5ExtError)


def file_size_limit():
    """The soft RLIMIT_FSIZE (``ulimit -f``) in bytes, or None."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


_FALLOCATE = []  # the function, once looked up
_FALLOC_FL_KEEP_SIZE = 1


def _fallocate():
    """Linux's fallocate(2), or None elsewhere (then free space is only compared)."""
    if not _FALLOCATE:
        function = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                function = getattr(libc, "fallocate64", None) or libc.fallocate
                function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                                     ctypes.c_int64]
                function.restype = ctypes.c_int
            except (OSError, AttributeError):
                function = None
        _FALLOCATE.append(function)
    return _FALLOCATE[0]


def _free_bytes(fd):
    try:
        stat = os.fstatvfs(fd)
    except (OSError, AttributeError):
        return None
    return stat.f_bavail * stat.f_frsize


def reserve_blocks(fd, size, need):
    """Reserve ``need`` bytes of disk beyond the end of the file; None, or the problem.

    fallocate with FALLOC_FL_KEEP_SIZE allocates the blocks without changing
    the file's size (HDF5 would see a longer file), so HDF5's next writes
    cannot meet a full disk, even if another program fills it meanwhile.
    """
    function = _fallocate()
    if function is not None:
        if function(fd, _FALLOC_FL_KEEP_SIZE, size, need) == 0:
            return None
        code = ctypes.get_errno()
        if code in (errno.ENOSPC, errno.EDQUOT):
            free = _free_bytes(fd)
            what = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
            return (f"{what} ({'' if free is None else f'{free:,} bytes free, '}"
                    f"this write may need up to {need:,})")
        if code == errno.EFBIG:
            return "file size limit reached (EFBIG: the file system allows no larger file)"
        # EOPNOTSUPP and the like: this file system cannot reserve; compare instead
    free = _free_bytes(fd)
    if free is not None and free < need:
        return (f"no space left on device ({free:,} bytes free, this write may need up to "
                f"{need:,})")
    return None


def cause(exc):
    """One line saying why a write failed, from an OSError or an HDF5 error stack."""
    code = getattr(exc, "errno", None)
    found = re.search(r"errno = (\d+)", str(exc))
    if found:
        code = int(found.group(1))
    if code == errno.EFBIG:
        return "file size limit reached (EFBIG, ulimit -f)"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on device ({os.strerror(code)})"
    if isinstance(exc, WritesLost):
        limit = file_size_limit()
        guess = ("the file size limit (ulimit -f) was reached"
                 if limit is not None and limit < exc.end else "the disk is probably full")
        return f"{exc} ({guess})"
    if code:
        return f"{os.strerror(code)} (errno {code})"
    return short_reason(exc)


def describe_frames(frames):
    """'frames 0-56 (57 frames) are stored' and the like."""
    frames = list(frames)
    if not frames:
        return "the store holds no frames yet"
    if frames[-1] - frames[0] + 1 == len(frames):
        return f"frames {frames[0]}-{frames[-1]} ({len(frames)} frames) are stored"
    return f"{len(frames)} frames between {frames[0]} and {frames[-1]} are stored"


def survey(cls, path, before):
    """What a fresh open finds readable after a failed write, as one phrase."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        with cls(path, mode="r") as store:
            frames = store.frames
            readable = []
            for t in frames:
                try:
                    store.get(t)
                    readable.append(t)
                except Exception:  # noqa: BLE001 - any damage: the frame is not readable
                    pass
    except Exception as exc:  # noqa: BLE001 - the file no longer opens
        return f"the file no longer opens ({getattr(exc, 'reason', exc)})"
    finally:
        sys.unraisablehook = hook
    text = (describe_frames(readable).replace("are stored", "are readable") if readable
            else "no frame is readable")
    if before is not None:
        lost = sorted(set(before) - set(readable))
        text += (f", {len(lost)} of the frames stored before are not ({lost[:5]}"
                 f"{'...' if len(lost) > 5 else ''})" if lost else
                 ", every frame stored before")
    return text

