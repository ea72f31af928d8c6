"""An agent's output (grid cells + rotation bins) -> SE(2) poses in the arm's base frame.

Positions are cell centres of the perception grid (:class:`~cliport_perception.workspace.
Workspace`). The pick z is the heightmap at the pick cell (the top of what is picked; a cell
no camera saw reads as the table), taken as the highest reading within 5 mm so that a depth
hole does not read as the table. The place z follows the executor's ``PickPlace`` contract
- where the picked point should end - so it is the surface at the place cell plus the
picked object's height above the table (the pick z): a block picked at its 4 cm top and put
in a bowl whose floor reads 5 mm is released with its top at 4.5 cm. (The reference sends the
bare surface height; its suction primitive descends to contact either way, but a gripper
that moves to the commanded z would release the object its own height too low.)

Yaws (docs/design.md#action-labels, docs/design.md#grasp-yaw-bins): pick bin ``r0`` of ``k0``
is a parallel gripper's grasp yaw (the TCP's x axis, ``cliport_executor.franka.poses``)
of ``180 r0 / k0`` deg, folded into [-90, 90): a grasp turned by half a turn is the same
grasp, so the bins cover 180 deg (:func:`pick_yaw`, :func:`pick_bin_of_yaw`). It is not
mirrored: the attention's copy ``r0`` is the image turned so that this yaw reads as 0
(models/attention.py). Place bin ``r1`` of ``k1`` is theta1 = 2 pi r1 / k1, the pick yaw
minus the place yaw (the reference's relative label), so the commanded place yaw is
``pick yaw - theta1``. With one pick bin (suction) the pick yaw is 0, as the reference's.

:func:`decision_poses` is the one inverse of the labels a demo is stored with
(:func:`cliport_sim.labels.action_labels`, and :func:`cliport_policy.data.pick_bin` for the
pick bin), so training labels and commanded poses cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np

from cliport_common.poses import Pose, cell_position, place_z, quat_from_yaw
from cliport_perception.workspace import Workspace
from cliport_policy.config import PICK_ROTATION_SPAN_DEG

# Heights are read as the highest within this distance of a chosen cell: a one-camera
# heightmap has depth holes (they read as the table), and a pick z taken from a hole inside
# a block's top sends the gripper down to the table and the place z the block's height too
# low, wedging it in the bowl (docs/design.md#heights-from-the-heightmap).
SURFACE_RADIUS_M = 0.005


def pick_yaw(pick_bin: int, pick_rotations: int) -> float:
    """Grasp yaw (rad, in [-pi/2, pi/2)) of pick bin ``pick_bin`` of ``pick_rotations``."""
    span = math.radians(PICK_ROTATION_SPAN_DEG)
    if pick_rotations == 1:
        return 0.0
    return (span * int(pick_bin) / pick_rotations + span / 2.0) % span - span / 2.0


def pick_bin_of_yaw(yaw: float, pick_rotations: int) -> int:
    """The pick bin nearest a grasp yaw (rad, any value; folded by half a turn)."""
    width = math.radians(PICK_ROTATION_SPAN_DEG) / pick_rotations
    return int(np.round(yaw / width)) % pick_rotations


def decision_poses(workspace: Workspace, heightmap: np.ndarray, pick: tuple[int, int, int],
                   place: tuple[int, int, int], pick_rotations: int = 1,
                   place_rotations: int = 36) -> tuple[Pose, Pose]:
    """(pick pose, place pose) of (u, v, bin) cells: the inverse of the action labels.

    x, y: the cells' centres. Yaws: the pick bin's grasp yaw, and that minus the place bin's
    theta1. The z rule (``heightmap`` in metres above ``workspace.z_min``; a cell no camera
    saw reads as the table): pick z = the surface at the pick cell; place z = the surface at
    the place cell + the pick's height above the table, i.e. where the picked point should
    end (the executor's ``PickPlace`` contract); a surface is the highest reading within
    ``SURFACE_RADIUS_M`` of its cell. ``ValueError`` for a cell or bin out of range.
    """
    for (_, _, b), k, what in ((pick, pick_rotations, "pick"),
                               (place, place_rotations, "place")):
        if not 0 <= int(b) < k:
            raise ValueError(f"{what} rotation bin {b} is outside 0..{k - 1}")
    yaw0 = pick_yaw(pick[2], pick_rotations)
    theta1 = 2.0 * math.pi * int(place[2]) / place_rotations
    r = round(SURFACE_RADIUS_M / workspace.pixel_size)
    pick_xyz = cell_position(workspace, heightmap, pick[0], pick[1], r)
    x, y, surface = cell_position(workspace, heightmap, place[0], place[1], r)
    place_xyz = (x, y, place_z(surface, pick_xyz[2], workspace.z_min))
    return (pick_xyz, quat_from_yaw(yaw0)), (place_xyz, quat_from_yaw(yaw0 - theta1))
