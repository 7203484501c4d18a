"""An Image layer napari read lazily from files is located from those files.

napari's builtin reader makes a dask stack of a folder of PNGs; decoding
through it is about half as fast as decoding the files in the threads that
locate them. The widget must pick the files, and find exactly what it finds
in the same frames held in memory.
"""
import os

import numpy as np
import pytest
from PIL import Image

import streamtrack
from napari_streamtrack._console import frames_from_layer, source_files
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets.locate import LocateWidget

TIMEOUT = 30_000


@pytest.fixture
def png_folder(tmp_path):
    """12 RGBA frames: the particles in green, noise in the other channels."""
    movie = brownian_movie_and_truth(n_frames=12)[0]
    rng = np.random.default_rng(0)
    folder = tmp_path / "movie"
    folder.mkdir()
    for t, green in enumerate(movie):
        rgba = rng.integers(0, 255, (*green.shape, 4), dtype=np.uint8)
        rgba[..., 1], rgba[..., 3] = green, 255
        Image.fromarray(rgba).save(folder / f"frame_{t:03d}.png")
    return folder


def _locate(qtbot, viewer, layer, path):
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.layer.value = layer
    widget.channel.value = 1
    widget.params["diameter"].value = 11
    widget.params["minmass"].value = 500
    widget.store_path.value = path
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    assert blocker.args == ["located"], widget.status.value
    return widget


def _store(path):
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        return {f: store.get(f) for f in store.frames}


def test_a_folder_layer_is_located_from_its_files(make_napari_viewer, qtbot, tmp_path,
                                                  png_folder):
    viewer = make_napari_viewer()
    lazy = viewer.open(str(png_folder))[0]  # napari's builtin reader: a dask stack
    assert not isinstance(lazy.data, np.ndarray) and lazy.rgb
    in_memory = viewer.add_image(np.asarray(lazy.data), rgb=True, name="in memory")
    files = sorted(str(png_folder / name) for name in os.listdir(png_folder))

    # the widget's frames come from the files, not through the layer's array
    widget = _locate(qtbot, viewer, lazy, tmp_path / "files.h5")
    assert source_files(lazy) == str(png_folder)
    assert widget.frames().filenames == files
    # the same frames in memory: read from the array
    _locate(qtbot, viewer, in_memory, tmp_path / "array.h5")
    assert source_files(in_memory) is None
    assert frames_from_layer(in_memory, 1).filenames is None

    from_files, from_array = _store(tmp_path / "files.h5"), _store(tmp_path / "array.h5")
    assert list(from_files) == list(range(12))
    assert list(from_files) == list(from_array)
    for frame in from_files:
        assert len(from_files[frame])
        np.testing.assert_array_equal(from_files[frame].to_numpy(),
                                      from_array[frame].to_numpy())
    np.testing.assert_array_equal(viewer.layers["movie features"].data,
                                  viewer.layers["in memory features"].data)


def test_files_read_only_while_they_match(make_napari_viewer, png_folder):
    viewer = make_napari_viewer()
    lazy = viewer.open(str(png_folder))[0]
    # the layer's data replaced (same shape and type, other pixels): the data are read
    files = sorted(str(png_folder / name) for name in os.listdir(png_folder))
    reversed_ = viewer.open(str(png_folder))[0]
    reversed_.data = reversed_.data[::-1]
    # not the folder; the files its frames read, in their order
    assert source_files(reversed_) == files[::-1]
    np.testing.assert_array_equal(frames_from_layer(reversed_, 1)[0],
                                  np.asarray(lazy.data[-1])[..., 1])
    # other pixels than the files' (a filter applied lazily): the data are read
    filtered = viewer.open(str(png_folder))[0]
    filtered.data = filtered.data.map_blocks(lambda block: block // 2)
    assert source_files(filtered) is None
    assert frames_from_layer(filtered, 1).filenames is None
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(png_folder / "frame_999.png")
    # 13 files in the layer's folder now, 12 frames in the layer: the 12 files it reads
    assert len(lazy.data) == 12
    assert source_files(lazy) == files
    frames = frames_from_layer(lazy, 1)
    assert frames.filenames == files
    np.testing.assert_array_equal(frames[3], np.asarray(lazy.data[3])[..., 1])


def test_a_list_of_files_and_a_script_stack_are_read_from_their_files(make_napari_viewer,
                                                                       png_folder):
    import dask
    import dask.array as da

    viewer = make_napari_viewer()
    files = sorted(str(png_folder / name) for name in os.listdir(png_folder))
    # napari's reader given a list: the source names only the first file
    listed = viewer.open(files[2:9], stack=True)[0]
    assert os.fspath(listed.source.path) == files[2]
    assert source_files(listed) == files[2:9]
    frames = frames_from_layer(listed, 1)
    assert frames.filenames == files[2:9] and len(frames) == 7
    np.testing.assert_array_equal(frames[4], np.asarray(listed.data[4])[..., 1])
    # a stack of delayed reads made in a script: no source at all
    first = np.asarray(Image.open(files[0]))
    read = dask.delayed(lambda name: np.asarray(Image.open(name)))
    stack = da.stack([da.from_delayed(read(name), first.shape, first.dtype)
                      for name in files])
    scripted = viewer.add_image(stack, rgb=True, name="scripted")
    assert scripted.source.path is None
    assert source_files(scripted) == files
    # a dask array made of no file: read from the array
    made = viewer.add_image(da.zeros((5, 32, 32), chunks=(1, 32, 32)), name="zeros")
    assert source_files(made) is None
