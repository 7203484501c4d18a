"""Synthetic movies with known truth: Brownian particles drawn as Gaussian spots.

For tests, the ``streamtrack demo`` command and the napari sample data. All
randomness comes from ``numpy.random.default_rng(seed)``: the global RNG is
never touched, and the same seed gives the same movie.

:func:`isbi_scenario` renders the scenarios of the ISBI 2012 particle
tracking challenge (Brownian "vesicles", directed "microtubules", SNR 1-7,
Poisson noise; the model is in :mod:`streamtrack._isbi`), scored in
``benchmarks/bench_accuracy.py``.

Examples
--------
>>> frames, truth = brownian_movie(n_particles=5, n_frames=3, seed=1)
>>> len(frames), frames[0].shape, sorted(truth.columns)
(3, (256, 256), ['frame', 'particle', 'x', 'y'])
"""
import numpy as np
import pandas as pd


def brownian_trajectories(n_particles, n_frames, *, shape=(256, 256), diffusion=1.0,
                          margin=12.0, min_separation=None, drift=(0.0, 0.0), seed=0):
    """Random walks that stay inside the image (reflected at ``margin``).

    Parameters
    ----------
    n_particles, n_frames : int
        Number of particles and of frames.
    shape : tuple of int, optional
        Image shape (y, x); walks stay within ``margin`` of its edges.
    diffusion : float, optional
        Diffusion coefficient in px**2/frame: each step has standard deviation
        ``sqrt(2 * diffusion)`` per axis. Default 1.
    margin : float, optional
        Distance kept from the image edges. Default 12.
    min_separation : float, optional
        Minimum distance between particles at the start (placed on a jittered
        grid). Default: ``16 + 4 * sqrt(2 * diffusion)``.
    drift : (float, float), optional
        A constant drift (y, x) in px per frame added to every particle (the
        stage moving): frame ``t`` is shifted by ``t * drift``; the walks keep
        clear of the edges by the whole shift. Default none.
    seed : int, optional
        Random seed.

    Returns
    -------
    DataFrame
        Columns ``frame, particle, y, x``, sorted by frame then particle.

    Raises
    ------
    ValueError
        If the particles do not fit at ``min_separation`` (in the room the
        drift leaves).
    """
    rng = np.random.default_rng(seed)
    drift = np.asarray(drift, dtype=float)
    shift = drift * max(n_frames - 1, 0)  # where the drift takes the last frame
    lo = np.array([margin, margin], dtype=float) - np.minimum(shift, 0)
    hi = np.array(shape[:2], dtype=float) - margin - 1 - np.maximum(shift, 0)
    if min_separation is None:
        min_separation = 16 + 4 * np.sqrt(2 * diffusion)
    cells = np.floor((hi - lo) / min_separation).astype(int) + 1
    if cells.prod() < n_particles or np.any(hi <= lo):
        raise ValueError(f"{n_particles} particles do not fit in shape {shape} at "
                         f"min_separation {min_separation:g}"
                         + (f" and the drift's shift of ({shift[0]:.3g}, {shift[1]:.3g}) px "
                            "over the frames" if shift.any() else "")
                         + "; use fewer particles or a larger shape"
                         + (", or less drift or fewer frames." if shift.any() else "."))
    chosen = rng.choice(cells.prod(), n_particles, replace=False)
    grid = np.stack(np.unravel_index(chosen, cells), axis=1) * min_separation + lo
    # jitter the grid, keeping starts at least 16 px apart (locate(.., 11) separates at 12)
    jitter = max(min_separation - 16, 0) / 2
    pos = np.clip(grid + rng.uniform(-jitter, jitter, grid.shape), lo, hi)
    steps = rng.normal(0, np.sqrt(2 * diffusion), (n_frames, n_particles, 2))
    steps[0] = 0
    track = np.empty((n_frames, n_particles, 2))
    for t in range(n_frames):
        pos = pos + steps[t]
        # reflect at the margins so every particle stays fully in view
        pos = np.where(pos < lo, 2 * lo - pos, pos)
        pos = np.where(pos > hi, 2 * hi - pos, pos)
        track[t] = pos + t * drift
    return pd.DataFrame({
        "frame": np.repeat(np.arange(n_frames), n_particles),
        "particle": np.tile(np.arange(n_particles), n_frames),
        "y": track[:, :, 0].ravel(),
        "x": track[:, :, 1].ravel(),
    })


def draw_spots(shape, positions, *, size=2.0, amplitude=200.0, background=20.0, noise=0.0,
               dtype=np.uint8, seed=0):
    """One image of Gaussian spots (evaluated at pixel centres) plus noise.

    Parameters
    ----------
    shape : tuple of int
        Image shape (y, x).
    positions : (N, 2) array
        Spot centres (y, x), pixel 0 centred at 0.
    size : float, optional
        Gaussian sigma in px (trackpy's ``size``, the radius of gyration). Default 2.
    amplitude, background : float, optional
        Peak height and constant background, in output units.
    noise : float, optional
        Standard deviation of additive Gaussian noise. Default 0.
    dtype : dtype, optional
        Output dtype; integer outputs are rounded and clipped to their range.
    seed : int, optional
        Random seed for the noise.

    Returns
    -------
    ndarray
    """
    image = np.full(shape, float(background))
    radius = int(np.ceil(4 * size))
    for y, x in np.asarray(positions, dtype=float).reshape(-1, 2):
        y0, y1 = max(int(y) - radius, 0), min(int(y) + radius + 2, shape[0])
        x0, x1 = max(int(x) - radius, 0), min(int(x) + radius + 2, shape[1])
        if y0 >= y1 or x0 >= x1:
            continue
        yy = np.arange(y0, y1)[:, None] - y
        xx = np.arange(x0, x1)[None, :] - x
        image[y0:y1, x0:x1] += amplitude * np.exp(-(yy ** 2 + xx ** 2) / (2 * size ** 2))
    if noise:
        image += np.random.default_rng(seed).normal(0, noise, shape)
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        image = np.clip(np.round(image), info.min, info.max)
    return image.astype(dtype)


class _RenderedMovie:
    """Renders frame t on access: a long movie costs no memory."""

    def __init__(self, truth, shape, size, amplitude, background, noise, dtype, seed):
        self._positions = [g[["y", "x"]].to_numpy() for _, g in truth.groupby("frame")]
        self._kw = dict(size=size, amplitude=amplitude, background=background, noise=noise,
                        dtype=dtype)
        self._shape = tuple(shape)
        self._seed = seed

    def __len__(self):
        return len(self._positions)

    def __getitem__(self, t):
        return draw_spots(self._shape, self._positions[t], seed=(self._seed, t), **self._kw)


def brownian_movie(n_particles=30, n_frames=50, *, shape=(256, 256), size=2.0, diffusion=1.0,
                   amplitude=None, background=None, noise=None, dtype=np.uint8,
                   drift=(0.0, 0.0), seed=0):
    """A lazy movie of Brownian particles and its ground truth.

    The defaults suit ``locate(frame, 11, minmass=500)`` (or diameter 9): real
    spots have a mass near 1900 in uint8, noise maxima below 150; every
    particle is found within a few hundredths of a pixel, and
    ``link(features, 5)`` recovers every trajectory.

    Parameters
    ----------
    n_particles, n_frames : int, optional
        Default 30 particles, 50 frames.
    shape : tuple, optional
        Frame shape. Default (256, 256).
    size : float, optional
        Spot sigma in px. Default 2.
    diffusion : float, optional
        px**2 per frame. Default 1.
    amplitude, background, noise : float, optional
        Default: 70%, 10% and 2% of the dtype's range (1.0 for floats).
    dtype : dtype, optional
        Default uint8.
    drift : (float, float), optional
        Constant drift (y, x), px per frame (see :func:`brownian_trajectories`).
    seed : int, optional
        Random seed.

    Returns
    -------
    frames : FrameSequence
        Lazy frames (rendered on access), each with its ``frame_no``.
    truth : DataFrame
        ``frame, particle, y, x`` of every particle in every frame.
    """
    from .frames import open as open_frames

    top = 1.0 if np.dtype(dtype).kind == "f" else float(np.iinfo(dtype).max)
    amplitude = 0.7 * top if amplitude is None else amplitude
    background = 0.1 * top if background is None else background
    noise = 0.02 * top if noise is None else noise
    truth = brownian_trajectories(n_particles, n_frames, shape=shape, diffusion=diffusion,
                                  drift=drift, seed=seed)
    movie = _RenderedMovie(truth, shape, size, amplitude, background, noise, dtype, seed)
    frames = open_frames(movie)
    frames.source = (f"synthetic Brownian movie ({n_particles} particles, {n_frames} frames, "
                     f"seed {seed})")
    return frames, truth


class _PoissonMovie(_RenderedMovie):
    """Frame t: Gaussian spots on a background, each pixel a Poisson count of that mean."""

    def __init__(self, truth, n_frames, shape, size, amplitude, background, dtype, seed):
        super().__init__(truth, shape, size, amplitude, background, 0.0, dtype, seed)
        frame = truth["frame"].to_numpy()
        pos = truth[["y", "x"]].to_numpy()
        self._positions = [pos[frame == t] for t in range(n_frames)]

    def __getitem__(self, t):
        mean = draw_spots(self._shape, self._positions[t], size=self._kw["size"],
                          amplitude=self._kw["amplitude"], background=self._kw["background"],
                          dtype=float)
        counts = np.random.default_rng((self._seed, t)).poisson(mean)
        info = np.iinfo(self._kw["dtype"])
        return np.clip(counts, info.min, info.max).astype(self._kw["dtype"])


def isbi_scenario(kind, density, snr, *, n_frames=100, shape=(512, 512), seed=0):
    """A movie of the ISBI 2012 particle tracking challenge's scenarios, and its truth.

    Chenouard et al., Nature Methods 11, 281 (2014): ``kind`` 'vesicle'
    (Brownian motion; density 'low'/'mid'/'high' = 100/500/1000 particles)
    or 'microtubule' (directed motion; 60/400/700), SNR 1, 2, 4 or 7 (any
    positive number works), 512 x 512 px, 100 frames. The motion model,
    appearing/disappearing particles, spot size and noise are described in
    :mod:`streamtrack._isbi`: Gaussian spots of sigma 1.5 px, Poisson noise
    on a background of 10 photons, ``SNR = A / sqrt(10 + A)`` for a peak
    ``A`` photons above the background (the noise's standard deviation at
    the peak, as in the challenge); exactly the density's number of
    particles in every frame (uint8 frames).

    Parameters
    ----------
    kind : {'vesicle', 'microtubule'}
    density : {'low', 'mid', 'high'} or int
        Or a number of particles per frame.
    snr : float
    n_frames : int, optional
    shape : tuple of int, optional
    seed : int, optional

    Returns
    -------
    frames : FrameSequence
        Lazy uint8 frames (rendered on access), each with its ``frame_no``.
    truth : DataFrame
        ``frame, particle, y, x``; write it as a GEFF with
        ``streamtrack.exchange.to_geff(truth, path)``.

    Examples
    --------
    >>> frames, truth = isbi_scenario('microtubule', 20, 4, n_frames=3, shape=(64, 64))
    >>> len(frames), frames[0].shape, frames[0].dtype.name, len(truth)
    (3, (64, 64), 'uint8', 60)
    """
    from . import _isbi
    from .frames import open as open_frames

    if not snr > 0:
        raise ValueError(f"snr must be > 0, not {snr}")
    n = _isbi.n_particles_for(kind, density)
    truth = _isbi.isbi_trajectories(kind, n, n_frames, shape=shape, seed=seed)
    amplitude = _isbi.amplitude_for_snr(snr)
    movie = _PoissonMovie(truth, n_frames, shape, _isbi.SPOT_SIGMA, amplitude,
                          _isbi.BACKGROUND, np.uint8, seed)
    frames = open_frames(movie)
    frames.source = (f"synthetic ISBI 2012 {kind} scenario ({n} particles, SNR {snr:g}, "
                     f"{n_frames} frames, seed {seed})")
    return frames, truth


def isbi_locate_settings(snr, diameter=7):
    """``locate`` settings for an ISBI scenario at ``snr``, from the spot and noise model only.

    ``minmass`` is the larger of half the mass ``locate`` measures on one
    noise-free spot, and the 99th percentile of the masses it finds in a
    frame of pure background noise (a fixed seed): not tuned on any truth.
    ``separation`` 4 px: spots of sigma 1.5 px closer than that do not form
    two maxima anyway (the default, ``diameter + 1``, would merge some 1 in
    3 spots at the high densities).

    Returns
    -------
    dict
        ``{'diameter': ..., 'minmass': ..., 'separation': 4}``.
    """
    import warnings

    from . import _isbi
    from ._feature import locate

    amplitude = _isbi.amplitude_for_snr(snr)
    spot = draw_spots((31, 31), [(15.3, 15.6)], size=_isbi.SPOT_SIGMA, amplitude=amplitude,
                      background=_isbi.BACKGROUND, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = locate(spot, diameter, preprocess=True)
        noise = np.random.default_rng(12345).poisson(_isbi.BACKGROUND, (256, 256))
        blanks = locate(noise.astype(np.uint8), diameter)
    spot_mass = float(found["mass"].max()) if len(found) else 0.0
    noise_mass = float(np.percentile(blanks["mass"], 99)) if len(blanks) else 0.0
    return {"diameter": diameter, "minmass": max(0.5 * spot_mass, noise_mass), "separation": 4}


def _match(found, truth, max_distance):
    """One-to-one matching of true positions to features (assignment, capped);
    returns (truth index, feature index, distance) of the matched pairs."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    if len(found) == 0 or len(truth) == 0:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    dist = cdist(truth, found)
    rows, cols = linear_sum_assignment(np.where(dist <= max_distance, dist, 1e9))
    ok = dist[rows, cols] <= max_distance
    return rows[ok], cols[ok], dist[rows, cols][ok]


def isolated_particles(truth, separation):
    """The true particles never closer than ``separation`` to another one."""
    from scipy.spatial import cKDTree

    crowded = set()
    for _, frame in truth.groupby("frame"):
        pos = frame[["y", "x"]].to_numpy()
        for i, j in cKDTree(pos).query_pairs(separation):
            crowded.update((int(frame["particle"].iloc[i]), int(frame["particle"].iloc[j])))
    return set(truth["particle"].unique().tolist()) - crowded


def score(found, truth, diameter):
    """How well linked features ``found`` recover the ``truth`` of a synthetic movie.

    Features are matched to true positions one to one in every frame (within
    ``diameter / 2``); a true trajectory is recovered whole when one id marks
    it in every frame and nothing else carries that id.

    Parameters
    ----------
    found : DataFrame
        ``frame, y, x, particle`` (e.g. a linked store's ``dump()``).
    truth : DataFrame
        ``frame, particle, y, x`` from :func:`brownian_movie`.
    diameter : float
        The feature diameter used to locate.

    Returns
    -------
    dict
        ``n_true``, ``n_found``, ``matched``, ``spurious``, ``rms_error``,
        ``max_error`` (px), ``whole`` (set of true ids recovered whole),
        ``isolated`` (true ids never closer than ``diameter + 1`` to another:
        only these can be expected whole, closer spots merge).

    Examples
    --------
    >>> frames, truth = brownian_movie(n_particles=3, n_frames=2, seed=0)
    >>> s = score(truth, truth, 11)
    >>> s['matched'] == s['n_true'] == 6, s['spurious'], s['whole'] == {0, 1, 2}
    (True, 0, True)
    """
    errors, pairs = [], []
    for frame_no, true_frame in truth.groupby("frame"):
        got = found[found["frame"] == frame_no]
        ti, fi, dist = _match(got[["y", "x"]].to_numpy(), true_frame[["y", "x"]].to_numpy(),
                              diameter / 2)
        errors.extend(dist)
        pairs.append(np.column_stack([true_frame["particle"].to_numpy()[ti],
                                      got["particle"].to_numpy()[fi]]).astype(np.int64))
    errors = np.asarray(errors, dtype=float)
    pairs = np.concatenate(pairs) if pairs else np.empty((0, 2), np.int64)
    n_frames = truth["frame"].nunique()
    whole = set()
    for particle in truth["particle"].unique().tolist():
        ids = pairs[pairs[:, 0] == particle, 1]
        if len(ids) == n_frames and len(set(ids.tolist())) == 1 and \
                (pairs[pairs[:, 1] == ids[0], 0] == particle).all():
            whole.add(int(particle))
    return {"n_true": len(truth), "n_found": len(found), "matched": len(errors),
            "spurious": len(found) - len(errors),
            "rms_error": float(np.sqrt(np.mean(errors ** 2))) if len(errors) else float("nan"),
            "max_error": float(errors.max()) if len(errors) else float("nan"),
            "whole": whole, "isolated": isolated_particles(truth, diameter + 1)}
