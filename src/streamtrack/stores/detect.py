"""Which store a file holds, and opening it with the class its layout needs.

Four layouts share the ``.h5`` suffix (:mod:`._layouts`); each is read by
one class. :func:`store_layout` names the layout of a file without opening
it as a store, :func:`open_store` opens it with its class, and
:func:`is_hdf5` tells an HDF5 file from another without HDF5's file lock.
The probing itself is in :mod:`._probe`, below the store classes; this
module sits above them, since it picks one.
"""
import os

from ..exceptions import StoreError
from ._damage import holds_store
from ._layouts import CHUNKED_ATTR, CLASSES, LAYOUT_ATTR
from ._probe import (
    check_hdf5_file,
    is_hdf5,
    layout_of,
    mixed_error,
    open_error,
    probe_layout,
    store_layout,
)
from .chunked import PandasHDFStoreChunked
from .hdf import PandasHDFStore, PandasHDFStoreBig, PandasHDFStoreSingleNode

# what callers use from here; the probing ones are defined in ._probe
__all__ = ["open_store", "store_layout", "is_hdf5", "check_hdf5_file", "layout_of",
           "open_error", "mixed_error", "CLASSES", "LAYOUT_ATTR", "CHUNKED_ATTR"]

_CLASSES = {"single": PandasHDFStoreSingleNode, "big": PandasHDFStoreBig,
            "frames": PandasHDFStore, "chunked": PandasHDFStoreChunked}


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
    path = os.fspath(path)
    if not os.path.exists(path):
        if holds_store(path + ".chunks"):  # the chunks are the data; the entry file is rebuilt
            return PandasHDFStoreChunked(path, mode=mode, **kwargs)
        raise FileNotFoundError(f"no such file: {path!r}")
    layout = probe_layout(path)
    if layout == "mixed":
        raise mixed_error(path)
    if layout is None:
        raise StoreError(f"{path!r} is an HDF5 file but not a framewise store (no Frame_<n> "
                         "nodes, _Frames_Cache, FrameData table or chunked layout); give a "
                         "store written by streamtrack or trackpy.")
    return _CLASSES[layout](path, mode=mode, **kwargs)
