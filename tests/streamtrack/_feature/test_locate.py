"""locate: trackpy-identical numbers, ground-truth accuracy, errors."""
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as st
from streamtrack import _fastpath, synthetic
from streamtrack._feature import check_options

trackpy = pytest.importorskip("trackpy")

COLUMNS = ["y", "x", "mass", "size", "ecc", "signal", "raw_mass", "ep"]


def assert_same_as_trackpy(ours, theirs):
    """The issue's criterion: equal counts and columns; >= 99.9% of values within
    1e-6 (absolute for positions, relative otherwise), none beyond 1e-3."""
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs)
    for column in ours.columns:
        a = ours[column].to_numpy(dtype=float)
        b = theirs[column].to_numpy(dtype=float)
        # NaN and +-inf (ep on a zero corrected mass) must sit in the same places
        assert np.array_equal(np.isfinite(a), np.isfinite(b)), column
        assert np.array_equal(a[~np.isfinite(a)].astype(str), b[~np.isfinite(b)].astype(str))
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        scale = 1.0 if column in ("y", "x", "z") else np.maximum(np.abs(b), 1e-12)
        err = np.abs(a - b) / scale
        assert np.mean(err <= 1e-6) >= 0.999 if len(err) else True, column
        assert np.all(err <= 1e-3), (column, err.max())


def spots_image(dtype, *, n=40, shape=(200, 260), size=2.0, seed=0, noise=None):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(12, np.array(shape) - 12, size=(n, 2))
    top = 1.0 if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max
    if noise is None:
        noise = 0.03 * top
    image = synthetic.draw_spots(shape, pos, size=size, amplitude=0.6 * top,
                                 background=0.1 * top, noise=noise, dtype=dtype, seed=seed)
    return image, pos


PARAMS = [
    dict(diameter=11),
    dict(diameter=9, minmass=200),
    dict(diameter=11, separation=7, percentile=50),
    dict(diameter=7, noise_size=1.5, smoothing_size=13),
    dict(diameter=11, topn=10),
    dict(diameter=11, topn=1),
    dict(diameter=11, max_iterations=1),
    dict(diameter=11, characterize=False),
    dict(diameter=11, threshold=5),
    dict(diameter=(9, 11)),
    dict(diameter=11, noise_size=(1, 1.5)),
    dict(diameter=11, maxsize=2.5),
    dict(diameter=11, preprocess=False),
    dict(diameter=11, invert=True),
]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_same_as_trackpy(dtype, params):
    image, _ = spots_image(dtype, seed=len(str(params)))
    if dtype == np.int16:
        image = (image // 2).astype(np.int16)
    if params.get("threshold") and np.dtype(dtype).kind == "f":
        params = dict(params, threshold=5 / 255)
    if params.get("minmass") and np.dtype(dtype).kind == "f":
        params = dict(params, minmass=params["minmass"] / 255)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = st.locate(image, **params)
        theirs = trackpy.locate(image, **params)
    assert len(ours) > 0
    assert_same_as_trackpy(ours, theirs)


def test_same_as_trackpy_on_many_noisy_frames():
    """Random frames of a noisy movie: the compiled path equals trackpy's."""
    frames, _ = synthetic.brownian_movie(n_particles=60, n_frames=8, shape=(180, 240),
                                         noise=12, seed=3)
    for frame in frames:
        ours = st.locate(frame, 9)
        theirs = trackpy.locate(np.asarray(frame), 9)
        theirs["frame"] = frame.frame_no
        assert_same_as_trackpy(ours, theirs)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_compiled_path_is_verified_and_equals_numpy_path(dtype):
    image, _ = spots_image(dtype, seed=7)
    assert _fastpath.wait(("locate", 2, np.dtype(dtype).name)), \
        "compiled kernels disagree with scipy here"
    with _fastpath.forced(True):
        fast = st.locate(image, 11)
    with _fastpath.forced(False):
        slow = st.locate(image, 11)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_3d_volume_same_as_trackpy():
    rng = np.random.default_rng(5)
    shape = (24, 48, 48)
    z, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    volume = np.full(shape, 10.0)
    for p in rng.uniform(8, 40, size=(6, 3)) * [0.5, 1, 1]:
        volume += 150 * np.exp(-((z - p[0]) ** 2 + (y - p[1]) ** 2 + (x - p[2]) ** 2)
                               / (2 * 1.5 ** 2))
    volume = (volume + rng.normal(0, 2, shape)).clip(0, 255).astype(np.uint8)
    for diameter in (7, (5, 7, 7)):
        ours = st.locate(volume, diameter)
        theirs = trackpy.locate(volume, diameter)
        assert len(ours) >= 4
        assert_same_as_trackpy(ours, theirs)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_subpixel_accuracy_against_ground_truth(dtype):
    image, truth = spots_image(dtype, n=30, noise=0, seed=11)
    # isolated spots only: neighbours bias any centroid
    d = np.hypot(*(truth[:, None, :] - truth[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    truth = truth[d.min(axis=1) > 14]
    found = st.locate(image, 11)
    dist = np.hypot(found["y"].values[:, None] - truth[:, 0],
                    found["x"].values[:, None] - truth[:, 1])
    nearest = dist.min(axis=0)
    assert np.all(nearest < 0.1), nearest.max()
    assert np.median(nearest) < 0.05


def test_columns_and_frame_number():
    frames, _ = synthetic.brownian_movie(n_particles=8, n_frames=3, seed=2)
    f = st.locate(frames[2], 11)
    assert list(f.columns) == COLUMNS + ["frame"]
    assert (f["frame"] == 2).all() and f["frame"].dtype == np.int64
    plain = st.locate(np.asarray(frames[2]), 11)
    assert list(plain.columns) == COLUMNS


@pytest.mark.parametrize("engine", ["auto", "python", "numba"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_engine_does_not_change_results(dtype, engine):
    """Every engine trackpy accepts gives trackpy's result with that engine
    (and the same bits as streamtrack's default)."""
    image, _ = spots_image(dtype, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = trackpy.locate(image, 11, engine=engine)
    ours = st.locate(image, 11, engine=engine)
    assert len(ours) > 0
    assert_same_as_trackpy(ours, theirs)
    pd.testing.assert_frame_equal(ours, st.locate(image, 11), check_exact=True)


def test_unknown_engine_is_refused_by_locate_and_batch():
    image, _ = spots_image(np.uint8)
    with pytest.raises(ValueError, match="engine must be 'auto', 'python' or 'numba', got 'gpu'"):
        st.locate(image, 11, engine="gpu")

    def never_read():
        raise AssertionError("a frame was read")
        yield
    with pytest.raises(ValueError, match="engine must be 'auto', 'python' or 'numba'"):
        st.batch(never_read(), 11, engine="gpu")


def test_check_options_names_every_unknown_option():
    with pytest.raises(TypeError, match=r"unknown locate option\(s\) \['mass', 'minmas'\]"):
        check_options(11, minmas=100, mass=3, invert=True)
    with pytest.raises(TypeError, match=r"unknown locate option\(s\) \['minmas'\]"):
        st.batch([np.zeros((40, 40), np.uint8)], 11, minmas=100)
    check_options(11, minmass=100, invert=True, engine="numba")  # all accepted


@pytest.mark.parametrize("options, error, match", [
    (dict(diameter=10), ValueError, "diameter"),
    (dict(diameter=11, noise_size=11), ValueError, "noise_size 11 must be smaller"),
    (dict(diameter=11, percentile=150), ValueError, "percentile"),
    (dict(diameter=11, filter_before=True), ValueError, "filter_before"),
    (dict(diameter=11, topn=2.5), TypeError, "topn"),
])
def test_check_options_raises_what_locate_raises(options, error, match):
    with pytest.raises(error, match=match) as before:
        check_options(**options)
    with pytest.raises(error, match=match) as located:
        st.locate(np.zeros((40, 40), np.uint8), **options)
    assert str(before.value) == str(located.value)


def test_check_options_leaves_per_axis_sizes_to_the_image():
    # (9, 11, 11) is right for a volume, wrong for a 2-D image: only the image can say
    check_options((9, 11, 11))
    with pytest.raises(ValueError, match="has 3 values"):
        st.locate(np.zeros((40, 40), np.uint8), (9, 11, 11))


def test_black_frame_returns_empty_with_columns_and_warns():
    with pytest.warns(UserWarning, match="black"):
        f = st.locate(np.zeros((64, 64), np.uint8), 11)
    assert list(f.columns) == COLUMNS and len(f) == 0


def test_flat_frame_warns_no_maxima():
    with pytest.warns(UserWarning):
        f = st.locate(np.full((64, 64), 7, np.uint16), 11, preprocess=False)
    assert len(f) == 0 and list(f.columns) == COLUMNS


def test_minmass_filters_everything_warns():
    image, _ = spots_image(np.uint8)
    with pytest.warns(UserWarning, match="survived"):
        f = st.locate(image, 11, minmass=1e12)
    assert len(f) == 0 and list(f.columns) == COLUMNS


def test_runs_clean_under_strict_numpy_errors():
    image, _ = spots_image(np.uint16, seed=4)
    frames = [image, np.zeros((50, 50), np.uint8), np.full((50, 50), 3.0)]
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for frame in frames:
            st.locate(frame, 11)
            st.locate(frame, (9, 11), characterize=True)


@pytest.mark.parametrize("diameter", [10, 0, -3, 11.5, (11, 10)])
def test_bad_diameter_is_value_error(diameter):
    with pytest.raises(ValueError, match="diameter"):
        st.locate(np.zeros((40, 40), np.uint8), diameter)


def test_bad_inputs():
    image = np.zeros((40, 40), np.uint8)
    with pytest.raises(TypeError, match="diameter"):
        st.locate(image, "11")
    with pytest.raises(ValueError, match="2-D"):
        st.locate(np.zeros(40, np.uint8), 11)
    with pytest.raises(ValueError, match=r"channel.*image\[:, :, 1\]"):
        st.locate(np.zeros((40, 40, 4), np.uint8), 11)
    with pytest.raises(ValueError, match="NaN"):
        st.locate(np.full((40, 40), np.nan), 11)
    with pytest.raises(ValueError, match="NaN or infinite"):
        st.locate(np.full((40, 40), np.inf), 11)
    with pytest.raises(ValueError, match="noise_size"):
        st.locate(image, 11, noise_size=11)
    with pytest.raises(ValueError, match="smoothing_size"):
        st.locate(image, 11, smoothing_size=12)
    with pytest.raises(ValueError, match="maxsize"):
        st.locate(image, (9, 11), maxsize=3)
    with pytest.raises(ValueError, match="filter_before"):
        st.locate(image, 11, filter_before=True)
    with pytest.raises(TypeError, match="integers or floats"):
        st.locate(np.zeros((40, 40), bool), 11)
    with pytest.raises(ValueError, match="has 3 values"):
        st.locate(image, (11, 11, 11))


def test_rgb_volume_escape_hatch_with_tuple_diameter():
    volume = np.zeros((40, 40, 3), np.uint8)
    volume[20, 20, 1] = 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = st.locate(volume, (9, 9, 3))
    assert "z" in f.columns
