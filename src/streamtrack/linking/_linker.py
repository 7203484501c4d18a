"""The streaming linker: particle state from frame to frame, as arrays.

One ``Linker`` holds the particles that can still be linked (those of the last
frame, plus those lost within ``memory`` frames), their ids and the frame each
was last seen in. ``step(t, coords)`` links the next frame and returns its ids.
Everything is per instance: two linkers in one process never share counters.

Memory runs on a clock: the frame number (``memory_counts='frame_numbers'``,
as trackpy's ``link``, which fills missing frame numbers with empty frames) or
the number of steps (``'steps'``, as trackpy's ``link_iter``/``link_df_iter``,
which count the frames they are given).
"""
import numbers

import numpy as np
from scipy.spatial import cKDTree

from .. import _fastpath
from ..exceptions import SubnetOversizeException
from ._solver import _components, solve_adaptive, solve_subnet

LINK_STRATEGIES = ("auto", "recursive", "nonrecursive", "numba", "hybrid", "drop")
MEMORY_COUNTS = ("frame_numbers", "steps")
MAX_NEIGHBORS = 10  # candidates per destination, as trackpy's Linker.MAX_NEIGHBORS


class _Track:
    __slots__ = ("id",)

    def __init__(self, track_id):
        self.id = track_id


class _Particle:
    """What trackpy's predictors see: ``.pos``, ``.t`` and ``.track.id``."""

    __slots__ = ("pos", "t", "track")

    def __init__(self, pos, t, track_id):
        self.pos = pos
        self.t = t
        self.track = _Track(track_id)


class _SubnetPoint:
    """What a trackpy-style subnet linker callable sees: ``forward_cands``."""

    __slots__ = ("index", "forward_cands", "__weakref__")

    def __init__(self, index):
        self.index = index
        self.forward_cands = []


def _distance_metric_class():
    """scikit-learn's ``DistanceMetric`` (its module moved in 1.0), or None."""
    try:
        from sklearn.metrics import DistanceMetric
    except ImportError:
        try:
            from sklearn.neighbors import DistanceMetric
        except ImportError:
            return None
    return DistanceMetric


def _is_distance_metric(dist_func):
    metric_class = _distance_metric_class() if dist_func is not None else None
    return metric_class is not None and isinstance(dist_func, metric_class)


def _check_range(search_range):
    values = np.atleast_1d(np.asarray(search_range, dtype=float))
    if values.ndim != 1 or not np.all(np.isfinite(values)) or not np.all(values > 0):
        raise ValueError(f"search_range must be a positive number (or one per axis), "
                         f"got {search_range!r}.")
    return values


class Linker:
    """Link frames of coordinates one at a time (trackpy's algorithm, as arrays).

    Parameters
    ----------
    search_range : float or tuple
        Largest displacement between linked positions; a tuple gives one per
        axis (coordinates are rescaled so the range becomes 1).
    memory : int, optional
        A particle missing for at most this many frames keeps its id (frames
        as ``memory_counts`` counts them).
    predictor : callable, optional
        ``predictor(t, particles) -> positions``, trackpy's hook: particles
        expose ``.pos``, ``.t`` and ``.track.id``.
    adaptive_stop, adaptive_step : float, optional
        Shrink the search range inside subnetworks larger than
        ``max_subnet_size_adaptive`` by ``adaptive_step`` until they fit, down
        to ``adaptive_stop``.
    neighbor_strategy : {'KDTree', 'BTree'}, optional
        Candidate search; 'BTree' (scikit-learn) is needed for ``dist_func``.
    link_strategy : str or callable, optional
        Any of trackpy's names ('auto', 'recursive', 'nonrecursive', 'numba',
        'hybrid': all use the assignment solver; 'drop': refuse to solve
        subnetworks), or a trackpy subnet-linker callable.
    dist_func : callable or sklearn.metrics.DistanceMetric, optional
        Distance between two coordinate vectors (BTree only): a function of
        two 1-D arrays, or a scikit-learn ``DistanceMetric`` (e.g.
        ``DistanceMetric.get_metric('manhattan')``), which is much faster.
    to_eucl : callable, optional
        Maps coordinates to a Euclidean space before searching.
    max_subnet_size : int, optional
        Largest subnetwork (in source particles) solved; larger ones raise
        :class:`SubnetOversizeException`. Default 200.
    max_subnet_size_adaptive : int, optional
        With ``adaptive_stop``: subnetworks above this size are split by
        shrinking the range. Default 15 (trackpy's).
    memory_counts : {'frame_numbers', 'steps'}, optional
        What ``memory`` counts. 'frame_numbers' (default, as :func:`link`): a
        particle seen at frame 3 is still linkable at frame ``4 + memory``,
        whichever frames were given in between. 'steps' (as
        :func:`link_df_iter`): each call of :meth:`step` is one frame, so
        frames 0, 25, 75 are consecutive and an empty frame counts.

    Examples
    --------
    >>> linker = Linker(2.0)
    >>> linker.step(0, [[0.0, 0.0], [10.0, 10.0]]).tolist()
    [0, 1]
    >>> linker.step(1, [[10.5, 10.0], [0.5, 0.0], [30.0, 30.0]]).tolist()
    [1, 0, 2]
    """

    def __init__(self, search_range, memory=0, predictor=None, adaptive_stop=None,
                 adaptive_step=0.95, neighbor_strategy=None, link_strategy=None,
                 dist_func=None, to_eucl=None, *, max_subnet_size=200,
                 max_subnet_size_adaptive=15, memory_counts="frame_numbers"):
        ranges = _check_range(search_range)
        if isinstance(memory, (bool, np.bool_)) or not isinstance(memory, numbers.Integral) \
                or memory < 0:
            raise ValueError(f"memory must be a non-negative integer, got {memory!r}.")
        if neighbor_strategy is None:
            neighbor_strategy = "KDTree" if dist_func is None else "BTree"
        if neighbor_strategy not in ("KDTree", "BTree"):
            raise ValueError(f"neighbor_strategy must be 'KDTree' or 'BTree', got "
                             f"{neighbor_strategy!r}.")
        if dist_func is not None and neighbor_strategy != "BTree":
            raise ValueError("dist_func needs neighbor_strategy='BTree'.")
        if dist_func is not None and not callable(dist_func) and \
                not _is_distance_metric(dist_func):
            raise TypeError(f"dist_func must be a function of two coordinate arrays or a "
                            f"sklearn.metrics.DistanceMetric, got {type(dist_func).__name__}.")
        if memory_counts not in MEMORY_COUNTS:
            raise ValueError(f"memory_counts must be one of {MEMORY_COUNTS}, got "
                             f"{memory_counts!r}.")
        if link_strategy is None:
            link_strategy = "auto"
        if not callable(link_strategy) and link_strategy not in LINK_STRATEGIES:
            raise ValueError(f"link_strategy must be one of {LINK_STRATEGIES} or a "
                             f"callable, got {link_strategy!r}.")
        if predictor is not None and not callable(predictor):
            raise TypeError("predictor must be callable: predictor(t, particles) -> positions.")
        self.scale = None
        if len(ranges) > 1 and not np.all(ranges == ranges[0]):
            if to_eucl is not None:
                raise ValueError("An anisotropic search_range cannot be combined with to_eucl.")
            self.scale = ranges  # rescale so the range becomes 1
            self.search_range = 1.0
            if adaptive_stop is not None:
                adaptive_stop = float(np.max(adaptive_stop / ranges))
        else:
            self.search_range = float(ranges[0])
        if adaptive_stop is not None and not adaptive_stop > 0:
            raise ValueError(f"adaptive_stop must be positive, got {adaptive_stop!r}.")
        if not 0 < adaptive_step < 1:
            raise ValueError(f"adaptive_step must be between 0 and 1, got {adaptive_step!r}.")
        for name, value in (("max_subnet_size", max_subnet_size),
                            ("max_subnet_size_adaptive", max_subnet_size_adaptive)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.memory = int(memory)
        self.predictor = predictor
        self.adaptive_stop = adaptive_stop
        self.adaptive_step = adaptive_step
        self.neighbor_strategy = neighbor_strategy
        self.link_strategy = link_strategy
        self.dist_func = dist_func
        self.to_eucl = to_eucl
        self.max_subnet_size = int(max_subnet_size)
        self.max_subnet_size_adaptive = int(max_subnet_size_adaptive)
        self.memory_counts = memory_counts
        self.ndim = None
        self.t = None  # last frame number linked
        self.clock = None  # memory clock at the last step (see memory_counts)
        self.next_id = 0
        self._ids = np.empty(0, np.int64)
        self._pos = None
        self._t_last = np.empty(0, np.int64)  # frame number last seen (predictors see it)
        self._seen = np.empty(0, np.int64)  # memory clock when last seen
        if neighbor_strategy == "BTree":
            try:
                import sklearn.neighbors  # noqa: F401
            except ImportError as exc:
                raise ImportError("neighbor_strategy='BTree' needs scikit-learn: "
                                  "pip install scikit-learn") from exc

    # -- state -------------------------------------------------------------
    def state(self):
        """The linker's state as plain arrays (for checkpoints)."""
        return dict(t=self.t, clock=self.clock, next_id=self.next_id, ids=self._ids.copy(),
                    pos=None if self._pos is None else self._pos.copy(),
                    t_last=self._t_last.copy(), seen=self._seen.copy())

    def restore(self, state):
        """Continue from a :meth:`state` (a checkpoint): the same ids follow.

        Raises
        ------
        ValueError
            A state from another kind of movie (positions of another dimension).

        Notes
        -----
        A state without ``clock``/``seen`` (a checkpoint written before memory
        could count steps) counted frame numbers: its clock is the frame number.
        """
        pos = state.get("pos")
        pos = None if pos is None else np.asarray(pos, dtype=float)
        t = state.get("t")
        self.t = None if t is None else int(np.asarray(t))
        clock = state.get("clock", t)
        self.clock = None if clock is None else int(np.asarray(clock))
        self.next_id = int(np.asarray(state["next_id"]))
        self._ids = np.asarray(state["ids"], dtype=np.int64).copy()
        self._t_last = np.asarray(state["t_last"], dtype=np.int64).copy()
        self._seen = np.asarray(state.get("seen", state["t_last"]), dtype=np.int64).copy()
        self._pos = None if pos is None else pos.copy()
        self.ndim = None if pos is None else pos.shape[1]
        if self._pos is not None and not (len(self._pos) == len(self._ids) == len(self._t_last)
                                          == len(self._seen)):
            raise ValueError("inconsistent linker state: ids, positions and times differ "
                             "in length.")
        return self

    # -- linking -----------------------------------------------------------
    def step(self, t, coords):
        """Link the frame ``t`` with positions ``coords``; return its particle ids.

        Parameters
        ----------
        t : int or None
            Frame number; must increase from call to call. None only for an
            empty frame whose number is unknown (an empty DataFrame); it still
            counts as a frame when ``memory_counts='steps'``.
        coords : array (N, ndim)
            Positions, in the row order the ids are returned in.

        Returns
        -------
        ndarray of int64
            One id per row. New particles get new ids in row order.

        Raises
        ------
        ValueError
            Frames out of order or repeated, non-finite or misshapen coords.
        SubnetOversizeException
            A subnetwork larger than the limits (see the class docs).
        """
        coords = np.asarray(coords, dtype=float)
        if coords.size == 0:  # an empty frame: no error, every source is lost
            coords = coords.reshape(0, self.ndim or (coords.shape[-1] if coords.ndim == 2 else 0))
        if t is None:
            if len(coords):
                raise ValueError("a frame with positions needs its frame number (t=None).")
            if self.memory_counts == "frame_numbers":
                return np.empty(0, np.int64)  # no number, so nothing to count
        else:
            t = int(t)
        if coords.ndim != 2:
            raise ValueError(f"coords of frame {t} must be an (N, ndim) array, got shape "
                             f"{coords.shape}.")
        if self.ndim is None and len(coords):
            self.ndim = coords.shape[1]
        elif len(coords) and coords.shape[1] != self.ndim:
            raise ValueError(f"frame {t} has {coords.shape[1]} position columns, earlier "
                             f"frames {self.ndim}.")
        if not np.all(np.isfinite(coords)):
            raise ValueError(f"frame {t} has NaN or infinite positions; drop those rows first.")
        if t is not None and self.t is not None and t <= self.t:
            raise ValueError(f"frames must come in increasing frame order: frame {t} after "
                             f"frame {self.t}.")
        if self.memory_counts == "frame_numbers":
            clock = t
        else:
            clock = 0 if self.clock is None else self.clock + 1
        if self._pos is not None:
            alive = (clock - self._seen - 1) <= self.memory
            self._ids, self._pos, self._t_last, self._seen = \
                self._ids[alive], self._pos[alive], self._t_last[alive], self._seen[alive]
        n_dst = len(coords)
        ids = np.full(n_dst, -1, dtype=np.int64)
        linked_src = np.empty(0, np.int64)
        if len(self._ids) and n_dst:
            linked_src, linked_dst = self._link(t, coords)
            ids[linked_dst] = self._ids[linked_src]
        new = ids < 0
        ids[new] = self.next_id + np.arange(int(new.sum()))
        self.next_id += int(new.sum())
        # particles that can be linked next time: this frame's, then the lost
        # ones still within memory (at their last position)
        lost = np.ones(len(self._ids), dtype=bool)
        lost[linked_src] = False
        if self.memory == 0:
            lost[:] = False
        self.clock = clock
        if t is not None:
            self.t = t
        if self.ndim is None:  # nothing seen yet
            return ids
        coords = coords.reshape(-1, self.ndim)
        self._pos = coords if self._pos is None else np.concatenate([coords, self._pos[lost]])
        self._ids = np.concatenate([ids, self._ids[lost]])
        # an empty frame of unknown number adds no rows, so t=None never lands here
        self._t_last = np.concatenate([np.full(n_dst, t if n_dst else 0, np.int64),
                                       self._t_last[lost]])
        self._seen = np.concatenate([np.full(n_dst, clock, np.int64), self._seen[lost]])
        return ids

    def _source_positions(self, t):
        if self.predictor is None:
            return self._pos
        particles = [_Particle(p, int(tl), int(i))
                     for p, tl, i in zip(self._pos, self._t_last, self._ids)]
        predicted = np.asarray(list(self.predictor(t, particles)), dtype=float)
        if predicted.shape != self._pos.shape:
            raise ValueError(f"predictor returned shape {predicted.shape}, expected "
                             f"{self._pos.shape}.")
        return predicted

    def _to_search_space(self, coords):
        if self.scale is not None:
            return coords / self.scale
        if self.to_eucl is not None:
            return np.asarray(self.to_eucl(coords), dtype=float)
        return coords

    def _candidates(self, src, dst):
        """Edges (source, destination, distance): each destination's nearest
        ``MAX_NEIGHBORS`` sources within the search range, as trackpy finds them."""
        k = min(MAX_NEIGHBORS, len(src))
        if self.neighbor_strategy == "KDTree":
            dist, idx = cKDTree(src).query(dst, k=k, distance_upper_bound=self.search_range + 1e-7)
            if k == 1:
                dist, idx = dist[:, None], idx[:, None]
            found = np.isfinite(dist)
        else:
            from sklearn.neighbors import BallTree

            if self.dist_func is None:
                tree = BallTree(src)
            elif _is_distance_metric(self.dist_func):  # scikit-learn's own: compiled
                tree = BallTree(src, metric=self.dist_func)
            else:
                tree = BallTree(src, metric="pyfunc", func=self.dist_func)
            dist, idx = tree.query(dst, k=k)
            found = dist <= self.search_range
        dst_idx = np.nonzero(found)[0]
        return idx[found].astype(np.int64), dst_idx.astype(np.int64), dist[found]

    def _link(self, t, coords):
        src_pos = self._to_search_space(self._source_positions(t))
        dst_pos = self._to_search_space(coords)
        n_src, n_dst = len(src_pos), len(dst_pos)
        si, di, dist = self._candidates(src_pos, dst_pos)
        if len(si) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        labels = _components(n_src, n_dst, si, di)
        src_count = np.bincount(labels[:n_src], minlength=labels.max() + 1)
        dst_count = np.bincount(labels[n_src:], minlength=labels.max() + 1)
        edge_label = labels[si]
        # one source, one destination: link directly (most of a sparse frame)
        simple = (src_count[edge_label] == 1) & (dst_count[edge_label] == 1)
        out_src, out_dst = [si[simple]], [di[simple]]
        rest = ~simple
        if rest.any():
            a, b = self._solve_rest(n_src, n_dst, labels, src_count, dst_count,
                                    si[rest], di[rest], dist[rest], edge_label[rest])
            out_src.append(a)
            out_dst.append(b)
        return np.concatenate(out_src), np.concatenate(out_dst)

    def _solve_rest(self, n_src, n_dst, labels, src_count, dst_count, si, di, dist, edge_label):
        """Subnetworks with more than one source or destination."""
        groups = np.unique(edge_label)
        compiled = np.zeros(len(src_count), dtype=bool)
        if not callable(self.link_strategy) and self.link_strategy != "drop":
            limit = (self.max_subnet_size_adaptive if self.adaptive_stop is not None
                     else self.max_subnet_size)
            sizes = src_count[groups]
            if self.adaptive_stop is None and sizes.max() > limit:
                raise SubnetOversizeException(
                    f"Subnetwork contains {sizes.max()} source particles (limit "
                    f"max_subnet_size={limit}); lower search_range, pass adaptive_stop "
                    "to shrink it where particles crowd, or raise max_subnet_size.")
            compiled[groups[sizes <= limit]] = True
        out_src, out_dst = [], []
        # the few groups compiled code does not take: one Python call each
        python = ~compiled[edge_label]
        if python.any():
            for group in _groups(np.flatnonzero(python), edge_label):
                a, b = self._solve_group(si[group], di[group], dist[group])
                out_src.append(a)
                out_dst.append(b)
        if compiled.any() and _fastpath.ready(("link",)):
            a, b = self._solve_compiled(n_src, n_dst, labels, compiled, src_count, dst_count,
                                        si[~python], di[~python], dist[~python],
                                        edge_label[~python])
            out_src.append(a)
            out_dst.append(b)
        elif compiled.any():  # the compiled solver is being prepared: scipy, same links
            for group in _groups(np.flatnonzero(~python), edge_label):
                a, b = self._solve_scipy(si[group], di[group], dist[group])
                out_src.append(a)
                out_dst.append(b)
        return np.concatenate(out_src), np.concatenate(out_dst)

    def _solve_scipy(self, si, di, dist):
        src_members, s_local = np.unique(si, return_inverse=True)
        dst_members, d_local = np.unique(di, return_inverse=True)
        a, b = solve_subnet(len(src_members), len(dst_members), s_local, d_local, dist,
                            self.search_range)
        return src_members[a], dst_members[b]

    def _solve_compiled(self, n_src, n_dst, labels, compiled, src_count, dst_count,
                        si, di, dist, edge_label):
        """Lay the groups out contiguously (CSR) and solve them in one call."""
        groups = np.flatnonzero(compiled)

        def members(node_labels, counts):
            idx = np.flatnonzero(compiled[node_labels])
            idx = idx[np.argsort(node_labels[idx], kind="stable")]
            ptr = np.concatenate([[0], np.cumsum(counts[groups])])
            local = np.empty(len(node_labels), np.int64)
            position = np.searchsorted(groups, node_labels[idx])
            local[idx] = np.arange(len(idx)) - ptr[position]
            return idx, ptr, local

        src_global, src_ptr, src_local = members(labels[:n_src], src_count)
        dst_global, dst_ptr, dst_local = members(labels[n_src:], dst_count)
        order = np.argsort(edge_label, kind="stable")
        edge_counts = np.bincount(edge_label, minlength=len(compiled))[groups]
        edge_ptr = np.concatenate([[0], np.cumsum(edge_counts)])
        out_src = np.empty(len(src_global), np.int64)
        out_dst = np.empty(len(src_global), np.int64)
        from ._assignment import solve_groups

        count = solve_groups(src_ptr, dst_ptr, edge_ptr, src_global, dst_global,
                             src_local[si[order]], dst_local[di[order]],
                             np.ascontiguousarray(dist[order]), self.search_range,
                             out_src, out_dst)
        return out_src[:count], out_dst[:count]

    def _solve_group(self, si, di, dist):
        src_members, s_local = np.unique(si, return_inverse=True)
        dst_members, d_local = np.unique(di, return_inverse=True)
        n_s, n_d = len(src_members), len(dst_members)
        strategy = self.link_strategy
        if callable(strategy):
            a, b = self._call_subnet_linker(n_s, n_d, s_local, d_local, dist)
        elif strategy == "drop":
            # trackpy's 'drop': refuse every subnetwork beyond one-to-one (those
            # never get here); still report the ones that would be oversize
            if n_s > self.max_subnet_size:
                raise SubnetOversizeException(
                    f"Subnetwork contains {n_s} source particles (limit "
                    f"max_subnet_size={self.max_subnet_size}).")
            return np.empty(0, np.int64), np.empty(0, np.int64)
        else:  # adaptive search on a subnetwork too large to solve as it is
            a, b = solve_adaptive(n_s, n_d, s_local, d_local, dist, self.search_range,
                                  max_size=self.max_subnet_size_adaptive,
                                  adaptive_stop=self.adaptive_stop,
                                  adaptive_step=self.adaptive_step)
        return src_members[a], dst_members[b]

    def _call_subnet_linker(self, n_s, n_d, s_local, d_local, dist):
        """Run a trackpy-style subnet linker on point objects, map back to indices."""
        sources = [_SubnetPoint(i) for i in range(n_s)]
        dests = [_SubnetPoint(j) for j in range(n_d)]
        for s, d, r in sorted(zip(s_local.tolist(), d_local.tolist(), dist.tolist()),
                              key=lambda e: (e[0], e[2])):
            sources[s].forward_cands.append((dests[d], r))
        max_size = (self.max_subnet_size_adaptive if self.adaptive_stop is not None
                    else self.max_subnet_size)
        spl, dpl = self.link_strategy(set(sources), set(dests), self.search_range,
                                      max_size=max_size)
        pairs = [(s.index, d.index) for s, d in zip(spl, dpl) if s is not None and d is not None]
        if not pairs:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        a, b = np.array(pairs, dtype=np.int64).T
        return a, b


def _groups(edges, edge_label):
    """Split edge indices ``edges`` into one array per subnetwork label."""
    order = edges[np.argsort(edge_label[edges], kind="stable")]
    bounds = np.flatnonzero(np.diff(edge_label[order])) + 1
    return np.split(order, bounds)
