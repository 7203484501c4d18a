"""Linking features into trajectories: trackpy's API on an array-based core."""
from ..exceptions import SubnetOversizeException, UnknownLinkingError
from ._api import link, link_df, link_df_iter, link_iter
from ._linker import Linker
from ._output import LinkingOutput
from ._store import link_store, link_store_iter

__all__ = ["Linker", "LinkingOutput", "link", "link_df", "link_df_iter", "link_iter",
           "link_store", "link_store_iter",
           "SubnetOversizeException", "UnknownLinkingError"]
