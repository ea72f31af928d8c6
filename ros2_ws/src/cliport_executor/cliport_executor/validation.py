"""Goal checks shared by every backend, so a bad pose never reaches an arm.

Two levels, because ROS actions can only reject a goal without a reason:
``check_goal`` finds *malformed* goals (non-finite numbers, tilted or non-unit
orientations, unknown primitive, empty or huge instruction, wrong frame) and the server
rejects them; ``check_workspace`` finds well-formed goals the arm must not execute
(outside the workspace box), which the server accepts and aborts with
``ERROR_OUT_OF_WORKSPACE`` so the client learns why (or rejects outright, with
``reject_out_of_workspace: true``). :mod:`cliport_executor.screening` combines both.
"""

from __future__ import annotations

import math

from cliport_executor.config import ExecutorConfig
from cliport_executor.request import ErrorCode, PickPlaceRequest, Primitive

MIN_PUSH_LENGTH = 1e-3  # m


class GoalError(ValueError):
    """A goal that must not be executed, with the error code that says why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_goal(req: PickPlaceRequest, cfg: ExecutorConfig) -> None:
    """Raise GoalError(INVALID_GOAL) for a malformed request."""
    def bad(msg: str) -> GoalError:
        return GoalError(ErrorCode.INVALID_GOAL, msg)

    if not req.instruction.strip():
        raise bad("instruction is empty")
    if len(req.instruction) > cfg.max_instruction_length:
        raise bad(f"instruction has {len(req.instruction)} characters; at most "
                  f"{cfg.max_instruction_length} are accepted")
    for name, pose in (("pick", req.pick), ("place", req.place)):
        if not pose.is_finite():
            raise bad(f"{name} pose has non-finite values: {pose}")
    if req.frame_id not in ("", cfg.base_frame):
        raise bad(f"poses must be in frame {cfg.base_frame!r}, got {req.frame_id!r}")
    try:
        Primitive(req.primitive)
    except ValueError:
        raise bad(f"unknown primitive {req.primitive}; known: "
                  f"{[p.name.lower() for p in Primitive]}") from None
    if not (math.isfinite(req.speed_scaling) and 0.0 <= req.speed_scaling <= 1.0):
        raise bad(f"speed_scaling must be in [0, 1] (0 = default), got {req.speed_scaling}")
    if (req.primitive == Primitive.PUSH
            and math.hypot(req.place.x - req.pick.x, req.place.y - req.pick.y) < MIN_PUSH_LENGTH):
        raise bad(f"a push needs distinct start and end (at least {MIN_PUSH_LENGTH} m apart "
                  f"in x-y): its direction is undefined")


def check_workspace(req: PickPlaceRequest, cfg: ExecutorConfig) -> None:
    """Raise GoalError(OUT_OF_WORKSPACE) when a pose lies outside the workspace box."""
    ws = cfg.workspace
    margin = cfg.workspace_margin
    for name, pose in (("pick", req.pick), ("place", req.place)):
        inside = (ws.x_min - margin <= pose.x <= ws.x_max + margin
                  and ws.y_min - margin <= pose.y <= ws.y_max + margin
                  and ws.z_min - margin <= pose.z <= ws.z_max + margin)
        if not inside:
            raise GoalError(ErrorCode.OUT_OF_WORKSPACE,
                            f"{name} pose ({pose.x:.3f}, {pose.y:.3f}, {pose.z:.3f}) is outside "
                            f"the workspace x[{ws.x_min}, {ws.x_max}] y[{ws.y_min}, {ws.y_max}] "
                            f"z[{ws.z_min}, {ws.z_max}] (margin {margin} m)")
