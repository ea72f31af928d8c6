"""What the Cartesian primitives need from a real arm: motions and a tool.

The MoveIt/Franka backend implements these with moveit_py (Pilz LIN, OMPL) and franka_msgs
gripper actions; the tests implement them with a recording fake. Poses are
:class:`~cliport_common.poses.SE2Pose`: the TCP in the goal's base frame (table top at
z = 0), pointing straight down, turned by ``yaw`` about the vertical; the implementation maps
them to its planning frame. Implementations raise :class:`MotionError` with the error code the
client should see; :meth:`Motion.stop` may be called from another thread at any time.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cliport_common.poses import SE2Pose
from cliport_executor.request import ErrorCode

if TYPE_CHECKING:
    from cliport_executor.config import GripperConfig


@dataclass(frozen=True)
class Scaling:
    """Velocity and acceleration scaling factors in (0, 1] for one motion."""

    velocity: float
    acceleration: float

    def __post_init__(self) -> None:
        for name in ("velocity", "acceleration"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value <= 1.0):
                raise ValueError(f"{name} scaling must be in (0, 1], got {value!r}")


class MotionError(RuntimeError):
    """A motion or tool action failed; ``code`` is PLANNING_FAILED, HARDWARE or TIMEOUT."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Motion(abc.ABC):
    """Arm motions. Each call blocks until the motion ends (or :meth:`stop` cuts it short)."""

    #: whether :meth:`move_linear` can stop on contact (needed by suction descents)
    supports_contact: bool = False

    @abc.abstractmethod
    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        """Collision-aware joint-space motion (OMPL) to ``target``."""

    @abc.abstractmethod
    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        """Straight-line TCP motion (Pilz LIN) to ``target``; True if contact ended it."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Halt any motion now and refuse new ones until :meth:`resume`."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Allow motions again (at the start of the next goal)."""


class Tool(abc.ABC):
    """The end effector: a parallel gripper (Franka Hand) or a suction cup."""

    #: ``"gripper"`` (close with force, no contact sensing needed) or ``"suction"``
    kind: str = "gripper"

    @abc.abstractmethod
    def open(self) -> None:
        """Open the fingers / switch the suction off (releases a held object)."""

    @abc.abstractmethod
    def grasp(self) -> bool:
        """Close with force / switch the suction on; True if an object is held."""

    def pregrasp(self) -> None:
        """Get ready above the pick; default :meth:`open` (a suction cup).

        A gripper opens only as wide as the objects need (``gripper.pregrasp_width``), so
        its fingers come down beside the object, not on a neighbour or a bowl's rim."""
        self.open()

    def release(self) -> None:
        """Let go of the held object at the place; default :meth:`open` (a suction cup).

        A gripper opens only far enough to clear the object (``gripper.release_width``), so
        its fingers stay off what surrounds the place, e.g. a bowl's rim."""
        self.open()

    def close(self) -> None:  # noqa: B027 - a suction cup has nothing to close
        """Close the fingers without expecting an object (a pusher for push)."""

    def home(self) -> None:  # noqa: B027 - tools without homing need nothing
        """Calibrate the fingers (Franka Hand homing); default: nothing to do."""

    def stop(self) -> None:  # noqa: B027 - tools without motion need nothing
        """Abort a tool action in flight (never releases what is already held)."""


class Gripper(Tool):
    """A parallel gripper (Franka Hand): open, release and close are moves to a width.

    One place says which width each one means, so every gripper lets go the same way.
    """

    kind = "gripper"
    cfg: GripperConfig  # the widths, speed and force (executor.yaml's ``gripper``)

    @abc.abstractmethod
    def move_to(self, width: float) -> None:
        """Move the fingers ``width`` m apart; :class:`MotionError` if they do not get there."""

    def open(self) -> None:
        self.move_to(self.cfg.open_width)

    def pregrasp(self) -> None:
        self.move_to(self.cfg.pregrasp_width)

    def release(self) -> None:
        self.move_to(self.cfg.release_width)

    def close(self) -> None:
        self.move_to(0.0)
