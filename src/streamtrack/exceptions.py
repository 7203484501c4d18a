"""Project exceptions (documented; everything else raises ValueError/TypeError)."""


class StoreError(RuntimeError):
    """A framewise store cannot be read or written as asked (bad layout, closed store)."""
