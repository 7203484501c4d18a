"""Faults in the Locate and Link widgets' runs: nothing lost, nothing silent, no hang.

A store that cannot be opened (a missing folder, a folder, a path under a
file, a folder nobody may write, a file another process writes) and an error
after some frames (an unreadable frame of the image, a damaged chunk of the
store) each end with a one-line message in the status line and in napari's
error notification, Run enabled again and Cancel disabled; a path refused
before the run starts creates nothing, and frames stored before an error stay
stored. Other processes are real child processes; runs are awaited through
the widgets' ``done`` signal, so a hang fails the test at the timeout.
"""
import contextlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import streamtrack
from napari_streamtrack._layers import points_data
from napari_streamtrack._sample_data import brownian_movie_and_truth
from napari_streamtrack._widgets import _common
from napari_streamtrack._widgets import link as link_module
from napari_streamtrack._widgets import locate as locate_module
from napari_streamtrack._widgets.link import LinkWidget
from napari_streamtrack._widgets.locate import STORE_CLASSES, LocateWidget

TIMEOUT = 60_000
SAMPLE = dict(diameter=11, minmass=500)
# the frames a child process puts before it holds its store open
HELD_FRAMES = [0, 1, 2]


@pytest.fixture(scope="module")
def movie():
    streamtrack.quiet()
    # napari first shows the middle frame (4): not the damaged frame 3 of the fault tests
    return brownian_movie_and_truth(n_frames=10)[0]


@pytest.fixture
def errors(monkeypatch):
    """Messages the widgets show with napari's show_error (a napari error notification)."""
    shown = []
    monkeypatch.setattr(locate_module, "show_error", shown.append)
    monkeypatch.setattr(link_module, "show_error", shown.append)
    return shown


@contextlib.contextmanager
def held_open(path, store_class):
    """A child process that puts ``HELD_FRAMES`` into ``path`` and keeps it open for writing.

    It closes the store when the block ends (its stdin closes); the child must
    then exit cleanly, its frames intact.
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, pandas as pd, streamtrack as st
        store = getattr(st, sys.argv[2])(sys.argv[1])
        for t in map(int, sys.argv[3:]):
            store.put(pd.DataFrame({"y": [1.0 + t], "x": [2.0], "frame": [t]}))
        print("open", flush=True)
        sys.stdin.read()  # hold the store open until the parent is done
        store.close()
        """), str(path), store_class, *map(str, HELD_FRAMES)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
        yield child
    finally:
        child.communicate("", timeout=60)
    assert child.returncode == 0


def assert_holds_only_the_childs_frames(path, store_class):
    with getattr(streamtrack, store_class)(path, mode="r") as store:
        assert store.frames == HELD_FRAMES
        for t in HELD_FRAMES:
            assert list(store.get(t).columns) == ["y", "x", "frame"]  # no 'particle'
            assert store.get(t)["y"].tolist() == [1.0 + t]
        assert not {"locate", "link"} & set(store.metadata)


def assert_ready_again(widget, errors):
    """The run is over: one message, on one line, in the status line and a notification."""
    status = widget.status.value
    assert errors == [status] and "\n" not in status
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    return status


def listing(folder):
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------- Locate
def make_locate(viewer, image, **params):
    viewer.add_image(image, name="movie", contrast_limits=(0, 255))
    viewer.dims.set_current_step(0, 0)  # napari shows the middle frame otherwise
    widget = LocateWidget(viewer)
    viewer.window.add_dock_widget(widget)  # closed with the viewer
    for name, value in {**SAMPLE, **params}.items():
        widget.params[name].value = value
    return widget


def run_locate(qtbot, widget, path):
    widget.store_path.value = path
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    return blocker.args[0]


def located_by_batch(path, frames):
    with streamtrack.PandasHDFStore(path, mode="w") as store:
        streamtrack.batch(frames, output=store, processes=1, **SAMPLE)
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        return {t: store.get(t) for t in store.frames}


def _locate_bad_paths(tmp_path):
    """(store path, what the message must say) per refused path; made on disk here."""
    (tmp_path / "notes.txt").write_text("not a store\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.h5").mkdir()
    return {
        "missing folder": (tmp_path / "gone" / "store.h5",
                           f"The folder {tmp_path / 'gone'} does not exist: create it"),
        "a folder": (tmp_path / "folder",
                     f"{tmp_path / 'folder'} is a folder: give the store a file name in it"),
        "a folder named .h5": (tmp_path / "folder.h5",
                               f"{tmp_path / 'folder.h5'} is a folder: give the store a file"),
        "under a file": (tmp_path / "notes.txt" / "store.h5",
                         f"{tmp_path / 'notes.txt'} is a file, not a folder: choose a store "
                         "file in a folder"),
        "deeper under a file": (tmp_path / "notes.txt" / "a" / "store.h5",
                                f"{tmp_path / 'notes.txt'} is a file, not a folder"),
        "not an HDF5 file": (tmp_path / "notes.txt",
                             f"{tmp_path / 'notes.txt'} exists and is not an HDF5 file: "
                             "choose another store file"),
    }


@pytest.mark.parametrize("case", ["missing folder", "a folder", "a folder named .h5",
                                  "under a file", "deeper under a file", "not an HDF5 file"])
def test_locate_refuses_a_store_path_before_the_run(make_napari_viewer, tmp_path, movie,
                                                    errors, case):
    path, message = _locate_bad_paths(tmp_path)[case]
    viewer = make_napari_viewer()
    widget = make_locate(viewer, movie)
    widget.store_path.value = path
    before = listing(tmp_path)

    assert widget.run() is None and widget.worker is None and not widget.running
    assert message in assert_ready_again(widget, errors)
    # nothing created, nothing changed
    assert listing(tmp_path) == before
    assert (tmp_path / "notes.txt").read_text() == "not a store\n"
    assert listing(tmp_path / "folder") == [] and listing(tmp_path / "folder.h5") == []
    assert "movie features" not in viewer.layers


def test_locate_refuses_a_folder_even_root_cannot_write(make_napari_viewer, movie, errors):
    # sysfs refuses new files to everyone, root included (permissions would not stop root)
    folder, path = "/sys", "/sys/streamtrack_store.h5"
    with pytest.raises(OSError):
        open(path, "w").close()
    viewer = make_napari_viewer()
    widget = make_locate(viewer, movie)
    widget.store_path.value = path

    assert widget.run() is None and widget.worker is None
    status = assert_ready_again(widget, errors)
    assert status.startswith(f"Cannot write in the folder {folder} (")
    assert status.endswith("choose a store file in a folder you can write to.")
    assert not os.path.exists(path)


@pytest.mark.parametrize("store_class", STORE_CLASSES)
def test_locate_into_a_store_another_process_writes(make_napari_viewer, qtbot, tmp_path,
                                                     movie, errors, store_class):
    path = tmp_path / "held.h5"
    viewer = make_napari_viewer()
    widget = make_locate(viewer, movie)
    widget.store_class.value = store_class
    with held_open(path, store_class):
        assert run_locate(qtbot, widget, path) == "failed"
        status = assert_ready_again(widget, errors)
        assert status.startswith(f"Locate stopped: '{path}' is open for writing in another "
                                 "process; wait for it to finish")
        assert not widget.running and "movie features" not in viewer.layers
        # the next Run answers too (no run left behind, no "a run is in progress")
        errors.clear()
        assert run_locate(qtbot, widget, path) == "failed"
        assert assert_ready_again(widget, errors) == status
    assert_holds_only_the_childs_frames(path, store_class)
    assert listing(tmp_path) == ["held.h5", "settings"]


def lazy_movie(movie, read):
    """``movie`` as a dask array whose frame ``i`` is ``read(i)`` when napari or locate asks."""
    import dask
    import dask.array as da

    return da.stack([da.from_delayed(dask.delayed(read)(i), movie.shape[1:], movie.dtype)
                     for i in range(len(movie))])


def _damaged_reader(movie, tmp_path, kind):
    """A frame reader of ``movie`` that fails on frame 3, and what the message says."""
    if kind == "reader error":  # a RuntimeError: what used to hang the worker
        def read(i):
            if i == 3:
                raise RuntimeError("frame 3 is damaged")
            return movie[i]
        return read, "RuntimeError: frame 3 is damaged"
    folder = tmp_path / "frames"  # one file per frame; frame 3's file is gone
    folder.mkdir()
    for i, frame in enumerate(movie):
        np.save(folder / f"{i}.npy", frame)
    os.remove(folder / "3.npy")
    return (lambda i: np.load(folder / f"{i}.npy")), f"No such file or directory: '{folder}/3.npy'"


@pytest.mark.parametrize("kind", ["reader error", "missing frame file"])
def test_locate_error_after_some_frames_keeps_them(make_napari_viewer, qtbot, tmp_path, movie,
                                                   errors, kind):
    read, message = _damaged_reader(movie, tmp_path, kind)
    viewer = make_napari_viewer()
    widget = make_locate(viewer, lazy_movie(movie, read))
    path = tmp_path / "partial.h5"

    assert run_locate(qtbot, widget, path) == "failed"
    status = assert_ready_again(widget, errors)
    assert status.startswith("Locate stopped after 3 frames; the store holds them: ")
    assert message in status and not widget.running

    # frames 0-2 are stored exactly as batch stores them, and shown
    expected = located_by_batch(tmp_path / "batch.h5", streamtrack.open(movie[:3]))
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        assert store.frames == [0, 1, 2]
        for t, table in expected.items():
            assert_frame_equal(store.get(t), table)
    data, features = points_data(pd.concat(expected.values(), ignore_index=True))
    layer = viewer.layers["movie features"]
    np.testing.assert_array_equal(layer.data, data)
    assert_frame_equal(layer.features.reset_index(drop=True), features)

    # the widget is usable again: with the damage repaired, Run locates everything
    widget.layer.value = viewer.add_image(movie, name="repaired")
    errors.clear()
    assert run_locate(qtbot, widget, path) == "located" and not errors
    with streamtrack.PandasHDFStore(path, mode="r") as store:
        assert store.frames == list(range(len(movie)))


# --------------------------------------------------------------------- Link
def make_link(viewer, path):
    widget = LinkWidget(viewer)
    viewer.window.add_dock_widget(widget)  # closed with the viewer
    widget.store_file.value = path
    return widget


def run_link(qtbot, widget):
    with qtbot.waitSignal(widget.done, timeout=TIMEOUT) as blocker:
        assert widget.run() is not None
    return blocker.args[0]


def test_link_a_store_another_process_writes_hdf5(make_napari_viewer, tmp_path, errors):
    # HDF5 locks the file against readers too: refused before the run, and not
    # mistaken for "not a framewise store"
    path = tmp_path / "held.h5"
    viewer = make_napari_viewer()
    with held_open(path, "PandasHDFStore"):
        widget = make_link(viewer, path)
        assert widget.run() is None and widget.worker is None
        status = assert_ready_again(widget, errors)
        assert status.startswith(f"'{path}' is open for writing in another process; wait for "
                                 "it to finish")
    assert_holds_only_the_childs_frames(path, "PandasHDFStore")
    assert len(viewer.layers) == 0


def test_link_a_chunked_store_another_process_writes(make_napari_viewer, qtbot, tmp_path,
                                                      errors):
    # a chunked store lets readers in, so the run starts; opening it for
    # writing in the worker is refused by the writer's lock
    path = tmp_path / "held.h5"
    viewer = make_napari_viewer()
    with held_open(path, "PandasHDFStoreChunked") as child:
        widget = make_link(viewer, path)
        assert run_link(qtbot, widget) == "failed"
        status = assert_ready_again(widget, errors)
        assert status == (f"Linking failed: '{path}' is being written by another writer "
                          f"(pid {child.pid}); open it with mode='r' to read the frames "
                          "finished so far.")
        assert widget.worker is None and len(viewer.layers) == 0
        errors.clear()
        assert run_link(qtbot, widget) == "failed"  # and again: no run left behind
        assert assert_ready_again(widget, errors) == status
    assert_holds_only_the_childs_frames(path, "PandasHDFStoreChunked")


@pytest.mark.parametrize("case", ["missing folder", "a folder", "under a file",
                                  "not an HDF5 file"])
def test_link_refuses_a_store_it_cannot_open(make_napari_viewer, tmp_path, errors, case):
    (tmp_path / "notes.txt").write_text("not a store\n")
    (tmp_path / "folder.h5").mkdir()
    path, message = {
        "missing folder": (tmp_path / "gone" / "store.h5",
                           f"The store {tmp_path / 'gone' / 'store.h5'} is missing"),
        "a folder": (tmp_path / "folder.h5",
                     f"{tmp_path / 'folder.h5'} is a folder: choose the store file"),
        "under a file": (tmp_path / "notes.txt" / "store.h5",
                         f"The store {tmp_path / 'notes.txt' / 'store.h5'} is missing"),
        "not an HDF5 file": (tmp_path / "notes.txt",
                             f"'{tmp_path / 'notes.txt'}' is not an HDF5 file (it starts "
                             "with b'not a store\\n')"),
    }[case]
    viewer = make_napari_viewer()
    widget = make_link(viewer, path)
    before = listing(tmp_path)

    assert widget.run() is None and widget.worker is None
    assert assert_ready_again(widget, errors).startswith(message)
    assert listing(tmp_path) == before and listing(tmp_path / "folder.h5") == []
    assert (tmp_path / "notes.txt").read_text() == "not a store\n"


def test_link_refuses_a_truncated_store_with_the_cores_message(make_napari_viewer, tmp_path,
                                                               errors):
    # a damaged HDF5 file is not mistaken for "not a framewise store": the core's
    # open_store says what is wrong, before the run, and the file is left as it was
    path = tmp_path / "cut.h5"
    with streamtrack.PandasHDFStore(path, mode="w") as store:
        for t in range(4):
            store.put(pd.DataFrame({"y": np.arange(50.0), "x": np.arange(50.0) + t,
                                    "frame": t}))
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    cut = path.read_bytes()
    viewer = make_napari_viewer()
    widget = make_link(viewer, path)
    before = listing(tmp_path)

    assert widget.run() is None and widget.worker is None
    status = assert_ready_again(widget, errors)
    assert status.startswith(f"'{path}' is a damaged HDF5 file, truncated: ")
    assert "not a framewise store" not in status
    assert path.read_bytes() == cut and listing(tmp_path) == before
    assert len(viewer.layers) == 0

def test_link_error_after_some_frames_keeps_them(make_napari_viewer, qtbot, tmp_path, movie,
                                                 errors):
    # chunks of two frames; the second chunk's file is damaged (its HDF5
    # superblock overwritten), so reading frame 2 fails after frames 0-1 are linked
    path = tmp_path / "damaged.h5"
    with streamtrack.PandasHDFStoreChunked(path, mode="w", chunk_size=2) as store:
        streamtrack.batch(movie[:6], output=store, processes=1, **SAMPLE)
        features = store.dump()
    chunks = sorted(f for f in os.listdir(f"{path}.chunks") if f.endswith(".h5"))
    damaged = os.path.join(f"{path}.chunks", chunks[1])
    with open(damaged, "r+b") as handle:
        handle.write(b"\0" * 4096)
    viewer = make_napari_viewer()
    widget = make_link(viewer, path)

    assert run_link(qtbot, widget) == "failed"
    status = assert_ready_again(widget, errors)
    assert status.startswith("Linking failed: ") and damaged in status
    assert status.endswith("The store is intact: its first 2 frames have 'particle'; later "
                           "frames were not linked by this run.")
    assert widget.worker is None and len(viewer.layers) == 0

    # frames 0-1 keep their features and got the core's particle ids
    expected = streamtrack.link_df(features[features["frame"] < 2], 5)
    with streamtrack.PandasHDFStoreChunked(path, mode="r") as store:
        for t in (0, 1):
            got, want = store.get(t), expected[expected["frame"] == t]
            assert len(got) == len(want)
            np.testing.assert_array_equal(got[["y", "x"]], want[["y", "x"]])
            np.testing.assert_array_equal(got["particle"], want["particle"])
        assert store.metadata["link"]["frames_linked"] == 2
        assert store.metadata["link"]["complete"] is False


# ---------------------------------------------------------------- the parts
def test_a_runtime_error_in_a_worker_reaches_errored_and_finished(qtbot):
    # superqt drops a RuntimeError raised or returned by a worker's generator
    # (no errored, no finished): ``reporting`` carries it through
    from superqt.utils import create_worker

    from streamtrack.exceptions import StoreLockedError

    def raising():
        yield 1
        raise StoreLockedError("held elsewhere")

    def returning():
        yield 1
        return StoreLockedError("held elsewhere")

    for gen in (raising, returning):
        worker = create_worker(_common.reporting, gen(), _ignore_errors=True,
                               _start_thread=False)
        got = []
        worker.errored.connect(got.append)
        with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
            worker.start()
        assert len(got) == 1 and isinstance(_common.worker_error(got[0]), StoreLockedError)
        assert _common.describe(got[0]) == "held elsewhere"


def test_a_runs_worker_counts_frames_and_makes_no_notifications(qtbot):
    # the widgets' worker: a progress bar step per yield; the run's warnings (one per
    # empty frame) and its error stay with the worker: the widget reports the error
    import warnings

    from napari.utils.notifications import notification_manager

    def run():
        for t in range(3):
            warnings.warn(f"no maxima in frame {t}", UserWarning, stacklevel=1)
            yield t
        raise ValueError("frame 3 is damaged")

    before = len(notification_manager.records)
    worker = _common.progress_worker(run(), total=3, desc="Locating")
    yielded, got = [], []
    worker.yielded.connect(yielded.append)
    worker.errored.connect(got.append)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        worker.start()
    assert yielded == [0, 1, 2]
    assert len(got) == 1 and _common.describe(got[0]) == "frame 3 is damaged"
    assert worker.pbar.total == 3 and worker.pbar.n == 3
    assert len(notification_manager.records) == before


def test_one_line_keeps_the_innermost_hdf5_cause():
    text = ("cannot open 'x.h5' as an HDF5 store (mode 'a'): HDF5 error back trace\n\n"
            '  File "H5F.c", line 827, in H5Fopen\n    unable to synchronously open file\n'
            '  File "H5Fsuper.c", line 386, in H5F__super_read\n    file signature not found\n'
            "\nEnd of HDF5 error back trace\n\nUnable to open/create file 'x.h5'")
    assert _common.one_line(text) == ("cannot open 'x.h5' as an HDF5 store (mode 'a'): file "
                                      "signature not found; Unable to open/create file 'x.h5'")
    assert _common.describe(KeyError("y")) == "KeyError: 'y'"
