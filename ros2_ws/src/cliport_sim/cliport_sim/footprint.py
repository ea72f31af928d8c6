"""Object footprints on the workspace grid, for placing new objects without rendering.

The reference finds free table space by rendering the oracle camera after every object
it places. Here each body's footprint is the top-down projection of its oriented
bounding box (from the local AABB recorded when it was added), rasterised onto the grid:
no render per placement, and the scene no longer depends on the renderer's output. The
box is a superset of the rendered silhouette, so placement is at least as conservative.
"""

from __future__ import annotations

import numpy as np

from cliport_perception.workspace import Workspace


def convex_hull_2d(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of N x 2 points (monotone chain)."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) <= 2:
        return pts

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[np.ndarray] = []
    for q in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    upper: list[np.ndarray] = []
    for q in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def box_corners(lo, hi, transform: np.ndarray) -> np.ndarray:
    """The 8 corners of the local box [lo, hi] under a 4x4 transform, as 8 x 3."""
    xs, ys, zs = zip(lo, hi, strict=True)
    local = np.array([[x, y, z] for x in xs for y in ys for z in zs])
    return local @ transform[:3, :3].T + transform[:3, 3]


def rasterize_convex(mask: np.ndarray, polygon_xy: np.ndarray, ws: Workspace) -> None:
    """Set the cells of ``mask`` whose centres lie inside the convex polygon (in place)."""
    hull = convex_hull_2d(polygon_xy)
    if len(hull) < 3:
        return
    s = ws.pixel_size
    rows, cols = mask.shape
    (x0, y0), (x1, y1) = hull.min(axis=0), hull.max(axis=0)
    v0 = max(0, int(np.floor((x0 - ws.x_min) / s)))
    v1 = min(cols - 1, int(np.floor((x1 - ws.x_min) / s)))
    u0 = max(0, int(np.floor((y0 - ws.y_min) / s)))
    u1 = min(rows - 1, int(np.floor((y1 - ws.y_min) / s)))
    if v0 > v1 or u0 > u1:
        return
    x = ws.x_min + (np.arange(v0, v1 + 1) + 0.5) * s
    y = ws.y_min + (np.arange(u0, u1 + 1) + 0.5) * s
    X, Y = np.meshgrid(x, y)
    inside = np.ones(X.shape, dtype=bool)
    for a, b in zip(hull, np.roll(hull, -1, axis=0), strict=True):
        inside &= (b[0] - a[0]) * (Y - a[1]) - (b[1] - a[1]) * (X - a[0]) >= 0
    mask[u0:u1 + 1, v0:v1 + 1] |= inside
