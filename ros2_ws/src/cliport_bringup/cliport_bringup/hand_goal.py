"""One ``PickPlace`` goal by hand: heightmap cells -> base-frame poses -> the goal's fields.

Plain Python (no rclpy), behind ``cliport-goal``. A first pick on a real arm starts from a
cell read off the heightmap preview; this turns it into the base-frame position the arm will
go to (the cell's centre, :class:`~cliport_perception.workspace.Workspace`), with z given
or read from a heightmap the way the policy reads it (:mod:`cliport_policy.poses`). The goal
is one nested mapping (:func:`goal_fields`), printed as the YAML argument of
``ros2 action send_goal`` and filled into the message by ``cliport-goal send``, so the two
ways of sending it cannot disagree.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliport_common.config import ConfigError, from_dict, load_yaml
from cliport_common.poses import quat_from_yaw
from cliport_perception.workspace import Workspace

ACTION_TYPE = "cliport_msgs/action/PickPlace"
PRIMITIVES = {"pick_place": 0, "push": 1}  # PickPlace.Goal.PRIMITIVE_*


@dataclass(frozen=True)
class GoalPose:
    """A top-down pose in the base frame: position (m) and yaw about +z (rad)."""

    x: float
    y: float
    z: float
    yaw: float = 0.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.x, self.y, self.z, self.yaw)):
            raise ValueError(f"pose values must be finite: {self}")

    def quaternion(self) -> tuple[float, float, float, float]:
        """(x, y, z, w) of the yaw about +z (the executor's SE(2) convention)."""
        return quat_from_yaw(self.yaw)


def _workspace_mapping(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    if isinstance(data.get("workspace"), Mapping):
        return dict(data["workspace"])
    # A ROS parameters file: {node: {ros__parameters: {workspace.x_min: ...}}}.
    for node in data.values():
        params = node.get("ros__parameters") if isinstance(node, Mapping) else None
        if isinstance(params, Mapping):
            found = {k[len("workspace."):]: v for k, v in params.items()
                     if k.startswith("workspace.")}
            if found:
                return found
    # A package config: {section: {..., workspace: {...}}}.
    sections = [v for v in data.values() if isinstance(v, Mapping)
                and isinstance(v.get("workspace"), Mapping)]
    if len(sections) == 1:
        return dict(sections[0]["workspace"])
    raise ConfigError(f"{where}: no single 'workspace' mapping (bounds + pixel_size) found")


def load_workspace(path: str | Path) -> Workspace:
    """The workspace in a config YAML: a top-level ``workspace``, one section's
    ``workspace`` (perception.yaml, executor.yaml, franka.yaml) or a ROS parameters file's
    ``workspace.*`` keys."""
    data = load_yaml(path)
    return from_dict(Workspace, _workspace_mapping(data, str(path)), where=f"{path}: workspace")


def cell_xy(workspace: Workspace, u: int, v: int) -> tuple[float, float]:
    """Base-frame (x, y) of the centre of cell (row u, column v); refuses cells off the grid."""
    if not workspace.in_grid(u, v):
        raise ValueError(f"cell ({u}, {v}) lies outside the {workspace.shape[0]}x"
                         f"{workspace.shape[1]} grid")
    return workspace.pixel_to_xy(u, v)


def cell_height(workspace: Workspace, heightmap: np.ndarray, u: int, v: int) -> float:
    """z of the surface at a cell: the heightmap (metres above ``z_min``) plus ``z_min``;
    a cell no camera saw (not finite) reads as the table."""
    cell_xy(workspace, u, v)
    h = float(heightmap[u, v])
    return workspace.z_min + (h if math.isfinite(h) else 0.0)


def pick_place_heights(workspace: Workspace, heightmap: np.ndarray, pick: tuple[int, int],
                       place: tuple[int, int]) -> tuple[float, float]:
    """(pick z, place z) as the policy node computes them: the pick z is the top of what is
    picked; the place z is the surface at the place cell plus that object's height."""
    from cliport_policy.poses import decision_poses

    (pick_xyz, _), (place_xyz, _) = decision_poses(workspace, heightmap, (*pick, 0),
                                                   (*place, 0))
    return pick_xyz[2], place_xyz[2]


def goal_fields(pick: GoalPose, place: GoalPose, frame_id: str, instruction: str = "",
                primitive: str = "pick_place", speed_scaling: float = 0.0) -> dict[str, Any]:
    """The ``PickPlace`` goal as nested fields (what ``ros2 action send_goal`` parses)."""
    if primitive not in PRIMITIVES:
        raise ValueError(f"unknown primitive {primitive!r}; expected one of {list(PRIMITIVES)}")
    if not (math.isfinite(speed_scaling) and 0.0 <= speed_scaling <= 1.0):
        raise ValueError(f"speed_scaling must be in [0, 1], got {speed_scaling}")
    if not frame_id:
        raise ValueError("the goal needs a frame (the arm's base frame)")

    def pose(p: GoalPose) -> dict[str, Any]:
        qx, qy, qz, qw = p.quaternion()
        return {"header": {"frame_id": frame_id},
                "pose": {"position": {"x": p.x, "y": p.y, "z": p.z},
                         "orientation": {"x": qx, "y": qy, "z": qz, "w": qw}}}

    return {"instruction": instruction, "pick": pose(pick), "place": pose(place),
            "primitive": PRIMITIVES[primitive], "speed_scaling": float(speed_scaling)}


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0")  # fixed point: YAML reads "1e-05" as a string
        return text + "0" if text.endswith(".") else text
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def flow_yaml(fields: Mapping[str, Any]) -> str:
    """One-line YAML flow mapping of the fields (floats keep their point, strings quoted)."""
    return _flow(fields)


def send_goal_command(fields: Mapping[str, Any], action: str = "/pick_place") -> str:
    """The ``ros2 action send_goal`` line that sends this goal, with feedback shown."""
    text = flow_yaml(fields)
    # double quotes as in ROS's docs when nothing inside needs escaping from the shell
    quoted = f'"{text}"' if not set(text) & set('"\\$`!') else shlex.quote(text)
    return " ".join(["ros2 action send_goal --feedback", action, ACTION_TYPE, quoted])


def fill_message(msg: Any, fields: Mapping[str, Any]) -> Any:
    """Set a ROS message's fields from the nested mapping (as ``send_goal`` does)."""
    for key, value in fields.items():
        if not hasattr(msg, key):
            raise ValueError(f"{type(msg).__name__} has no field {key!r}")
        if isinstance(value, Mapping):
            fill_message(getattr(msg, key), value)
        else:
            setattr(msg, key, value)
    return msg
