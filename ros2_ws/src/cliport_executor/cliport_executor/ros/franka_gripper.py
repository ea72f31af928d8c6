"""The Franka Hand as a :class:`~cliport_executor.arm_interface.Gripper`, via franka_msgs actions.

NOT HARDWARE-VERIFIED (franka_msgs is not installable here). The franka_gripper node serves
``~/grasp`` (``franka_msgs/action/Grasp``: width, epsilon.inner/outer, speed, force ->
success, error), ``~/move`` (Move: width, speed) and ``~/homing`` (Homing) under the node
``franka_gripper`` (docs/design.md#franka-gripper; docs that say ``/fr3_gripper`` disagree with the
launch file, so the namespace is a parameter). Grasp succeeds iff the fingers stop between
``width - epsilon.inner`` and ``width + epsilon.outer``, which is how a failed grasp (nothing
between the fingers) is detected. The blocking calls are :class:`ActionCall` s, tested here
against a real action server.
"""

from __future__ import annotations

from cliport_executor.arm_interface import Gripper, MotionError
from cliport_executor.config import GripperConfig
from cliport_executor.request import ErrorCode
from cliport_executor.ros.action_call import ActionCall, interface_module


class FrankaGripper(Gripper):
    def __init__(self, node, cfg: GripperConfig, timeout: float, callback_group=None) -> None:
        action = interface_module("franka_msgs.action", "build franka_ros2")
        self.cfg = cfg
        self.timeout = timeout
        self._types = {"grasp": action.Grasp, "move": action.Move, "homing": action.Homing}
        ns = cfg.namespace.rstrip("/")
        self._calls = {name: ActionCall(node, t, f"{ns}/{name}", callback_group)
                       for name, t in self._types.items()}

    def grasp(self) -> bool:
        goal = self._types["grasp"].Goal()
        goal.width = self.cfg.grasp_width
        goal.epsilon.inner = self.cfg.epsilon_inner
        goal.epsilon.outer = self.cfg.epsilon_outer
        goal.speed = self.cfg.speed
        goal.force = self.cfg.force
        result = self._calls["grasp"](goal, self.timeout)
        return bool(result.success)  # False: nothing (or something too big) in the fingers

    def home(self) -> None:
        result = self._calls["homing"](self._types["homing"].Goal(), self.timeout)
        if not result.success:
            raise MotionError(ErrorCode.HARDWARE, f"gripper homing failed: {result.error}")

    def stop(self) -> None:
        for call in self._calls.values():
            call.cancel()

    def move_to(self, width: float) -> None:
        goal = self._types["move"].Goal()
        goal.width = width
        goal.speed = self.cfg.speed
        result = self._calls["move"](goal, self.timeout)
        if not result.success:
            raise MotionError(ErrorCode.HARDWARE, f"gripper move to {width:.3f} m failed: "
                                                  f"{result.error}")

    def destroy(self) -> None:
        for call in self._calls.values():
            call.destroy()
