"""Compiled batch solver: every subnetwork of a frame in one call.

A frame of a dense movie has thousands of small subnetworks; solving each with
a Python-level call costs more than the solving. ``solve_groups`` walks them
all in compiled code, each with the shortest-augmenting-path assignment
algorithm that ``scipy.optimize.linear_sum_assignment`` uses (Crouse 2016,
with scipy's tie-breaking), on the same cost matrix as ``_solver.solve_subnet``:
candidate links cost the squared distance, a null link per source costs
``search_range**2``.
"""
import numba
import numpy as np

_JIT = dict(cache=True, nogil=True)


@numba.njit(**_JIT)
def _assign(cost, n_rows, n_cols, col4row, row4col, u, v, shortest, path, remaining,
            sr_seen, sc_seen):
    for i in range(n_rows):
        col4row[i] = -1
        u[i] = 0.0
    for j in range(n_cols):
        row4col[j] = -1
        v[j] = 0.0
    for cur_row in range(n_rows):
        # shortest augmenting path from cur_row
        num_remaining = n_cols
        for it in range(n_cols):
            remaining[it] = n_cols - it - 1
            shortest[it] = np.inf
            sc_seen[it] = False
        for it in range(n_rows):
            sr_seen[it] = False
        min_val = 0.0
        i = cur_row
        sink = -1
        while sink == -1:
            index = -1
            lowest = np.inf
            sr_seen[i] = True
            for it in range(num_remaining):
                j = remaining[it]
                r = min_val + cost[i, j] - u[i] - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_val = lowest
            if index == -1 or min_val == np.inf:
                return False  # infeasible: cannot happen with null columns
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            sc_seen[j] = True
            num_remaining -= 1
            remaining[index] = remaining[num_remaining]
        u[cur_row] += min_val
        for i in range(n_rows):
            if sr_seen[i] and i != cur_row:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(n_cols):
            if sc_seen[j]:
                v[j] -= min_val - shortest[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            prev = col4row[i]
            col4row[i] = j
            j = prev
            if i == cur_row:
                break
    return True


@numba.njit(**_JIT)
def solve_groups(src_ptr, dst_ptr, edge_ptr, src_global, dst_global, edge_src, edge_dst,
                 edge_dist, search_range, out_src, out_dst):
    """Solve each group g (sources ``src_global[src_ptr[g]:src_ptr[g+1]]``, ...,
    edges in local indices); write linked global pairs; return their count."""
    n_groups = src_ptr.shape[0] - 1
    max_s = 0
    max_d = 0
    for g in range(n_groups):
        max_s = max(max_s, src_ptr[g + 1] - src_ptr[g])
        max_d = max(max_d, dst_ptr[g + 1] - dst_ptr[g])
    max_c = max_d + max_s
    cost = np.empty((max_s, max_c))
    col4row = np.empty(max_s, np.int64)
    row4col = np.empty(max_c, np.int64)
    u = np.empty(max_s)
    v = np.empty(max_c)
    shortest = np.empty(max_c)
    path = np.empty(max_c, np.int64)
    remaining = np.empty(max_c, np.int64)
    sr_seen = np.empty(max_s, np.bool_)
    sc_seen = np.empty(max_c, np.bool_)
    null = search_range * search_range
    count = 0
    for g in range(n_groups):
        n_s = src_ptr[g + 1] - src_ptr[g]
        n_d = dst_ptr[g + 1] - dst_ptr[g]
        n_c = n_d + n_s
        for i in range(n_s):
            for j in range(n_c):
                cost[i, j] = np.inf
            cost[i, n_d + i] = null
        for e in range(edge_ptr[g], edge_ptr[g + 1]):
            d = edge_dist[e]
            cost[edge_src[e], edge_dst[e]] = d * d
        _assign(cost, n_s, n_c, col4row, row4col, u, v, shortest, path, remaining,
                sr_seen, sc_seen)
        for i in range(n_s):
            j = col4row[i]
            if j < n_d:
                out_src[count] = src_global[src_ptr[g] + i]
                out_dst[count] = dst_global[dst_ptr[g] + j]
                count += 1
    return count
