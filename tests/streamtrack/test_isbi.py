"""The ISBI 2012 particle tracking challenge's scenarios (issue 14) and scoring them
with traccuracy: counts, SNR measured on the rendered frames, the motion
models, the truth as GEFF, and F1 = 1 for the truth against itself."""
import warnings

import numpy as np
import pandas as pd
import pytest

import streamtrack as tp
from streamtrack import _isbi, synthetic

geff = pytest.importorskip("geff")
traccuracy = pytest.importorskip("traccuracy")
from traccuracy import run_metrics  # noqa: E402
from traccuracy.loaders import load_geff_data  # noqa: E402
from traccuracy.matchers import PointMatcher  # noqa: E402
from traccuracy.metrics import BasicMetrics, CTCMetrics  # noqa: E402


def _scores(truth_geff, pred_geff, threshold=1.0):
    gt = load_geff_data(str(truth_geff))
    pred = load_geff_data(str(pred_geff))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, _ = run_metrics(gt, pred, PointMatcher(threshold=threshold),
                                 [BasicMetrics(), CTCMetrics()])
    return {**results[0]["results"], **results[1]["results"]}


def _geff(table, path):
    tp.to_geff(table, path)
    return path


@pytest.mark.parametrize("kind, density, n", [
    ("vesicle", "low", 100), ("vesicle", "mid", 500), ("vesicle", "high", 1000),
    ("microtubule", "low", 60), ("microtubule", "mid", 400), ("microtubule", "high", 700),
])
def test_scenario_shape_and_counts(kind, density, n):
    frames, truth = synthetic.isbi_scenario(kind, density, 7, n_frames=6, seed=1)
    assert len(frames) == 6
    image = frames[5]
    assert image.shape == (512, 512) and image.dtype == np.uint8
    assert list(truth.columns) == ["frame", "particle", "y", "x"]
    assert (truth.groupby("frame").size() == n).all()
    assert sorted(truth["frame"].unique()) == list(range(6))
    # every particle is in the field, away from the edges
    assert truth[["y", "x"]].min().min() >= _isbi.MARGIN
    assert truth[["y", "x"]].max().max() <= 511 - _isbi.MARGIN
    assert not truth.duplicated(["frame", "particle"]).any()


def test_defaults_are_the_challenge():
    assert (_isbi.SHAPE, _isbi.N_FRAMES, _isbi.SNRS) == ((512, 512), 100, (1, 2, 4, 7))
    frames, truth = synthetic.isbi_scenario("microtubule", "low", 2)
    assert len(frames) == 100 and frames[99].shape == (512, 512)
    assert len(truth) == 6000


def test_deterministic_and_seeded():
    a_frames, a = synthetic.isbi_scenario("vesicle", 50, 4, n_frames=4, shape=(128, 128), seed=2)
    b_frames, b = synthetic.isbi_scenario("vesicle", 50, 4, n_frames=4, shape=(128, 128), seed=2)
    c_frames, c = synthetic.isbi_scenario("vesicle", 50, 4, n_frames=4, shape=(128, 128), seed=3)
    assert a.equals(b) and np.array_equal(a_frames[3], b_frames[3])
    assert not a.equals(c) and not np.array_equal(a_frames[3], c_frames[3])


def test_bad_arguments():
    with pytest.raises(ValueError, match="scenario"):
        synthetic.isbi_scenario("receptor", "low", 2)
    with pytest.raises(ValueError, match="density"):
        synthetic.isbi_scenario("vesicle", "huge", 2)
    with pytest.raises(ValueError, match="snr"):
        synthetic.isbi_scenario("vesicle", "low", 0)


def _measured_snr(frames, truth):
    """(peak amplitude above background, noise std at the peak, background mean,
    background std), measured on the frames: the peak from the pixel nearest
    each isolated spot's centre (divided by the Gaussian's value there), the
    noise from the residuals at those pixels, the background far from spots."""
    sigma = _isbi.SPOT_SIGMA
    values, weights, far = [], [], []
    yy, xx = np.mgrid[:frames[0].shape[0], :frames[0].shape[1]]
    for t in range(len(frames)):
        image = frames[t].astype(float)
        pos = truth.loc[truth["frame"] == t, ["y", "x"]].to_numpy()
        dist = np.hypot(pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1])
        np.fill_diagonal(dist, np.inf)
        isolated = pos[dist.min(axis=1) > 12]
        iy, ix = np.round(isolated).astype(int).T
        d2 = (iy - isolated[:, 0]) ** 2 + (ix - isolated[:, 1]) ** 2
        values.append(image[iy, ix])
        weights.append(np.exp(-d2 / (2 * sigma ** 2)))
        mask = np.ones(image.shape, bool)
        for y, x in pos:
            mask &= (yy - y) ** 2 + (xx - x) ** 2 > (5 * sigma) ** 2
        far.append(image[mask])
    far = np.concatenate(far)
    background = far.mean()
    values, weights = np.concatenate(values), np.concatenate(weights)
    # least squares for A in values - background = A * weights
    amplitude = np.sum((values - background) * weights) / np.sum(weights ** 2)
    residual = values - background - amplitude * weights
    return amplitude, residual.std(), background, far.std()


@pytest.mark.parametrize("snr", [1, 2, 4, 7])
def test_snr_measured_on_the_frames(snr):
    frames, truth = synthetic.isbi_scenario("vesicle", 60, snr, n_frames=8,
                                            shape=(256, 256), seed=snr)
    amplitude, noise, background, background_noise = _measured_snr(frames, truth)
    assert background == pytest.approx(_isbi.BACKGROUND, rel=0.02)
    # Poisson: the background's noise is sqrt(background)
    assert background_noise == pytest.approx(np.sqrt(_isbi.BACKGROUND), rel=0.05)
    assert amplitude == pytest.approx(_isbi.amplitude_for_snr(snr), rel=0.1)
    # the challenge's SNR: peak above background / the noise's std at the peak
    assert amplitude / noise == pytest.approx(snr, rel=0.12)


def _tracks(truth, min_length):
    return [g.sort_values("frame") for _, g in truth.groupby("particle") if len(g) >= min_length]


def _straightness(track):
    """Net displacement over path length (1: a straight line; ~0: a random walk)."""
    pos = track[["y", "x"]].to_numpy()
    path = np.hypot(*np.diff(pos, axis=0).T).sum()
    return np.hypot(*(pos[-1] - pos[0])) / path


def test_directed_motion_is_directed_and_brownian_is_not():
    _, directed = synthetic.isbi_scenario("microtubule", "mid", 7, n_frames=30, seed=4)
    _, brownian = synthetic.isbi_scenario("vesicle", "mid", 7, n_frames=30, seed=4)
    d_tracks, b_tracks = _tracks(directed, 10), _tracks(brownian, 10)
    assert len(d_tracks) > 50 and len(b_tracks) > 200
    d_straight = np.array([_straightness(t) for t in d_tracks])
    b_straight = np.array([_straightness(t) for t in b_tracks])
    assert np.median(d_straight) > 0.9
    assert np.median(b_straight) < 0.4
    # speeds of a few px per frame, one per particle (nearly constant)
    steps = [np.hypot(*np.diff(t[["y", "x"]].to_numpy(), axis=0).T) for t in d_tracks]
    lo, hi = _isbi.MICROTUBULE_SPEED
    assert lo - 0.5 < np.median(np.concatenate(steps)) < hi + 0.5
    assert np.median([s.std() / s.mean() for s in steps]) < 0.15
    # Brownian: mean squared displacement grows linearly with the lag
    msd = {lag: np.mean(np.concatenate(
        [np.sum((t[["y", "x"]].to_numpy()[lag:] - t[["y", "x"]].to_numpy()[:-lag]) ** 2, axis=1)
         for t in b_tracks])) for lag in (1, 8)}
    assert msd[8] / msd[1] == pytest.approx(8, rel=0.2)
    assert 4 * np.mean(_isbi.VESICLE_DIFFUSION) == pytest.approx(msd[1], rel=0.15)


def test_particles_appear_and_disappear():
    _, truth = synthetic.isbi_scenario("microtubule", "low", 7, n_frames=40, seed=5)
    lengths = truth.groupby("particle")["frame"].agg(["min", "max", "size"])
    assert len(lengths) > 2 * 60  # far more trajectories than particles per frame
    assert (lengths["min"] > 0).any() and (lengths["max"] < 39).any()
    # a trajectory is one uninterrupted run of frames
    assert (lengths["max"] - lengths["min"] + 1 == lengths["size"]).all()


def test_truth_as_geff_validates_and_reads_back(tmp_path):
    _, truth = synthetic.isbi_scenario("vesicle", "low", 4, n_frames=10, seed=6)
    path = _geff(truth, tmp_path / "truth.geff")
    geff.validate_structure(str(path))
    graph, _ = geff.read(str(path), backend="networkx")
    n_edges = len(truth) - truth["particle"].nunique()
    assert graph.number_of_nodes() == len(truth) and graph.number_of_edges() == n_edges
    back = tp.from_geff(path)
    pd.testing.assert_frame_equal(back[list(truth.columns)], truth.reset_index(drop=True))


def test_truth_scores_one_against_itself(tmp_path):
    _, truth = synthetic.isbi_scenario("microtubule", "mid", 7, n_frames=10, seed=7)
    path = _geff(truth, tmp_path / "truth.geff")
    s = _scores(path, path)
    assert s["Node F1"] == s["Node Precision"] == s["Node Recall"] == 1
    assert s["Edge F1"] == s["Edge Precision"] == s["Edge Recall"] == 1
    assert s["DET"] == s["LNK"] == 1
    assert s["Total GT Edges"] == len(truth) - truth["particle"].nunique()


def test_perturbed_truth_scores_less_than_one(tmp_path):
    _, truth = synthetic.isbi_scenario("vesicle", "low", 7, n_frames=10, seed=8)
    truth_geff = _geff(truth, tmp_path / "truth.geff")
    spans = truth.groupby("particle")["frame"].agg(["min", "max"])
    # swap the links of two particles present in frames 4 and 5: their ids after frame 4
    a, b = spans.index[(spans["min"] <= 4) & (spans["max"] >= 5)][:2]
    swapped = truth.copy()
    later = swapped["frame"] >= 5
    swapped.loc[later & (truth["particle"] == a), "particle"] = b
    swapped.loc[later & (truth["particle"] == b), "particle"] = a
    s = _scores(truth_geff, _geff(swapped, tmp_path / "swapped.geff"))
    assert s["Node F1"] == 1
    assert s["False Positive Edges"] == 2 and s["False Negative Edges"] == 2
    assert s["Edge F1"] < 1 and s["LNK"] < 1
    # remove one observation in the middle of a third particle's track (frame 2)
    c = spans.index[(spans["min"] <= 1) & (spans["max"] >= 3)
                    & ~spans.index.isin([a, b])][0]
    removed = swapped.drop(swapped.index[(swapped["particle"] == c) & (swapped["frame"] == 2)])
    s = _scores(truth_geff, _geff(removed, tmp_path / "removed.geff"))
    assert s["False Negative Nodes"] == 1 and s["False Positive Nodes"] == 0
    assert s["Node F1"] < 1 and s["DET"] < 1
    # its two edges are missed; the edge that bridges frames 1 -> 3 is a false one
    assert s["False Negative Edges"] == 2 + 2 and s["False Positive Edges"] == 2 + 1
    assert s["Edge F1"] < 1


# (directed particles sweep the small field: even 20 of them cross often enough
# for nearest-neighbour linking to mislink ~10% of the edges; 10 here)
@pytest.mark.parametrize("kind, n", [("vesicle", 30), ("microtubule", 10)])
def test_small_scenario_tracks_well_at_snr_7(tmp_path, kind, n):
    frames, truth = synthetic.isbi_scenario(kind, n, 7, n_frames=10, shape=(128, 128), seed=9)
    settings = synthetic.isbi_locate_settings(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = tp.batch(frames, settings["diameter"], minmass=settings["minmass"],
                            separation=settings["separation"], processes=1)
        linked = tp.link(features, _isbi.suggested_search_range(kind), memory=1)
    s = _scores(_geff(truth, tmp_path / "truth.geff"), _geff(linked, tmp_path / "ours.geff"),
                threshold=3.0)
    assert s["Node F1"] > 0.95
    assert s["Edge F1"] > 0.9
