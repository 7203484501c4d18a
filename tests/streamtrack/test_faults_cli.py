"""Issue 10, "Nothing lost, nothing silent": batch, the command line and input checks.

Each test reproduces one fault class of the issue and checks both halves of
the promise: nothing already stored is lost or changed (store contents, the
``--meta`` file, no file left where none was), and the user is told (one
line naming the parameter or file and the fix; no traceback; exit code 2 for
command-line usage errors). Command-line runs are real child processes.
"""
import hashlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack.stores import open_store

trackpy = pytest.importorskip("trackpy")

MINMASS = 500


# -- helpers -------------------------------------------------------------------------
def run_cli(*args, cwd=None):
    """``streamtrack ...`` in a child process."""
    return subprocess.run([sys.executable, "-m", "streamtrack.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_told(result, *words):
    """Exit code 2 and one clear line on stderr naming ``words``; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    err = result.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(path):
    """What a store holds: every row, and its metadata records."""
    with open_store(str(path), mode="r") as store:
        return store.dump(), store.metadata




@pytest.fixture(scope="module")
def image():
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=1, seed=1)
    return np.asarray(frames[0])


# -- item 4: a generator that raises ---------------------------------------------------
def failing_movie(n_good=6):
    """Frames 0..n_good-1 (returned too), then the camera fails."""
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=n_good, seed=1)
    arrays = [np.asarray(f) for f in frames]

    def generate():
        yield from arrays
        raise RuntimeError("camera unplugged")
    return arrays, generate


class CameraError(RuntimeError):
    pass


@pytest.mark.parametrize("processes", ["auto", 1, 3])
def test_generator_error_keeps_every_frame_it_yielded(tmp_path, processes):
    arrays, generate = failing_movie()
    path = tmp_path / "g.h5"
    with st.PandasHDFStore(str(path)) as store:
        with pytest.raises(RuntimeError, match="camera unplugged"):
            st.batch(generate(), 11, output=store, processes=processes, minmass=MINMASS)
        assert store.frames == [0, 1, 2, 3, 4, 5]
        assert list(store.processed_frames) == [0, 1, 2, 3, 4, 5]
        stored = store.dump()
    expected = st.batch(arrays, 11, minmass=MINMASS, processes=1)
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), expected)


@pytest.mark.parametrize("processes", ["auto", 1, 3])
def test_batch_iter_yields_every_frame_before_the_generators_own_error(processes):
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=4, seed=1)

    def generate():
        yield from (np.asarray(f) for f in frames)
        raise CameraError("frame grabber lost")
    seen = []
    with pytest.raises(CameraError, match="frame grabber lost"):  # its own type
        for frame_no, _ in st.batch_iter(generate(), 11, processes=processes,
                                         minmass=MINMASS):
            seen.append(frame_no)
    assert seen == [0, 1, 2, 3]


def test_generator_error_on_a_dask_cluster_keeps_every_frame(tmp_path):
    distributed = pytest.importorskip("distributed")
    _, generate = failing_movie()
    path = tmp_path / "d.h5"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client, \
            st.PandasHDFStore(str(path)) as store:
        with pytest.raises(RuntimeError, match="camera unplugged"):
            st.batch(generate(), 11, output=store, client=client, minmass=MINMASS)
        assert store.frames == [0, 1, 2, 3, 4, 5]


def test_cli_unreadable_frame_mid_movie_keeps_the_frames_before(rgba_movie, tmp_path):
    folder, _, _ = rgba_movie
    movie = tmp_path / "movie"
    movie.mkdir()
    for i in range(6):
        (movie / f"img{i}.png").write_bytes((folder / f"img{i}.png").read_bytes())
    (movie / "img3.png").write_bytes(b"not a png")
    out = tmp_path / "u.h5"
    result = run_cli("locate", movie, "-d", 11, "--channel", 1, "--minmass", MINMASS,
                     "--processes", 2, "-o", out, "-q")
    assert_told(result, "img3.png")
    stored, _ = contents(out)
    assert sorted(set(stored["frame"])) == [0, 1, 2]


# -- item 6: --resume with other options ---------------------------------------------
@pytest.fixture
def located_store(rgba_movie, tmp_path):
    """A complete `locate` run with --meta; returns (store, meta, options)."""
    folder, _, _ = rgba_movie
    out, meta = tmp_path / "r.h5", tmp_path / "run.yml"
    options = ["-d", 11, "--channel", 1, "--minmass", MINMASS]
    result = run_cli("locate", folder, *options, "-o", out, "--meta", meta, "-q")
    assert result.returncode == 0, result.stderr
    return out, meta, options


@pytest.mark.parametrize("changed, named", [
    (["-d", 9, "--channel", 1, "--minmass", MINMASS], ["diameter", "stored 11", "given 9"]),
    (["-d", 11, "--channel", 1, "--minmass", MINMASS, "--topn", 3], ["topn"]),
    (["-d", 9, "--channel", 1, "--minmass", 100], ["diameter", "minmass"]),
    (["-d", 11, "--channel", 2, "--minmass", MINMASS], ["--channel", "1", "2"]),
])
def test_cli_resume_refuses_other_options_and_touches_nothing(rgba_movie, located_store,
                                                              changed, named):
    folder, _, _ = rgba_movie
    out, meta, _ = located_store
    before, meta_before = contents(out), meta.read_bytes()
    result = run_cli("locate", folder, *changed, "-o", out, "--meta", meta, "--resume", "-q")
    assert_told(result, "resum", *named)
    after = contents(out)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]
    assert meta.read_bytes() == meta_before


def test_cli_resume_with_the_same_options_continues(rgba_movie, located_store):
    folder, _, _ = rgba_movie
    out, meta, options = located_store
    before, _ = contents(out)
    result = run_cli("locate", folder, *options, "-o", out, "--meta", meta, "--resume", "-q")
    assert result.returncode == 0, result.stderr
    assert "0 frames" in result.stdout  # everything was done: nothing located twice
    pd.testing.assert_frame_equal(contents(out)[0], before)


def test_batch_resume_refuses_other_options(tmp_path):
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=4, seed=1)
    meta = tmp_path / "m.yml"
    with st.PandasHDFStoreChunked(str(tmp_path / "c.h5")) as store:
        st.batch(frames[:2], 11, output=store, minmass=MINMASS, processes=1)
        before = store.dump()
        with pytest.raises(ValueError, match=r"differ: .*topn \(stored None, given 2\)"):
            st.batch(frames, 11, output=store, minmass=MINMASS, topn=2, resume=True,
                     meta=str(meta))
        pd.testing.assert_frame_equal(store.dump(), before)
        assert not meta.exists()
        st.batch(frames, 11, output=store, minmass=MINMASS, resume=True, processes=1)
        assert store.frames == [0, 1, 2, 3]


# -- item 7: --overwrite (or a new output) with a bad option ----------------------------
BAD_OPTIONS = [
    (["-d", 11, "--channel", 7], ["--channel 7", "4 channels"]),
    (["-d", 11, "--channel", -1], ["--channel", "'-1'"]),
    (["-d", 11], ["--channel 1"]),  # RGBA frames, no channel: the CLI's advice
    (["-d", 10, "--channel", 1], ["diameter", "odd"]),
    (["-d", "abc", "--channel", 1], ["-d/--diameter", "'abc'"]),
    (["-d", 1, "--channel", 1], ["diameter 1", "at least 3"]),
    (["-d", 11, "--channel", 1, "--processes", 0], ["--processes", "'0'"]),
    (["-d", 11, "--channel", 1, "--processes", -2], ["--processes", "'-2'"]),
    (["-d", 11, "--channel", 1, "--percentile", 150], ["percentile", "0 and 100"]),
    (["-d", 11, "--channel", 1, "--minmass", "nan"], ["minmass", "finite"]),
    (["-d", 11, "--channel", 1, "--topn", -3], ["topn", "positive"]),
    (["-d", "9,11,13", "--channel", 1], ["diameter has 3 values"]),
]


@pytest.mark.parametrize("options, named", BAD_OPTIONS)
def test_cli_overwrite_with_a_bad_option_keeps_the_store(rgba_movie, located_store,
                                                         options, named):
    folder, _, _ = rgba_movie
    out, meta, _ = located_store
    before, meta_before = digest(out), meta.read_bytes()
    result = run_cli("locate", folder, *options, "-o", out, "--meta", meta, "--overwrite",
                     "-q")
    err = assert_told(result, *named)
    assert "_odd_or_tuple" not in err and "<lambda>" not in err  # no internal names
    assert "smoothing_size (1, 1)" not in err  # an option the user never set
    assert "image[:, :, 1]" not in err  # command-line advice, not Python code
    assert digest(out) == before and meta.read_bytes() == meta_before


@pytest.mark.parametrize("options, named", [
    case for case in BAD_OPTIONS
    if case[0][:2] == ["-d", 11] and "--processes" not in case[0]] + [BAD_OPTIONS[5]])
def test_cli_bad_option_leaves_no_file_behind(rgba_movie, tmp_path, options, named):
    folder, _, _ = rgba_movie
    out, meta = tmp_path / "new.h5", tmp_path / "new.yml"
    result = run_cli("locate", folder, *options, "-o", out, "--meta", meta, "-q",
                     "--store", "chunked")
    assert_told(result, *named)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_missing_output_folder_is_named(rgba_movie, tmp_path):
    folder, _, _ = rgba_movie
    result = run_cli("locate", folder, "-d", 11, "--channel", 1, "-o",
                     tmp_path / "nowhere" / "f.h5", "-q")
    assert_told(result, "-o/--output", "nowhere", "does not exist")
    result = run_cli("locate", folder, "-d", 11, "--channel", 1, "-o", tmp_path / "f.h5",
                     "--meta", tmp_path / "nowhere" / "m.yml", "-q")
    assert_told(result, "--meta", "nowhere")
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_write_over_an_input_frame(rgba_movie, tmp_path):
    folder, _, _ = rgba_movie
    frame = tmp_path / "one.png"
    frame.write_bytes((folder / "img0.png").read_bytes())
    before = digest(frame)
    # --overwrite would have deleted the movie itself
    result = run_cli("locate", frame, "-d", 11, "--channel", 1, "-o", frame, "--overwrite",
                     "-q")
    assert_told(result, "-o/--output", "input frames")
    result = run_cli("locate", frame, "-d", 11, "--channel", 1, "-o", tmp_path / "o.h5",
                     "--meta", frame, "-q")
    assert_told(result, "--meta", "input frames")
    result = run_cli("locate", frame, "-d", 11, "--channel", 1, "-o", tmp_path / "o.h5",
                     "--meta", tmp_path / "o.h5", "-q")
    assert_told(result, "--meta", "output store")
    assert digest(frame) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png"]


def test_cli_meta_on_a_full_disk_is_named_and_leaves_no_store(rgba_movie, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.fail("needs /dev/full (Linux): every write there fails with ENOSPC")
    folder, _, _ = rgba_movie
    result = run_cli("locate", folder, "-d", 11, "--channel", 1, "-o", tmp_path / "f.h5",
                     "--meta", "/dev/full", "--store", "chunked", "-q")
    assert_told(result, "/dev/full", "No space left on device")
    assert list(tmp_path.iterdir()) == []  # the store it had just made is gone again


def test_cli_demo_keeps_an_existing_demo_store(tmp_path):
    kept = tmp_path / "demo.h5"
    kept.write_bytes(b"somebody's results")
    result = run_cli("demo", "-q", "--n-frames", 3, "-o", tmp_path)
    assert_told(result, "demo.h5 exists", "--overwrite")
    assert kept.read_bytes() == b"somebody's results"
    result = run_cli("demo", "-q", "--n-frames", 3, "-o", kept)
    assert_told(result, "is a file")
    result = run_cli("demo", "-q", "--n-frames", 3, "-o", tmp_path, "--overwrite")
    assert result.returncode == 0, result.stderr
    with st.PandasHDFStore(str(kept), mode="r") as store:
        assert store.frames == [0, 1, 2]


def test_cli_track_checks_link_options_before_writing(rgba_movie, located_store):
    folder, _, _ = rgba_movie
    out, _, _ = located_store
    before = digest(out)
    for options, named in ((["-s", "3,4,5"], ["search_range has 3 values", "['y', 'x']"]),
                           (["-s", 5, "--memory", -1], ["memory"])):
        result = run_cli("track", folder, "-d", 11, "--channel", 1, *options, "-o", out,
                         "--overwrite", "-q")
        assert_told(result, *named)
        assert digest(out) == before


@pytest.mark.parametrize("options, named", [
    (["--n-frames", 0], ["--n-frames", "'0'"]),
    (["--n-frames", -4], ["--n-frames"]),
    (["--size", -5], ["--size"]),
    (["--n-particles", -1], ["--n-particles"]),
    (["-d", 10], ["-d/--diameter", "odd"]),
    (["--minmass", "nan"], ["--minmass", "finite"]),
])
def test_cli_demo_bad_sizes(tmp_path, options, named):
    result = run_cli("demo", *options, "-q", "-o", tmp_path)
    assert_told(result, *named)
    assert list(tmp_path.iterdir()) == []


# -- link: validate before the first frame is rewritten --------------------------------
def test_cli_link_search_range_per_axis_of_other_data_rewrites_nothing(located_store):
    out, _, _ = located_store
    assert run_cli("link", out, "-s", 5, "-q").returncode == 0
    before = contents(out)
    result = run_cli("link", out, "-s", "3,4,5", "-q")
    assert_told(result, "search_range has 3 values", "['y', 'x']")
    after = contents(out)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]  # the last complete link's options are still recorded
    # so a resume with the options of that link still continues it
    assert run_cli("link", out, "-s", 5, "--resume", "-q").returncode == 0


# -- locate(): options that could only give nothing, or a wrong result ------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(percentile=150), ValueError, "percentile must be between 0 and 100"),
    (dict(percentile=-5), ValueError, "percentile"),
    (dict(percentile=float("nan")), ValueError, "percentile"),
    (dict(minmass=float("nan")), ValueError, "minmass must be a finite number"),
    (dict(minmass=np.inf), ValueError, "minmass"),
    (dict(threshold=float("nan")), ValueError, "threshold"),
    (dict(maxsize=0), ValueError, "maxsize must be > 0"),
    (dict(topn=-2), ValueError, "topn must be a positive integer"),
    (dict(topn=0), ValueError, "topn"),
    (dict(topn=2.5), TypeError, "topn"),
    (dict(minmass="500"), TypeError, "minmass must be a number"),
    (dict(maxsize="a"), TypeError, "maxsize"),
])
def test_locate_refuses_options_that_give_nothing_or_wrong(image, tmp_path, kwargs, error,
                                                          match):
    with pytest.raises(error, match=match):
        st.locate(image, 11, **kwargs)

    # batch refuses them before it reads a frame or writes meta
    def never_read():
        raise AssertionError("a frame was read")
        yield
    with pytest.raises(error, match=match):
        st.batch(never_read(), 11, meta=str(tmp_path / "never.yml"), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_negative_topn_differs_from_trackpy_on_purpose(image):
    # trackpy silently drops the 2 faintest features for topn=-2, keeps all for 0
    every = trackpy.locate(image, 11)
    dropped = trackpy.locate(image, 11, topn=-2)
    assert len(dropped) == len(every) - 2
    assert dropped["mass"].min() > every["mass"].nsmallest(2).max()
    assert len(trackpy.locate(image, 11, topn=0)) == len(every)
    for topn in (-2, 0):
        with pytest.raises(ValueError, match="topn"):
            st.locate(image, 11, topn=topn)
    assert len(st.locate(image, 11, topn=2)) == 2
    # the difference is documented
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    differences = readme.split("### Differences from trackpy, on purpose")[1].split("\n## ")[0]
    assert "`topn` below 1" in differences


def test_diameter_too_small_names_the_diameter(image):
    with pytest.raises(ValueError, match=r"the diameter 1 .* diameter of at least 3"):
        st.locate(image, 1)
    with pytest.raises(ValueError, match="noise_size .* smoothing_size"):
        st.locate(image, 11, smoothing_size=3, noise_size=3)


def settle_kernels(*keys):
    """Get these compiled kernels ready and let every preparation end, before a
    process-wide "error" warnings filter: a background compile (numba enters
    catch_warnings too) must neither run under it nor carry it away."""
    import streamtrack._feature  # noqa: F401 - registers the "locate" kernels' check
    import streamtrack.linking  # noqa: F401 - registers the "link" check
    from streamtrack import _fastpath

    for key in keys:
        _fastpath.wait(key)
    for thread in list(_fastpath._threads.values()):
        thread.join()


def test_float16_image_gives_trackpys_float32_result(image):
    as16 = (image / 255).astype(np.float16)
    as32 = as16.astype(np.float32)
    settle_kernels(("locate", 2, "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scipy error, no cast warning
        ours = st.locate(as16, 11)
    pd.testing.assert_frame_equal(ours, st.locate(as32, 11))
    pd.testing.assert_frame_equal(ours, trackpy.locate(as32, 11), check_exact=False,
                                  rtol=1e-12)


@pytest.mark.parametrize("wide, narrow", [(np.int64, np.int32), (np.uint64, np.uint32)])
def test_64_bit_integer_images_are_located_as_32_bit(image, wide, narrow):
    settle_kernels(("locate", 2, np.dtype(narrow).name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = st.locate(image.astype(wide), 11)
    expected = trackpy.locate(image.astype(narrow), 11)
    pd.testing.assert_frame_equal(ours, st.locate(image.astype(narrow), 11))
    pd.testing.assert_frame_equal(ours, expected, check_exact=False, rtol=1e-12)
    # trackpy on the 64-bit image loses precision: fewer, lighter features
    assert len(trackpy.locate(image.astype(wide), 11)) < len(ours)


def test_64_bit_values_beyond_32_bits_are_refused(image):
    big = image.astype(np.int64) * 2**33
    with pytest.raises(ValueError, match=r"int64 .* beyond int32's range"):
        st.locate(big, 11)


# -- linking input ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def features():
    frames, _ = st.synthetic.brownian_movie(n_particles=10, n_frames=6, seed=1)
    return st.batch(frames, 11, minmass=MINMASS, processes=1)


def test_link_df_repeated_frame_rows_warn_and_match_trackpy(features):
    doubled = pd.concat([features, features[features["frame"] == 3]])
    doubled = doubled.sort_values("frame", kind="stable")
    with pytest.warns(UserWarning, match=r"10 rows that repeat .*\(frame 3: stored twice\?\)"):
        ours = st.link_df(doubled, 5)
    trackpy.quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = trackpy.link_df(doubled.copy(), 5)
    # trackpy's result, as trackpy gives it: each copy becomes a particle
    assert ours["particle"].nunique() == theirs["particle"].nunique() == 20
    frames = [df for _, df in doubled.groupby("frame")]
    with pytest.warns(UserWarning, match="frame 3"):
        list(st.link_df_iter(frames, 5))
    settle_kernels(("link",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning without repeats
        st.link_df(features, 5)


def test_text_in_a_position_column_is_named(features):
    bad = features.copy()
    bad["x"] = bad["x"].astype(object)
    bad.loc[bad.index[3], "x"] = "oops"
    with pytest.raises(ValueError, match=r"position column 'x' holds 'oops'"):
        st.link_df(bad, 5)
    frames = [df for _, df in bad.groupby("frame")]
    with pytest.raises(ValueError, match=r"frame 0: position column 'x' holds 'oops'"):
        list(st.link_df_iter(frames, 5))


def test_search_range_per_axis_of_other_data_is_refused_before_the_first_frame(features):
    with pytest.raises(ValueError, match="search_range has 3 values"):
        st.link_df(features, (3, 4, 5))
    frames = iter([df for _, df in features.groupby("frame")])
    with pytest.raises(ValueError, match="search_range has 3 values"):
        next(st.link_df_iter(frames, (3, 4, 5)))


# -- a store repaired with nothing lost: said in one line -----------------------------
UNSEALED = """
import sys
import numpy as np, pandas as pd
import streamtrack as st

store = st.PandasHDFStoreChunked(sys.argv[1])
for t in range(10):
    rng = np.random.default_rng(t)
    store.put(pd.DataFrame({"y": rng.random(20) * 100, "x": rng.random(20) * 100,
                            "mass": rng.random(20), "frame": np.int64(t)}))
    store.mark_processed(t)
print("done", flush=True)
sys.stdin.read()  # hold on, journal unsealed, until killed
"""


def test_cli_store_repair_is_one_line(tmp_path):
    import signal

    path = tmp_path / "movie.h5"
    with subprocess.Popen([sys.executable, "-c", UNSEALED, str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout.readline().strip() == "done"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    wal = f"{path}.chunks/c000000.wal"
    with open(wal, "r+b") as handle:  # the first record's kind: its payload still checks out
        handle.seek(4)
        kind = handle.read(1)[0]
        handle.seek(4)
        handle.write(bytes([kind ^ 0x07]))
    result = run_cli("link", path, "-s", 2, "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # not Python's 'file:line: Warning' + source line
    assert lines[0].startswith("streamtrack link: repaired: "), lines[0]
    assert wal in lines[0] and "Nothing lost" in lines[0], lines[0]
    assert "StoreRepairWarning" not in lines[0] and ".py:" not in lines[0], lines[0]
    with st.PandasHDFStoreChunked(str(path), mode="r") as store:
        assert store.frames == list(range(10))
        assert all("particle" in store.get(t) for t in store.frames)
