"""A Franka Panda (FER) through panda-py: the arm interface without a ROS driver.

NOT HARDWARE-VERIFIED. The FER runs robot system <= 4.2.x and so libfranka 0.9, which
franka_ros2 on Jazzy cannot use (docs/design.md#franka-versions). panda-py (``pip install
panda-python``) ships libfranka 0.9.2 and gives blocking Cartesian motions (``Panda.move_to_pose``:
time-optimal, piecewise-linear in Cartesian space) and libfranka's ``Gripper``. This module
implements :class:`~cliport_executor.arm_interface.Motion` and
:class:`~cliport_executor.arm_interface.Gripper` over those objects; they are passed in, so the
tests drive the same code with recording stand-ins of the two panda-py classes.

There is no planner on this path: ``move_free`` is a Cartesian move too. The primitives keep
transfers at the configured height above the table, so the straight lines stay clear of it;
there is no collision model of anything else.
"""

from __future__ import annotations

import math
import threading

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Gripper, Motion, MotionError, Scaling
from cliport_executor.config import GripperConfig, LibfrankaConfig
from cliport_executor.franka.poses import top_down_quaternion
from cliport_executor.request import ErrorCode


def to_robot_frame(pose: SE2Pose, goal_to_robot) -> tuple[list[float], list[float]]:
    """(position, quaternion xyzw) of the top-down TCP in the robot base (panda_link0)."""
    tx, ty, tz, tyaw = goal_to_robot
    c, s = math.cos(tyaw), math.sin(tyaw)
    position = [tx + c * pose.x - s * pose.y, ty + s * pose.x + c * pose.y, tz + pose.z]
    return position, list(top_down_quaternion(pose.yaw + tyaw))


class PandaPyArm(Motion):
    supports_contact = False

    def __init__(self, panda, cfg: LibfrankaConfig) -> None:
        self.panda = panda
        self.cfg = cfg
        self._halted = threading.Event()

    def _move(self, target: SE2Pose, scaling: Scaling, what: str) -> None:
        if self._halted.is_set():
            return
        if not target.is_finite():
            raise MotionError(ErrorCode.PLANNING_FAILED, f"{what} target is not finite")
        position, orientation = to_robot_frame(target, self.cfg.goal_to_robot)
        speed = self.cfg.max_speed_factor * scaling.velocity
        try:
            ok = self.panda.move_to_pose(position, orientation, speed_factor=speed)
        except Exception as exc:  # noqa: BLE001 - libfranka's control/command exceptions
            if self._halted.is_set():
                return
            raise MotionError(ErrorCode.HARDWARE, f"{what} to {_fmt(position)} failed: "
                                                  f"{exc}") from exc
        if not ok and not self._halted.is_set():
            raise MotionError(ErrorCode.HARDWARE, f"{what} to {_fmt(position)} did not reach "
                                                  f"the pose (panda-py returned False)")

    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        self._move(target, scaling, "transfer")

    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        if stop_on_contact:
            raise MotionError(ErrorCode.PLANNING_FAILED,
                              "contact-sensing motions are not available on this arm")
        self._move(target, scaling, "linear move")
        return False

    def stop(self) -> None:
        self._halted.set()
        self.panda.stop_controller()

    def resume(self) -> None:
        self._halted.clear()


def _fmt(position) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in position) + ")"


class PandaPyGripper(Gripper):
    """The Franka Hand through libfranka's ``Gripper`` (as bound by panda-py)."""

    def __init__(self, gripper, cfg: GripperConfig) -> None:
        self.gripper = gripper
        self.cfg = cfg

    def _call(self, what: str, fn, *args) -> bool:
        try:
            return bool(fn(*args))
        except Exception as exc:  # noqa: BLE001 - libfranka's gripper exceptions
            raise MotionError(ErrorCode.HARDWARE, f"gripper {what} failed: {exc}") from exc

    def move_to(self, width: float) -> None:
        if not self._call("move", self.gripper.move, width, self.cfg.speed):
            raise MotionError(ErrorCode.HARDWARE, f"gripper did not move to {width:.3f} m")

    def close(self) -> None:  # not checked: closing for a push needs no exact width
        self._call("close", self.gripper.move, 0.0, self.cfg.speed)

    def grasp(self) -> bool:
        c = self.cfg
        return self._call("grasp", self.gripper.grasp, c.grasp_width, c.speed, c.force,
                          c.epsilon_inner, c.epsilon_outer)

    def home(self) -> None:
        if not self._call("homing", self.gripper.homing):
            raise MotionError(ErrorCode.HARDWARE, "gripper homing failed")

    def stop(self) -> None:
        self._call("stop", self.gripper.stop)
