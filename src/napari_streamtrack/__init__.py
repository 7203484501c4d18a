"""napari plugin for streamtrack: Locate and Link widgets, HDF5 reader/writers, sample data.

Everything here is a thin layer over the :mod:`streamtrack` core: widgets
collect parameters and run core functions in worker threads; the reader and
writers convert between framewise stores and napari layers (``_layers``).
"""
from streamtrack import __version__

__all__ = ["__version__"]
