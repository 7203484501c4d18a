"""Framewise stores: one DataFrame of features per frame, on disk."""
from .base import FramewiseData
from .chunked import PandasHDFStoreChunked
from .detect import open_store, store_layout
from .hdf import PandasHDFStore, PandasHDFStoreBig, PandasHDFStoreSingleNode

__all__ = ["open_store", "store_layout", "FramewiseData", "PandasHDFStore",
           "PandasHDFStoreBig", "PandasHDFStoreSingleNode", "PandasHDFStoreChunked"]
