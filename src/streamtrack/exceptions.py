"""Project exceptions (documented; everything else raises ValueError/TypeError)."""


class StoreError(RuntimeError):
    """A framewise store cannot be read or written as asked (bad layout, closed store)."""


class StoreLockedError(StoreError):
    """Another process is writing the store (open it with mode='r' to read)."""


class StoreDamageWarning(StoreError, UserWarning):
    """Something a store held was lost or cannot be read (the message says what).

    A warning, so that a script can read what survived; the command line
    turns it into an error. It is also a :class:`StoreError`, so that code
    running with ``warnings.simplefilter('error')`` catches it as one.
    """


class StoreRepairWarning(UserWarning):
    """A store was damaged and has been repaired with nothing lost."""


class SubnetOversizeException(Exception):
    """A linking subnetwork has more source particles than the solver may take.

    Raised by the linkers when a subnetwork exceeds ``max_subnet_size`` (or
    ``max_subnet_size_adaptive`` with adaptive search). Lower ``search_range``,
    use ``adaptive_stop``, or raise the limit for that call.
    """


class UnknownLinkingError(Exception):
    """Linked output failed an integrity check (kept for trackpy compatibility)."""
