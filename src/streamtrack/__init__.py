"""streamtrack: streaming, trackpy-compatible particle tracking.

The public API keeps trackpy's names, signatures, column names and file
layouts, so ``import streamtrack as tp`` runs trackpy's streaming workflow::

    import streamtrack as tp

    frames = tp.open('movie/*.png')
    with tp.PandasHDFStore('data.h5') as store:
        tp.batch(frames, 11, invert=True, output=store)

Submodules are imported on first use (PEP 562), so ``import streamtrack``
stays cheap for the command line and the napari plugin.
"""
from importlib import import_module

from ._version import __version__

# public name -> private module that defines it
_EXPORTS = {
    "open": "frames",
    "pipeline": "frames",
    "Frame": "frames",
    "FrameSequence": "frames",
    "locate": "_feature",
    "bandpass": "_feature",
    "invert_image": "_feature",
    "batch": "_batch",
    "batch_iter": "_batch",
    "quiet": "_logging",
    "handle_logging": "_logging",
    "ignore_logging": "_logging",
    "FramewiseData": "stores",
    "PandasHDFStore": "stores",
    "PandasHDFStoreBig": "stores",
    "PandasHDFStoreSingleNode": "stores",
    "PandasHDFStoreChunked": "stores",
    "StoreError": "exceptions",
    "StoreLockedError": "exceptions",
    "StoreDamageWarning": "exceptions",
    "StoreRepairWarning": "exceptions",
    "SubnetOversizeException": "exceptions",
    "UnknownLinkingError": "exceptions",
    "link": "linking",
    "link_df": "linking",
    "link_iter": "linking",
    "link_df_iter": "linking",
    "Linker": "linking",
    "link_store": "linking",
    "link_store_iter": "linking",
    "msd": "motion",
    "imsd": "motion",
    "emsd": "motion",
    "compute_drift": "motion",
    "subtract_drift": "motion",
    "vanhove": "motion",
    "filter_stubs": "filtering",
    "filter_clusters": "filtering",
    "filter": "filtering",
    "plot_traj": "plots",
    "annotate": "plots",
    "mass_size": "plots",
    "mass_ecc": "plots",
    "subpx_bias": "plots",
    "to_geff": "exchange",
    "from_geff": "exchange",
    "to_csv": "exchange",
    "read_csv": "exchange",
    "to_parquet": "exchange",
    "read_parquet": "exchange",
}

_SUBMODULES = ("synthetic", "predict", "linking", "utils", "motion")
__all__ = sorted(_EXPORTS) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module("." + name, __name__)
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'streamtrack' has no attribute {name!r}") from None
    value = getattr(import_module("." + module, __name__), name)
    globals()[name] = value  # cache: the next lookup skips __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
