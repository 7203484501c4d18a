"""Faults on trackpy's single-file layouts: no room to write, wrong layout, bad files.

Issue 10 ("Nothing lost, nothing silent"), items 5 and 9. A write limit is
reproduced in a real child process: ``resource.setrlimit(RLIMIT_FSIZE)``
with SIGXFSZ ignored, so that writes fail with EFBIG; a full disk with a
small tmpfs mounted in a private mount namespace. Each test checks, in the
parent, that every frame stored before is intact (for us and for trackpy),
that the user got one clear line, and that the run resumes.
"""
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import tables
import tifffile

import streamtrack as st
from streamtrack import synthetic
from streamtrack.stores import open_store, store_layout

trackpy = pytest.importorskip("trackpy")

LAYOUTS = {"frames": "PandasHDFStore", "big": "PandasHDFStoreBig",
           "single": "PandasHDFStoreSingleNode"}
CLI = [sys.executable, "-m", "streamtrack.cli"]
LOCATE = ["-d", "11", "--minmass", "500", "--processes", "1", "-q"]
# no compiled kernels in the children: nothing but the store writes files
ENV = dict(os.environ, STREAMTRACK_NO_FASTPATH="1")


def size_limit(limit):
    def limit_file_size():  # runs in the child, before exec
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def frames_of(store):
    return {t: store.get(t) for t in store.frames}


def assert_same_frames(got, want):
    assert sorted(got) == sorted(want)
    for t in want:
        pd.testing.assert_frame_equal(got[t].reset_index(drop=True),
                                      want[t].reset_index(drop=True), check_like=True)


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    """36 TIFF frames of ~140 features; and, per layout, an uninterrupted run."""
    folder = tmp_path_factory.mktemp("movie")
    frames, _ = synthetic.brownian_movie(n_particles=150, n_frames=36, shape=(384, 384),
                                         seed=3)
    for i, frame in enumerate(frames):
        tifffile.imwrite(folder / f"f{i:03d}.tif", np.asarray(frame))
    pattern = str(folder / "*.tif")
    reference = {}
    for layout, cls in LAYOUTS.items():
        path = folder / f"whole_{layout}.h5"
        with getattr(st, cls)(path) as store:
            st.batch(st.open(pattern), 11, minmass=500, output=store, processes=1)
            reference[layout] = (frames_of(store), os.path.getsize(path))
    return pattern, reference


def check_refusal_and_resume(movie, layout, path, result, cause):
    """The failed run said one line and kept its frames; --resume completes it."""
    pattern, reference = movie
    want, _ = reference[layout]
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback, no second error from close
    line = lines[0]
    assert line.startswith("streamtrack locate: error: cannot write"), line
    assert cause in line and os.path.basename(path) in line and "--resume" in line
    stored = re.search(r"frames 0-(\d+) \((\d+) frames\) are stored", line)
    assert stored, line
    n = int(stored.group(2))
    assert 0 < n < len(want)  # the limit struck mid-movie
    # every frame the message names is there, readable and right, for us...
    with getattr(st, LAYOUTS[layout])(path, mode="r") as store:
        got = frames_of(store)
        processed = store.processed_frames
    assert_same_frames(got, {t: want[t] for t in range(n)})
    # (a refused processed-mark leaves its frame to be redone on --resume)
    assert processed in (list(range(n)), list(range(n - 1)))
    # ... and for trackpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with getattr(trackpy, LAYOUTS[layout])(str(path)) as theirs:
            assert sorted(int(t) for t in theirs.frames) == list(range(n))
            for t in range(n):
                pd.testing.assert_frame_equal(
                    theirs.get(t).reset_index(drop=True),
                    want[t].reset_index(drop=True), check_like=True)
    # room again: --resume finishes the movie, equal to an uninterrupted run
    resumed = subprocess.run([*CLI, "locate", pattern, *LOCATE, "--store", layout, "-o",
                              str(path), "--resume"], capture_output=True, text=True, env=ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert store_layout(path) == layout  # resumed with the class of the first run
    with getattr(st, LAYOUTS[layout])(path, mode="r") as store:
        assert_same_frames(frames_of(store), want)
        assert store.processed_frames == sorted(want)
    if layout == "big":
        with pd.HDFStore(path, mode="r") as raw:
            assert sorted(raw.get("_Frames_Cache").index) == sorted(want)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_file_size_limit_during_locate_keeps_frames_and_resumes(tmp_path, movie, layout):
    pattern, reference = movie
    path = tmp_path / "cut.h5"
    limit = int(0.6 * reference[layout][1])
    result = subprocess.run([*CLI, "locate", pattern, *LOCATE, "--store", layout, "-o",
                             str(path)], capture_output=True, text=True, env=ENV,
                            preexec_fn=size_limit(limit))
    assert os.path.getsize(path) <= limit
    check_refusal_and_resume(movie, layout, path, result, "file size limit reached")


def can_mount_tmpfs():
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_full_disk_during_locate_keeps_frames_and_resumes(tmp_path, movie, layout):
    """A tmpfs of 60% of the store's size, mounted for the child alone: the
    child runs the CLI on it, then copies the store out for the parent."""
    if not can_mount_tmpfs():
        pytest.skip("needs unshare and permission to mount a tmpfs (root or user namespaces)")
    pattern, reference = movie
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    size = int(0.6 * reference[layout][1]) // 4096 * 4096
    script = textwrap.dedent(f"""
        mount -t tmpfs -o size={size} tmpfs {disk} || exit 99
        "$@" 2> {out}/stderr
        echo $? > {out}/rc
        cp {disk}/cut.h5 {out}/cut.h5
    """)
    child = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *CLI, "locate", pattern,
                            *LOCATE, "--store", layout, "-o", str(disk / "cut.h5")], env=ENV)
    assert child.returncode == 0
    result = subprocess.CompletedProcess([], int((out / "rc").read_text()), "",
                                         (out / "stderr").read_text())
    check_refusal_and_resume(movie, layout, out / "cut.h5", result, "no space left on device")


CHILD_UNCHECKED = textwrap.dedent("""
    import os, sys
    import numpy as np, pandas as pd
    import streamtrack as st
    from streamtrack.stores import _room

    # as if the room were misjudged (or another program took it meanwhile):
    # HDF5 itself meets the limit in the middle of its writes
    _room.file_size_limit = lambda: None
    _room.reserve_blocks = lambda fd, size, need: None

    def frame(t):
        rng = np.random.default_rng(t)
        return pd.DataFrame({"y": rng.random(200), "x": rng.random(200),
                             "mass": rng.random(200), "frame": np.int64(t)})

    store = getattr(st, sys.argv[1])(sys.argv[2])
    try:
        for t in range(1000):
            store.put(frame(t))
            store.mark_processed(t)
    except st.StoreError as exc:
        print("error", exc, flush=True)
        print("size", os.path.getsize(sys.argv[2]), flush=True)
    store.close()  # must neither raise nor write
    print("closed", flush=True)
""")


@pytest.mark.parametrize("limit", [1_000_000, 1_500_000])
@pytest.mark.parametrize("cls", sorted(LAYOUTS.values()))
def test_a_write_failing_inside_hdf5_is_reported_truthfully(tmp_path, cls, limit):
    """HDF5 cannot undo a write that fails half way (and PyTables' flush hides
    the error): the store must notice, write nothing more, and say truthfully
    what a fresh open can read."""
    script, path = tmp_path / "child.py", tmp_path / "s.h5"
    script.write_text(CHILD_UNCHECKED)
    child = subprocess.run([sys.executable, str(script), cls, str(path)], capture_output=True,
                           text=True, preexec_fn=size_limit(limit))
    assert child.returncode == 0 and child.stderr == "", child.stderr
    out = dict(line.partition(" ")[::2] for line in child.stdout.strip().splitlines())
    assert set(out) == {"error", "size", "closed"}
    message = out["error"]
    assert "\n" not in message and "cannot write" in message and str(path) in message
    assert "left as it is" in message
    assert os.path.getsize(path) == int(out["size"])  # close wrote nothing more
    readable = re.search(r"frames 0-(\d+) \(\d+ frames\) are readable", message)
    between = re.search(r"(\d+) frames between \d+ and \d+ are readable", message)
    if "no longer opens" in message:
        with pytest.raises(st.StoreError, match="damaged"):
            getattr(st, cls)(path, mode="r")
    else:
        with getattr(st, cls)(path, mode="r") as store:
            frames = store.frames
            for t in frames:
                store.get(t)  # every listed frame reads
        if readable:
            assert frames == list(range(int(readable.group(1)) + 1))
        elif between:
            assert len(frames) == int(between.group(1))
        else:
            assert "no frame is readable" in message and frames == []


def test_refused_put_leaves_the_store_usable_and_close_quiet(tmp_path):
    """In Python: the refusal is a StoreError naming the frame; the store stays
    open and consistent (a smaller frame still fits), close says nothing."""
    script, path = tmp_path / "child.py", tmp_path / "b.h5"
    script.write_text(textwrap.dedent("""
        import sys, warnings
        import numpy as np, pandas as pd
        import streamtrack as st
        warnings.simplefilter("error")  # a warning from close would fail the child

        def frame(t, n):
            return pd.DataFrame({"y": np.arange(n, dtype=float), "x": 1.0, "frame": t})

        with st.PandasHDFStoreBig(sys.argv[1]) as store:
            store.put(frame(0, 10))
            try:
                store.put(frame(1, 200_000))  # 4.8 MB: no room under the limit
            except st.StoreError as exc:
                print(exc, flush=True)
            store.put(frame(2, 10))
    """))
    child = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                           text=True, preexec_fn=size_limit(1_000_000))
    assert child.returncode == 0 and child.stderr == "", child.stderr
    assert child.stdout.startswith("cannot write frame 1 to ")
    assert "file size limit reached" in child.stdout and "frames 0-0 (1 frames)" in child.stdout
    with st.PandasHDFStoreBig(path, mode="r") as store:
        assert store.frames == [0, 2] and len(store.get(2)) == 10


def test_big_close_without_room_for_its_frame_list_warns_and_keeps_every_frame(tmp_path):
    """The last frame fits, the _Frames_Cache written on close does not: close
    says so in one warning, raises nothing, and every frame stays readable."""
    code = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd
        import streamtrack as st
        store = st.PandasHDFStoreBig(sys.argv[1])
        for t in range(4):
            store.put(pd.DataFrame({"y": np.arange(300.0), "x": 1.0, "frame": t}))
        store.close()
        print("closed")
    """)
    # the limit: exactly the room the last put asks for (measured without limit)
    from streamtrack.stores import _room

    probe = tmp_path / "probe.h5"
    with st.PandasHDFStore(probe) as store:
        for t in range(3):
            store.put(pd.DataFrame({"y": np.arange(300.0), "x": 1.0, "frame": t}))
        last = pd.DataFrame({"y": np.arange(300.0), "x": 1.0, "frame": 3})
        limit = os.path.getsize(probe) + _room.room_for(last, len(store.frames) + 1)
    path = tmp_path / "big.h5"
    child = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, preexec_fn=size_limit(limit))
    assert child.returncode == 0 and child.stdout.strip() == "closed", child.stderr
    warning = [line for line in child.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warning) == 1 and "_Frames_Cache" in warning[0], child.stderr
    assert "file size limit reached" in warning[0] and "every frame is stored" in warning[0]
    with pd.HDFStore(path, mode="r") as raw:
        assert "/_Frames_Cache" not in raw.keys()
    with st.PandasHDFStoreBig(path, mode="r") as store:
        assert store.frames == [0, 1, 2, 3] and all(len(store.get(t)) == 300 for t in range(4))
    with trackpy.PandasHDFStoreBig(str(path)) as theirs:
        assert sorted(int(t) for t in theirs.frames) == [0, 1, 2, 3]


# -- layouts -------------------------------------------------------------------

def frame(t):
    return pd.DataFrame({"y": [1.0, 2.0], "x": [3.0, 4.0], "frame": [t, t]})


def write_store(path, writer, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cls == "PandasHDFStoreChunked":
            store = st.PandasHDFStoreChunked(path)
        else:
            store = getattr(trackpy if writer == "trackpy" else st, cls)(str(path))
        for t in range(3):
            store.put(frame(t))
        store.close()


# which class may open which layout: Big also opens a PandasHDFStore file
# (and adds its frame list, as trackpy's does)
ACCEPTS = {"PandasHDFStore": {"PandasHDFStore"},
           "PandasHDFStoreBig": {"PandasHDFStore", "PandasHDFStoreBig"},
           "PandasHDFStoreSingleNode": {"PandasHDFStoreSingleNode"}}
WRITERS = [("streamtrack", c) for c in LAYOUTS.values()] + \
          [("trackpy", c) for c in LAYOUTS.values()] + [("streamtrack", "PandasHDFStoreChunked")]


@pytest.mark.parametrize("mode", ["a", "r"])
@pytest.mark.parametrize("opener", sorted(ACCEPTS))
@pytest.mark.parametrize("writer,written", WRITERS)
def test_each_class_opens_its_layout_and_refuses_the_others(tmp_path, writer, written, opener,
                                                            mode):
    path = tmp_path / "s.h5"
    write_store(path, writer, written)
    before, listing = digest(path), sorted(os.listdir(tmp_path))
    with open_store(path, mode="r") as store:  # picks the writer's class
        assert type(store).__name__ == written and store.frames == [0, 1, 2]
    if written in ACCEPTS[opener]:
        with getattr(st, opener)(path, mode=mode) as store:
            assert store.frames == [0, 1, 2]
            assert_same_frames(frames_of(store), {t: frame(t) for t in range(3)})
        if mode == "r" or opener == written:
            assert digest(path) == before
    else:
        with pytest.raises(st.StoreError) as error:
            getattr(st, opener)(path, mode=mode)
        message = str(error.value)
        assert f"holds a {written} store" in message and f"open it with {written}" in message
        assert f"not {opener}" in message and "\n" not in message
        assert digest(path) == before  # no FrameData beside the frames, nothing at all
        assert sorted(os.listdir(tmp_path)) == listing
        with open_store(path, mode="r") as store:
            assert store.frames == [0, 1, 2]


def test_a_file_without_frames_opens_with_any_class(tmp_path):
    path = tmp_path / "new.h5"
    with st.PandasHDFStore(path) as store:
        store.mark_processed(0)  # a first frame without features: nothing stored
    for cls in LAYOUTS.values():
        with getattr(st, cls)(path) as store:
            assert store.frames == [] and store.processed_frames == [0]
    with st.PandasHDFStoreSingleNode(path) as store:
        store.put(frame(1))
    assert store_layout(path) == "single"
    with pytest.raises(st.StoreError, match="holds a PandasHDFStoreSingleNode store"):
        st.PandasHDFStore(path)
    empty = tmp_path / "empty.h5"
    tables.open_file(empty, "w").close()  # an HDF5 file with nothing in it
    for cls in LAYOUTS.values():
        with getattr(st, cls)(empty, mode="r") as store:
            assert store.frames == []
    with pytest.raises(st.StoreError, match="not a framewise store"):
        open_store(empty)


def test_a_big_store_cut_short_is_still_opened_as_big(tmp_path):
    """A killed PandasHDFStoreBig run has dropped its _Frames_Cache: the file
    alone would look like a PandasHDFStore; its layout mark says Big."""
    path = tmp_path / "big.h5"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, pandas as pd, streamtrack as st
        store = st.PandasHDFStoreBig(sys.argv[1])
        for t in range(3):
            store.put(pd.DataFrame({"y": [1.0], "x": [2.0], "frame": [t]}))
        print("stored", flush=True)
        sys.stdin.read()
    """), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "stored"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with pd.HDFStore(path, mode="r") as raw:
        assert "/_Frames_Cache" not in raw.keys()
    assert store_layout(path) == "big"
    with open_store(path) as store:
        assert isinstance(store, st.PandasHDFStoreBig) and store.frames == [0, 1, 2]
    with pytest.raises(st.StoreError, match="open it with PandasHDFStoreBig"):
        st.PandasHDFStore(path)
    with trackpy.PandasHDFStoreBig(str(path)) as theirs:
        assert list(theirs.frames) == [0, 1, 2]


def test_a_file_holding_two_layouts_is_refused_by_every_class(tmp_path):
    path = tmp_path / "mixed.h5"
    with pd.HDFStore(path, mode="w") as raw:  # what the old SingleNode made of such a file
        raw.put("Frame_0", frame(0), format="table")
        raw.append("FrameData", frame(5), format="table", data_columns=True)
    before = digest(path)
    for opener in [*LAYOUTS.values(), "PandasHDFStoreChunked"]:
        with pytest.raises(st.StoreError, match="two layouts|not a chunked store"):
            getattr(st, opener)(path, mode="r")
    with pytest.raises(st.StoreError, match="two layouts at once"):
        open_store(path)
    assert store_layout(path) is None and digest(path) == before


def test_mode_w_refuses_a_chunked_entry_file_and_bad_modes(tmp_path):
    path = tmp_path / "c.h5"
    write_store(path, "streamtrack", "PandasHDFStoreChunked")
    with pytest.raises(st.StoreError, match="open it with PandasHDFStoreChunked"):
        st.PandasHDFStore(path, mode="w")
    with st.PandasHDFStoreChunked(path, mode="r") as store:
        assert store.frames == [0, 1, 2]
    with pytest.raises(ValueError, match="mode must be"):
        st.PandasHDFStore(tmp_path / "x.h5", mode="rw")


# -- bad files -----------------------------------------------------------------

def bad_files(folder):
    text = folder / "notes.h5"
    text.write_text("frame,x,y\n0,1,2\n")
    empty = folder / "empty.h5"
    empty.write_bytes(b"")
    whole = folder / "whole.h5"
    write_store(whole, "streamtrack", "PandasHDFStore")
    cut = folder / "cut.h5"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    garbage = folder / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    return {text: "is not an HDF5 file", empty: r"is empty \(0 bytes\)",
            cut: "damaged HDF5 file, truncated: [0-9,]+ of its [0-9,]+ bytes",
            garbage: "damaged HDF5 file"}


@pytest.mark.parametrize("mode", ["a", "r"])
@pytest.mark.parametrize("opener", [*LAYOUTS.values(), "open_store"])
def test_bad_files_get_one_clear_line_and_stay_untouched(tmp_path, opener, mode):
    for path, says in bad_files(tmp_path).items():
        before = digest(path)
        open_ = open_store if opener == "open_store" else getattr(st, opener)
        with pytest.raises(st.StoreError) as error:
            open_(path, mode=mode)
        message = str(error.value)
        assert re.search(says, message) and repr(str(path)) in message, message
        assert "\n" not in message and "H5" not in message  # no HDF5 stack
        assert digest(path) == before
        assert store_layout(path) is None  # the napari reader's check never raises


def test_cli_link_on_bad_files_says_one_line(tmp_path):
    for path, says in bad_files(tmp_path).items():
        result = subprocess.run([*CLI, "link", str(path), "-s", "5", "-q"],
                                capture_output=True, text=True, env=ENV)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(says, lines[0]) and str(path) in lines[0], lines


def test_a_file_being_written_is_locked_for_open_store(tmp_path):
    path = tmp_path / "busy.h5"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, pandas as pd, streamtrack as st
        store = st.PandasHDFStore(sys.argv[1])
        store.put(pd.DataFrame({"y": [1.0], "x": [2.0], "frame": [0]}))
        print("writing", flush=True)
        sys.stdin.read()
        store.close()
    """), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        for mode in ("a", "r"):
            with pytest.raises(st.StoreLockedError, match="open for writing in another"):
                open_store(path, mode=mode)
        assert store_layout(path) is None  # never raises
    finally:
        child.communicate("")
    assert child.returncode == 0
    with open_store(path) as store:
        assert store.frames == [0]


# -- column types that differ from the stored ones -----------------------------

def typed(t, **columns):
    return pd.DataFrame({"frame": np.int64([t, t]), "x": [1.0, 2.0], **columns})


# first frame, a later one of other types: stored in the table's types, no value changed
FITS = {
    "whole float frame numbers": (typed(0), typed(1).assign(frame=1.0)),
    "int32 into int64": (typed(0, p=np.int64([1, 2])), typed(1, p=np.int32([3, 4]))),
    "ints into float": (typed(0), typed(1).assign(x=np.int64([5, 6]))),
    "float32 into float64": (typed(0), typed(1).assign(x=np.float32([0.5, 2]))),
    "a new string column": (typed(0), typed(1, s=["a", "bb"])),
    "a longer string": (typed(0, s=["a", "b"]), typed(1, s=["a much longer one", "é"])),
    "a missing string column": (typed(0, s=["a", "b"]), typed(1)),
    "a longer string index": (typed(0).set_axis(["a", "b"]), typed(1).set_axis(["ab", "cde"])),
}
# ... and refused, naming the column, its type and the table's
REFUSED = {
    "fractional into int": (typed(0, p=np.int64([1, 2])), typed(1, p=[1.5, 2.0]),
                            "column 'p' holds float64 values that the table's column type "
                            r"int64 cannot hold exactly \(e.g. 1.5\)"),
    "int64 past int32": (typed(0, p=np.int32([1, 2])), typed(1, p=np.int64([1, 2**40])),
                         "column 'p' holds int64 values that the table's column type int32"),
    "strings into float": (typed(0), typed(1).assign(x=["a", "b"]),
                           "column 'x' holds strings but the table's column holds float64"),
    "numbers into strings": (typed(0, s=["a", "b"]), typed(1, s=[1.0, 2.0]),
                             "column 's' holds float64 but the table's column holds strings"),
    "a new bool column": (typed(0), typed(1, ok=[True, False]),
                          "column 'ok' is new and holds bool"),
    "a string index": (typed(0), typed(1).set_axis(["a", "b"]),
                       "its index holds str but the table's index holds integer"),
}


@pytest.mark.parametrize("case", sorted(FITS))
def test_single_node_fits_a_frame_of_other_types_to_its_table(tmp_path, case):
    first, later = FITS[case]
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreSingleNode(path) as store:
        store.put(first)
    with st.PandasHDFStoreSingleNode(path) as store:
        store.put(later)
        store.put(later.assign(frame=later["frame"] + 1))
        store.put(later.assign(frame=later["frame"] - 1))  # frame 0 replaced the same way
        store.put(first)  # and back: nothing of it lost on the way
    for opener in (lambda: st.PandasHDFStoreSingleNode(path, mode="r"),
                   lambda: trackpy.PandasHDFStoreSingleNode(str(path))):
        with opener() as store:
            got = {int(t): store.get(t) for t in store.frames}
        assert sorted(got) == [0, 1, 2]
        pd.testing.assert_frame_equal(got[0][first.columns], first)  # types kept
        for t in (1, 2):
            want = later.assign(frame=t)
            pd.testing.assert_frame_equal(got[t][want.columns], want, check_dtype=False)
            assert got[t].drop(columns=want.columns).isna().all().all()  # columns it lacks


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_single_node_refuses_a_misfit_in_one_line_before_writing(tmp_path, case):
    first, later, says = REFUSED[case]
    path = tmp_path / "s.h5"
    with st.PandasHDFStoreSingleNode(path) as store:
        store.put(first)
    before = digest(path)
    with st.PandasHDFStoreSingleNode(path) as store:
        for frame_no in (1, 0):  # a new frame, and one replacing frame 0 (its rows stay)
            with pytest.raises(TypeError) as error:
                store.put(later.assign(frame=frame_no))
            message = str(error.value)
            assert re.search(says, message) and repr(str(path)) in message, message
            assert f"frame {frame_no}" in message and "nothing was written" in message
            assert "\n" not in message
        assert store.frames == [0]
    assert digest(path) == before
    with trackpy.PandasHDFStoreSingleNode(str(path)) as theirs:
        pd.testing.assert_frame_equal(theirs.get(0), first)


@pytest.mark.parametrize("cls", ["PandasHDFStore", "PandasHDFStoreBig"])
def test_frame_layouts_keep_each_frames_own_types_and_dump_a_mix(tmp_path, cls):
    # one node per frame: nothing to fit, every frame read back as it was put
    frames = [typed(0, p=np.int64([1, 2]), s=["a", "b"]),
              typed(1, p=[1.5, 2.0]).assign(frame=1.0),
              typed(2, s=[1.0, 2.0]).set_axis(["a", "b"]),
              typed(3, ok=[True, False]).assign(x=["u", "v"], p=np.int32([7, 8]))]
    path = tmp_path / "s.h5"
    with getattr(st, cls)(path) as store:
        for df in frames:
            store.put(df)
        store.put(typed(0, s=["replaced", "b"]))
        store.put(frames[0])
    for opener in (lambda: getattr(st, cls)(path, mode="r"),
                   lambda: getattr(trackpy, cls)(str(path))):
        with opener() as store:
            assert [int(t) for t in store.frames] == [0, 1, 2, 3]
            for df in frames:
                pd.testing.assert_frame_equal(store.get(int(df["frame"].iloc[0])), df)
            pd.testing.assert_frame_equal(store.dump(), pd.concat(frames))
