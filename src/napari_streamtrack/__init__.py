"""napari plugin for streamtrack: Locate and Link widgets, HDF5 reader/writers, sample data.

Everything here is a thin layer over the :mod:`streamtrack` core: widgets
collect parameters and run core functions in worker threads; the reader and
writers convert between framewise stores and napari layers (``_layers``).

For napari's console and scripts (with ``viewer`` in the console)::

    import napari_streamtrack as nst
    nst.track_layer(viewer.layers['movie'], 'tracks.h5', diameter=11, search_range=5)
    nst.add_store(viewer, 'tracks.h5')

Importing this package imports neither napari nor Qt: the functions load
them when called.
"""
from importlib import import_module

from streamtrack import __version__

_CONSOLE = ("frames_from_layer", "locate_layer", "track_layer", "layers_from_store",
            "add_store", "store_from_layers")
__all__ = ["__version__", *_CONSOLE]


def __getattr__(name):
    if name in _CONSOLE:
        return getattr(import_module("._console", __name__), name)
    raise AttributeError(f"module 'napari_streamtrack' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
