"""The scenarios of the ISBI 2012 particle tracking challenge: trajectories and settings.

Chenouard et al., "Objective comparison of particle tracking methods",
Nature Methods 11, 281-289 (2014), Table 2: 512 x 512 px, 100 frames, SNR
1, 2, 4 and 7; scenario 1 "vesicle" (Brownian motion) at low/mid/high
density of 100/500/1000 particles per frame on average, scenario 2
"microtubule" (directed motion) at 60/400/700. This module holds the
motion models and the numbers; :func:`streamtrack.synthetic.isbi_scenario`
renders the movie (it imports this module, never the other way round).

What is modelled, kept simple on purpose:

- **count**: exactly ``n_particles`` particles in every frame. A particle
  disappears when it dies (probability ``1 / LIFETIME`` per frame, a mean
  lifetime of 50 frames) or when its centre leaves the field (the image
  minus a border of ``MARGIN`` px, so a spot is never cut by the edge);
  each one that disappears is replaced, in the next frame, by a new particle
  (a new id) at a uniformly random position in the field. A trajectory in
  the truth is therefore one uninterrupted run of frames (no gaps);
- **vesicle**: Brownian motion, a diffusion coefficient per particle drawn
  uniformly in ``VESICLE_DIFFUSION`` px**2/frame (steps of standard
  deviation ``sqrt(2 D)`` per axis);
- **microtubule**: directed motion, a speed per particle uniform in
  ``MICROTUBULE_SPEED`` px/frame in a uniformly random direction, which
  turns slowly (a random walk of the angle, ``TURN`` rad per frame) plus a
  small positional jitter (``JITTER`` px per axis per frame);
- **spots**: isotropic Gaussians of sigma ``SPOT_SIGMA`` px (the challenge's
  microtubule spots were elongated along the motion; not modelled);
- **noise**: Poisson (shot) noise on a background of ``BACKGROUND``
  photons; the SNR is as in the challenge, the spot's peak intensity above
  the background divided by the standard deviation of the noise at the
  peak, ``SNR = A / sqrt(BACKGROUND + A)``, which :func:`amplitude_for_snr`
  solves for the peak amplitude ``A``.
"""
import numpy as np
import pandas as pd

#: scenario -> density name -> mean number of particles per frame (Table 2)
DENSITIES = {
    "vesicle": {"low": 100, "mid": 500, "high": 1000},
    "microtubule": {"low": 60, "mid": 400, "high": 700},
}
SNRS = (1, 2, 4, 7)
SHAPE = (512, 512)
N_FRAMES = 100
SPOT_SIGMA = 1.5
BACKGROUND = 10.0
MARGIN = 5.0
LIFETIME = 50.0
VESICLE_DIFFUSION = (0.5, 1.5)
MICROTUBULE_SPEED = (2.0, 5.0)
TURN = 0.05
JITTER = 0.3


def amplitude_for_snr(snr, background=BACKGROUND):
    """Peak amplitude ``A`` (photons above background) with ``A / sqrt(background + A) = snr``.

    >>> round(amplitude_for_snr(7), 2)
    57.52
    """
    s2 = float(snr) ** 2
    return float((s2 + np.sqrt(s2 * s2 + 4 * s2 * background)) / 2)


def n_particles_for(kind, density):
    """The number of particles of ``kind`` at ``density`` ('low', 'mid', 'high' or a number)."""
    if kind not in DENSITIES:
        raise ValueError(f"unknown ISBI scenario {kind!r}; use one of {', '.join(DENSITIES)}")
    if isinstance(density, str):
        if density not in DENSITIES[kind]:
            raise ValueError(f"unknown density {density!r}; use one of "
                             f"{', '.join(DENSITIES[kind])} or a number of particles")
        return DENSITIES[kind][density]
    if int(density) < 0:
        raise ValueError(f"density must be >= 0 particles, not {density}")
    return int(density)


def _new_motion(kind, n, rng):
    """Per-particle motion parameters of ``n`` new particles: (D, angle, speed)."""
    if kind == "vesicle":
        return rng.uniform(*VESICLE_DIFFUSION, n), np.zeros(n), np.zeros(n)
    return np.zeros(n), rng.uniform(0, 2 * np.pi, n), rng.uniform(*MICROTUBULE_SPEED, n)


def isbi_trajectories(kind, n_particles, n_frames=N_FRAMES, *, shape=SHAPE, seed=0):
    """Trajectories of an ISBI scenario (see the module's notes for the model).

    Returns
    -------
    DataFrame
        ``frame, particle, y, x`` (``particle`` int64, ids never reused),
        ``n_particles`` rows per frame, sorted by frame then particle.
    """
    if kind not in DENSITIES:
        raise ValueError(f"unknown ISBI scenario {kind!r}; use one of {', '.join(DENSITIES)}")
    rng = np.random.default_rng(seed)
    lo = np.array([MARGIN, MARGIN])
    hi = np.array(shape[:2], dtype=float) - 1 - MARGIN
    if np.any(hi <= lo):
        raise ValueError(f"shape {shape} leaves no field inside the {MARGIN:g} px border")
    n = int(n_particles)
    pos = rng.uniform(lo, hi, (n, 2))
    ids = np.arange(n, dtype=np.int64)
    next_id = n
    diffusion, angle, speed = _new_motion(kind, n, rng)
    frames, parts, ys, xs = [], [], [], []
    for t in range(n_frames):
        frames.append(np.full(n, t, dtype=np.int64))
        parts.append(ids.copy())
        ys.append(pos[:, 0].copy())
        xs.append(pos[:, 1].copy())
        if kind == "vesicle":
            pos = pos + rng.normal(0, 1, (n, 2)) * np.sqrt(2 * diffusion)[:, None]
        else:
            angle = angle + rng.normal(0, TURN, n)
            velocity = speed[:, None] * np.column_stack([np.sin(angle), np.cos(angle)])
            pos = pos + velocity + rng.normal(0, JITTER, (n, 2))
        gone = (rng.random(n) < 1 / LIFETIME) | np.any((pos < lo) | (pos > hi), axis=1)
        k = int(gone.sum())
        if k:
            pos[gone] = rng.uniform(lo, hi, (k, 2))
            ids[gone] = np.arange(next_id, next_id + k)
            next_id += k
            diffusion[gone], angle[gone], speed[gone] = _new_motion(kind, k, rng)
    if not n:
        return pd.DataFrame({"frame": np.empty(0, np.int64), "particle": np.empty(0, np.int64),
                             "y": np.empty(0), "x": np.empty(0)})
    table = pd.DataFrame({"frame": np.concatenate(frames), "particle": np.concatenate(parts),
                          "y": np.concatenate(ys), "x": np.concatenate(xs)})
    return table.sort_values(["frame", "particle"], kind="stable").reset_index(drop=True)


def suggested_search_range(kind):
    """The largest displacement per frame a linker must allow in ``kind``.

    vesicle: 6 px (the 99.9th percentile of a Brownian step at the largest D,
    ``sqrt(2 * 1.5) * 3.7``); microtubule: 7 px (the top speed, 5 px/frame,
    plus jitter and turning).
    """
    return {"vesicle": 6.0, "microtubule": 7.0}[kind]
