"""trackpy's walkthrough (../shared/tutorial/walkthrough.py), its in-memory steps, on a
synthetic movie with known diffusion and drift: the same numbers as trackpy at every step,
plots drawn off screen."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import trackpy  # noqa: E402

import streamtrack as tp  # noqa: E402

MPP, FPS = 0.5, 10.0
DIFFUSION, DRIFT = 0.5, (0.1, -0.15)  # px^2 per frame; px per frame


@pytest.fixture(scope="module")
def movie():
    return tp.synthetic.brownian_movie(n_particles=30, n_frames=100, shape=(256, 256),
                                       diffusion=DIFFUSION, drift=DRIFT, seed=7)


def steps(lib, frames):
    """The walkthrough's steps with ``lib`` as ``tp``; returns what it prints."""
    f = tp.batch(frames, 11, minmass=500, processes=1)  # locate: streamtrack's (= trackpy's)
    t = lib.link(f, 5, memory=3)
    t1 = lib.filter_stubs(t, 25)
    plt.figure()
    lib.mass_size(t1.groupby("particle").mean())
    t2 = t1[(t1["mass"] > 500) & (t1["size"] < 3) & (t1["ecc"] < 0.3)]
    plt.figure()
    lib.annotate(t2[t2["frame"] == 0], frames[0])
    d = lib.compute_drift(t2)
    tm = lib.subtract_drift(t2.copy(), d)
    plt.figure()
    lib.plot_traj(tm)
    plt.close("all")
    im = lib.imsd(tm, MPP, FPS)
    em = lib.emsd(tm, MPP, FPS)
    fit = lib.utils.fit_powerlaw(em, plot=False)
    return t1, d, tm, im, em, fit


def test_walkthrough_steps_equal_trackpys(movie):
    frames, truth = movie
    ours = steps(tp, frames)
    theirs = steps(trackpy, frames)
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b, rtol=1e-9)
        else:
            pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    t1, d, tm, im, em, fit = ours
    # and the truth comes back: the drift per frame (to the walks' noise: the mean of
    # ~30 walks over 99 steps, sqrt(2 D 99 / 30) = 1.8 px in all, 0.02 px per frame),
    # and D (n close to 1)
    assert list(d.columns) == ["y", "x"]
    np.testing.assert_allclose(d.iloc[-1].to_numpy() / d.index[-1], DRIFT, atol=0.04)
    n, a = float(fit["n"].iloc[0]), float(fit["A"].iloc[0])
    assert 0.8 < n < 1.2
    expected_a = 4 * DIFFUSION * MPP**2 * FPS  # <r^2> = 4 D t in 2-D, microns and seconds
    assert abs(a - expected_a) < 0.25 * expected_a
