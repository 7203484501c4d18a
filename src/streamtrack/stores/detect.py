"""Which layout an HDF5 file holds, by looking at its root nodes."""
import os

from ..exceptions import StoreError


def store_layout(path):
    """'single', 'big', 'frames' for the three trackpy layouts, 'chunked' for
    :class:`PandasHDFStoreChunked`, or None.

    Never raises for a readable file that is not a framewise store (the napari
    reader relies on that); a missing file raises FileNotFoundError.
    """
    import tables

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    try:
        if not tables.is_hdf5_file(path):
            return None
        with tables.open_file(path, mode="r") as handle:
            names = set(handle.root._v_children)
            chunked = "streamtrack_chunked" in handle.root._v_attrs._v_attrnamesuser
    except Exception:  # noqa: BLE001 - unreadable or locked: not ours to judge
        return None
    if chunked:
        return "chunked"
    if "FrameData" in names:
        return "single"
    frames = any(n.startswith("Frame_") and n[6:].lstrip("-").isdigit() for n in names)
    if "_Frames_Cache" in names:
        return "big"
    return "frames" if frames else None


def open_store(path, mode="a", **kwargs):
    """Open an existing framewise store with the class its layout needs.

    Raises
    ------
    StoreError
        The file is not a framewise store.
    """
    from .chunked import PandasHDFStoreChunked
    from .hdf import PandasHDFStore, PandasHDFStoreBig, PandasHDFStoreSingleNode

    layout = store_layout(path)
    classes = {"single": PandasHDFStoreSingleNode, "big": PandasHDFStoreBig,
               "frames": PandasHDFStore, "chunked": PandasHDFStoreChunked}
    if layout is None:
        raise StoreError(f"{os.fspath(path)!r} is not a framewise store (no Frame_<n> nodes, "
                         "_Frames_Cache, FrameData table or chunked layout).")
    return classes[layout](path, mode=mode, **kwargs)
