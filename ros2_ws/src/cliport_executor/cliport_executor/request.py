"""Backend-neutral pick-and-place requests, phases and error codes.

These mirror ``cliport_msgs/action/PickPlace`` so that backends (PyBullet simulator,
MoveIt on a Franka) are plain Python and testable without ROS. A test checks that the
numeric values equal the message constants.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cliport_common.frames import BASE_FRAME
from cliport_common.poses import SE2Pose


class Primitive(enum.IntEnum):
    PICK_PLACE = 0
    PUSH = 1


class Phase(enum.IntEnum):
    APPROACH = 0
    DESCEND = 1
    GRASP = 2
    LIFT = 3
    TRANSFER = 4
    PLACE = 5
    RETREAT = 6


PICK_PLACE_PHASES = (Phase.APPROACH, Phase.DESCEND, Phase.GRASP, Phase.LIFT, Phase.TRANSFER,
                     Phase.PLACE, Phase.RETREAT)
PUSH_PHASES = (Phase.APPROACH, Phase.DESCEND, Phase.TRANSFER, Phase.RETREAT)


def phases_of(primitive: Primitive) -> tuple[Phase, ...]:
    """The feedback phases a primitive goes through when nothing goes wrong."""
    return PUSH_PHASES if primitive == Primitive.PUSH else PICK_PLACE_PHASES


class ErrorCode(enum.IntEnum):
    NONE = 0
    INVALID_GOAL = 1
    OUT_OF_WORKSPACE = 2
    PLANNING_FAILED = 3
    GRASP_FAILED = 4
    CANCELED = 5
    HARDWARE = 6
    TIMEOUT = 7


@dataclass(frozen=True)
class PickPlaceRequest:
    instruction: str
    pick: SE2Pose
    place: SE2Pose
    primitive: Primitive = Primitive.PICK_PLACE
    speed_scaling: float = 0.0  # 0 = backend default
    frame_id: str = BASE_FRAME


@dataclass(frozen=True)
class Outcome:
    """What a backend reports after one primitive."""

    success: bool
    error_code: ErrorCode = ErrorCode.NONE
    message: str = ""
    reward: float | None = None

    @classmethod
    def ok(cls, reward: float | None = None) -> Outcome:
        return cls(True, ErrorCode.NONE, "", reward)

    @classmethod
    def fail(cls, code: ErrorCode, message: str, reward: float | None = None) -> Outcome:
        return cls(False, code, message, reward)
