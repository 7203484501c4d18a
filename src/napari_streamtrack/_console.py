"""Public functions for napari's console and scripts: a movie layer into a store, a
store into layers, layers into a store.

With ``viewer`` in napari's console::

    import napari_streamtrack as nst
    nst.track_layer(viewer.layers['movie'], 'tracks.h5', diameter=11, search_range=5)
    nst.add_store(viewer, 'tracks.h5')

The runs go through :mod:`streamtrack.workflow` (the records, the checks and
the numbers are those of the command line and the widgets); they block the
console until done, with a progress bar in the terminal.
"""
from __future__ import annotations

import os
import weakref

import numpy as np

__all__ = ["source_files", "frames_from_layer", "locate_layer", "track_layer", "layers_from_store",
           "add_store", "store_from_layers"]


# layer -> (its data, its path, the answer): source_files lists and decodes a file,
# the widgets ask at every preview
_SOURCE_FILES = weakref.WeakKeyDictionary()


def source_files(layer):
    """The files an Image layer was lazily read from, if streamtrack can read them itself.

    napari reads a folder or a glob of images (its builtin reader) into a lazy
    dask stack whose every frame is decoded on the GUI's side, through dask.
    The same files opened with :func:`streamtrack.open` are decoded in the
    threads that locate them, about twice as fast. This is that path
    (``layer.source.path``) when the layer's data are not in memory and the
    files hold exactly the layer's frames (their number, shape and type, and
    the first frame's pixels); else None. The answer is kept per layer and
    data object.

    Parameters
    ----------
    layer : napari.layers.Image

    Returns
    -------
    str or None
    """
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    path = getattr(getattr(layer, "source", None), "path", None)
    if isinstance(data, np.ndarray):
        return None  # in memory: nothing is faster than the array itself
    known = _SOURCE_FILES.get(layer)
    if known is not None and known[0] is data and known[1] == path:
        return known[2]
    rgb = bool(getattr(layer, "rgb", False))
    files = _matching_files(data, os.fspath(path), rgb) if path else None
    if files is None:  # a list of files (the source names the first), or no source
        listed = graph_files(data)
        files = _matching_files(data, listed, rgb) if listed else None
    _SOURCE_FILES[layer] = (data, path, files)
    return files


# a dask graph this big is not searched for file names (napari's stack of n files: 3n)
MAX_GRAPH_TASKS = 200_000


def graph_files(data) -> list[str] | None:
    """The image file each frame of a lazy (dask) stack reads, if each reads exactly one.

    napari's reader opens a list of files (drag and drop, ``viewer.open(list,
    stack=True)``) as a dask stack of one delayed read per file, and names
    only the first file as the layer's source; a script's
    ``da.stack([da.from_delayed(delayed(imread)(f), ...) ...])`` has no
    source at all. Their graph holds each file's name as the argument of the
    task its frame depends on. None for anything else (frames spanning
    several chunks, a task reading no file or several, a graph too big).

    Parameters
    ----------
    data : array-like

    Returns
    -------
    list of str or None
    """
    try:
        graph = dict(data.__dask_graph__())
        keys = data.__dask_keys__()
        chunks = data.chunks
    except (AttributeError, TypeError):
        return None
    if len(graph) > MAX_GRAPH_TASKS or any(len(c) != 1 for c in chunks[1:]) \
            or any(c != 1 for c in chunks[0]):
        return None
    files = []
    for frame_keys in keys:
        key = frame_keys
        while isinstance(key, list):
            key = key[0]
        found = _files_under(graph, key)
        if len(found) != 1:
            return None
        files.append(found.pop())
    return files


def _files_under(graph, key) -> set:
    """The names of existing files among the arguments of the tasks ``key`` depends on."""
    from dask.core import get_dependencies

    found, seen, todo = set(), {key}, [key]
    while todo:
        current = todo.pop()
        _strings(graph[current], found)
        for dependency in get_dependencies(graph, current):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
        if len(seen) > 50:  # a frame made from many tasks: not one file read
            return set()
    return {name for name in found if os.path.isfile(name)}


def _strings(task, found: set, depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(task, (str, os.PathLike)):
        found.add(os.fspath(task))
    elif isinstance(task, (tuple, list)):
        for item in task:
            _strings(item, found, depth + 1)
    elif isinstance(task, dict):
        for item in task.values():
            _strings(item, found, depth + 1)
    else:  # dask's task objects (dask._task_spec): Task(args, kwargs), DataNode(value)
        for name in ("args", "kwargs", "value"):
            part = getattr(task, name, None)
            if part is not None and part is not task:
                _strings(part, found, depth + 1)


def _matching_files(data, path, rgb):
    import streamtrack

    frame_shape = tuple(data.shape[-3:] if rgb else data.shape[-2:])
    n_frames = data.shape[0] if data.ndim - (1 if rgb else 0) == 3 else 1
    try:
        frames = streamtrack.open(path)
        if len(frames) != n_frames:
            return None
        first = frames[0]  # decodes one frame: a file of another kind is refused here
    except (OSError, ValueError, TypeError):
        return None
    if tuple(first.shape) != frame_shape or first.dtype != data.dtype:
        return None
    # the same pixels too: data replaced by e.g. a filtered stack keeps the source path
    if not np.array_equal(np.asarray(data[0] if data.ndim > len(frame_shape) else data),
                          first):
        return None
    return path


def frames_from_layer(layer, channel: int | None = None):
    """An Image layer's frames as a lazy ``FrameSequence`` (one colour channel if RGB).

    A layer read lazily from files (:func:`source_files`) is opened from
    those files, so that the frames are decoded where they are used (e.g. in
    the threads of a locate run) instead of through napari's dask array.

    Parameters
    ----------
    layer : napari.layers.Image
        (T, Y, X) frames, one (Y, X) image, or RGB(A) frames.
    channel : int, optional
        The colour channel of RGB(A) data (0 red, 1 green, ...); required there.

    Raises
    ------
    ValueError
        Not an image of 2-D frames (+ time); RGB without a channel, or a
        channel that does not exist.
    """
    import streamtrack
    from streamtrack.workflow import select_channel

    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    rgb = bool(getattr(layer, "rgb", False))
    ndim = data.ndim - (1 if rgb else 0)
    if ndim not in (2, 3):
        raise ValueError(f"Locate works on 2-D frames over time (T, Y, X); "
                         f"{layer.name!r} has shape {tuple(data.shape)}.")
    if rgb and channel is None:
        raise ValueError(f"{layer.name!r} is a colour image: give channel= (0 red, 1 green, "
                         "2 blue).")
    if rgb and not 0 <= channel < data.shape[-1]:
        raise ValueError(f"{layer.name!r} has {data.shape[-1]} channels; channel {channel} "
                         "does not exist.")
    files = source_files(layer)
    if files is not None:  # a folder, a glob or a list of files
        frames = streamtrack.open(files)
    else:
        if ndim == 2:  # one image: a movie of one frame
            data = np.asarray(data)[np.newaxis]
        frames = streamtrack.open(data)
    return select_channel(frames, channel) if rgb else frames


def _progress(frames, desc):
    from tqdm import tqdm

    return tqdm(total=len(frames), desc=desc, unit="frame")


def locate_layer(layer, path, diameter, *, channel=None, layout="frames", processes="auto",
                 **kwargs) -> str:
    """Locate an Image layer's frames into the store at ``path``; return the path.

    ``kwargs`` are ``streamtrack.locate``'s options; ``layout`` a key of
    ``streamtrack.workflow.LAYOUTS``. An existing store is appended to (the
    frames located now are replaced).
    """
    from streamtrack import workflow

    frames = frames_from_layer(layer, channel)
    path = os.path.abspath(os.fspath(path))
    with workflow.new_store(path, layout) as store, _progress(frames, "locate") as bar:
        for _ in workflow.locate_into(frames, store, diameter, source=layer.name,
                                      channel=channel, processes=processes, **kwargs):
            bar.update(1)
    return path


def track_layer(layer, path, diameter, search_range, *, channel=None, layout="frames",
                link_options=None, processes="auto", **kwargs) -> str:
    """Locate and link an Image layer's frames into the store at ``path``; return the path.

    ``kwargs`` are ``streamtrack.locate``'s options, ``link_options``
    ``streamtrack.link``'s (memory, adaptive_stop, ...). The store is new:
    an existing file is refused (``FileExistsError``).

    Examples
    --------
    >>> import os, tempfile, napari.layers, streamtrack as tp
    >>> from streamtrack import workflow
    >>> frames, truth = tp.synthetic.brownian_movie(n_particles=5, n_frames=5, seed=3)
    >>> movie = napari.layers.Image(np.stack(list(frames)), name='movie')
    >>> path = track_layer(movie, os.path.join(tempfile.mkdtemp(), 'tracks.h5'), 11, 5,
    ...                    minmass=500, processes=1)
    >>> with tp.PandasHDFStore(path, mode='r') as store:
    ...     len(store), workflow.trajectory_count(store)
    (5, 5)
    """
    from streamtrack import workflow

    frames = frames_from_layer(layer, channel)
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists: choose a new store file (tracking appends "
                              "to no store).")
    with workflow.new_store(path, layout) as store, _progress(frames, "track") as bar:
        for _ in workflow.track_into(frames, store, diameter, search_range,
                                     link_options=link_options, source=layer.name,
                                     channel=channel, processes=processes, **kwargs):
            bar.update(1)
    return path


def layers_from_store(path) -> list:
    """The napari layers of a store: Points, and Tracks when it is linked.

    A store too big to hold as layers comes windowed (the layers follow the
    viewer's time slider once added with :func:`add_store`; see the reader).
    """
    from napari.layers import Layer

    from ._reader import read_store

    return [Layer.create(data, kwargs, layer_type)
            for data, kwargs, layer_type in read_store(os.fspath(path))]


def add_store(viewer, path) -> list:
    """Open a store in ``viewer`` as the plugin's reader does; return the layers added."""
    return viewer.open(os.fspath(path), plugin="napari-streamtrack")


def store_from_layers(path, *layers) -> str:
    """Write Points and/or Tracks layers into a new trackpy-layout store; return the path.

    Points keep their features (``mass``, ``size``, ...); a Tracks layer adds
    ``particle``.
    """
    from ._writer import write_points_tracks

    written = write_points_tracks(os.fspath(path), [layer.as_layer_data_tuple()
                                                    for layer in layers])
    return written[0] if written else os.fspath(path)
