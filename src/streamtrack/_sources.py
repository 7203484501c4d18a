"""Frame sources behind :mod:`streamtrack.frames`: files, TIFF pages, arrays.

A source knows how many frames it has and decodes frame ``i`` on request
(``read(i) -> (array, metadata, frame_no)``, where ``frame_no`` is None
unless the source knows better than the position ``i``). ``header()`` gives frame 0's shape and
dtype when that is cheap (file headers, array attributes), else ``None``.
``thread_safe`` says whether several threads may read at once (batch's
workers do); ``shares_memory`` whether ``read`` hands out views of data the
caller owns (pipelines then pass copies to their function).
"""
import bisect
import os
import re
import weakref

import numpy as np

IMAGE_EXTENSIONS = frozenset({
    ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif", ".webp",
    ".pgm", ".ppm", ".pbm", ".pnm", ".jp2", ".j2k", ".tga",
})
TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})
GLOB_CHARACTERS = frozenset("*?[")


class UnreadableFrameError(ValueError):
    """A file could not be decoded; the message names the file."""


class FrameShapeError(ValueError):
    """A frame's shape differs from frame 0's; the message names both."""


class _MultiPageTiffError(ValueError):
    """A multi-page TIFF among files read one frame per file."""


def natural_key(path):
    """Sort key putting ``frame2.png`` before ``frame10.png``.

    ``re.split`` with a capturing group alternates text and digit runs,
    starting with text, so the keys of any two paths compare element-wise
    as str with str and int with int.
    """
    parts = re.split(r"(\d+)", path)
    parts[1::2] = [int(p) for p in parts[1::2]]
    return parts


def extension(path):
    return os.path.splitext(path)[1].lower()


def is_image_file(path):
    return extension(path) in IMAGE_EXTENSIONS


# ---------------------------------------------------------------- decoding
# Pillow directly: on bulk_water (640x424 RGBA PNG) ``Image.open`` +
# ``np.array`` decodes in ~8 ms, ~1.5 ms less than ``imageio.v3.imread``
# (plugin lookup, metadata, an extra copy) with the same decoder.

# mode -> (trailing channel shape, dtype) of the array returned by _pil_array
_PIL_MODES = {
    "1": ((), np.bool_), "L": ((), np.uint8), "P": None,  # P: see _pil_layout
    "LA": ((2,), np.uint8), "RGB": ((3,), np.uint8), "RGBA": ((4,), np.uint8),
    "RGBX": ((4,), np.uint8), "CMYK": ((4,), np.uint8), "YCbCr": ((3,), np.uint8),
    "LAB": ((3,), np.uint8), "HSV": ((3,), np.uint8),
    "I;16": ((), np.uint16), "I;16L": ((), np.uint16), "I;16B": ((), np.uint16),
    "I": ((), np.int32), "F": ((), np.float32),
}


def _pil_layout(image):
    """(shape, dtype) that :func:`_pil_array` returns, from the header only."""
    mode = image.mode
    if mode == "P":
        # palettes are expanded to colour, as imageio does (indices alone
        # are not intensities)
        mode = image.palette.mode if image.palette is not None else "RGB"
    elif mode == "I" and image.format == "PNG":
        return (image.size[1], image.size[0]), np.dtype(np.uint16)
    layout = _PIL_MODES.get(mode)
    if layout is None:
        return None
    channels, dtype = layout
    return (image.size[1], image.size[0]) + channels, np.dtype(dtype)


def _pil_array(image):
    """Decode an opened Pillow image into a writeable, native-endian array."""
    if image.mode == "P":
        image = image.convert(image.palette.mode if image.palette is not None else "RGB")
    # np.array copies out of Pillow's read-only buffer: +0.03 ms per MB, and
    # users may write into frames in place (imageio's arrays are writeable)
    array = np.array(image)
    if image.mode == "I" and image.format == "PNG":
        array = array.astype(np.uint16)  # Pillow < 10 decodes 16-bit PNG as int32
    elif not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _tiff_single_page(path):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        n_pages = sum(len(series) for series in tif.series)
        if n_pages != 1:
            raise _MultiPageTiffError(
                f"{path!r} holds {n_pages} pages, but a list, folder or pattern of "
                f"files reads one frame per file: open the stack on its own, "
                f"open({path!r}), to get one frame per page.")
        return tif.asarray(key=0, series=0)


def _decode_error(path, exc):
    hint = "check that the file is a complete, valid image"
    if not is_image_file(path):
        hint = (f"{extension(path) or 'a file without extension'} is not an image "
                "format open() reads; for videos, pass a pims reader to open()")
    return UnreadableFrameError(
        f"cannot decode frame file {path!r} ({type(exc).__name__}: {exc}); {hint}.")


def read_image_file(path):
    """Decode one single-image file: TIFF with tifffile, the rest with Pillow.

    Raises
    ------
    UnreadableFrameError
        Decoder failures, with the path in the message.
    FileNotFoundError
        The file is gone.
    """
    try:
        if extension(path) in TIFF_EXTENSIONS:
            return _tiff_single_page(path)
        from PIL import Image, UnidentifiedImageError

        try:
            image = Image.open(path)
        except UnidentifiedImageError as exc:
            # not a Pillow format: imageio may have another plugin for it
            import imageio.v3 as iio

            try:
                return np.asarray(iio.imread(path))
            except Exception:  # noqa: BLE001 - report Pillow's diagnosis
                raise exc from None
        with image:
            return _pil_array(image)
    except (FileNotFoundError, UnreadableFrameError, _MultiPageTiffError):
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure names the file
        raise _decode_error(path, exc) from exc


def image_file_layout(path):
    """Shape and dtype of a single-image file from its header, or None."""
    try:
        if extension(path) in TIFF_EXTENSIONS:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.series[0].keyframe
                return tuple(page.shape), np.dtype(page.dtype)
        from PIL import Image

        with Image.open(path) as image:
            return _pil_layout(image)
    except Exception:  # noqa: BLE001 - the decode reports problems properly
        return None


# ----------------------------------------------------------------- sources
class FileSource:
    """One frame per image file."""

    thread_safe = True  # every read opens its own file
    shares_memory = False

    def __init__(self, paths, description):
        self.paths = list(paths)
        self.description = description

    def __len__(self):
        return len(self.paths)

    def read(self, i):
        # looked up at call time so tests can count decoder calls
        path = self.paths[i]
        return read_image_file(path), {"filename": path}, None

    def header(self):
        return image_file_layout(self.paths[0])

    def label(self, i):
        return f"frame {i} ({self.paths[i]})"

    def close(self):
        pass


class TiffSource:
    """The pages of one (multi-page) TIFF file, read one at a time."""

    thread_safe = False  # one shared file handle
    shares_memory = False

    def __init__(self, path):
        import tifffile

        try:
            tif = tifffile.TiffFile(path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _decode_error(path, exc) from exc
        self._tif = tif
        self._finalizer = weakref.finalize(self, tif.close)
        # tifffile's series give the page count from the first page's
        # metadata (shaped and ImageJ files) without touching pixel data;
        # a file of several series (e.g. appended pages) is read in order
        series = tif.series
        self._starts = np.cumsum([0] + [len(s) for s in series]).tolist()
        self._layout = (tuple(series[0].keyframe.shape), np.dtype(series[0].keyframe.dtype))
        self.paths = [path]
        self.description = path

    def __len__(self):
        return self._starts[-1]

    def read(self, i):
        k = bisect.bisect_right(self._starts, i) - 1
        try:
            array = self._tif.asarray(key=i - self._starts[k], series=k)
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFrameError(
                f"cannot decode page {i} of {self.paths[0]!r} "
                f"({type(exc).__name__}: {exc}); the file may be truncated.") from exc
        return array, {"filename": self.paths[0], "page": i}, None

    def header(self):
        return self._layout

    def label(self, i):
        return f"page {i} of {self.paths[0]}"

    def close(self):
        self._finalizer()


class ArraySource:
    """Frames along the first axis of an array-like: numpy, dask, zarr, h5py."""

    thread_safe = True
    shares_memory = True  # numpy frames are views of the caller's array

    def __init__(self, data, description):
        self.data = data
        self.paths = None
        self.description = description
        # dask (and xarray) index lazily: compute one frame, never the whole
        self._lazy = hasattr(data, "compute")

    def __len__(self):
        return self.data.shape[0]

    def read(self, i):
        frame = self.data[i]
        if self._lazy:
            frame = frame.compute()
        return np.asarray(frame), None, None

    def header(self):
        dtype = getattr(self.data, "dtype", None)
        if dtype is None:
            return None
        return tuple(int(n) for n in self.data.shape[1:]), np.dtype(dtype)

    def label(self, i):
        return f"frame {i}"

    def close(self):
        pass


class SequenceSource:
    """Items of any sequence of images: a list of arrays, a pims reader."""

    shares_memory = True

    def __init__(self, data, description):
        self.data = data
        self.paths = None
        self.description = description
        # lists and tuples are safe to index from several threads; a pims
        # reader may share one file handle or a video decoder's position
        self.thread_safe = isinstance(data, (list, tuple))
        # pims frames carry their number in the reader (a sliced reader's
        # frames keep their original numbers): trust them. Items of plain
        # lists are numbered by position: slices of one (T, Y, X) pims.Frame
        # all claim frame 0 (trackpy issue #756).
        self.trusts_frame_no = hasattr(data, "_slicerator_flag") or \
            type(data).__module__.split(".")[0] in ("pims", "slicerator")

    def __len__(self):
        return len(self.data)

    def read(self, i):
        item = self.data[i]
        if hasattr(item, "compute"):
            item = item.compute()
        metadata = getattr(item, "metadata", None)
        frame_no = getattr(item, "frame_no", None) if self.trusts_frame_no else None
        array = np.asarray(item)
        if array.ndim < 2:
            raise ValueError(f"item {i} of {self.description} has shape {array.shape}, "
                             "not an image: open() needs a sequence of 2-D (or colour, "
                             "or 3-D) arrays.")
        metadata = dict(metadata) if isinstance(metadata, dict) else None
        return array, metadata, None if frame_no is None else int(frame_no)

    def header(self):
        if isinstance(self.data, (list, tuple)) and isinstance(self.data[0], np.ndarray):
            return self.data[0].shape, self.data[0].dtype
        return None

    def label(self, i):
        return f"frame {i}"

    def close(self):
        pass


class FunctionSource:
    """Frames rendered by ``read_frame(i)``: synthetic movies, custom readers."""

    thread_safe = True  # documented requirement of FrameSequence.from_function
    shares_memory = True  # the function may return cached arrays

    def __init__(self, read_frame, n_frames, description, layout):
        self._read_frame = read_frame
        self._n = int(n_frames)
        self.paths = None
        self.description = description
        self._layout = layout

    def __len__(self):
        return self._n

    def read(self, i):
        return np.asarray(self._read_frame(i)), None, None

    def header(self):
        return self._layout

    def label(self, i):
        return f"frame {i}"

    def close(self):
        pass


def _files_source(paths, description):
    if len(paths) == 1 and extension(paths[0]) in TIFF_EXTENSIONS:
        return TiffSource(paths[0])  # one TIFF: its pages are the frames
    return FileSource(paths, description)


def _describe_list(paths):
    if len(paths) == 1:
        return paths[0]
    return f"{paths[0]} ... {paths[-1]} ({len(paths)} files)"


def _from_path(path):
    if os.path.exists(path):  # a real name wins over glob characters in it
        if os.path.isdir(path):
            names = sorted((name for name in os.listdir(path)
                            if is_image_file(name) and not name.startswith(".")),
                           key=natural_key)
            files = [os.path.join(path, name) for name in names]
            files = [f for f in files if os.path.isfile(f)]
            if not files:
                raise FileNotFoundError(
                    f"open(): the folder {path!r} holds no image files (looked for "
                    f"{', '.join(sorted(IMAGE_EXTENSIONS))}); check the folder, or pass "
                    "a glob pattern or a list of files.")
            return _files_source(files, path)
        return _files_source([path], path)
    if GLOB_CHARACTERS.intersection(path):
        import glob

        matches = [f for f in glob.glob(path, recursive=True) if os.path.isfile(f)]
        files = sorted((f for f in matches if is_image_file(f)), key=natural_key)
        if not files:
            found = (f"it matches {len(matches)} files, none with an image extension "
                     f"({', '.join(sorted(IMAGE_EXTENSIONS))}); pass a list of files to "
                     "read them anyway") if matches else \
                "check the folder and the extension (and quote the pattern in a shell)"
            raise FileNotFoundError(f"open(): no image files match the pattern {path!r}: "
                                    f"{found}.")
        return _files_source(files, path)
    raise FileNotFoundError(f"open(): no such file or folder: {path!r}.")


def _is_path(obj):
    return isinstance(obj, (str, os.PathLike))


ACCEPTED = ("a glob pattern, a folder, an image or TIFF file, a list of image files, "
            "a (T, Y, X) or (T, Y, X, C) numpy or dask array, or a sequence of 2-D "
            "arrays (e.g. a pims reader)")


def source_for(obj):
    """The source reading ``obj`` (see :func:`streamtrack.frames.open`)."""
    if isinstance(obj, bytes):
        raise TypeError(f"open() takes {ACCEPTED}; got bytes (decode the path to str).")
    if _is_path(obj):
        return _from_path(os.path.expanduser(os.fspath(obj)))
    if isinstance(obj, (list, tuple)) and obj and all(_is_path(p) for p in obj):
        files = [os.path.expanduser(os.fspath(p)) for p in obj]
        for f in files:
            if not os.path.isfile(f):
                raise FileNotFoundError(f"open(): no such file: {f!r} (item "
                                        f"{files.index(f)} of the list).")
        return _files_source(files, _describe_list(files))  # the user's order
    if isinstance(obj, (list, tuple)) and not obj:
        raise ValueError("open() got an empty list: pass at least one file or frame.")
    if isinstance(obj, (list, tuple)) and any(_is_path(p) for p in obj):
        raise TypeError("open() got a list mixing file paths and other objects: pass "
                        "either a list of files or a list of arrays.")
    shape = getattr(obj, "shape", None)
    if hasattr(obj, "ndim") and shape is not None and hasattr(obj, "__getitem__"):
        if obj.ndim not in (3, 4):
            raise ValueError(
                f"open() needs an array movie of shape (T, Y, X) or (T, Y, X, C) with "
                f"time first; got ndim {obj.ndim}, shape {tuple(shape)}. For one image, "
                "pass it to locate() directly, or add a time axis: array[None].")
        kind = "dask array" if type(obj).__module__.startswith("dask") else \
            f"{type(obj).__name__} array" if not isinstance(obj, np.ndarray) else "array"
        return ArraySource(obj, f"{kind} {tuple(int(n) for n in shape)} "
                                f"{getattr(obj, 'dtype', '')}".rstrip())
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__") and \
            not isinstance(obj, (str, dict)):
        name = getattr(obj, "filename", None) or getattr(obj, "pathname", None)
        description = name if isinstance(name, str) else type(obj).__name__
        return SequenceSource(obj, description)
    raise TypeError(f"open() takes {ACCEPTED}; got {type(obj).__name__}. (Pass a "
                    "generator of frames straight to batch(), or make a list of it.)")
