"""Predictors: guess where particles will be, so fast or drifting ones link.

Same hook and same behaviour as trackpy's ``trackpy.predict``: a predictor is
``predictor(t, particles) -> positions``, where each particle has ``.pos``,
``.t`` (frame last seen) and ``.track.id``. The classes observe every linked
frame through their ``link_df_iter`` / ``link_df`` wrappers, which run
streamtrack's linker.

Examples
--------
>>> import pandas as pd, streamtrack as tp
>>> frames = [pd.DataFrame({'frame': [t, t], 'y': [6.0 * t, 50 + 6.0 * t], 'x': [0.0, 0.0]})
...           for t in range(4)]
>>> pred = DriftPredict(initial_guess=[6, 0], pos_columns=['y', 'x'])
>>> linked = pd.concat(pred.link_df_iter(frames, 3))
>>> linked['particle'].nunique()
2
"""
import functools
import itertools
import warnings
from collections import deque

import numpy as np
import pandas as pd
from scipy.interpolate import NearestNDInterpolator


def predictor(predict_func):
    """Vectorise a one-particle predictor ``f(t, particle) -> position``."""
    @functools.wraps(predict_func)
    def predict_all(t1, particles):
        return [predict_func(t1, p) for p in particles]
    return predict_all


def _positions_and_times(particles):
    particles = list(particles)
    pos = np.array([p.pos for p in particles], dtype=float)
    times = np.array([p.t for p in particles], dtype=float)
    return pos, times


class NullPredict:
    """Predict that particles do not move (the linker's default)."""

    pos_columns = None
    t_column = "frame"

    def wrap(self, linking_fcn, *args, **kw):
        """Run ``linking_fcn(frames, ..., predictor=self.predict)``, observing
        each linked frame. ``linking_fcn`` must yield one DataFrame per frame."""
        if getattr(self, "_already_linked", False):
            warnings.warn("Perform tracking with a fresh predictor instance to avoid surprises.",
                          stacklevel=2)
        self._already_linked = True
        args = list(args)
        frames = iter(args[0])
        first = next(frames, None)
        if first is None:
            return
        args[0] = itertools.chain([first], frames)
        if self.pos_columns is not None:
            given = kw.get("pos_columns")
            if given is not None and list(given) != list(self.pos_columns):
                raise ValueError("pos_columns given to the linker conflict with the "
                                 "pos_columns this predictor was made with.")
        else:
            self.pos_columns = kw.get("pos_columns") or (
                ["z", "y", "x"] if "z" in first.columns else ["y", "x"])
        kw["pos_columns"] = self.pos_columns
        kw["predictor"] = self.predict
        self.t_column = kw.get("t_column", "frame")
        for frame in linking_fcn(*args, **kw):
            self.observe(frame)
            yield frame

    def link_df_iter(self, *args, **kw):
        """:func:`streamtrack.link_df_iter` with this predictor."""
        from .linking import link_df_iter
        return self.wrap(link_df_iter, *args, **kw)

    def link_df(self, features, *args, **kw):
        """Link one DataFrame of all frames with this predictor (via link_df_iter)."""
        from .linking import link_df_iter
        t_column = kw.setdefault("t_column", "frame")
        frames = (frame for _, frame in features.groupby(t_column))
        return pd.concat(self.wrap(link_df_iter, frames, *args, **kw))

    def observe(self, frame):
        """Look at the latest linked frame (to update the prediction)."""

    def predict(self, t1, particles):
        pos, _ = _positions_and_times(particles)
        return pos


class _RecentVelocityPredict(NullPredict):
    """Velocities from the displacement of each particle over the last span+1 frames."""

    def __init__(self, span=1, pos_columns=None):
        self.recent_frames = deque([], span + 1)
        self.pos_columns = pos_columns

    def state(self):
        return list(self.recent_frames)

    def _velocities(self, frame):
        if self.pos_columns is None:
            raise AttributeError("Give pos_columns when making the predictor if you do not "
                                 "link through its link_df()/link_df_iter() methods.")
        indexed = frame.set_index("particle")
        self.recent_frames.append(indexed)
        if len(self.recent_frames) == 1:
            self.recent_frames.append(indexed)
            dt = 1.0
        else:
            dt = float(self.recent_frames[-1][self.t_column].to_numpy()[0]
                       - self.recent_frames[0][self.t_column].to_numpy()[0])
        last, first = self.recent_frames[-1], self.recent_frames[0]
        common = last.index.intersection(first.index)
        positions = last.loc[common, self.pos_columns]
        vels = (positions - first.loc[common, self.pos_columns]) / dt
        return positions, vels


class NearestVelocityPredict(_RecentVelocityPredict):
    """Predict from the velocity of the nearest recently tracked particle.

    Parameters
    ----------
    initial_guess_positions, initial_guess_vels : (N, d) arrays, optional
        A velocity field to use for the first frame.
    pos_columns : list of str, optional
        Coordinate names matching the guess columns (required with a guess).
    span : int, optional
        Velocities from the last span+1 frames. Default 1.
    """

    def __init__(self, initial_guess_positions=None, initial_guess_vels=None,
                 pos_columns=None, span=1):
        if initial_guess_positions is not None and pos_columns is None:
            raise ValueError("Give pos_columns (e.g. ['y', 'x']) with an initial guess: "
                             "the order of its columns is ambiguous.")
        super().__init__(span=span, pos_columns=pos_columns)
        self.use_initial_guess = initial_guess_positions is not None
        if self.use_initial_guess:
            self.interpolator = NearestNDInterpolator(np.asarray(initial_guess_positions),
                                                      np.asarray(initial_guess_vels))

    def observe(self, frame):
        positions, vels = self._velocities(frame)
        if self.use_initial_guess:
            self.use_initial_guess = False
        elif len(positions):
            self.interpolator = NearestNDInterpolator(positions.to_numpy(), vels.to_numpy())
        else:
            warnings.warn("Could not generate velocity field for prediction: no tracks",
                          stacklevel=2)
            self.interpolator = lambda x: np.zeros_like(np.asarray(x, dtype=float))

    def predict(self, t1, particles):
        pos, times = _positions_and_times(particles)
        return pos + self.interpolator(pos) * (t1 - times)[:, None]


class DriftPredict(_RecentVelocityPredict):
    """Predict from the mean velocity of all particles (a uniform drift).

    Parameters
    ----------
    initial_guess : array of length d, optional
        Velocity for the first frame; default zero.
    pos_columns : list of str, optional
        Coordinate names matching ``initial_guess`` (required with a guess).
    span : int, optional
        Velocities from the last span+1 frames. Default 1.
    """

    def __init__(self, initial_guess=None, pos_columns=None, span=1):
        if initial_guess is not None and pos_columns is None:
            raise ValueError("Give pos_columns (e.g. ['y', 'x']) with an initial guess: "
                             "the order of its elements is ambiguous.")
        super().__init__(pos_columns=pos_columns, span=span)
        self.initial_guess = initial_guess
        self.vel = None

    def observe(self, frame):
        _, vels = self._velocities(frame)
        if self.initial_guess is not None:
            self.vel = np.asarray(self.initial_guess, dtype=float)
            self.initial_guess = None
        elif len(vels):
            self.vel = vels.mean().to_numpy()
        # with no tracked particle, keep the previous drift

    def predict(self, t1, particles):
        pos, times = _positions_and_times(particles)
        vel = np.zeros(pos.shape[1]) if self.vel is None else self.vel
        return pos + vel[None, :] * (t1 - times)[:, None]
