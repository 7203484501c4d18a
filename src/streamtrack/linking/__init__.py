"""Linking features into trajectories: trackpy's API on an array-based core."""
from .. import _fastpath
from ..exceptions import SubnetOversizeException, UnknownLinkingError
from . import _verify
from ._api import link, link_df, link_df_iter, link_iter
from ._linker import Linker
from ._output import LinkingOutput
from ._store import link_store, link_store_iter

# the compiled solver serves once _fastpath has run this check ("link" kernels)
_fastpath.register_check("link", _verify.check, _verify.describe)

__all__ = ["Linker", "LinkingOutput", "link", "link_df", "link_df_iter", "link_iter",
           "link_store", "link_store_iter",
           "SubnetOversizeException", "UnknownLinkingError"]
