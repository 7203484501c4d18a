"""Compiled kernels for the 2-D integer fast path of :func:`streamtrack.locate`.

Every kernel reproduces, operation for operation, the floating-point arithmetic
of the scipy/numpy call that trackpy makes at the same step, so results are
bit-identical rather than merely close:

- ``lowpass_2d``: ``scipy.ndimage.correlate1d`` with a symmetric kernel and
  ``mode='constant'`` (scipy folds symmetric taps as ``(x[i-j] + x[i+j]) * w[j]``,
  outermost pair first), applied along axis 0 then axis 1.
- ``boxcar_2d``: ``scipy.ndimage.uniform_filter1d(mode='nearest')`` into an
  integer output (running sum, divided per pixel, truncated by the cast).
- ``max_filter_maxima_2d``: ``grey_dilation`` with a box, ``image == dilation``.
- ``background_stats_2d``: ``~binary_dilation(image, structure=ellipse)``.

`_fastpath.py` checks these equalities against scipy once per process before
the fast path is used, so a scipy release that changes its arithmetic makes
streamtrack fall back to the generic path instead of drifting from trackpy.
All kernels are cached to disk (``cache=True``): no compile on every start.
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
        # same per-pixel order of operations, vectorised across x
        for x in range(nx):
            out_row[x] = padded[x + half] * centre
        for j in range(half, 0, -1):
            w = weights[half - j]
            for x in range(nx):
                out_row[x] += (padded[x + half - j] + padded[x + half + j]) * w


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
            for x in range(nx):
                out[x] = np.float64(prefix[x + size_x] - prefix[x]) / size_x
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
    also counts the values of ``out`` (for the percentile threshold)."""
    ny, nx = image.shape
    for y in range(ny):
        for x in range(nx):
            v = image[y, x]
            if v < 0.0:
                v = 0.0
            out[y, x] = scale * v
            counts[out[y, x]] += 1


@numba.njit(**_JIT)
def nonzero_histogram(image, n_bins):
    counts = np.zeros(n_bins, dtype=np.int64)
    ny, nx = image.shape
    for y in range(ny):
        for x in range(nx):
            counts[image[y, x]] += 1
    return counts


@numba.njit(**_JIT)
def _window_max(padded, spare, n, w):
    """``max(padded[i : i + w])`` along axis 0 for ``i < n``; returns the array
    (``padded`` or ``spare``) whose first ``n`` rows hold the result.

    Doubling: after the pass with step k every entry holds the max of 2k
    consecutive ones; two overlapping power-of-two windows then cover w.
    Passes alternate between two arrays, whole rows at a time, so that the
    inner loop is a plain vector max (in place, the overlap defeats SIMD).
    """
    src = padded
    dst = spare
    length = padded.shape[0]
    k = 1
    while 2 * k <= w:
        for i in range(length - k):
            a = src[i]
            b = src[i + k]
            c = dst[i]
            for x in range(a.shape[0]):
                c[x] = max(a[x], b[x])
        length -= k
        k *= 2
        src, dst = dst, src
    if k < w:
        for i in range(n):
            a = src[i]
            b = src[i + w - k]
            c = dst[i]
            for x in range(a.shape[0]):
                c[x] = max(a[x], b[x])
        src, dst = dst, src
    return src


@numba.njit(**_JIT)
def max_filter_maxima_2d(image, size_y, size_x, threshold, margin_y, margin_x, tpad, tspare,
                         pad, spare, is_max):
    """Pixels equal to their box-window maximum and above ``threshold``, outside
    the margins, in C raster order (as ``np.where``).

    The window of an even size ``s`` spans ``[i - (s - 1 - s // 2), i + s // 2]``,
    which is where ``scipy.ndimage.grey_dilation`` puts it. Outside the image
    counts as 0 (grey_dilation's cval): images here are unsigned, so 0 never wins.
    """
    ny, nx = image.shape
    ly = size_y - 1 - size_y // 2
    lx = size_x - 1 - size_x // 2
    # x direction on the transpose, so that both passes run along axis 0
    tpad[:lx] = 0
    tpad[lx + nx:] = 0
    for y in range(ny):
        for x in range(nx):
            tpad[x + lx, y] = image[y, x]
    trow = _window_max(tpad, tspare, nx, size_x)
    pad[:ly] = 0
    pad[ly + ny:] = 0
    for x in range(nx):
        for y in range(ny):
            pad[y + ly, x] = trow[x, y]
    dilation = _window_max(pad, spare, ny, size_y)
    # integer pixels: v > threshold  <=>  v > floor(threshold)
    limit = np.int64(min(np.floor(threshold), np.float64(np.iinfo(image.dtype).max)))
    is_max[:, :] = 0
    count = 0
    for y in range(margin_y, ny - margin_y):
        row = image[y]
        dil = dilation[y]
        flags = is_max[y]
        for x in range(margin_x, nx - margin_x):
            flag = (np.int64(row[x]) > limit) & (row[x] == dil[x])
            flags[x] = flag
            count += flag
    out = np.empty((count, 2), dtype=np.int64)
    count = 0
    for y in range(margin_y, ny - margin_y):
        flags = is_max[y]
        for x in range(margin_x, nx - margin_x):
            if flags[x]:
                out[count, 0] = y
                out[count, 1] = x
                count += 1
    return out


@numba.njit(**_JIT)
def background_mask_2d(image, half_widths, hdist, background):
    """1 where ``image`` is 0 and farther than the elliptical mask from every
    nonzero pixel: ``~binary_dilation(image, structure=ellipse)``.

    ``half_widths[dy + ry]`` is the half-width in x of the mask row at offset dy.
    """
    ny, nx = image.shape
    ry = half_widths.shape[0] // 2
    far = nx + 1
    # horizontal distance from each pixel to the nearest nonzero pixel in its
    # row: the ellipse covers (y, x) iff some row y+dy has one within half_widths
    for y in range(ny):
        last = -far
        row = image[y]
        h = hdist[y]
        for x in range(nx):
            if row[x] != 0:
                last = x
            h[x] = x - last
        last = nx + far
        for x in range(nx - 1, -1, -1):
            if row[x] != 0:
                last = x
            h[x] = min(h[x], last - x)
    background[:, :] = True
    for y in range(ny):
        bg = background[y]
        for dy in range(max(-ry, -y), min(ry, ny - 1 - y) + 1):
            w = half_widths[dy + ry]
            h = hdist[y + dy]
            for x in range(nx):
                if h[x] <= w:
                    bg[x] = False
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
        for it in range(max_iterations):
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
