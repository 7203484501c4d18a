"""Progress logging, trackpy style: ``Frame 9: 573 features`` at INFO level.

``streamtrack.quiet()`` silences it, ``handle_logging()`` prints it; both act on
the ``streamtrack`` logger only, never on the root logger.
"""
import logging
import sys

logger = logging.getLogger("streamtrack")
_handler = None


def handle_logging(level=logging.INFO):
    """Print streamtrack's progress messages (``Frame 9: 573 features``) to stderr.

    Parameters
    ----------
    level : int, optional
        Logging level of the ``streamtrack`` logger. Default ``logging.INFO``.
    """
    global _handler
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(_handler)
    logger.setLevel(level)


def quiet(suppress=True):
    """Silence the per-frame progress messages (``quiet(False)`` restores them).

    Parameters
    ----------
    suppress : bool, optional
        True (default) raises the ``streamtrack`` logger to WARNING;
        False lowers it back to INFO.
    """
    logger.setLevel(logging.WARNING if suppress else logging.INFO)


def ignore_logging():
    """Remove the handler installed by :func:`handle_logging`; messages then
    go wherever the application's own logging configuration sends them."""
    global _handler
    if _handler is not None:
        logger.removeHandler(_handler)
        _handler = None
    logger.setLevel(logging.NOTSET)


handle_logging()
