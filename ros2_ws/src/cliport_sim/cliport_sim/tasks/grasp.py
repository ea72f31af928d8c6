"""The oracle's pick and place for a parallel gripper (the Franka twin): where, how high, which yaw.

A suction cup picks anywhere on an object's top at any yaw; a parallel gripper must close its
fingers across two opposite faces, at the object's middle, and carry it at the height it
will rest at. Conventions (those of ``cliport_executor.franka.poses``): a pose's yaw is the
TCP's yaw about +z, the tool's x axis points along the yaw and the fingers close along the
tool's y axis, i.e. across the direction ``yaw + 90 deg``.

* **Pick yaw**: the object's yaw folded to its grasp symmetry, in [-90, 90) deg. A square
  footprint (a cube) is gripped across either pair of faces, so its yaw is folded by 90 deg
  into [-45, 45); a box is gripped across its narrower horizontal side (the fingers open to
  80 mm) and the yaw folded by 180 deg.
* **Place yaw**: the pick yaw plus the object's turn to the target, the turn folded by the
  object's symmetry (90 or 180 deg) to the smallest, then the result folded by 180 deg into
  [-90, 90). Turning a box or cube by 180 deg leaves it the same, so the object ends aligned
  with its target whatever fold was taken, and the wrist never turns more than 90 deg.
* **Pick point**: the object's centre, on the grid cell that holds it; z is the heightmap
  there (the object's top).
* **Place height**: the executor moves the picked point to the place z, so that z is the
  surface the object will rest on (the highest cell under its footprint at the target, the
  object itself left out) plus the picked point's height above the object's bottom.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cliport_sim import footprint
from cliport_sim.geometry import Pose, matrix, quat_from_yaw, yaw_of

if TYPE_CHECKING:  # pragma: no cover
    from cliport_sim.cameras import OracleMaps
    from cliport_sim.environment import Environment

SQUARE_TOLERANCE = 0.002  # m: footprint sides this close count as a square (90 deg symmetry)
SUPPORT_SHRINK = 0.8  # the support under a placed object is read over this part of its footprint


def fold(angle: float, period: float) -> float:
    """``angle`` shifted by a multiple of ``period`` into [-period / 2, period / 2)."""
    return (angle + period / 2.0) % period - period / 2.0


def footprint_size(env: Environment, body: int) -> tuple[float, float]:
    """The body's horizontal box sides (along its own x and y), in metres."""
    lo, hi = env.local_box(body)
    return float(hi[0] - lo[0]), float(hi[1] - lo[1])


def is_square(size: tuple[float, float]) -> bool:
    return abs(size[0] - size[1]) <= SQUARE_TOLERANCE


def grasp_symmetry(size: tuple[float, float]) -> float:
    """Turns (rad) that leave a box of horizontal ``size`` looking the same: 90 or 180 deg."""
    return math.pi / 2 if is_square(size) else math.pi


def pick_yaw(object_yaw: float, size: tuple[float, float]) -> float:
    """TCP yaw gripping a box of ``size`` turned by ``object_yaw``; see the module docstring."""
    if is_square(size):
        return fold(object_yaw, math.pi / 2)
    # The fingers close across yaw + 90 deg: across the box's x side when that is narrower.
    yaw = object_yaw + (math.pi / 2 if size[0] < size[1] else 0.0)
    return fold(yaw, math.pi)


def place_yaw(pick: float, object_yaw: float, target_yaw: float, symmetry: float) -> float:
    """TCP yaw at the place: the object turned onto ``target_yaw`` modulo ``symmetry``."""
    return fold(pick + fold(target_yaw - object_yaw, symmetry), math.pi)


def pick_pose(env: Environment, maps: OracleMaps, body: int) -> Pose:
    """Grip ``body`` at its centre cell, top-down, at :func:`pick_yaw`."""
    ws = env.workspace
    (x, y, _), quat = env.pose(body)
    u, v = ws.xy_to_pixel(x, y)
    rows, cols = ws.shape
    u, v = min(max(u, 0), rows - 1), min(max(v, 0), cols - 1)
    cx, cy = ws.pixel_to_xy(u, v)
    z = ws.z_min + float(maps.heightmap[u, v])
    return (cx, cy, z), quat_from_yaw(pick_yaw(yaw_of(quat), footprint_size(env, body)))


def support_height(env: Environment, maps: OracleMaps, body: int, target: Pose) -> float:
    """Height above ``z_min`` of the highest cell under ``body``'s footprint at ``target``
    (the footprint shrunk to :data:`SUPPORT_SHRINK`; the body's own cells left out)."""
    lo, hi = env.local_box(body)
    mid = (lo + hi) / 2.0
    lo_s, hi_s = mid + (lo - mid) * SUPPORT_SHRINK, mid + (hi - mid) * SUPPORT_SHRINK
    area = np.zeros(env.workspace.shape, dtype=bool)
    at_target = matrix(((*target[0][:2], 0.0), quat_from_yaw(yaw_of(target[1]))))
    footprint.rasterize_convex(area, footprint.box_corners(lo_s, hi_s, at_target)[:, :2],
                               env.workspace)
    area &= maps.segmentation != body
    return float(maps.heightmap[area].max()) if area.any() else 0.0


def place_pose(env: Environment, maps: OracleMaps, body: int, pick: Pose, target: Pose,
               rotations: bool = True) -> Pose:
    """Where the gripped point goes so that ``body`` rests on ``target`` (aligned with its
    yaw when ``rotations``); see the module docstring."""
    (ox, oy, oz), oquat = env.pose(body)
    size = footprint_size(env, body)
    yaw0 = yaw_of(pick[1])
    obj_yaw, tgt_yaw = yaw_of(oquat), yaw_of(target[1])
    yaw1 = place_yaw(yaw0, obj_yaw, tgt_yaw, grasp_symmetry(size)) if rotations else yaw0
    turn = yaw1 - yaw0
    # The gripped point's offset from the object's centre turns with the object.
    dx, dy = pick[0][0] - ox, pick[0][1] - oy
    c, s = math.cos(turn), math.sin(turn)
    x = target[0][0] + c * dx - s * dy
    y = target[0][1] + s * dx + c * dy
    bottom = oz + float(env.local_box(body)[0][2])
    at = ((target[0][0], target[0][1], 0.0), quat_from_yaw(obj_yaw + turn))
    z = env.workspace.z_min + support_height(env, maps, body, at) + (pick[0][2] - bottom)
    return (x, y, z), quat_from_yaw(yaw1)
