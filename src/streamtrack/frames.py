"""Lazy frame sequences: ``open`` a movie, ``pipeline`` a per-frame function.

A :class:`FrameSequence` decodes one frame when it is asked for, slices
without reading pixels, and hands out :class:`Frame` arrays that carry their
absolute frame number (``frame_no``) through slicing and pipelines.

Examples
--------
>>> import numpy as np
>>> frames = open(np.zeros((20, 8, 8), np.uint8))
>>> frames[5::2][0].frame_no
5
>>> @pipeline
... def inverted(image):
...     return 255 - image
>>> inverted(frames)[3:][0].frame_no
3
"""
import functools
import glob as _glob
import os
import re
import threading

import numpy as np

IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif")
TIFF_EXTENSIONS = (".tif", ".tiff")


class Frame(np.ndarray):
    """An ndarray that knows its frame number (``frame_no``) and ``metadata``."""

    def __new__(cls, array, frame_no=None, metadata=None):
        obj = np.asarray(array).view(cls)
        obj.frame_no = frame_no
        obj.metadata = {} if metadata is None else metadata
        return obj

    def __array_finalize__(self, obj):
        # views and slices keep the number: frame[:, :, 1] is still that frame
        self.frame_no = getattr(obj, "frame_no", None)
        self.metadata = getattr(obj, "metadata", None)

    def __array_wrap__(self, out, context=None, return_scalar=False):
        # arithmetic results are new data: plain arrays, or scalars for reductions
        if out.ndim == 0:
            return out[()]
        return np.asarray(out)

    def __reduce__(self):
        state = super().__reduce__()
        return state[0], state[1], state[2] + (self.frame_no, self.metadata)

    def __setstate__(self, state):
        self.frame_no, self.metadata = state[-2], state[-1]
        super().__setstate__(state[:-2])


def _natural_key(path):
    """Sort key putting frame2 before frame10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


class UnreadableFrameError(ValueError):
    """A frame's file could not be decoded; the message names the file."""


def _read_image_file(path):
    try:
        if path.lower().endswith(TIFF_EXTENSIONS):
            import tifffile
            return tifffile.imread(path)
        from PIL import Image
        with Image.open(path) as image:
            return np.asarray(image)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure
        raise UnreadableFrameError(f"cannot read frame file {path}: {exc}") from exc


class _FileSource:
    def __init__(self, paths, description):
        self.paths = list(paths)
        self.description = description

    def __len__(self):
        return len(self.paths)

    def read(self, i):
        return _read_image_file(self.paths[i])


class _TiffSource:
    """Pages of a multi-page TIFF, read one at a time from an open file."""

    def __init__(self, path):
        import tifffile
        try:
            self._tif = tifffile.TiffFile(path)
            self._n = len(self._tif.pages)
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFrameError(f"cannot read TIFF file {path}: {exc}") from exc
        self.paths = [path]
        self.description = path
        self._lock = threading.Lock()  # one file handle, several batch threads

    def __len__(self):
        return self._n

    def read(self, i):
        with self._lock:
            try:
                return self._tif.pages[i].asarray()
            except Exception as exc:  # noqa: BLE001
                raise UnreadableFrameError(
                    f"cannot read page {i} of {self.paths[0]}: {exc}") from exc


class _ArraySource:
    """Frames along axis 0 of a numpy/dask array, or items of any sequence."""

    def __init__(self, data, description):
        self.data = data
        self.paths = None
        self.description = description

    def __len__(self):
        return len(self.data)

    def read(self, i):
        frame = self.data[i]
        if hasattr(frame, "compute"):  # dask: compute this frame only
            frame = frame.compute()
        return np.asarray(frame)


def _source_for(source):
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if any(c in path for c in "*?["):
            files = sorted(_glob.glob(path), key=_natural_key)
            files = [f for f in files if os.path.isfile(f)]
            if not files:
                raise FileNotFoundError(f"no files match the pattern {path!r}; check the "
                                        "folder and the extension (quote the pattern in a shell).")
            return _FileSource(files, path)
        if os.path.isdir(path):
            files = sorted((os.path.join(path, f) for f in os.listdir(path)
                            if f.lower().endswith(IMAGE_EXTENSIONS)), key=_natural_key)
            if not files:
                raise FileNotFoundError(f"folder {path!r} holds no image files "
                                        f"({', '.join(IMAGE_EXTENSIONS)}).")
            return _FileSource(files, path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file or folder: {path!r}")
        if path.lower().endswith(TIFF_EXTENSIONS):
            return _TiffSource(path)
        return _FileSource([path], path)
    if isinstance(source, (list, tuple)) and source and \
            all(isinstance(s, (str, os.PathLike)) for s in source):
        files = [os.fspath(s) for s in source]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise FileNotFoundError(f"no such file: {missing[0]!r}")
        return _FileSource(files, f"{len(files)} files")
    if isinstance(source, np.ndarray) or (hasattr(source, "compute") and hasattr(source, "ndim")):
        if source.ndim not in (3, 4):
            raise ValueError(f"an array movie must be (T, Y, X) or (T, Y, X, C), got shape "
                             f"{tuple(source.shape)}; for one image, use locate() directly.")
        kind = "dask array" if hasattr(source, "compute") else "array"
        return _ArraySource(source, f"{kind} {tuple(source.shape)}")
    if hasattr(source, "__len__") and hasattr(source, "__getitem__") and \
            not isinstance(source, (str, bytes, dict)):
        return _ArraySource(source, type(source).__name__)
    raise TypeError(f"open() takes a glob pattern, a folder, an image or TIFF file, a list of "
                    f"files, a (T, Y, X) array or a sequence of 2-D arrays; got "
                    f"{type(source).__name__}.")


class _CheckedReader:
    """Reads absolute frame numbers from a source; every frame must have the
    shape of the first one read (checked when read, so nothing is read early)."""

    def __init__(self, source):
        self.source = source
        self.first = None  # (shape, dtype) of the first frame read

    def __call__(self, frame_no):
        array = self.source.read(frame_no)
        if self.first is None:
            self.first = (array.shape, array.dtype)
        elif array.shape != self.first[0]:
            paths = self.source.paths
            name = f" ({paths[frame_no]})" if paths and len(paths) > frame_no else ""
            raise ValueError(f"frame {frame_no}{name} has shape {array.shape}, but the first "
                             f"frame read has shape {self.first[0]}; all frames of a movie "
                             "must have one shape.")
        return array


class FrameSequence:
    """A lazy, sliceable sequence of frames; made by :func:`open` and :func:`pipeline`.

    Indexing returns a :class:`Frame` (decoded on access) whose ``frame_no``
    is its absolute number in the source; slicing returns another lazy
    sequence without reading pixels.
    """

    def __init__(self, read, indices, *, source="", filenames=None):
        self._read = read  # absolute frame number -> array
        self._indices = indices  # range (or array) of absolute frame numbers
        self.source = source
        self.filenames = filenames

    @property
    def filename(self):
        """The source description (trackpy's batch records it in ``meta``)."""
        return self.source

    def __len__(self):
        return len(self._indices)

    @property
    def frame_numbers(self):
        """The absolute frame number of each frame, in order (no pixel is read)."""
        return np.asarray(self._indices, dtype=np.int64)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def _get(self, frame_no):
        array = self._read(frame_no)
        if isinstance(array, Frame) and array.frame_no == frame_no:
            return array
        return Frame(array, frame_no=frame_no)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._derive(self._indices[key])
        if isinstance(key, (list, np.ndarray)):
            key = np.asarray(key)
            if key.dtype == bool:
                key = np.flatnonzero(key)
            return self._derive(np.asarray(self._indices)[key])
        if isinstance(key, (int, np.integer)):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"frame index {key} out of range for {n} frames")
            return self._get(int(self._indices[key]))
        raise TypeError(f"frames can be indexed by an int, a slice or a list of ints, not "
                        f"{type(key).__name__}.")

    def _derive(self, indices):
        return FrameSequence(self._read, indices, source=self.source, filenames=self.filenames)

    @property
    def frame_shape(self):
        """Shape of one frame (reads the first frame if none was read yet)."""
        first = getattr(self._read, "first", None)
        return first[0] if first else self[0].shape

    @property
    def dtype(self):
        """dtype of the frames (reads the first frame if none was read yet)."""
        first = getattr(self._read, "first", None)
        return first[1] if first else self[0].dtype

    def __repr__(self):
        return f"<FrameSequence of {len(self)} frames from {self.source or 'a sequence'}>"


def open(source):  # noqa: A001 - trackpy/pims name
    """Open a movie lazily: one frame is decoded when it is used.

    Parameters
    ----------
    source : str, list, array or sequence
        A glob pattern (``'movie/*.png'``, natural sort: frame2 before
        frame10), a folder (its image files, others skipped), an image file,
        a multi-page TIFF (one frame per page), a list of files (their order
        kept), a ``(T, Y, X)`` or ``(T, Y, X, C)`` numpy or dask array, or any
        sequence of 2-D arrays (a pims reader too).

    Returns
    -------
    FrameSequence

    Raises
    ------
    FileNotFoundError
        A pattern matching nothing, a missing file, a folder without images.
    ValueError
        An array with the wrong number of dimensions; later, a frame whose
        shape differs from the first, or a file that cannot be decoded
        (:class:`UnreadableFrameError`, naming the file).
    TypeError
        Any other kind of source (e.g. a generator: pass it to ``batch``).

    Examples
    --------
    >>> frames = open(np.zeros((3, 16, 16), np.uint16))
    >>> len(frames), frames[2].frame_no
    (3, 2)
    """
    if isinstance(source, FrameSequence):
        return source
    src = _source_for(source)
    return FrameSequence(_CheckedReader(src), range(len(src)), source=src.description,
                         filenames=src.paths if isinstance(src, _FileSource) else None)


def pipeline(func):
    """Make a per-frame function lazy over sequences (like ``pims.pipeline``).

    Called on a sequence, the decorated function returns a lazy sequence of
    ``func(frame)`` (sliceable; frame numbers kept); called on one image, it
    just applies ``func``.

    Examples
    --------
    >>> @pipeline
    ... def green(image):
    ...     return image[:, :, 1]
    >>> frames = green(open(np.zeros((4, 8, 8, 4), np.uint8)))
    >>> frames[1:][0].shape, frames[1:][0].frame_no
    ((8, 8), 1)
    """
    @functools.wraps(func)
    def mapped(sequence, *args, **kwargs):
        if isinstance(sequence, np.ndarray):  # one image
            return func(sequence, *args, **kwargs)
        if not isinstance(sequence, FrameSequence):
            if not (hasattr(sequence, "__len__") and hasattr(sequence, "__getitem__")):
                return func(sequence, *args, **kwargs)
            sequence = open(sequence)
        parent = sequence

        def read(frame_no):
            image = parent._get(frame_no)
            out = func(image, *args, **kwargs)
            return Frame(out, frame_no=frame_no) if isinstance(out, np.ndarray) else out

        return FrameSequence(read, parent._indices, source=parent.source,
                             filenames=parent.filenames)
    return mapped


__all__ = ["open", "pipeline", "Frame", "FrameSequence", "UnreadableFrameError"]
