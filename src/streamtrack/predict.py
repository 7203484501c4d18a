"""Predictors: guess where particles will be, so fast or drifting ones link.

Same hook and same behaviour as trackpy's ``trackpy.predict``: a predictor is
``predictor(t, particles) -> positions``, where each particle has ``.pos``,
``.t`` (frame last seen) and ``.track.id``. The classes observe every linked
frame through their ``link_df_iter`` / ``link_df`` wrappers, which run
streamtrack's linker; as in trackpy, ``memory`` counts the frames delivered
(frames 0, 25, 75 are consecutive) while velocities use frame numbers.
``instrumented()`` records what a predictor saw and predicted.

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


@predictor
def null_predict(t1, particle):
    """Predict that a particle stays where it was."""
    return particle.pos


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
        from .linking._api import _records_processed

        args = list(args)
        if _records_processed(args[0]):
            # pass the store itself: the linker reads which frames batch
            # processed, and counts those without features too
            numbers = list(args[0].frames)
            if not numbers:
                return
            first = args[0].get(numbers[0])
        else:
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
        """Link one DataFrame of all frames with this predictor (via link_df_iter).

        As trackpy's: the frames present are delivered one by one, so
        ``memory`` counts them, not frame numbers.
        """
        from .linking import link_df_iter
        t_column = kw.setdefault("t_column", "frame")
        frames = (frame for _, frame in features.groupby(t_column))
        return pd.concat(self.wrap(link_df_iter, frames, *args, **kw))

    def observe(self, frame):
        """Look at the latest linked frame (to update the prediction)."""

    def state(self):
        """The predictor's internal state, for diagnostics (None here)."""
        return None

    def predict(self, t1, particles):
        """Where ``particles`` will be at frame ``t1``: where they were."""
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
        # in the newest frame's row order: nearest-neighbour ties go the same way
        common = last.index[last.index.isin(first.index)]
        positions = last.loc[common, self.pos_columns]
        vels = (positions - first.loc[common, self.pos_columns]) / dt
        known = positions.notna().all(axis=1) & vels.notna().all(axis=1)
        return positions[known], vels[known]


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

    def state(self):
        return {"recent_frames": list(self.recent_frames),
                "interpolator": getattr(self, "interpolator", None),
                "using_initial_guess": self.use_initial_guess}

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


class ChannelPredict(_RecentVelocityPredict):
    """Predict from the velocity profile across a channel (2-D flow).

    Particles are binned by their spanwise coordinate (across the flow) and
    the streamwise velocity averaged per bin; a particle is predicted to move
    with the velocity of the nearest bin centre (ties to the lower bin; beyond
    the outer bins, their velocity).

    Parameters
    ----------
    bin_size : float
        Width of the spanwise bins, in position units.
    flow_axis : str, optional
        Name of the coordinate along which particles flow. Default 'x'.
    minsamples : int, optional
        Fewest particles in a bin for its mean velocity to be used. Default 20.
    initial_profile_guess : (N, 2) array, optional
        ``(spanwise coordinate, streamwise velocity)`` samples used for the
        first frame; default zero velocity.
    pos_columns : list of str, optional
        Coordinate names; needed only when not linking through
        :meth:`link_df` / :meth:`link_df_iter`.
    span : int, optional
        Velocities from the last span+1 frames. Default 1.

    Raises
    ------
    ValueError
        (when linking) positions that are not 2-D, or ``flow_axis`` not one
        of ``pos_columns``.
    """

    def __init__(self, bin_size, flow_axis="x", minsamples=20, initial_profile_guess=None,
                 pos_columns=None, span=1):
        super().__init__(pos_columns=pos_columns, span=span)
        self.bin_size = bin_size
        self.flow_axis = flow_axis
        self.minsamples = minsamples
        self.initial_profile_guess = initial_profile_guess
        self.interpolator = None

    def _axes(self):
        if self.pos_columns is None:
            raise AttributeError("Give pos_columns when making the predictor if you do not "
                                 "link through its link_df()/link_df_iter() methods.")
        columns = list(self.pos_columns)
        if len(columns) != 2:
            raise ValueError(f"ChannelPredict works in 2-D only; pos_columns is {columns}.")
        if self.flow_axis not in columns:
            raise ValueError(f"flow_axis {self.flow_axis!r} is not one of pos_columns "
                             f"{columns}.")
        flow = columns.index(self.flow_axis)
        return flow, 1 - flow

    def observe(self, frame):
        flow, across = self._axes()
        positions, vels = self._velocities(frame)
        if self.initial_profile_guess is not None:
            guess = np.asarray(self.initial_profile_guess, dtype=float)
            centres, speeds = guess[:, 0], guess[:, 1]
            self.initial_profile_guess = None  # the first frame only
        else:
            spanwise = positions[self.pos_columns[across]]
            bins = spanwise - spanwise % self.bin_size + self.bin_size / 2.0
            grouped = vels[self.flow_axis].groupby(bins.to_numpy())
            counts, means = grouped.count(), grouped.mean()
            profile = means[counts >= self.minsamples]
            centres, speeds = profile.index.to_numpy(float), profile.to_numpy(float)
        if len(centres):
            order = np.argsort(centres, kind="stable")
            centres, speeds = centres[order], speeds[order]
            self.interpolator = functools.partial(_profile_velocity, centres, speeds,
                                                  flow, across)
        else:
            warnings.warn("Could not generate velocity field for prediction: not enough "
                          "tracks or bin_size too small", stacklevel=2)
            self.interpolator = lambda x: np.zeros_like(np.asarray(x, dtype=float))

    def state(self):
        return {"recent_frames": list(self.recent_frames),
                "interpolator": self.interpolator,
                "initial_profile_guess": self.initial_profile_guess}

    def predict(self, t1, particles):
        pos, times = _positions_and_times(particles)
        return pos + self.interpolator(pos) * (t1 - times)[:, None]


def _profile_velocity(centres, speeds, flow, across, positions):
    """Velocities at ``positions``: the streamwise speed of the nearest bin centre."""
    positions = np.asarray(positions, dtype=float)
    midpoints = (centres[1:] + centres[:-1]) / 2
    nearest = np.searchsorted(midpoints, positions[:, across], side="left")
    velocity = np.zeros_like(positions)
    velocity[:, flow] = speeds[nearest]
    return velocity


def instrumented(limit=None):
    """Class decorator: make a predictor record what it saw and predicted.

    ``instrumented()(DriftPredict)(...)`` links like ``DriftPredict(...)``;
    its ``dump()`` then lists, per prediction, ``t1`` (the frame predicted
    for), ``state`` (the predictor's :meth:`state` then) and ``particledf``:
    the particles' positions, frame last seen, ``particle``, the predicted
    positions (``<col>_pred``) and where they were found (``<col>_act``).

    Parameters
    ----------
    limit : int, optional
        Keep only the most recent ``limit`` frames. Default: keep all.
    """
    def decorate(cls):
        class InstrumentedPredictor(cls):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                self.diag_observations = deque([], maxlen=limit)
                self.diag_predictions = deque([], maxlen=limit)

            def observe(self, frame):
                self.diag_observations.append(frame)
                return super().observe(frame)

            def predict(self, t1, particles):
                particles = list(particles)
                seen = pd.DataFrame(np.array([p.pos for p in particles]),
                                    columns=self.pos_columns)
                seen[self.t_column] = [p.t for p in particles]
                seen["particle"] = np.array([p.track.id for p in particles], dtype=int)
                prediction = super().predict(t1, particles)
                predicted = pd.DataFrame(prediction, columns=self.pos_columns)
                self.diag_predictions.append({"t1": t1,
                                              "particledf": seen.join(predicted,
                                                                      rsuffix="_pred"),
                                              "state": self.state()})
                return prediction

            def dump(self):
                """One dict per prediction (oldest first): t1, state, particledf."""
                results = []
                # the newest observation is the outcome of the newest prediction;
                # the first frame's observation has no prediction and drops out
                for observed, record in zip(reversed(self.diag_observations),
                                            reversed(self.diag_predictions)):
                    record = dict(record)
                    actual = observed.set_index("particle")[self.pos_columns]
                    record["particledf"] = record["particledf"].join(
                        actual, on="particle", rsuffix="_act")
                    results.append(record)
                return results[::-1]

        InstrumentedPredictor.__name__ = f"Instrumented{cls.__name__}"
        InstrumentedPredictor.__qualname__ = InstrumentedPredictor.__name__
        return InstrumentedPredictor
    return decorate
