"""Exact synthetic RGB-D frames of boxes on a table, for tests and benchmarks.

A numpy ray caster: every pixel's ray is intersected with the table plane (z = 0) and
with axis-aligned boxes (slab method); the nearest hit gives depth (along the optical z
axis, as RealSense depth is) and colour. Heights and cells are therefore known exactly,
with no renderer in the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cliport_perception.camera import CameraModel
from cliport_perception.rgbd import RGBDFrame, depth_to_uint16

REFERENCE_K = (450.0, 0.0, 320.0, 0.0, 450.0, 240.0, 0.0, 0.0, 1.0)
# (position, PyBullet euler r p y) of the reference RealSenseD415 cameras
# (docs/design.md#sim-cameras).
REFERENCE_POSES = {
    "front": ((1.0, 0.0, 0.75), (math.pi / 4, math.pi, -math.pi / 2)),
    "left": ((0.0, 0.5, 0.75), (math.pi / 4.5, math.pi, math.pi / 4)),
    "right": ((0.0, -0.5, 0.75), (math.pi / 4.5, math.pi, 3 * math.pi / 4)),
}


def reference_cameras() -> list[CameraModel]:
    """The front, left and right 640x480 cameras of the reference simulator."""
    cams = []
    for name, (pos, euler) in REFERENCE_POSES.items():
        quat = Rotation.from_euler("xyz", euler).as_quat()  # PyBullet's convention, xyzw
        cams.append(CameraModel.from_pose(REFERENCE_K, 640, 480, pos, quat,
                                          frame_id=f"{name}_color_optical_frame"))
    return cams


@dataclass(frozen=True)
class Box:
    center_xy: tuple[float, float]
    size: tuple[float, float, float]  # x, y, z extents; the box stands on the table
    color: tuple[int, int, int] = (200, 30, 30)


def render(camera: CameraModel, boxes: list[Box], table_color=(60, 60, 60),
           depth_uint16: bool = False, stamp_ns: int = 0) -> RGBDFrame:
    rays = camera.world_rays()  # base-frame displacement per metre of optical depth
    origin = camera.extrinsic[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_table = np.where(rays[..., 2] < 0, -origin[2] / rays[..., 2], np.inf)
    depth = t_table.copy()
    color = np.empty(depth.shape + (3,), dtype=np.uint8)
    color[:] = table_color
    color[~np.isfinite(depth)] = 0
    for box in boxes:
        lo = np.array([box.center_xy[0] - box.size[0] / 2, box.center_xy[1] - box.size[1] / 2,
                       0.0])
        hi = lo + np.array([box.size[0], box.size[1], box.size[2]])
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - origin) / rays
            t2 = (hi - origin) / rays
        tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tmax >= tmin) & (tmin > 0) & (tmin < depth)
        depth[hit] = tmin[hit]
        color[hit] = box.color
    depth[~np.isfinite(depth)] = 0.0
    if depth_uint16:
        return RGBDFrame(color, depth_to_uint16(depth, camera.depth_scale), camera, stamp_ns)
    return RGBDFrame(color, depth.astype(np.float32), camera, stamp_ns)
