"""How ``batch`` numbers the frames it locates: one rule, wherever a frame is read.

A frame's number is its ``frame_no`` attribute if it has one (a
:class:`~streamtrack.Frame`), else its position in the movie. The frames of
one stacked numpy array are numbered by position: its slices inherit the
array's single ``frame_no`` attribute (trackpy issue #756). Used by the
local batch (``_batch``, worker threads) and the distributed one
(``_distributed``, the driver or the Dask workers reading the frames).
"""
import numpy as np


def frame_number(image, index):
    """``image.frame_no`` if the image has one, else ``index`` (its position)."""
    frame_no = getattr(image, "frame_no", None)
    return index if frame_no is None else int(frame_no)


def indexable(frames):
    """Whether frames can be read by index (``frames[i]``, ``len(frames)``)."""
    return hasattr(frames, "__getitem__") and hasattr(frames, "__len__")


def read_frame(frames, index):
    """``(frame_no, image)`` of ``frames[index]``, read here."""
    image = frames[index]
    if isinstance(frames, np.ndarray):
        # slices of one (T, Y, X) array inherit a single frame_no attribute
        # (trackpy issue #756): number them by position instead
        return index, np.asarray(image)
    return frame_number(image, index), image


def process_frame(frames, index, function):
    """``(frame_no, function(image))`` for ``frames[index]``: a worker reads
    its own frame, so decoding runs in parallel with locating."""
    frame_no, image = read_frame(frames, index)
    return frame_no, function(image)


def numbered(frames):
    """Yield ``(frame_no, image)`` for every frame of ``frames``, in order."""
    if indexable(frames):
        for i in range(len(frames)):
            yield read_frame(frames, i)
    else:
        for i, image in enumerate(frames):
            yield frame_number(image, i), image
