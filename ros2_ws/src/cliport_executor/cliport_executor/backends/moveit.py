"""Franka FR3 / Panda through MoveIt: the Cartesian primitives on moveit_py + franka_msgs.

NOT HARDWARE-VERIFIED. The parts that need a real ROS install are built in ``connect()`` and
imported lazily: :class:`~cliport_executor.franka.moveit_arm.MoveItArm` (Pilz LIN for
approach / descend / lift / retreat, OMPL for transfers, the table as a collision object,
scalings <= 0.3 by default), :class:`~cliport_executor.ros.franka_gripper.FrankaGripper`
(Grasp / Move / Homing) and :class:`~cliport_executor.ros.franka_recovery.FrankaRecovery`.
Tests inject fakes for those three; the sequencing, pose math, scaling limits, stop handling
and the recovery order then run for real.

A motion that ends with a hardware fault (an execution aborted by a reflex, which
deactivates the arm controller) triggers franka_ros2's error-recovery sequence; the goal
still fails with ``ERROR_HARDWARE`` and the arm is left at rest, controllers re-activated.
"""

from __future__ import annotations

import contextlib

from cliport_executor import primitives
from cliport_executor.arm_interface import Motion, Tool
from cliport_executor.backend import ArmBackend, BackendUnavailable, register_backend
from cliport_executor.config import ExecutorConfig
from cliport_executor.franka.poses import fold_gripper_yaws, tool_poses
from cliport_executor.franka.recovery import RecoveryCalls, RecoveryError, recover
from cliport_executor.request import ErrorCode, Outcome, PickPlaceRequest, Primitive
from cliport_executor.supervision import Supervisor


@register_backend("moveit")
class MoveItFrankaBackend(ArmBackend):
    def __init__(self, config: ExecutorConfig, *, ros_node=None, motion: Motion | None = None,
                 tool: Tool | None = None, recovery: RecoveryCalls | None = None,
                 callback_group=None, **_resources) -> None:
        self.config = config
        self._node, self._group = ros_node, callback_group  # the server's, for the ROS parts
        self.motion = motion  # None: a MoveItArm, built on connect
        self.tool = tool  # None: the Franka gripper over the server's node, built on connect
        self.recovery = recovery  # None: franka_ros2's recovery (if enabled), built on connect
        self.connected = False

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        cfg = self.config
        if self.motion is None:
            from cliport_executor.franka.moveit_arm import MoveItArm

            arm = MoveItArm(cfg.moveit)
            arm.connect()
            self.motion = arm
        if self.tool is None or (self.recovery is None and cfg.recovery.enabled):
            if self._node is None:
                raise BackendUnavailable("the Franka gripper and error recovery need the "
                                         "server's ROS node (ros_node=...)")
            if self.tool is None:
                from cliport_executor.ros.franka_gripper import FrankaGripper

                self.tool = FrankaGripper(self._node, cfg.gripper, cfg.timeouts.grasp,
                                          self._group)
            if self.recovery is None and cfg.recovery.enabled:
                from cliport_executor.ros.franka_recovery import FrankaRecovery

                self.recovery = FrankaRecovery(self._node, cfg.recovery, self._group)
        if cfg.gripper.home_on_connect:
            self.tool.home()
        self.connected = True

    def disconnect(self) -> None:
        if self.connected:
            self.safe_stop()
        self.connected = False

    # ------------------------------------------------------------------ goals
    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        if not self.connected:
            return Outcome.fail(ErrorCode.HARDWARE, "moveit backend is not connected")
        cfg = self.config
        self.motion.resume()
        pick, place = tool_poses(request.pick, request.place, cfg.moveit)
        with supervisor.on_stop(self._halt):
            if Primitive(request.primitive) == Primitive.PUSH:
                outcome = primitives.push(self.motion, self.tool, pick, place, cfg.motion,
                                          supervisor, request.speed_scaling,
                                          stroke_yaw=self._stroke_yaw)
            else:
                outcome = primitives.pick_place(self.motion, self.tool, pick, place,
                                                cfg.motion, supervisor, request.speed_scaling)
        if outcome.error_code == ErrorCode.HARDWARE:
            outcome = self._recover(outcome)
        return outcome

    def _stroke_yaw(self, yaw: float) -> float:
        """Tool yaw for a push along ``yaw``: the TCP offset, folded by pi (the fingers
        push the same either way round)."""
        moveit = self.config.moveit
        folded, _ = fold_gripper_yaws(yaw + moveit.tcp_yaw_offset, yaw + moveit.tcp_yaw_offset,
                                      moveit.neutral_yaw)
        return folded

    def _recover(self, outcome: Outcome) -> Outcome:
        if self.recovery is None:
            return Outcome.fail(outcome.error_code, f"{outcome.message} (error recovery is "
                                                    f"disabled)")
        try:
            steps = recover(self.recovery, self.config.recovery, self.config.timeouts.recovery)
        except RecoveryError as exc:
            return Outcome.fail(outcome.error_code, f"{outcome.message}; {exc}")
        return Outcome.fail(outcome.error_code, f"{outcome.message}; recovered: "
                                                f"{' -> '.join(steps)}")

    def _halt(self) -> None:
        """Stop listener: cut the running trajectory and any gripper action short."""
        for fn in (self.motion.stop, self.tool.stop):
            with contextlib.suppress(Exception):  # one part failing must not skip the other
                fn()

    def safe_stop(self) -> None:
        if self.motion is not None:
            with contextlib.suppress(Exception):  # safe_stop must not raise
                self.motion.stop()
