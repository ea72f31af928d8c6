"""The oracle's pick and place for a parallel gripper (the Franka twin): where, how high, which yaw.

A suction cup picks anywhere on an object's top at any yaw; a parallel gripper must close its
fingers across two opposite faces, and its open fingers need room beside the object at the
pick and at the place. Conventions (those of ``cliport_executor.franka.poses``): a pose's yaw
is the TCP's yaw about +z, the tool's x axis points along the yaw and the fingers close along
the tool's y axis, i.e. across the direction ``yaw - 90 deg``. Every yaw is in [-90, 90) deg.

* **Pick yaw**: the object's yaw folded to its grasp symmetry. A cube is gripped across either
  pair of faces (yaw folded by 90 deg into [-45, 45), or that + 90 deg); a box across its
  narrower horizontal side (folded by 180 deg), or its wider one if that fits the hand. Of
  these the one whose fingers come down clear of the neighbours is taken, the first listed
  on a tie (:func:`grip_yaws`).
* **Pick point**: the object's centre, on the grid cell that holds it, z the heightmap there
  (its top). When no yaw's fingers clear the neighbours the grip moves up to 1 cm off centre
  along the closing axis, away from them: the closing fingers then slide the object back
  between them, which the place accounts for.
* **Place yaw**: the pick yaw plus the object's turn onto the target's yaw, the turn folded
  by the object's symmetry (90 or 180 deg) to the smallest, then folded by 180 deg into
  [-90, 90): a cube or box turned by 180 deg is the same, so the object ends aligned with its
  target. A cube may also be released at that + 90 deg; the one needing the lower release
  is taken.
* **Place height**: the executor moves the gripped point to the place z, so that z is the
  surface the object will rest on (the highest cell under its footprint at the target, the
  object left out) plus the gripped point's height above the object's bottom; raised, if
  need be, until the opening fingers clear what is around the target (a bowl's rim, a
  neighbouring box, a container wall). The object then drops the difference.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cliport_common.poses import Pose, quat_from_yaw, yaw_of
from cliport_sim import footprint
from cliport_sim.geometry import matrix

if TYPE_CHECKING:  # pragma: no cover
    from cliport_sim.cameras import OracleMaps
    from cliport_sim.environment import Environment

SQUARE_TOLERANCE = 0.002  # m: footprint sides this close count as a square (90 deg symmetry)
SUPPORT_SHRINK = 0.8  # the support under a placed object is read over this part of its footprint
# The Franka Hand's fingers as the twin simulates them (pybullet_data's Panda: each finger
# collides as the convex hull of its mesh): 14 mm thick along the closing axis at the tip,
# 26.4 mm at the base 47 mm higher, 21 mm wide, the tips 10 mm below the TCP (measured against
# the table); 80 mm opening.
HAND_OPEN = 0.08
FINGER_TIP_THICKNESS = 0.014
FINGER_BASE_THICKNESS = 0.0264
FINGER_TAPER_HEIGHT = 0.047
FINGER_WIDTH = 0.021
FINGER_BELOW_TCP = 0.010
FINGER_CLEARANCE = 0.003  # m kept between the fingers and what they pass over
MAX_GRIP_WIDTH = 0.065  # m: the widest side the oracle grips (the hand opens 80 mm)
MAX_PICK_SHIFT = 0.01  # m: how far a grip may lie off centre along the closing axis


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


def equivalent_yaws(yaw: float, size: tuple[float, float]) -> list[float]:
    """Yaws in [-90, 90) deg that leave a box of ``size`` gripped by the hand at ``yaw``
    turned the same (a cube: ``yaw`` and ``yaw`` + 90 deg), nearest 0 first."""
    if not is_square(size):
        return [yaw]
    return sorted((yaw, fold(yaw + math.pi / 2, math.pi)), key=abs)


def grip_yaws(object_yaw: float, size: tuple[float, float]) -> list[float]:
    """Pick yaws that grip a box of ``size``, preferred first: :func:`pick_yaw`, then (a box
    whose wider side fits the hand too) across the wider side."""
    first = pick_yaw(object_yaw, size)
    if is_square(size):
        return equivalent_yaws(first, size)
    if max(size) <= MAX_GRIP_WIDTH:
        return [first, fold(first + math.pi / 2, math.pi)]
    return [first]


def finger_clearance(env: Environment, maps: OracleMaps, xy: tuple[float, float], yaw: float,
                     inner: float, body: int) -> float:
    """Lowest TCP z at which the fingers, opening from ``inner`` (half the gripped width) to
    fully open at ``xy`` and ``yaw``, pass over every cell around them (``body``'s own cells
    left out); the table's z_min when nothing is near."""
    ws = env.workspace
    reach = HAND_OPEN / 2 + FINGER_BASE_THICKNESS
    rows, cols = ws.shape
    u0, v0 = ws.xy_to_pixel(xy[0] - reach, xy[1] - reach)
    u1, v1 = ws.xy_to_pixel(xy[0] + reach, xy[1] + reach)
    u0, u1 = max(u0 - 1, 0), min(u1 + 1, rows - 1)
    v0, v1 = max(v0 - 1, 0), min(v1 + 1, cols - 1)
    if u0 > u1 or v0 > v1:
        return ws.z_min
    x = ws.x_min + (np.arange(v0, v1 + 1) + 0.5) * ws.pixel_size - xy[0]
    y = ws.y_min + (np.arange(u0, u1 + 1) + 0.5) * ws.pixel_size - xy[1]
    dx, dy = np.meshgrid(x, y)
    # The fingers close along the tool's y axis, (sin yaw, -cos yaw); they are FINGER_WIDTH
    # wide along the tool's x axis.
    along = np.abs(dx * math.sin(yaw) - dy * math.cos(yaw))
    across = np.abs(dx * math.cos(yaw) + dy * math.sin(yaw))
    swept = ((across <= FINGER_WIDTH / 2 + FINGER_CLEARANCE) & (along >= inner)
             & (along <= reach + FINGER_CLEARANCE)
             & (maps.segmentation[u0:u1 + 1, v0:v1 + 1] != body))
    if not swept.any():
        return ws.z_min
    # Past the tips' outer face the fingers' underside rises towards their thicker base.
    tip_out = HAND_OPEN / 2 + FINGER_TIP_THICKNESS
    rise = np.clip(along - tip_out, 0.0, None) * (
        FINGER_TAPER_HEIGHT / (FINGER_BASE_THICKNESS - FINGER_TIP_THICKNESS))
    need = maps.heightmap[u0:u1 + 1, v0:v1 + 1] + FINGER_CLEARANCE - rise
    return ws.z_min + float(need[swept].max()) + FINGER_BELOW_TCP


def _gripped_half_width(size: tuple[float, float], object_yaw: float, yaw: float) -> float:
    """Half the object's width along the fingers' closing axis (yaw - 90 deg)."""
    a = yaw - math.pi / 2 - object_yaw
    return 0.5 * (abs(math.cos(a)) * size[0] + abs(math.sin(a)) * size[1])


def _motion(env: Environment) -> tuple[float, float]:
    """(grasp_depth, release_height) of the executor that runs the twin's primitives."""
    motion = env.twin.executor.motion
    return motion.grasp_depth, motion.release_height


def pick_pose(env: Environment, maps: OracleMaps, body: int) -> Pose:
    """Grip ``body`` top-down at its centre cell, at the grasp yaw whose fingers clear the
    neighbours (ties: the preferred one); when no yaw clears them, shift the grip along the
    fingers' closing axis (at most :data:`MAX_PICK_SHIFT`) away from what is in the way."""
    ws = env.workspace
    (x, y, _), quat = env.pose(body)
    size = footprint_size(env, body)
    obj_yaw = yaw_of(quat)
    options = grip_yaws(obj_yaw, size)
    grasp_depth = _motion(env)[0]
    rows, cols = ws.shape
    best = None
    n_shift = int(MAX_PICK_SHIFT / ws.pixel_size)
    for k in sorted(range(-n_shift, n_shift + 1), key=abs):
        for rank, yaw in enumerate(options):
            sx, sy = math.sin(yaw), -math.cos(yaw)  # the closing axis
            u, v = ws.xy_to_pixel(x + k * ws.pixel_size * sx, y + k * ws.pixel_size * sy)
            u, v = min(max(u, 0), rows - 1), min(max(v, 0), cols - 1)
            cx, cy = ws.pixel_to_xy(u, v)
            z = ws.z_min + float(maps.heightmap[u, v])
            inner = max(_gripped_half_width(size, obj_yaw, yaw) - abs(k) * ws.pixel_size, 0.0)
            hit = finger_clearance(env, maps, (cx, cy), yaw, inner, body) - (z - grasp_depth)
            key = (round(max(hit, 0.0), 3), abs(k), rank)
            if best is None or key < best[0]:
                best = (key, ((cx, cy, z), quat_from_yaw(yaw)))
        if best is not None and best[0][0] == 0.0:
            break
    assert best is not None
    return best[1]


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
    yaw when ``rotations``), and at which yaw; see the module docstring."""
    (ox, oy, oz), oquat = env.pose(body)
    size = footprint_size(env, body)
    yaw0 = yaw_of(pick[1])
    obj_yaw, tgt_yaw = yaw_of(oquat), yaw_of(target[1])
    preferred = place_yaw(yaw0, obj_yaw, tgt_yaw, grasp_symmetry(size)) if rotations else yaw0
    grasp_depth, release_height = _motion(env)
    lift = pick[0][2] - (oz + float(env.local_box(body)[0][2]))  # gripped point above bottom
    # The closing fingers centre the object between them: the gripped point's offset from
    # the object's centre is its part along the fingers' width (the tool's x), turning along.
    ax, ay = math.cos(yaw0), math.sin(yaw0)
    along_x = (pick[0][0] - ox) * ax + (pick[0][1] - oy) * ay
    dx, dy = along_x * ax, along_x * ay
    best = None
    for yaw1 in equivalent_yaws(preferred, size) if rotations else [yaw0]:
        turn = yaw1 - yaw0
        c, s = math.cos(turn), math.sin(turn)
        x = target[0][0] + c * dx - s * dy
        y = target[0][1] + s * dx + c * dy
        at = ((target[0][0], target[0][1], 0.0), quat_from_yaw(obj_yaw + turn))
        rest = env.workspace.z_min + support_height(env, maps, body, at) + lift
        # Release no lower than where the opening fingers clear what is around.
        clear = finger_clearance(env, maps, (x, y), yaw1,
                                 _gripped_half_width(size, obj_yaw + turn, yaw1), body)
        z = max(rest, clear + grasp_depth - release_height)
        if best is None or (round(z, 3), abs(yaw1)) < (round(best[0][2], 3), abs(best[1])):
            best = ((x, y, z), yaw1)
    assert best is not None
    return best[0], quat_from_yaw(best[1])
