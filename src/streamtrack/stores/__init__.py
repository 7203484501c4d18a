"""Framewise stores: one DataFrame of features per frame, on disk."""
from .base import FramewiseData
from .hdf import PandasHDFStore, PandasHDFStoreBig, PandasHDFStoreSingleNode

__all__ = ["FramewiseData", "PandasHDFStore", "PandasHDFStoreBig", "PandasHDFStoreSingleNode"]
