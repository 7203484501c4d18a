"""streamtrack.plots side by side with trackpy 0.7's plots (Agg backend): the same
return types and the same artists (lines, collections, images, texts, their data)."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import trackpy  # noqa: E402

import streamtrack as st  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def traj():
    """Linked trajectories of uneven length, one with a gap in its frames."""
    rng = np.random.default_rng(0)
    rows = []
    for particle, frames in {0: range(6), 1: [0, 1, 2, 4, 5], 2: [2, 3], 3: [1, 2, 3, 4]}.items():
        start = rng.random(2) * 50
        for k, frame in enumerate(frames):
            rows.append((frame, particle, *(start + k * rng.normal(size=2))))
    t = pd.DataFrame(rows, columns=["frame", "particle", "x", "y"])
    t["mass"] = rng.random(len(t)) * 1000
    t["size"] = rng.random(len(t)) + 1
    t["ecc"] = rng.random(len(t))
    return t.sort_values("frame", kind="stable").set_index("frame", drop=False)


def _axes_pair():
    return plt.subplots()[1], plt.subplots()[1]


def _same_artists(ours, theirs):
    assert type(ours) is type(theirs)
    assert len(ours.lines) == len(theirs.lines)
    assert len(ours.collections) == len(theirs.collections)
    assert len(ours.images) == len(theirs.images)
    assert len(ours.texts) == len(theirs.texts)
    for a, b in zip(ours.lines, theirs.lines):
        np.testing.assert_array_equal(np.asarray(a.get_xydata()), np.asarray(b.get_xydata()))
        assert a.get_marker() == b.get_marker()
        assert a.get_linestyle() == b.get_linestyle()
        assert a.get_markeredgecolor() == b.get_markeredgecolor()
        assert a.get_markersize() == b.get_markersize()
        assert a.get_linewidth() == b.get_linewidth()
    for a, b in zip(ours.collections, theirs.collections):
        assert len(a.get_segments()) == len(b.get_segments())
        for sa, sb in zip(a.get_segments(), b.get_segments()):
            np.testing.assert_array_equal(sa, sb)
    for a, b in zip(ours.texts, theirs.texts):
        assert a.get_text() == b.get_text()
        assert a.get_position() == b.get_position()
    for a, b in zip(ours.images, theirs.images):
        np.testing.assert_array_equal(a.get_array(), b.get_array())
    np.testing.assert_allclose(ours.get_xlim(), theirs.get_xlim())
    np.testing.assert_allclose(ours.get_ylim(), theirs.get_ylim())


@pytest.mark.parametrize("kwargs", [
    {},
    {"label": True},
    {"colorby": "frame"},
    {"plot_style": {"lw": 3, "c": "k"}},
    {"superimpose": np.arange(60 * 80, dtype=float).reshape(60, 80)},
])
def test_plot_traj_matches_trackpy(traj, kwargs):
    ours, theirs = _axes_pair()
    result = st.plot_traj(traj, ax=ours, **kwargs)
    expected = trackpy.plot_traj(traj, ax=theirs, **kwargs)
    assert result is ours and expected is theirs
    _same_artists(ours, theirs)
    assert ours.get_xlabel() == theirs.get_xlabel() == "x [px]"
    assert ours.get_ylabel() == theirs.get_ylabel() == "y [px]"
    bottom, top = ours.get_ylim()
    assert bottom > top  # image convention: y grows downwards


def test_plot_traj_lines_follow_trajectories_with_gaps(traj):
    ax = st.plot_traj(traj, ax=plt.subplots()[1])
    assert len(ax.lines) == traj["particle"].nunique()
    # particle 1 misses frame 3: its line has a NaN there, which breaks it
    xy = ax.lines[1].get_xydata()
    assert np.isnan(xy).any(axis=1).sum() == traj["frame"].nunique() - 5


def test_plot_traj_mpp_scales_and_labels_microns(traj):
    ours, theirs = _axes_pair()
    st.plot_traj(traj, mpp=0.5, ax=ours)
    trackpy.plot_traj(traj, mpp=0.5, ax=theirs)
    _same_artists(ours, theirs)
    assert ours.get_xlabel() == "x [\xb5m]" and ours.get_ylabel() == "y [\xb5m]"
    first = traj[traj["particle"] == 0].reset_index(drop=True).sort_values("frame")
    np.testing.assert_allclose(ours.lines[0].get_xdata(), 0.5 * first["x"].to_numpy())


def test_plot_traj_does_not_change_plot_style(traj):
    style = {"lw": 2}
    st.plot_traj(traj, ax=plt.subplots()[1], plot_style=style)
    assert style == {"lw": 2}


def test_plot_traj_empty_raises(traj):
    with pytest.raises(ValueError, match="empty"):
        st.plot_traj(traj.iloc[:0], ax=plt.subplots()[1])


def test_plot_traj_default_axes_is_current(traj):
    fig, ax = plt.subplots()
    assert st.plot_traj(traj) is ax


def test_plot_traj_legend(traj):
    ax = st.plot_traj(traj, ax=plt.subplots()[1], plot_style={"label": "tracks"},
                      legend=True)
    assert ax.get_legend() is not None


@pytest.mark.parametrize("kwargs", [
    {},
    {"color": "b"},
    {"invert": True},
    {"plot_style": {"ms": 7, "mew": 1}},
    {"split_category": "mass", "split_thresh": 500, "color": ["r", "g"]},
    {"split_category": "mass", "split_thresh": [200, 500, 800],
     "color": ["r", "g", "b", "y"]},
])
def test_annotate_matches_trackpy(traj, kwargs):
    image = np.random.default_rng(1).random((64, 64))
    ours, theirs = _axes_pair()
    result = st.annotate(traj, image, ax=ours, **kwargs)
    expected = trackpy.annotate(traj, image, ax=theirs, **kwargs)
    assert result is ours and expected is theirs
    _same_artists(ours, theirs)


def test_annotate_rgb_image_and_errors(traj):
    rgb = np.zeros((32, 48, 3))
    ours, theirs = _axes_pair()
    _same_artists(st.annotate(traj, rgb, ax=ours), trackpy.annotate(traj, rgb, ax=theirs))
    with pytest.raises(ValueError, match="dimensions"):
        st.annotate(traj, np.zeros((4, 8, 8)), ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="multiple colors"):
        st.annotate(traj, rgb, color=["r", "g"], ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="number of colors"):
        st.annotate(traj, rgb, split_category="mass", split_thresh=[1, 2], color=["r", "g"],
                    ax=plt.subplots()[1])


def test_annotate_circle_size_is_deprecated(traj):
    with pytest.warns(UserWarning, match="circle_size"):
        ax = st.annotate(traj, np.zeros((8, 8)), circle_size=49, ax=plt.subplots()[1])
    assert ax.lines[0].get_markersize() == 7


@pytest.mark.parametrize("name", ["mass_size", "mass_ecc"])
def test_mass_plots_match_trackpy(traj, name):
    ours, theirs = _axes_pair()
    result = getattr(st, name)(traj, ax=ours)
    expected = getattr(trackpy, name)(traj, ax=theirs)
    assert result is ours and expected is theirs
    _same_artists(ours, theirs)
    assert ours.get_xlabel() == theirs.get_xlabel()
    assert ours.get_ylabel() == theirs.get_ylabel()
    assert ours.lines[0].get_alpha() == theirs.lines[0].get_alpha()


@pytest.mark.parametrize("columns", [["x", "y"], ["x", "y", "z"]])
def test_subpx_bias_matches_trackpy(traj, columns, monkeypatch):
    f = traj.copy()
    f["z"] = f["x"] * 0.37 - 3.1  # negative values too
    f = f if "z" in columns else f.drop(columns="z")
    ours = st.subpx_bias(f)
    # trackpy 0.7 calls DataFrame.applymap, gone in pandas 3: give it DataFrame.map
    if not hasattr(pd.DataFrame, "applymap"):
        monkeypatch.setattr(pd.DataFrame, "applymap", pd.DataFrame.map, raising=False)
    theirs = trackpy.subpx_bias(f)
    assert type(ours) is type(theirs) and ours.shape == theirs.shape
    for a, b in zip(ours.ravel(), theirs.ravel()):
        assert a.get_title() == b.get_title()
        assert len(a.patches) == len(b.patches)
        np.testing.assert_allclose([p.get_height() for p in a.patches],
                                   [p.get_height() for p in b.patches])
    titled = [a.get_title() for a in ours.ravel() if a.get_title()]
    assert titled == columns


def test_public_names():
    from streamtrack import plots

    for name in ("plot_traj", "annotate", "mass_size", "mass_ecc", "subpx_bias"):
        assert getattr(st, name) is getattr(plots, name)
        assert name in st.__all__


def test_import_does_not_import_matplotlib():
    code = ("import sys\n"
            "import streamtrack, streamtrack.plots, streamtrack.filtering\n"
            "streamtrack.plot_traj, streamtrack.annotate, streamtrack.filter_stubs\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
