"""Fuse RGB-D views into one orthographic colormap + heightmap (docs/design.md#heightmap-fusion).

Per view: back-project every valid depth pixel into the arm's base frame, crop to the
workspace (half-open on every axis, as the reference), bin into cells with the
cell-centre convention of :mod:`cliport_perception.workspace`, and keep the highest
point of each cell with an **explicit scatter-max** (the reference relies on numpy's
last-write-wins after a z sort, which numpy does not guarantee). Across views: height =
max over the views that saw the cell, colour = mean over those views.

Deliberate differences from the reference, each for correctness:
* a cell is "seen" by a view when a point fell in it (a mask), not when its colour sum is
  positive, so pure-black objects are not dropped from the colour mean;
* missing depth (0, NaN, inf, negative) is never back-projected;
* the fused maps come with the ``valid`` mask instead of silently reading 0 as table.

Speed: per camera, the base-frame ray of each pixel is precomputed once, so a view costs
a few multiply-adds per pixel, one ``np.maximum.at`` and a gather of the winning colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cliport_perception.camera import CameraModel
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.workspace import Workspace

try:  # the compiled single-pass kernel; the numpy path below gives identical maps
    from cliport_perception import _fusion_kernel as _kernel
except ImportError:  # pragma: no cover - numba missing
    _kernel = None


@dataclass
class FusedMaps:
    colormap: np.ndarray  # rows x cols x 3 uint8
    heightmap: np.ndarray  # rows x cols float32, metres above workspace.z_min, 0 if unseen
    valid: np.ndarray  # rows x cols bool, seen by at least one view
    views_per_cell: np.ndarray  # rows x cols uint8


class _ViewGeometry:
    """Per-camera constants, computed once per camera model.

    Each pixel's ray is clipped against the workspace box (slab method), giving the depth
    interval in which its point can land inside the box; pixels whose ray misses the box
    are never touched again, and a single pair of comparisons per pixel replaces the
    six-sided crop. Cell coordinates are affine in depth, ``c = depth * A + B``; float64
    keeps the cell of points near a cell border the same as the reference's float64.
    """

    def __init__(self, camera: CameraModel, ws: Workspace, floor_tolerance: float = 0.0) -> None:
        rays = camera.world_rays().reshape(-1, 3)
        origin = camera.extrinsic[:3, 3]
        lo = np.array([ws.x_min, ws.y_min, ws.z_min - floor_tolerance])
        hi = np.array([ws.x_max, ws.y_max, ws.z_max])
        # (nearly) axis-parallel rays cross a slab plane at t = +-inf (over: a ray component
        # of 1e-310 from a focal length of 1e300 px)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t1 = (lo - origin) / rays
            t2 = (hi - origin) / rays
        # Axis-parallel rays: inside the slab -> unbounded, outside -> empty.
        para = rays == 0
        inside = (origin >= lo) & (origin < hi)
        t_near = np.where(para, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
        t_far = np.where(para, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
        enter = np.maximum(t_near.max(axis=1), 0.0)
        leave = t_far.min(axis=1)
        self.cand = np.flatnonzero(leave >= enter).astype(np.int64)
        margin = 1e-9  # widen: the exact half-open crop is applied to the computed points
        self.d_lo = np.maximum(enter[self.cand] - margin, 1e-9)
        self.d_hi = leave[self.cand] + margin
        s = ws.pixel_size
        r = rays[self.cand]
        self.a_u = r[:, 1] / s
        self.a_v = r[:, 0] / s
        self.a_z = r[:, 2]
        self.b_u = (origin[1] - ws.y_min) / s
        self.b_v = (origin[0] - ws.x_min) / s
        self.b_z = origin[2] - ws.z_min


class Fuser:
    """Reusable fusion for a fixed workspace; caches per-camera geometry."""

    def __init__(self, workspace: Workspace, compiled: bool | None = None,
                 floor_tolerance: float = 0.0) -> None:
        """``compiled``: use the numba kernel (default: when numba is installed).

        ``floor_tolerance`` (metres): points up to this far *below* ``z_min`` are kept at
        height 0 instead of being cropped. The reference's half-open crop drops table
        points at exactly z_min by float rounding (or, on a real camera, by depth noise),
        leaving table cells unseen; 0 keeps the reference's behaviour.
        """
        if not (floor_tolerance >= 0.0 and np.isfinite(floor_tolerance)):
            raise ValueError(f"floor_tolerance must be finite and >= 0, got {floor_tolerance}")
        self.workspace = workspace
        self.floor_tolerance = float(floor_tolerance)
        if compiled and _kernel is None:
            raise RuntimeError("the compiled fusion kernel needs numba")
        self.compiled = _kernel is not None if compiled is None else compiled
        # keyed by optical frame where there is one: a camera whose model keeps changing
        # (a new CameraInfo) replaces its geometry instead of adding one per model
        self._geometry: dict[str | int, tuple[CameraModel, _ViewGeometry]] = {}

    def _geom(self, camera: CameraModel) -> _ViewGeometry:
        key = camera.frame_id or id(camera)
        hit = self._geometry.get(key)
        if hit is None or hit[0] is not camera:
            hit = (camera, _ViewGeometry(camera, self.workspace, self.floor_tolerance))
            self._geometry[key] = hit
        return hit[1]

    def view(self, frame: RGBDFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One view's (heightmap, colormap, seen) on the grid."""
        rows, cols = self.workspace.shape
        if self.compiled:
            top, best = self._bin_compiled(frame)
        else:
            top, best = self._bin_numpy(frame)
        seen = best >= 0
        colormap = frame.color.reshape(-1, 3).take(np.maximum(best, 0), axis=0)
        colormap *= seen[:, None]
        heightmap = np.where(seen, top, np.float32(0.0))
        return (heightmap.reshape(rows, cols), colormap.reshape(rows, cols, 3),
                seen.reshape(rows, cols))

    def _bin_compiled(self, frame: RGBDFrame) -> tuple[np.ndarray, np.ndarray]:
        ws = self.workspace
        rows, cols = ws.shape
        g = self._geom(frame.camera)
        scale = frame.camera.depth_scale if frame.depth.dtype == np.uint16 else 1.0
        top = np.full(rows * cols, -np.inf, dtype=np.float32)
        best = np.full(rows * cols, -1, dtype=np.int64)
        _kernel.bin_view(np.ascontiguousarray(frame.depth).reshape(-1), scale, g.cand,
                           g.d_lo, g.d_hi, g.a_u, g.a_v, g.a_z, g.b_u, g.b_v, g.b_z,
                           rows, cols, ws.z_max - ws.z_min, self.floor_tolerance, top, best)
        return top, best

    def _bin_numpy(self, frame: RGBDFrame) -> tuple[np.ndarray, np.ndarray]:
        ws = self.workspace
        rows, cols = ws.shape
        g = self._geom(frame.camera)
        d = frame.depth.ravel().take(g.cand).astype(np.float64)
        if frame.depth.dtype == np.uint16:
            d *= frame.camera.depth_scale
        # NaN and inf fail these comparisons; 0 and negatives lie below d_lo > 0.
        k = np.flatnonzero((d >= g.d_lo) & (d <= g.d_hi))
        d = d.take(k)
        u = d * g.a_u.take(k) + g.b_u
        v = d * g.a_v.take(k) + g.b_v
        z = d * g.a_z.take(k) + g.b_z
        # The exact half-open crop of the reference, on the computed points.
        ok = np.flatnonzero((u >= 0) & (u < rows) & (v >= 0) & (v < cols)
                            & (z >= -self.floor_tolerance) & (z < ws.z_max - ws.z_min))
        pix = g.cand.take(k.take(ok))
        idx = np.minimum(u.take(ok).astype(np.int64), rows - 1) * cols
        idx += np.minimum(v.take(ok).astype(np.int64), cols - 1)
        zk = np.maximum(z.take(ok), 0.0).astype(np.float32)
        # Explicit scatter-max: the highest point of every cell ...
        top = np.full(rows * cols, -np.inf, dtype=np.float32)
        np.maximum.at(top, idx, zk)
        # ... and its colour: among points at the top height, the largest pixel index (a
        # deterministic tie-break), by a second scatter-max; colours are then gathered.
        winners = np.flatnonzero(zk == top.take(idx))
        best = np.full(rows * cols, -1, dtype=np.int64)
        np.maximum.at(best, idx.take(winners), pix.take(winners))
        return top, best

    def fuse(self, frames: Sequence[RGBDFrame]) -> FusedMaps:
        if not frames:
            raise ValueError("fuse() needs at least one RGB-D frame")
        rows, cols = self.workspace.shape
        if self.compiled:
            return self._fuse_compiled(frames)
        height = np.zeros((rows, cols), dtype=np.float32)
        color_sum = np.zeros((rows, cols, 3), dtype=np.float32)
        count = np.zeros((rows, cols), dtype=np.uint8)
        for frame in frames:
            h, c, seen = self.view(frame)
            np.maximum(height, h, out=height)
            color_sum += c
            count += seen
        colormap = np.round(color_sum / np.maximum(count, 1)[..., None]).astype(np.uint8)
        return FusedMaps(colormap, height, count > 0, count)

    def _fuse_compiled(self, frames: Sequence[RGBDFrame]) -> FusedMaps:
        rows, cols = self.workspace.shape
        n = rows * cols
        height = np.zeros(n, dtype=np.float32)
        color_sum = np.zeros((n, 3), dtype=np.int32)
        count = np.zeros(n, dtype=np.uint8)
        for frame in frames:
            top, best = self._bin_compiled(frame)
            color = np.ascontiguousarray(frame.color).reshape(-1, 3)
            _kernel.merge_view(top, best, color, height, color_sum, count)
        colormap = np.zeros((n, 3), dtype=np.uint8)
        _kernel.finish(color_sum, count, colormap)
        return FusedMaps(colormap.reshape(rows, cols, 3), height.reshape(rows, cols),
                         (count > 0).reshape(rows, cols), count.reshape(rows, cols))

def fuse(frames: Sequence[RGBDFrame], workspace: Workspace) -> FusedMaps:
    """One-shot fusion; keep a :class:`Fuser` to reuse per-camera geometry at frame rate."""
    return Fuser(workspace).fuse(frames)


def reference_fuse(frames: Sequence[RGBDFrame], workspace: Workspace
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The reference CLIPort algorithm (numpy float64, sort by z, assign), the baseline.

    Returns (colormap uint8, heightmap float32). Kept faithful, bugs included: black cells
    count as missing in the colour mean, missing cells read as height 0.
    """
    rows, cols = workspace.shape
    bounds = workspace.bounds
    heights, colors = [], []
    for frame in frames:
        cam = frame.camera
        depth = frame.depth.astype(np.float64)
        if frame.depth.dtype == np.uint16:
            depth = depth * cam.depth_scale
        px, py = np.meshgrid(np.arange(cam.width), np.arange(cam.height))
        pts = np.stack([(px - cam.cx) * depth / cam.fx, (py - cam.cy) * depth / cam.fy, depth],
                       axis=-1)
        pts = pts.reshape(-1, 3) @ cam.extrinsic[:3, :3].T + cam.extrinsic[:3, 3]
        rgb = frame.color.reshape(-1, 3)
        ok = (np.isfinite(pts).all(axis=1) & (pts[:, 0] >= bounds[0, 0])
              & (pts[:, 0] < bounds[0, 1]) & (pts[:, 1] >= bounds[1, 0])
              & (pts[:, 1] < bounds[1, 1]) & (pts[:, 2] >= bounds[2, 0])
              & (pts[:, 2] < bounds[2, 1]))
        pts, rgb = pts[ok], rgb[ok]
        order = np.argsort(pts[:, 2])
        pts, rgb = pts[order], rgb[order]
        hx = np.clip(np.floor((pts[:, 0] - bounds[0, 0]) / workspace.pixel_size), 0, cols - 1)
        hy = np.clip(np.floor((pts[:, 1] - bounds[1, 0]) / workspace.pixel_size), 0, rows - 1)
        hmap = np.zeros((rows, cols), dtype=np.float32)
        cmap = np.zeros((rows, cols, 3), dtype=np.uint8)
        hmap[hy.astype(int), hx.astype(int)] = pts[:, 2] - bounds[2, 0]
        cmap[hy.astype(int), hx.astype(int)] = rgb
        heights.append(hmap)
        colors.append(cmap)
    height = np.max(heights, axis=0)
    cols_ = np.array(colors, dtype=np.float64)
    valid = np.sum(cols_, axis=3, keepdims=True) > 0
    colormap = np.round(np.sum(cols_, axis=0) / np.maximum(np.sum(valid, axis=0), 1))
    return colormap.astype(np.uint8), height
