"""Subnetwork solver: minimum summed squared displacement, by assignment.

Each source may link to one destination candidate or to nothing; not linking
costs ``search_range**2``, as in trackpy. With a null column per source the
problem is a rectangular assignment, which ``linear_sum_assignment`` solves in
polynomial time (trackpy searches all combinations, exponential in the worst
case). Destinations left over start new tracks.
"""
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..exceptions import SubnetOversizeException


def solve_subnet(n_src, n_dst, src, dst, dist, search_range):
    """Optimal links inside one subnetwork.

    Parameters
    ----------
    n_src, n_dst : int
        Number of source and destination particles (local indices).
    src, dst, dist : ndarray
        Candidate edges: local source index, local destination index, distance.
    search_range : float
        The null-link cost is ``search_range**2``.

    Returns
    -------
    (src_linked, dst_linked) : tuple of ndarray
        Local indices of the linked pairs.
    """
    cost = np.full((n_src, n_dst + n_src), np.inf)
    cost[src, dst] = dist * dist
    cost[np.arange(n_src), n_dst + np.arange(n_src)] = search_range * search_range
    rows, cols = linear_sum_assignment(cost)
    real = cols < n_dst
    return rows[real], cols[real]


def solve_adaptive(n_src, n_dst, src, dst, dist, search_range, *, max_size,
                   adaptive_stop, adaptive_step):
    """Solve, shrinking the search range of oversize subnetworks as trackpy does.

    A subnetwork with more than ``max_size`` sources is split by dropping the
    candidates beyond ``search_range * adaptive_step`` and each piece is solved
    (recursively) with that smaller range; below ``adaptive_stop`` we give up.
    """
    if n_src <= max_size:
        return solve_subnet(n_src, n_dst, src, dst, dist, search_range)
    if adaptive_stop is None or search_range <= adaptive_stop:
        hint = ("lower search_range, pass adaptive_stop to shrink it where particles "
                "crowd, or raise max_subnet_size" if adaptive_stop is None else
                "the search range reached adaptive_stop; lower adaptive_stop or "
                "raise max_subnet_size_adaptive")
        raise SubnetOversizeException(
            f"Subnetwork contains {n_src} source particles (limit {max_size}) at "
            f"search_range {search_range:g}: {hint}.")
    new_range = search_range * adaptive_step
    keep = dist <= new_range
    src, dst, dist = src[keep], dst[keep], dist[keep]
    labels = _components(n_src, n_dst, src, dst)
    out_src, out_dst = [], []
    # sources left without candidates are lost (trackpy silently drops them)
    for label in np.unique(labels[src]):
        s_members = np.flatnonzero(labels[:n_src] == label)
        d_members = np.flatnonzero(labels[n_src:] == label)
        s_local = np.full(n_src, -1)
        s_local[s_members] = np.arange(len(s_members))
        d_local = np.full(n_dst, -1)
        d_local[d_members] = np.arange(len(d_members))
        sel = labels[src] == label
        a, b = solve_adaptive(len(s_members), len(d_members), s_local[src[sel]],
                              d_local[dst[sel]], dist[sel], new_range, max_size=max_size,
                              adaptive_stop=adaptive_stop, adaptive_step=adaptive_step)
        out_src.append(s_members[a])
        out_dst.append(d_members[b])
    if not out_src:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_src), np.concatenate(out_dst)


def _components(n_src, n_dst, src, dst):
    """Connected-component labels of sources (first n_src) and destinations."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = n_src + n_dst
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, n_src + dst)), shape=(n, n))
    return connected_components(graph, directed=False)[1]
