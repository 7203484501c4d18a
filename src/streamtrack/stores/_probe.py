"""What an HDF5 file holds, read before a store opens it, and why one cannot be opened.

Four layouts share the ``.h5`` suffix: trackpy's three (``Frame_<n>`` nodes,
the same plus a ``_Frames_Cache`` node, one ``FrameData`` table) and
:class:`PandasHDFStoreChunked`'s entry file, which only names its layout in
a root attribute. Each is read by one class; opening it with another would
mix two layouts in one file (a ``FrameData`` table beside ``Frame_<n>``
nodes reads as one frame), so the stores check the layout when they open,
and turn HDF5's error stacks into one line that names the file.
"""
import errno
import os
import re

from ..exceptions import StoreError, StoreLockedError
from . import _tables
from ._layouts import CACHE_KEY, CHUNKED_ATTR, CLASSES, LAYOUT_ATTR, SINGLE_KEY, is_frame_node
from .errors import short_reason

_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path) -> bool:
    """Whether ``path`` holds HDF5's signature.

    The signature sits at byte 0 or after a user block of 512 * 2**k bytes.
    Read directly, a few bytes: HDF5's own check takes the file lock, which
    a writer in another process holds.

    Raises
    ------
    OSError
        The file cannot be read (missing, a folder, no permission).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        offset = 0
        while offset + len(_SIGNATURE) <= size:
            handle.seek(offset)
            if handle.read(len(_SIGNATURE)) == _SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def check_hdf5_file(path):
    """Raise a clear :class:`StoreError` if existing ``path`` cannot be HDF5 at all.

    Checked before HDF5 sees the file, so that an empty or foreign file gets
    one line naming it instead of HDF5's error stack. Reads a few bytes.
    """
    if os.path.isdir(path):
        raise StoreError(f"{path!r} is a folder, not a store file; give the .h5 file.")
    size = os.path.getsize(path)
    if size == 0:
        raise StoreError(f"{path!r} is empty (0 bytes), not an HDF5 store; remove it or "
                         "choose another file name to start a new store.")
    if not is_hdf5(path):
        with open(path, "rb") as handle:
            head = handle.read(16)
        raise StoreError(f"{path!r} is not an HDF5 file (it starts with {head!r}); give a "
                         "store written by streamtrack or trackpy, or another file name for "
                         "a new store.")


def open_error(path, exc):
    """The clear error for HDF5 failing to open ``path``: locked, truncated or damaged.

    Its ``reason`` attribute says what is wrong in a few words.
    """
    text = str(exc)
    if "unable to lock" in text:  # HDF5's own file lock: a writer has it open
        error = StoreLockedError(
            f"{path!r} is open for writing in another process; wait for it to finish "
            "(HDF5 allows one writer and no reader meanwhile; PandasHDFStoreChunked lets "
            "readers in).")
        error.reason = "open for writing in another process"
        return error
    code = re.search(r"errno = (\d+)", text)
    truncated = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if code and int(code.group(1)) in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        reason = ("file size limit reached (ulimit -f)" if int(code.group(1)) == errno.EFBIG
                  else "no space left on device")
        message = f"cannot open or create {path!r}: {reason}; free space or raise the limit."
    elif truncated:
        have, want = int(truncated.group(1)), int(truncated.group(2))
        reason = f"truncated: {have:,} of its {want:,} bytes are present"
        message = (f"{path!r} is a damaged HDF5 file, {reason} (a full disk, a file size "
                   "limit or a copy cut short); HDF5 cannot open it. It was left unchanged: "
                   "restore it from a copy, or write the store again under another name.")
    elif "already opened" in text:
        reason = "already open in this process"
        message = (f"{path!r} is already open in this process in another mode; close that "
                   "store first.")
    else:
        reason = short_reason(exc)
        message = (f"{path!r} is a damaged HDF5 file ({reason}); HDF5 cannot open it. It was "
                   "left unchanged: restore it from a copy, or write the store again under "
                   "another name.")
    error = StoreError(message)
    error.reason = reason
    return error


def mixed_error(path):
    """The error for a file holding a FrameData table beside Frame_<n> nodes."""
    return StoreError(
        f"{path!r} holds two layouts at once: a FrameData table (PandasHDFStoreSingleNode) "
        "beside Frame_<n> nodes (PandasHDFStore); it was written by both classes. Read each "
        "part with pandas.HDFStore and write them into a new store; the file was left "
        "unchanged.")


def layout_of(root, empty_by_marker=True):
    """Layout of an open file from its root group.

    A key of :data:`CLASSES`, 'mixed' (``FrameData`` beside ``Frame_<n>``
    nodes), or None: no frames (a new or a foreign file). A file without
    frames that one of our stores created is named by its marker when
    ``empty_by_marker`` (what :func:`.detect.open_store` needs); any class
    may open it.
    """
    names = root._v_children
    attrs = root._v_attrs._v_attrnamesuser
    if CHUNKED_ATTR in attrs:
        return "chunked"
    marker = str(root._v_attrs[LAYOUT_ATTR]) if LAYOUT_ATTR in attrs else None
    single = SINGLE_KEY in names
    frames = any(is_frame_node(n) for n in names)
    if single and frames:
        return "mixed"
    if single:
        return "single"
    if CACHE_KEY in names or (frames and marker == "big"):
        return "big"
    if frames:
        return "frames"
    return marker if empty_by_marker and marker in CLASSES else None


def probe_layout(path):
    """The layout of existing ``path`` (as :func:`layout_of`), or a clear StoreError."""
    check_hdf5_file(path)
    try:
        handle = _tables.open_file(path, mode="r")
    except Exception as exc:  # noqa: BLE001 - PyTables raises many kinds
        raise open_error(path, exc) from None
    try:
        return layout_of(handle.root)
    finally:
        handle.close()


def store_layout(path):
    """'single', 'big', 'frames' for the three trackpy layouts, 'chunked' for
    :class:`PandasHDFStoreChunked`, or None.

    Never raises for a readable file that is not a framewise store, nor for a
    damaged or locked one (the napari reader relies on that: it says None and
    leaves the file to other readers); a missing file raises FileNotFoundError.
    :func:`.detect.open_store` says what is wrong with such a file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    try:
        layout = probe_layout(path)
    except (StoreError, OSError):  # damaged, locked, unreadable: not for us to open
        return None
    return layout if layout in CLASSES else None
