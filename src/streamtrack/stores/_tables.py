"""PyTables files: opened here, or reached under a pandas ``HDFStore``, by public API.

pandas writes and reads the frames of trackpy's layouts (``HDFStore.put``,
``append``, ``select``: what keeps the files trackpy's), but the stores also
need the PyTables file itself: to swap a rewritten node in, keep
checkpoints, and check that every flush reached the disk. pandas keeps that
file in a private attribute; its public ``HDFStore.root`` is the file's root
group, and PyTables documents ``Node._v_file`` as the file hosting a node.
Files without pandas in between (the chunked store's entry file and chunks,
a file probed for its layout) are opened with :func:`open_file`. Everything
the stores do to a PyTables file goes through these functions.
"""
import gc
import os
import sys


def open_file(path, mode="r"):
    """``tables.open_file(path, mode)``; PyTables is imported on first use.

    ``import streamtrack`` stays cheap: the command line and the napari
    plugin import PyTables only when they open a store.
    """
    import tables

    return tables.open_file(path, mode)


def h5file(store):
    """The open ``tables.File`` of the pandas ``HDFStore`` ``store``.

    Raises
    ------
    pandas.errors.ClosedFileError
        ``store`` is closed.
    """
    return store.root._v_file


def fileno(store) -> int:
    """The file descriptor HDF5 writes ``store``'s file through."""
    return h5file(store).fileno()


def sizes(store):
    """``(end, size)``: where HDF5 believes the file ends, and its size on disk.

    ``size < end`` after a flush means writes were lost without an error
    (PyTables ignores the error of a flush).
    """
    handle = h5file(store)
    return handle.get_filesize(), os.fstat(handle.fileno()).st_size


def remove(store, name):
    """Remove the root node ``name`` (with its children) if present."""
    root = store.root
    if name in root._v_children:
        h5file(store).remove_node(root, name, recursive=True)


def replace(store, name, new):
    """Put the root node ``new``, written beside ``name``, in its place.

    Writing the new node first and renaming it last means a crash keeps the
    old node or the new one, never neither.
    """
    remove(store, name)
    h5file(store).rename_node(store.root, name, new)


def write_array(store, name, data):
    """Write the 1-D array ``data`` as the root node ``name`` (which must not exist)."""
    h5file(store).create_array(store.root, name, data)


def close_without_writing(store):
    """Close ``store`` without letting HDF5 write to its file again.

    After a write failed half way, HDF5's cache holds blocks that refer to
    space it could not write; a normal close would write some of them and
    not others. The file descriptor is pointed at /dev/null first, so the
    close completes in memory and the file keeps exactly what was on disk.
    """
    handle = h5file(store) if store.is_open else None
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None  # PyTables' __del__ complaints
    try:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, handle.fileno())
            os.close(null)
        except Exception:  # noqa: BLE001 - then HDF5 may write: close anyway
            pass
        try:
            store.close()
        except Exception:  # noqa: BLE001 - its last writes may fail: finish by hand
            pass
        if getattr(handle, "isopen", False):
            _forget(handle)
        gc.collect()  # PyTables' node objects complain as they go: now, silenced
    finally:
        sys.unraisablehook = hook


def _forget(handle):
    """Release a file PyTables' close stopped half way through.

    PyTables has no public call for this: its ``File.close`` gave up before
    HDF5 let go of the file, and reopening the file must read the disk, not
    this half-closed handle's cache. Its private close and its registry of
    open files are the only way; kept here, in one place.
    """
    import tables

    try:
        handle._close_file()
    except Exception:  # noqa: BLE001
        pass
    handle.isopen = 0
    if handle in tables.file._open_files.handlers:
        tables.file._open_files.remove(handle)
