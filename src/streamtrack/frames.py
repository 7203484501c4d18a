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
import threading

import numpy as np

from ._sources import (FrameShapeError, FunctionSource, UnreadableFrameError,
                       source_for)

__all__ = ["open", "pipeline", "Frame", "FrameSequence", "FrameShapeError",
           "UnreadableFrameError"]


class Frame(np.ndarray):
    """An image array that knows its frame number, like ``pims.Frame``.

    Views and slices keep ``frame_no`` and ``metadata`` (``frame[:, :, 1]``
    is still that frame), and so does element-wise arithmetic on one frame
    (``frame * 2``). Reductions (``frame.sum()``, ``frame.max(axis=2)``),
    results mixing frames of different numbers, and ``np.stack`` give plain
    arrays or scalars, which claim no frame number they might not have.

    Parameters
    ----------
    array : array_like
        The image; not copied if it is already an array.
    frame_no : int, optional
        The frame's number in its movie.
    metadata : dict, optional
        Anything else known about the frame (e.g. its ``filename``).

    Examples
    --------
    >>> f = Frame(np.zeros((4, 5, 3)), frame_no=7)
    >>> f[:, :, 1].frame_no, (f + 1).frame_no
    (7, 7)
    >>> type(f.max(axis=2)).__name__
    'ndarray'
    """

    def __new__(cls, array, frame_no=None, metadata=None):
        obj = np.asarray(array).view(cls)
        obj.frame_no = None if frame_no is None else int(frame_no)
        obj.metadata = {} if metadata is None else metadata
        return obj

    def __array_finalize__(self, obj):
        # runs for every view, slice and copy: two attribute reads, no more
        self.frame_no = getattr(obj, "frame_no", None)
        metadata = getattr(obj, "metadata", None)
        self.metadata = {} if metadata is None else metadata

    def __array_wrap__(self, out, context=None, return_scalar=False):
        if context is None or out.shape != self.shape:
            # reductions (context None) and broadcasts to another shape make
            # new data; keeping the label could mislabel, e.g. a (T, Y, X)
            # Frame summed over time is no longer frame ``frame_no``
            if return_scalar or out.ndim == 0:
                return out[()]
            return out.view(np.ndarray) if isinstance(out, Frame) else out
        numbers = {a.frame_no for a in context[1] if isinstance(a, Frame)}
        if isinstance(out, Frame) or len(numbers) != 1:
            # ``out`` given (in place), or frames of different numbers mixed
            return out if isinstance(out, Frame) else out
        result = out.view(Frame)
        result.frame_no = numbers.pop()
        result.metadata = self.metadata
        return result

    def __reduce__(self):
        constructor, args, state = super().__reduce__()
        return constructor, args, state + (self.frame_no, self.metadata)

    def __setstate__(self, state):
        self.frame_no, self.metadata = state[-2], state[-1]
        super().__setstate__(state[:-2])


class _Reader:
    """Reads frame ``i`` of a source as a Frame, checking its shape."""

    def __init__(self, source):
        self.source = source
        self._lock = None if source.thread_safe else threading.Lock()
        self._layout = None  # (shape, dtype) of frame 0

    def _raw(self, i):
        if self._lock is None:
            return self.source.read(i)
        with self._lock:
            return self.source.read(i)

    def layout(self, hint=None):
        """Frame 0's shape and dtype: from the header, else by reading it."""
        if self._layout is None:
            header = self.source.header() if len(self.source) else None
            if header is None:
                array = self._raw(0)[0]
                header = array.shape, array.dtype
            self._layout = tuple(header[0]), np.dtype(header[1])
        return self._layout

    def known_layout(self):
        return self.layout()

    def __call__(self, i, private=False):
        array, metadata, frame_no = self._raw(i)
        if i == 0:
            self._layout = array.shape, array.dtype  # decoded beats header
        elif array.shape != self.layout()[0]:
            raise FrameShapeError(
                f"{self.source.label(i)} has shape {array.shape}, but "
                f"{self.source.label(0)} has shape {self.layout()[0]}: every frame of a "
                "movie must have the same shape. Crop or resize that frame, or leave it "
                "out (e.g. open() a list of the other files).")
        if private and self.source.shares_memory:
            array = array.copy()  # the pipeline function may write into it
        return Frame(array, frame_no=i if frame_no is None else frame_no,
                     metadata=metadata)


class _MappedReader:
    """Applies a pipeline function to the frames its parent reads."""

    def __init__(self, parent, func, args, kwargs):
        self.parent = parent
        self.source = parent.source
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self._layout = None  # of the first output computed

    def __call__(self, i, private=False):
        frame = self.parent(i, private=True)
        out = self.func(frame, *self.args, **self.kwargs)
        if isinstance(out, np.ndarray):
            if not isinstance(out, Frame) or out.frame_no != frame.frame_no:
                out = Frame(out, frame_no=frame.frame_no,
                            metadata=getattr(out, "metadata", None) or frame.metadata)
            if self._layout is None:
                self._layout = out.shape, out.dtype
        return out

    def layout(self, hint=None):
        if self._layout is None:
            self(0 if hint is None else hint)
        return self._layout

    def known_layout(self):
        return self._layout  # repr must not run the pipeline


class FrameSequence:
    """A lazy, sliceable movie: frames are decoded one at a time, on access.

    Made by :func:`open` (``FrameSequence(source)`` is the same) and by
    :func:`pipeline` functions. Indexing returns a :class:`Frame` whose
    ``frame_no`` is its absolute number in the source; slicing (steps and
    negative indices too) and lists of indices return another lazy sequence
    without reading pixels.

    Parameters
    ----------
    source : str, list, array or sequence
        Anything :func:`open` accepts.

    Attributes
    ----------
    source, filename : str
        What the frames are read from (a pattern, folder, file or a
        description); trackpy's ``batch`` records ``filename`` in its meta.
    filenames : list of str or None
        The file of each frame for image files; ``[path]`` for a multi-page
        TIFF; None for arrays and other sequences.
    frame_shape : tuple
        Shape of one frame: from the file header when it tells, else read
        from the first frame once. A pipeline computes its first frame once.
    dtype : numpy.dtype
        Type of the frames' pixels, found the same way.

    Examples
    --------
    >>> frames = FrameSequence(np.zeros((10, 4, 6), np.uint16))
    >>> part = frames[::-3]
    >>> len(part), [f.frame_no for f in part], part.frame_shape
    (4, [9, 6, 3, 0], (4, 6))
    """

    # pims' and slicerator's @pipeline map over objects with this flag, so
    # trackpy-era code decorated with @pims.pipeline works on our sequences
    _slicerator_flag = True

    def __init__(self, source):
        other = open(source)
        self.__dict__.update(other.__dict__)

    @classmethod
    def _make(cls, reader, root, indices, name=None):
        self = object.__new__(cls)
        self._reader = reader  # position in the source -> Frame
        self._root = root  # the _Reader over the source (files, layout)
        self._indices = indices  # positions in the source: a range or int array
        self._name = name  # pipeline function names, for the repr
        self.source = root.source.description
        return self

    @classmethod
    def from_function(cls, read_frame, n_frames, *, source=None, frame_shape=None,
                      dtype=None):
        """A movie whose frame ``i`` is ``read_frame(i)``, computed on access.

        Parameters
        ----------
        read_frame : callable
            ``read_frame(i) -> 2-D (or colour) array`` for ``0 <= i < n_frames``.
            Batch calls it from several threads at once: it must be
            thread-safe (pure functions are).
        n_frames : int
            Number of frames.
        source : str, optional
            Description shown in the repr and recorded by ``batch``.
        frame_shape : tuple, optional
            Shape of every frame; with ``dtype``, spares reading frame 0 to
            learn it.
        dtype : dtype, optional
            Pixel type of every frame.

        Returns
        -------
        FrameSequence

        Examples
        --------
        >>> ramp = FrameSequence.from_function(lambda i: np.full((3, 3), i), 50)
        >>> int(ramp[-1][0, 0]), ramp[-1].frame_no
        (49, 49)
        """
        layout = None
        if frame_shape is not None and dtype is not None:
            layout = tuple(frame_shape), np.dtype(dtype)
        description = source or f"{getattr(read_frame, '__name__', 'function')}(i)"
        reader = _Reader(FunctionSource(read_frame, n_frames, description, layout))
        return cls._make(reader, reader, range(int(n_frames)))

    @property
    def filename(self):
        """The source description (trackpy's ``batch`` records it in ``meta``)."""
        return self.source

    @property
    def filenames(self):
        paths = self._root.source.paths
        if paths is None:
            return None
        if len(paths) != len(self._root.source):
            return list(paths)  # one multi-page file
        return [paths[i] for i in self._indices]

    def __len__(self):
        return len(self._indices)

    def __iter__(self):
        read = self._reader
        for i in self._indices:
            yield read(int(i))

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            n = len(self._indices)
            i = key + n if key < 0 else key
            if not 0 <= i < n:
                raise IndexError(f"frame index {key} is out of range for a sequence of "
                                 f"{n} frames.")
            return self._reader(int(self._indices[i]))
        if isinstance(key, slice):
            return self._derive(self._indices[key])
        if isinstance(key, (list, np.ndarray, range)):
            return self._derive(self._take(key))
        raise TypeError(f"frames are indexed by an int, a slice or a list of ints, not "
                        f"{type(key).__name__}.")

    def _take(self, key):
        key = np.asarray(key)
        n = len(self._indices)
        if key.dtype == bool:
            if key.shape != (n,):
                raise IndexError(f"a boolean mask must have one value per frame ({n}), "
                                 f"got shape {key.shape}.")
            key = np.flatnonzero(key)
        elif key.size == 0:
            key = key.astype(np.int64)
        elif key.dtype.kind not in "iu" or key.ndim != 1:
            raise TypeError("frames are indexed by a flat list of ints; got "
                            f"{key.dtype} values of shape {key.shape}.")
        key = np.where(key < 0, key + n, key)
        if key.size and (key.min() < 0 or key.max() >= n):
            raise IndexError(f"frame indices out of range for a sequence of {n} frames.")
        idx = self._indices
        if isinstance(idx, range):  # stays O(len(key)) for million-frame movies
            return idx.start + idx.step * key.astype(np.int64)
        return np.asarray(idx)[key]

    def _derive(self, indices):
        return FrameSequence._make(self._reader, self._root, indices, self._name)

    def _first(self):
        return int(self._indices[0]) if len(self._indices) else 0

    @property
    def frame_shape(self):
        layout = self._reader.layout(self._first())
        return None if layout is None else layout[0]

    @property
    def dtype(self):
        layout = self._reader.layout(self._first())
        return None if layout is None else layout[1]

    def close(self):
        """Close the source's file, if it keeps one open (multi-page TIFF)."""
        self._root.source.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        source = self.source if self._name is None else f"{self._name}({self.source})"
        n = len(self._indices)
        idx = self._indices
        if idx != range(len(self._root.source)):
            if isinstance(idx, range) and n:
                source += f" [frames {idx[0]} to {idx[-1]}, step {idx.step}]"
            else:
                source += " [selected frames]"
        try:
            layout = self._reader.known_layout()
        except Exception:  # noqa: BLE001 - a repr must not raise
            layout = None
        what = f"{n} frames" if layout is None else \
            f"{n} frames of {layout[0]} {layout[1]}"
        return f"<FrameSequence: {what} from {source!r}>"


def open(source):  # noqa: A001 - trackpy's and pims' name
    """Open a movie lazily: a frame is decoded when it is used.

    Parameters
    ----------
    source : str, path, list, array or sequence
        One of

        - a glob pattern, ``'movie/*.png'``: the matching image files, in
          natural order (``frame2`` before ``frame10``);
        - a folder: its image files (png, tif, tiff, jpg, jpeg, bmp, gif,
          webp, pgm/ppm/pbm/pnm, jp2, tga), others skipped, natural order;
        - an image file (one frame), or a TIFF file: one frame per page,
          counted from the header without reading pixel data;
        - a list or tuple of image files, read in the given order;
        - a ``(T, Y, X)`` or ``(T, Y, X, C)`` numpy array, or a dask (or
          zarr, h5py) array of that layout, computed one frame at a time;
        - any sequence of 2-D or colour arrays: a list, a pims reader (its
          frames keep their pims frame numbers) or pipeline.

    Returns
    -------
    FrameSequence
        ``source`` itself if it already is one.

    Raises
    ------
    FileNotFoundError
        A pattern that matches no image file, a folder without images, a
        missing file.
    ValueError
        An array that is not 3-D or 4-D; an empty list. When a frame is read:
        :class:`UnreadableFrameError` for a file that cannot be decoded (the
        message names it), :class:`FrameShapeError` for a frame whose shape
        differs from frame 0's (the message names both).
    TypeError
        Anything else, e.g. a generator (``batch`` takes those directly).

    Examples
    --------
    >>> frames = open(np.zeros((3, 16, 16), np.uint16))
    >>> len(frames), frames[2].frame_no, frames.dtype
    (3, 2, dtype('uint16'))
    >>> frames
    <FrameSequence: 3 frames of (16, 16) uint16 from 'array (3, 16, 16) uint16'>
    """
    if isinstance(source, FrameSequence):
        return source
    reader = _Reader(source_for(source))
    return FrameSequence._make(reader, reader, range(len(reader.source)))


def _is_sequence(obj):
    return hasattr(obj, "__len__") and hasattr(obj, "__getitem__") and \
        not isinstance(obj, (str, bytes, dict))


def pipeline(func):
    """Make a per-frame function lazy over movies, like ``pims.pipeline``.

    Parameters
    ----------
    func : callable
        ``func(image, *args, **kwargs)``, applied to one frame at a time.
        It gets a private copy of frames that are views of the caller's data,
        so it may work in place.

    Returns
    -------
    callable
        ``func`` with its name and docstring. Called with a
        :class:`FrameSequence` or another sequence of frames (a pims reader,
        a list of arrays, a ``(T, Y, X)`` array), it returns a lazy
        :class:`FrameSequence` of ``func(frame)``: slicing it slices the
        frames to read, and array results are :class:`Frame` s with the
        input's ``frame_no``. Called with one image (an ndarray or Frame),
        it applies ``func`` now. Called with an iterator, it returns a lazy
        generator. Pipelines compose: ``a(b(frames))``.

    Examples
    --------
    >>> @pipeline
    ... def green(image):
    ...     return image[:, :, 1]
    >>> frames = green(open(np.zeros((4, 8, 8, 4), np.uint8)))
    >>> frames[1:][0].shape, frames[1:][0].frame_no
    ((8, 8), 1)
    >>> green(np.zeros((8, 8, 4))).shape  # one image: applied directly
    (8, 8)
    """
    name = getattr(func, "__name__", "pipeline")

    @functools.wraps(func)
    def apply(frames, *args, **kwargs):
        if isinstance(frames, np.ndarray) and not isinstance(frames, Frame) and \
                frames.ndim >= 3 and _called_on_movie(frames):
            frames = open(frames)
        if isinstance(frames, np.ndarray):  # one image
            out = func(frames, *args, **kwargs)
            number = getattr(frames, "frame_no", None)
            if number is not None and isinstance(out, np.ndarray) and \
                    getattr(out, "frame_no", None) != number:
                out = Frame(out, frame_no=number, metadata=frames.metadata)
            return out
        if not isinstance(frames, FrameSequence):
            if _is_sequence(frames):
                frames = open(frames)
            elif hasattr(frames, "__next__"):  # a generator: map lazily, in order
                return (apply(image, *args, **kwargs) for image in frames)
            else:
                return func(frames, *args, **kwargs)
        reader = _MappedReader(frames._reader, func, args, kwargs)
        inner = frames._name
        label = name if inner is None else f"{name}({inner})"
        return FrameSequence._make(reader, frames._root, frames._indices, label)

    return apply


def _called_on_movie(array):
    # A plain 3-D array reaching a pipeline is one colour image, as in pims;
    # movies reach pipelines as FrameSequences. Kept as a hook so the rule
    # is in one place.
    return False
