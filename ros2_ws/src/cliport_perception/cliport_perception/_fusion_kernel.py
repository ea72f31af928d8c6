"""The per-view binning loop compiled with numba: one pass over the candidate pixels.

Same arithmetic, crop and tie-break as the numpy path in :mod:`cliport_perception.fusion`
(which stays as the fallback where numba is missing), so both give identical maps; a test
checks that. One pass avoids the dozen temporary arrays of the numpy path.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def bin_view(depth, scale, cand, d_lo, d_hi, a_u, a_v, a_z, b_u, b_v, b_z, rows, cols, z_range,
             floor_tol, top, best):  # pragma: no cover - compiled
    """Scatter-max of every valid point into ``top`` (heights) and ``best`` (pixel index)."""
    for i in range(cand.shape[0]):
        p = cand[i]
        d = np.float64(depth[p]) * scale
        if not (d >= d_lo[i] and d <= d_hi[i]):
            continue
        u = d * a_u[i] + b_u
        v = d * a_v[i] + b_v
        z = d * a_z[i] + b_z
        if u < 0 or u >= rows or v < 0 or v >= cols or z < -floor_tol or z >= z_range:
            continue
        if z < 0.0:  # within the floor tolerance: on the table
            z = 0.0
        cell = min(np.int64(u), rows - 1) * cols + min(np.int64(v), cols - 1)
        zf = np.float32(z)
        if zf > top[cell] or (zf == top[cell] and p > best[cell]):
            top[cell] = zf
            best[cell] = p


@njit(cache=True, nogil=True)
def merge_view(top, best, color, height, color_sum, count):  # pragma: no cover - compiled
    """Fold one binned view into the fused maps: max height, colour sum, view count."""
    for cell in range(best.shape[0]):
        p = best[cell]
        if p < 0:
            continue
        if top[cell] > height[cell]:
            height[cell] = top[cell]
        for ch in range(3):
            color_sum[cell, ch] += color[p, ch]
        count[cell] += 1


@njit(cache=True, nogil=True)
def finish(color_sum, count, colormap):  # pragma: no cover - compiled
    """Mean colour over the views that saw each cell, rounded half to even like np.round."""
    for cell in range(count.shape[0]):
        n = count[cell]
        if n == 0:
            continue
        for ch in range(3):
            colormap[cell, ch] = np.uint8(np.round(np.float32(color_sum[cell, ch]) / np.float32(n)))
