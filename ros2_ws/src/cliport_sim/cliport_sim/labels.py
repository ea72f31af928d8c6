"""A demo action's training labels: grid cells and rotation bins (docs/design.md#action-labels).

Computed once, when a demo is stored (oracle or teleop), so training never re-derives them.
Their one inverse, what the policy commands for a labelled action, is
:func:`cliport_policy.poses.decision_poses`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from cliport_common.poses import Pose, yaw_of
from cliport_perception.workspace import Workspace


class ActionLabels(NamedTuple):
    """Training labels of one pick-and-place action (docs/design.md#action-labels)."""

    pick_pix: tuple[int, int]  # (row u, column v)
    place_pix: tuple[int, int]
    pick_rot: int  # always 0: theta0 is folded into the place rotation
    place_rot: int  # bin of the place-relative-to-pick rotation, 0..n_rotations-1


def pose_to_array(pose: Pose | Sequence[float] | np.ndarray) -> np.ndarray:
    """A pose ``((x, y, z), (qx, qy, qz, qw))`` or a flat 7-vector as float64 [7]."""
    try:
        if len(pose) == 2:
            flat = np.concatenate([np.asarray(pose[0], np.float64).ravel(),
                                   np.asarray(pose[1], np.float64).ravel()])
        else:
            flat = np.asarray(pose, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a pose (xyz, quat_xyzw) or 7-vector: {pose!r}") from exc
    if flat.shape != (7,) or not np.isfinite(flat).all():
        raise ValueError(f"a pose needs 7 finite numbers (xyz + quat xyzw), got {pose!r}")
    return flat


def rotation_bin(theta: float, n_rotations: int) -> int:
    """``round(theta / (2 pi / k)) mod k`` (docs/design.md#action-labels)."""
    if n_rotations < 1:
        raise ValueError(f"n_rotations must be >= 1, got {n_rotations}")
    return int(np.round(theta / (2.0 * math.pi / n_rotations))) % n_rotations


def _cell(workspace: Workspace, xyz: np.ndarray, what: str) -> tuple[int, int]:
    u, v = workspace.xy_to_pixel(float(xyz[0]), float(xyz[1]))
    if not workspace.in_grid(u, v):
        raise ValueError(f"{what} position ({xyz[0]:.4f}, {xyz[1]:.4f}) lies outside the "
                         f"workspace grid (cell {u}, {v} of {workspace.shape})")
    return u, v


def action_labels(pose0, pose1, workspace: Workspace, n_rotations: int = 36) -> ActionLabels:
    """Cells and rotation bins of a demo action (pick ``pose0``, place ``pose1``).

    Rotation (docs/design.md#action-labels): theta0 = -yaw(pose0),
    theta1 = -yaw(pose1) - theta0, then theta0 := 0, so the place bin encodes the place yaw
    *relative* to the pick yaw and the pick bin is always 0. Heights are not labelled: the
    inverse, :func:`cliport_policy.poses.decision_poses`, reads them from the heightmap.
    Raises ``ValueError`` for a pose off the grid or not a pose.
    """
    p0, p1 = pose_to_array(pose0), pose_to_array(pose1)
    theta1 = yaw_of(p0[3:]) - yaw_of(p1[3:])
    return ActionLabels(_cell(workspace, p0, "pick"), _cell(workspace, p1, "place"), 0,
                        rotation_bin(theta1, n_rotations))
