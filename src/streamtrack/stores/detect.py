"""Which layout an HDF5 file holds, and why a file cannot be opened as a store.

Four layouts share the ``.h5`` suffix: trackpy's three (``Frame_<n>`` nodes,
the same plus a ``_Frames_Cache`` node, one ``FrameData`` table) and
:class:`PandasHDFStoreChunked`'s entry file, which only names its layout in
a root attribute. Each is read by one class; opening it with another would
mix two layouts in one file (a ``FrameData`` table beside ``Frame_<n>``
nodes reads as one frame), so the stores check the layout when they open.
"""
import errno
import os
import re

from ..exceptions import StoreError, StoreLockedError

#: layout name -> the class that reads and writes it
CLASSES = {"frames": "PandasHDFStore", "big": "PandasHDFStoreBig",
           "single": "PandasHDFStoreSingleNode", "chunked": "PandasHDFStoreChunked"}
#: root attribute in which our stores of trackpy's layouts name their layout
#: (trackpy ignores root attributes): a PandasHDFStoreBig run cut short has
#: dropped its ``_Frames_Cache`` and would otherwise look like a PandasHDFStore
LAYOUT_ATTR = "streamtrack__layout"
CHUNKED_ATTR = "streamtrack_chunked"
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _has_signature(path):
    """HDF5's signature sits at byte 0 or after a user block of 512 * 2**k bytes."""
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
    if not _has_signature(path):
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
        reason = _innermost(text)
        message = (f"{path!r} is a damaged HDF5 file ({reason}); HDF5 cannot open it. It was "
                   "left unchanged: restore it from a copy, or write the store again under "
                   "another name.")
    error = StoreError(message)
    error.reason = reason
    return error


def _innermost(text):
    """The deepest message of an HDF5 error stack (the cause), on one line."""
    lines = [line.strip() for line in text.splitlines()]
    causes = [line for line in lines if line and not line.startswith("File ")
              and "error back trace" not in line.lower()
              and not line.startswith("Unable to open/create")]
    return causes[-1] if causes else (lines[-1] if lines else "unknown HDF5 error")


def layout_of(root, empty_by_marker=True):
    """Layout of an open file from its root group.

    A key of :data:`CLASSES`, 'mixed' (``FrameData`` beside ``Frame_<n>``
    nodes), or None: no frames (a new or a foreign file). A file without
    frames that one of our stores created is named by its marker when
    ``empty_by_marker`` (what :func:`open_store` needs); any class may open it.
    """
    names = root._v_children
    attrs = root._v_attrs._v_attrnamesuser
    if CHUNKED_ATTR in attrs:
        return "chunked"
    marker = str(root._v_attrs[LAYOUT_ATTR]) if LAYOUT_ATTR in attrs else None
    single = "FrameData" in names
    frames = any(n.startswith("Frame_") and n[6:].lstrip("-").isdigit() for n in names)
    if single and frames:
        return "mixed"
    if single:
        return "single"
    if "_Frames_Cache" in names or (frames and marker == "big"):
        return "big"
    if frames:
        return "frames"
    return marker if empty_by_marker and marker in CLASSES else None


def _probe(path):
    """The layout of existing ``path`` (as :func:`layout_of`), or a clear StoreError."""
    import tables

    check_hdf5_file(path)
    try:
        handle = tables.open_file(path, mode="r")
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
    :func:`open_store` says what is wrong with such a file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    try:
        layout = _probe(path)
    except (StoreError, OSError):  # damaged, locked, unreadable: not for us to open
        return None
    return layout if layout in CLASSES else None


def open_store(path, mode="a", **kwargs):
    """Open an existing framewise store with the class its layout needs.

    A chunked store whose entry file is missing but whose ``path.chunks/``
    folder holds its frames is one too: it opens as
    :class:`PandasHDFStoreChunked` does (reading warns; writing rebuilds the
    entry file).

    Raises
    ------
    FileNotFoundError
        No such file (nor a chunked store's folder beside it).
    StoreLockedError
        Another process has the file open for writing.
    StoreError
        The file is empty, not HDF5, damaged (e.g. truncated), holds two layouts
        at once, or is an HDF5 file that is not a framewise store; the message
        names the file and what was found. Nothing is written.
    """
    from .chunked import PandasHDFStoreChunked
    from .hdf import PandasHDFStore, PandasHDFStoreBig, PandasHDFStoreSingleNode

    from ._integrity import holds_store

    path = os.fspath(path)
    if not os.path.exists(path):
        if holds_store(path + ".chunks"):  # the chunks are the data; the entry file is rebuilt
            return PandasHDFStoreChunked(path, mode=mode, **kwargs)
        raise FileNotFoundError(f"no such file: {path!r}")
    layout = _probe(path)
    if layout == "mixed":
        raise mixed_error(path)
    if layout is None:
        raise StoreError(f"{path!r} is an HDF5 file but not a framewise store (no Frame_<n> "
                         "nodes, _Frames_Cache, FrameData table or chunked layout); give a "
                         "store written by streamtrack or trackpy.")
    classes = {"single": PandasHDFStoreSingleNode, "big": PandasHDFStoreBig,
               "frames": PandasHDFStore, "chunked": PandasHDFStoreChunked}
    return classes[layout](path, mode=mode, **kwargs)


def mixed_error(path):
    """The error for a file holding a FrameData table beside Frame_<n> nodes."""
    return StoreError(
        f"{path!r} holds two layouts at once: a FrameData table (PandasHDFStoreSingleNode) "
        "beside Frame_<n> nodes (PandasHDFStore); it was written by both classes. Read each "
        "part with pandas.HDFStore and write them into a new store; the file was left "
        "unchanged.")
