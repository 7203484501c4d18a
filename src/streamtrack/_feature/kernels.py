"""Compiled kernels for the 2-D integer fast path of :func:`streamtrack.locate`.

Every kernel reproduces, operation for operation, the floating-point arithmetic
of the scipy/numpy call that trackpy makes at the same step, so results are
bit-identical rather than merely close:

- ``lowpass_2d``: ``scipy.ndimage.correlate1d`` with a symmetric kernel and
  ``mode='constant'`` (scipy folds symmetric taps as ``(x[i-j] + x[i+j]) * w[j]``,
  outermost pair first), applied along axis 0 then axis 1.
- ``boxcar_2d``: ``scipy.ndimage.uniform_filter1d(mode='nearest')`` into an
  integer output (running sum, divided per pixel, truncated by the cast).
- ``box_maxima_2d``: ``grey_dilation`` with a box, ``image == dilation``.
- ``background_stats_2d``: ``~binary_dilation(image, structure=ellipse)``.

`_fastpath` prepares them in a background thread and `verify` checks them
against their numpy/scipy twins before they are used, so a scipy release that
changes its arithmetic makes streamtrack stay on the generic path instead of
drifting from trackpy. All kernels are cached to disk (``cache=True``): the
compile happens once per machine; meanwhile the numpy/scipy path serves.
"""
import numba
import numpy as np

_JIT = dict(cache=True, nogil=True)


@numba.njit(**_JIT)
def lowpass_2d(image, weights, tmp, out):
    """Gaussian lowpass (float64 out) of a 2-D image, zero padded, axis 0 then 1."""
    ny, nx = image.shape
    half = weights.shape[0] // 2
    centre = weights[half]
    # axis 0: output row y combines rows y-j and y+j (zero outside the image),
    # accumulated in scipy's order: centre first, then the outermost pair inwards
    for y in range(ny):
        out_row = tmp[y]
        for x in range(nx):
            out_row[x] = np.float64(image[y, x]) * centre
        for j in range(half, 0, -1):
            w = weights[half - j]
            up = y - j
            down = y + j
            if up >= 0 and down < ny:
                for x in range(nx):
                    out_row[x] += (np.float64(image[up, x]) + np.float64(image[down, x])) * w
            elif up >= 0:
                for x in range(nx):
                    out_row[x] += (np.float64(image[up, x]) + 0.0) * w
            elif down < ny:
                for x in range(nx):
                    out_row[x] += (0.0 + np.float64(image[down, x])) * w
            else:
                for x in range(nx):
                    out_row[x] += 0.0 * w
    padded = np.zeros(nx + 2 * half, dtype=np.float64)
    for y in range(ny):
        padded[half:half + nx] = tmp[y]
        out_row = out[y]
        # same per-pixel order of operations, vectorised across x; shifted
        # views, indexed by the loop variable alone: a computed index such as
        # x - j could be negative, and numba's wraparound check for it stops
        # the loop from being vectorised (2.5x slower)
        middle = padded[half:half + nx]
        for x in range(nx):
            out_row[x] = middle[x] * centre
        for j in range(half, 0, -1):
            w = weights[half - j]
            left = padded[half - j:half - j + nx]
            right = padded[half + j:half + j + nx]
            for x in range(nx):
                out_row[x] += (left[x] + right[x]) * w


@numba.njit(**_JIT)
def boxcar_2d(image, size_y, size_x, first, result):
    """Boxcar average in the image's integer dtype (truncating, like scipy).

    The running sums are sums of integers, exact in float64 in any order, so
    only the per-pixel division and the truncating cast must match scipy.
    """
    ny, nx = image.shape
    # scipy writes pass 1 into the integer output, so pass 2 reads truncated values
    first[:, :] = image
    if size_y > 1:
        s1 = size_y // 2
        acc = np.zeros(nx, dtype=np.float64)
        for k in range(-s1, size_y - s1):
            row = min(max(k, 0), ny - 1)
            for x in range(nx):
                acc[x] += np.float64(image[row, x])
        for y in range(ny):
            for x in range(nx):
                first[y, x] = acc[x] / size_y
            add = min(y + size_y - s1, ny - 1)
            sub = max(y - s1, 0)
            for x in range(nx):
                acc[x] += np.float64(image[add, x]) - np.float64(image[sub, x])
    result[:, :] = first
    if size_x > 1:
        # window sums from integer prefix sums (exact, like scipy's double sums
        # of integers), with the 'nearest' edge repeated s1 / s2 times
        s1 = size_x // 2
        s2 = size_x - s1 - 1
        prefix = np.empty(nx + size_x, dtype=np.int64)
        for y in range(ny):
            row = first[y]
            prefix[0] = 0
            for k in range(s1):
                prefix[k + 1] = prefix[k] + np.int64(row[0])
            for x in range(nx):
                prefix[s1 + x + 1] = prefix[s1 + x] + np.int64(row[x])
            for k in range(s2):
                prefix[s1 + nx + k + 1] = prefix[s1 + nx + k] + np.int64(row[nx - 1])
            out = result[y]
            upper = prefix[size_x:size_x + nx]  # a view: see lowpass_2d
            for x in range(nx):
                out[x] = np.float64(upper[x] - prefix[x]) / size_x
    return result


@numba.njit(**_JIT)
def subtract_threshold_max(lowpassed, background, threshold):
    """``r = lowpass - background; r[r < threshold] = 0``, in place; returns max(r)."""
    ny, nx = lowpassed.shape
    peak = -np.inf
    for y in range(ny):
        for x in range(nx):
            r = lowpassed[y, x] - background[y, x]
            if not (r >= threshold):
                r = 0.0
            lowpassed[y, x] = r
            if r > peak:
                peak = r
    return peak


@numba.njit(**_JIT)
def scale_to_int(image, scale, out, counts):
    """``out[:] = (scale * clip(image, 0)).astype(out.dtype)`` with C truncation;
    also counts the values of ``out`` (for the percentile threshold).

    The conversion runs on whole rows (vectorised), the counting after it into
    four histograms in turn, so that consecutive increments do not wait for
    each other.
    """
    ny, nx = image.shape
    spare = np.zeros((3, counts.shape[0]), dtype=counts.dtype)
    for y in range(ny):
        row = image[y]
        converted = out[y]
        for x in range(nx):
            converted[x] = scale * max(row[x], 0.0)
        x = 0
        while x + 4 <= nx:
            counts[converted[x]] += 1
            spare[0, converted[x + 1]] += 1
            spare[1, converted[x + 2]] += 1
            spare[2, converted[x + 3]] += 1
            x += 4
        while x < nx:
            counts[converted[x]] += 1
            x += 1
    for k in range(counts.shape[0]):
        counts[k] += spare[0, k] + spare[1, k] + spare[2, k]


@numba.njit(**_JIT)
def _max3_row(row, out):
    """``out[x] = max(row[x-1], row[x], row[x+1])``, clamped at the ends."""
    nx = row.shape[0]
    left = row[0:nx - 2]
    middle = row[1:nx - 1]
    right = row[2:nx]
    inner = out[1:nx - 1]
    for x in range(nx - 2):  # views: see lowpass_2d
        inner[x] = max(max(left[x], middle[x]), right[x])
    out[0] = max(row[0], row[1])
    out[nx - 1] = max(row[nx - 2], row[nx - 1])


@numba.njit(**_JIT)
def box_maxima_2d(image, size_y, size_x, threshold, margin_y, margin_x, candidates):
    """Pixels equal to their box-window maximum and above ``threshold``, outside
    the margins, in C raster order (as ``np.where``).

    The window of an even size ``s`` spans ``[i - (s - 1 - s // 2), i + s // 2]``,
    which is where ``scipy.ndimage.grey_dilation`` puts it. Outside the image
    counts as 0 (grey_dilation's cval): images here are unsigned, so 0 never wins.
    Instead of dilating the whole image, each pixel above the threshold is
    first compared with its 3x3 neighbours (a window maximum is also theirs:
    this rejects almost every pixel) and only the few left with their whole
    window. ``candidates`` is scratch space of ``image.size`` int64.
    """
    ny, nx = image.shape
    ly = size_y - 1 - size_y // 2
    hy = size_y // 2
    lx = size_x - 1 - size_x // 2
    hx = size_x // 2
    # integer pixels: v > threshold  <=>  v > floor(threshold)
    limit = np.int64(min(np.floor(threshold), np.float64(np.iinfo(image.dtype).max)))
    n = 0
    if min(ly, hy, lx, hx) >= 1 and nx >= 3:
        # 3x3 maxima of whole rows, vectorised: h3 rows hold the max of each
        # pixel and its two x neighbours (rolling over y), m3 the max over y
        h3 = np.empty((3, nx), dtype=image.dtype)
        m3 = np.empty(nx, dtype=image.dtype)
        flags = np.empty(nx, dtype=np.bool_)
        # v > limit, in the image's dtype (limit < 0 lets every pixel pass)
        above_all = limit < 0
        lim = image.dtype.type(max(limit, 0))
        for k in range(min(2, ny)):
            _max3_row(image[k], h3[k % 3])
        for y in range(ny):
            if y + 1 < ny:
                _max3_row(image[y + 1], h3[(y + 1) % 3])
            if y < margin_y or y >= ny - margin_y:
                continue
            above = h3[(y - 1) % 3] if y > 0 else h3[y % 3]
            here = h3[y % 3]
            below = h3[(y + 1) % 3] if y + 1 < ny else h3[y % 3]
            row = image[y]
            for x in range(nx):  # branch-free, vectorised; the scan below is rare-true
                m3[x] = max(max(above[x], here[x]), below[x])
                flags[x] = (row[x] == m3[x]) & ((row[x] > lim) | above_all)
            for x in range(margin_x, nx - margin_x):
                if flags[x]:
                    candidates[n] = y * nx + x
                    n += 1
    else:
        for y in range(margin_y, ny - margin_y):
            row = image[y]
            # neighbour rows, clamped to the image and to the window (a clamped
            # index points at a pixel of the window, or at the pixel itself)
            up = image[max(y - min(ly, 1), 0)]
            down = image[min(y + min(hy, 1), ny - 1)]
            for x in range(margin_x, nx - margin_x):
                v = row[x]
                if np.int64(v) <= limit:
                    continue
                xl = max(x - min(lx, 1), 0)
                xr = min(x + min(hx, 1), nx - 1)
                if (row[xl] > v or row[xr] > v or up[xl] > v or up[x] > v or up[xr] > v
                        or down[xl] > v or down[x] > v or down[xr] > v):
                    continue
                candidates[n] = y * nx + x
                n += 1
    out = np.empty((n, 2), dtype=np.int64)
    count = 0
    for k in range(n):
        y = candidates[k] // nx
        x = candidates[k] - y * nx
        v = image[y, x]
        peak = True
        for yy in range(max(y - ly, 0), min(y + hy, ny - 1) + 1):
            r = image[yy]
            for xx in range(max(x - lx, 0), min(x + hx, nx - 1) + 1):
                if r[xx] > v:
                    peak = False
                    break
            if not peak:
                break
        if peak:
            out[count, 0] = y
            out[count, 1] = x
            count += 1
    return out[:count]


@numba.njit(**_JIT)
def close_pairs_drop(scaled, intensity, radius2, drop):
    """``drop[k] = True`` for the dimmer member of every pair of rows of
    ``scaled`` closer than ``sqrt(radius2)``; on equal intensity the one with
    the smaller coordinate sum. The pairs are cKDTree.query_pairs' (squared
    distance summed axis by axis, ``<= radius2``), found by a sweep along axis 0.
    """
    n, ndim = scaled.shape
    order = np.argsort(scaled[:, 0], kind="mergesort")
    for a in range(n):
        i = order[a]
        for b in range(a + 1, n):
            j = order[b]
            gap = scaled[j, 0] - scaled[i, 0]
            if gap * gap > radius2:  # then so is the whole squared distance
                break
            d2 = 0.0
            for k in range(ndim):
                diff = scaled[i, k] - scaled[j, k]
                d2 += diff * diff
            if not d2 <= radius2:
                continue
            first, second = min(i, j), max(i, j)
            if intensity[first] > intensity[second]:
                drop[second] = True
            elif intensity[first] < intensity[second]:
                drop[first] = True
            else:
                sum_f = 0.0
                sum_s = 0.0
                for k in range(ndim):
                    sum_f += scaled[first, k]
                    sum_s += scaled[second, k]
                drop[second if sum_f > sum_s else first] = True


@numba.njit(**_JIT)
def background_mask_2d(image, half_widths, dilated, background):
    """1 where ``image`` is 0 and farther than the elliptical mask from every
    nonzero pixel: ``~binary_dilation(image, structure=ellipse)``.

    ``half_widths[dy + ry]`` is the half-width in x of the mask row at offset
    dy. The ellipse covers (y, x) iff some row y+dy has a nonzero pixel within
    that half-width of x, so: ``dilated[k]`` is the nonzero mask dilated by k
    pixels along x (k = 0 .. max half-width; scratch of that many images), and
    the background is where no row's dilation at its own half-width is set.
    Whole-row operations on views throughout, so that they vectorise.
    """
    ny, nx = image.shape
    ry = half_widths.shape[0] // 2
    first = dilated[0]
    for y in range(ny):
        row = image[y]
        out = first[y]
        for x in range(nx):
            out[x] = row[x] != 0
    for k in range(1, dilated.shape[0]):
        for y in range(ny):
            prev = dilated[k - 1, y]
            cur = dilated[k, y]
            if nx == 1:
                cur[0] = prev[0]
                continue
            left = prev[0:nx - 2]
            middle = prev[1:nx - 1]
            right = prev[2:nx]
            inner = cur[1:nx - 1]
            for x in range(nx - 2):
                inner[x] = left[x] | middle[x] | right[x]
            cur[0] = prev[0] | prev[1]
            cur[nx - 1] = prev[nx - 2] | prev[nx - 1]
    for y in range(ny):
        bg = background[y]
        for x in range(nx):
            bg[x] = True
        for dy in range(max(-ry, -y), min(ry, ny - 1 - y) + 1):
            covered = dilated[half_widths[dy + ry], y + dy]
            for x in range(nx):
                bg[x] = bg[x] & (covered[x] == 0)
    return background


@numba.njit(**_JIT)
def masked_stats_int(mask, raw):
    """``(count, mean, std)`` of integer ``raw`` where ``mask``; integer sums,
    the squares taken about the rounded mean so that nothing cancels."""
    ny, nx = mask.shape
    count = 0
    total = 0
    for y in range(ny):
        m = mask[y]
        r = raw[y]
        for x in range(nx):
            count += m[x]
            total += m[x] * np.int64(r[x])
    if count == 0:
        return 0, np.nan, np.nan
    mean = total / count
    ref = np.int64(np.round(mean))
    sq = 0
    for y in range(ny):
        m = mask[y]
        r = raw[y]
        for x in range(nx):
            d = np.int64(r[x]) - ref
            sq += m[x] * d * d
    shift = (total - count * ref) / count
    var = sq / count - shift * shift
    return count, mean, np.sqrt(max(var, 0.0))


@numba.njit(**_JIT)
def refine_com(image, raw, coords, radius, max_iterations, shift_thresh,
               mask_offsets, mask_coords, r2, x2, cosm, sinm, characterize,
               isotropic, results):
    """Centre-of-mass refinement on flattened C-contiguous images, any ndim.

    Follows trackpy's refine loop: start on an integer pixel, move it by one
    pixel along each axis whose offset exceeds ``shift_thresh``, stop when all
    offsets are below it or after ``max_iterations``; the reported position and
    the characterisation both come from the last evaluated neighbourhood.
    ``mask_offsets`` are flat offsets from the box corner, ``mask_coords`` the
    per-axis coordinates inside the box, in ``mask.nonzero()`` order.
    Result columns: positions, mass, then (if characterize) size (1 or ndim
    columns), ecc, signal, raw_mass.
    """
    n_feat, ndim = coords.shape
    n_mask = mask_offsets.shape[0]
    shape = np.empty(ndim, dtype=np.int64)
    strides = np.empty(ndim, dtype=np.int64)
    for a in range(ndim):
        shape[a] = image.shape[a]
    stride = 1
    for a in range(ndim - 1, -1, -1):
        strides[a] = stride
        stride *= shape[a]
    flat = image.ravel()
    flat_raw = raw.ravel()
    coord = np.empty(ndim, dtype=np.int64)
    cm = np.empty(ndim, dtype=np.float64)
    n_size = 1 if isotropic else ndim
    for f in range(n_feat):
        for a in range(ndim):
            coord[a] = coords[f, a]
        corner = 0
        mass = 0.0
        for _iteration in range(max_iterations):
            corner = 0
            for a in range(ndim):
                corner += (coord[a] - radius[a]) * strides[a]
                cm[a] = 0.0
            mass = 0.0
            for i in range(n_mask):
                px = np.float64(flat[corner + mask_offsets[i]])
                mass += px
                for a in range(ndim):
                    cm[a] += px * mask_coords[i, a]
            centred = True
            for a in range(ndim):
                if mass != 0.0:
                    cm[a] /= mass
                else:
                    cm[a] = radius[a]
                off = cm[a] - radius[a]
                results[f, a] = cm[a] - radius[a] + coord[a]
                if not abs(off) < shift_thresh:
                    centred = False
            if centred:
                break
            for a in range(ndim):
                off = cm[a] - radius[a]
                if off > shift_thresh:
                    coord[a] += 1
                elif off < -shift_thresh:
                    coord[a] -= 1
                # stay inside the image
                if coord[a] < radius[a]:
                    coord[a] = radius[a]
                if coord[a] > shape[a] - radius[a] - 1:
                    coord[a] = shape[a] - radius[a] - 1
        results[f, ndim] = mass
        if not characterize:
            continue
        rg = 0.0
        ecc1 = 0.0
        ecc2 = 0.0
        signal = 0.0
        raw_mass = 0.0
        for a in range(n_size):
            results[f, ndim + 1 + a] = 0.0
        for i in range(n_mask):
            px = np.float64(flat[corner + mask_offsets[i]])
            if isotropic:
                rg += r2[i] * px
            else:
                for a in range(ndim):
                    results[f, ndim + 1 + a] += x2[i, a] * px
            if ndim == 2:
                ecc1 += cosm[i] * px
                ecc2 += sinm[i] * px
            raw_mass += flat_raw[corner + mask_offsets[i]]
            if px > signal:
                signal = px
        col = ndim + 1
        if isotropic:
            results[f, col] = np.sqrt(rg / mass) if mass != 0.0 else np.nan
        else:
            for a in range(ndim):
                v = results[f, col + a]
                results[f, col + a] = np.sqrt(v / mass) if mass != 0.0 else np.nan
        col += n_size
        if ndim == 2:
            centre = 0
            for a in range(ndim):
                centre += radius[a] * strides[a]
            centre_px = np.float64(flat[corner + centre])
            results[f, col] = np.sqrt(ecc1 ** 2 + ecc2 ** 2) / (mass - centre_px + 1e-6)
        else:
            results[f, col] = np.nan
        results[f, col + 1] = signal
        results[f, col + 2] = raw_mass
    return results
