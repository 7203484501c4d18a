"""Synthetic movies: deterministic, lazy, and with a truth that locate recovers."""
import numpy as np
import pandas as pd
import pytest

from streamtrack import synthetic

trackpy = pytest.importorskip("trackpy")


def test_deterministic_and_independent_of_global_rng():
    np.random.seed(1)
    a_frames, a_truth = synthetic.brownian_movie(n_particles=6, n_frames=4, seed=3)
    np.random.seed(2)
    b_frames, b_truth = synthetic.brownian_movie(n_particles=6, n_frames=4, seed=3)
    assert a_truth.equals(b_truth)
    assert np.array_equal(a_frames[3], b_frames[3])
    c_frames, c_truth = synthetic.brownian_movie(n_particles=6, n_frames=4, seed=4)
    assert not c_truth.equals(a_truth)


def test_truth_stays_in_view_and_diffuses():
    truth = synthetic.brownian_trajectories(40, 300, shape=(200, 300), diffusion=2.0, seed=1)
    assert truth["y"].between(12, 200 - 13).all() and truth["x"].between(12, 300 - 13).all()
    steps = truth.sort_values(["particle", "frame"]).groupby("particle")[["y", "x"]].diff().dropna()
    # mean squared step per axis = 2 D (reflections shorten a few steps)
    assert 3.4 < (steps ** 2).mean().mean() < 4.3


def test_locate_recovers_truth_to_subpixel():
    frames, truth = synthetic.brownian_movie(n_particles=20, n_frames=3, seed=5)
    for t in range(3):
        found = trackpy.locate(np.asarray(frames[t]), 11, minmass=500)
        true = truth[truth["frame"] == t][["y", "x"]].to_numpy()
        assert len(found) == len(true)
        d = np.hypot(found["y"].to_numpy()[:, None] - true[:, 0],
                     found["x"].to_numpy()[:, None] - true[:, 1]).min(axis=0)
        assert d.max() < 0.1


def test_frames_are_rendered_lazily_with_frame_numbers():
    frames, truth = synthetic.brownian_movie(n_particles=3, n_frames=100000, shape=(64, 64),
                                             seed=0)
    assert len(frames) == 100000  # no 100000 images in memory
    assert frames[99999].frame_no == 99999 and frames[99999].dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_draw_spots_dtypes(dtype):
    image = synthetic.draw_spots((32, 32), [[16.3, 15.7]], size=2.0, amplitude=100,
                                 background=5, dtype=dtype)
    assert image.dtype == dtype
    y, x = np.unravel_index(np.argmax(image), image.shape)
    assert (y, x) == (16, 16)


def test_too_many_particles_is_a_clear_error():
    with pytest.raises(ValueError, match="do not fit"):
        synthetic.brownian_trajectories(10000, 2, shape=(64, 64))


def test_drift_moves_every_particle_and_stays_in_view():
    still = synthetic.brownian_trajectories(20, 200, diffusion=0.5, seed=3)
    moving = synthetic.brownian_trajectories(20, 200, diffusion=0.5, drift=(0.1, -0.2), seed=3)
    # mean step of all particles: the drift, to within the walks' noise (sqrt(2 D / N) per
    # frame, averaged over 199 steps)
    steps = moving.sort_values(["particle", "frame"]).groupby("particle")[["y", "x"]].diff()
    np.testing.assert_allclose(steps.mean().to_numpy(), [0.1, -0.2], atol=0.02)
    assert moving[["y", "x"]].min().min() >= 12 and moving["y"].max() <= 256 - 13 \
        and moving["x"].max() <= 256 - 13
    # without drift, the walks are those of before (same seed, same numbers)
    pd.testing.assert_frame_equal(still, synthetic.brownian_trajectories(20, 200, diffusion=0.5,
                                                                         seed=3))


def test_steps_have_the_diffusion_and_drift_asked_for():
    diffusion, drift, n_frames = 0.5, np.array([0.3, -0.2]), 41
    truth = synthetic.brownian_trajectories(600, n_frames, shape=(1000, 1000),
                                            diffusion=diffusion, drift=tuple(drift),
                                            min_separation=40, seed=7)
    # only the walks that start 30 px clear of any wall (walls at margin 12 from the
    # edges, moved in by the drift's whole shift): steps of sd 1 px add up to 6.3 px
    # (sd) in 40 frames, so these walks are never reflected (a 4.7 sd excursion)
    shift = np.abs(drift) * (n_frames - 1)
    start = truth[truth["frame"] == 0].set_index("particle")[["y", "x"]]
    clear = ((start >= 12 + shift + 30) & (start <= 1000 - 13 - shift - 30)).all(axis=1)
    walks = truth[truth["particle"].isin(start.index[clear])]
    steps = walks.sort_values(["particle", "frame"]).groupby("particle")[["y", "x"]].diff()
    steps = steps.dropna().to_numpy()
    n = len(steps)  # independent steps per axis
    assert n > 15000
    # each step is drift + N(0, 2 D) per axis: its mean is the drift to within
    # sqrt(2 D / n) = 0.007 px (4 standard errors allowed) ...
    np.testing.assert_allclose(steps.mean(axis=0), drift, rtol=0,
                               atol=4 * np.sqrt(2 * diffusion / n))
    # ... and its mean squared deviation from the drift is 2 D, to within a relative
    # sqrt(2 / n) = 1% (a chi-squared mean of n values; 4 standard errors allowed)
    msd = ((steps - drift) ** 2).mean(axis=0)
    np.testing.assert_allclose(msd, 2 * diffusion, rtol=4 * np.sqrt(2 / n), atol=0)
