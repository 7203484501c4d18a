"""One line from an HDF5 error: what every store message and status line quotes.

PyTables puts HDF5's whole call stack into its messages: a dozen lines of C
function names around the one line that says what went wrong (``file
signature not found``, ``truncated file: eof = ...``). A message for a user
quotes that line, not the stack.
"""
import re

# the stack PyTables quotes; a message cut short may lack its closing line
_HDF5_TRACE = re.compile(r"HDF5 error back trace(.*?)(?:End of HDF5 error back trace|\Z)",
                         re.S)


def _innermost(match) -> str:
    # each entry of the stack is a 'File "H5F.c", line ..., in ...' line and
    # a line saying what failed there: the last of those is the cause
    lines = [line.strip() for line in match.group(1).splitlines()]
    causes = [line for line in lines if line and not line.startswith('File "')]
    return f"{causes[-1]};" if causes else ""


def short_reason(error, limit=None) -> str:
    """``error`` (an exception or its message) as one short line.

    Each HDF5 back trace in it shrinks to its innermost cause followed by
    ``;`` (e.g. ``"file signature not found; Unable to open/create file
    'x.h5'"``); line breaks and runs of spaces become single spaces.

    Parameters
    ----------
    error : BaseException or str
    limit : int, optional
        Cut the line to this many characters. Default: no limit.

    Returns
    -------
    str
        The exception's type name when its message is empty; a string
        ``error`` may give an empty line.

    Examples
    --------
    >>> short_reason("HDF5 error back trace\\n\\n  File \\"H5Fsuper.c\\", line 9, in f\\n"
    ...              "    file signature not found\\n\\nEnd of HDF5 error back trace\\n\\n"
    ...              "Unable to open/create file 'x.h5'")
    "file signature not found; Unable to open/create file 'x.h5'"
    """
    text = " ".join(_HDF5_TRACE.sub(_innermost, str(error)).split())
    if text.endswith(";"):  # a stack and nothing after it
        text = text[:-1]
    if not text and isinstance(error, BaseException):
        text = type(error).__name__  # KeyError(), a bare OSError: the type says it
    return text if limit is None else text[:limit]
