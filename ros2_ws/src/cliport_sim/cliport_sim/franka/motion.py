"""The executor's arm interfaces over the Franka twin: ``Motion`` and ``Tool``.

With these, ``cliport_executor.backends.moveit.MoveItFrankaBackend(config, motion=TwinMotion
(arm), tool=TwinHand(arm.hand, config.gripper), recovery=...)`` runs its own sequencing
(``franka/poses``, the Cartesian primitives, the stop handling) on the simulated arm: the code
path of the real Franka, with IK + joint-space motions standing in for OMPL and the twin's
straight lines for Pilz LIN. Errors map as on the real arm: no IK solution is
``PLANNING_FAILED``; a motion that cannot finish (blocked, out of its step budget) or a
gripper move that fails is ``HARDWARE``. A stop from another thread only sets flags that the
simulation loop polls every step, so PyBullet is only ever called from the moving thread.
"""

from __future__ import annotations

from collections.abc import Callable

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Gripper, Motion, MotionError, Scaling
from cliport_executor.config import GripperConfig
from cliport_executor.request import ErrorCode
from cliport_sim.franka.arm import FrankaArm, Unreachable
from cliport_sim.franka.hand import FrankaHand


class TwinMotion(Motion):
    """:class:`Motion` on a :class:`FrankaArm`; ``should_stop`` (optional) is polled every
    simulation step besides :meth:`stop` (e.g. the world shutting down)."""

    supports_contact = False

    def __init__(self, arm: FrankaArm, should_stop: Callable[[], bool] | None = None) -> None:
        self.arm = arm
        self._should_stop = should_stop

    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        self._check(target)
        if self.arm.stopped:
            return  # as MoveIt after a stop: nothing moves until resume()
        q = self.arm.ik((target.x, target.y, target.z), target.yaw)
        if q is None:
            raise MotionError(ErrorCode.PLANNING_FAILED,
                              f"no top-down IK solution for ({target.x:.3f}, {target.y:.3f}, "
                              f"{target.z:.3f}, yaw {target.yaw:.2f}) within the "
                              f"{self.arm.config.model} joint limits")
        reached = self.arm.move_joints(q, scaling.velocity, self._should_stop)
        self._finished(reached, "joint-space motion", target)

    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        if stop_on_contact:
            raise MotionError(ErrorCode.PLANNING_FAILED,
                              "contact-sensing motions are not available on this arm")
        self._check(target)
        if self.arm.stopped:
            return False
        try:
            reached = self.arm.move_linear((target.x, target.y, target.z), target.yaw,
                                           scaling.velocity, self._should_stop)
        except Unreachable as exc:
            raise MotionError(ErrorCode.PLANNING_FAILED, str(exc)) from exc
        self._finished(reached, "straight-line motion", target)
        return False

    def stop(self) -> None:
        self.arm.stop()

    def resume(self) -> None:
        self.arm.resume()

    def _finished(self, reached: bool, what: str, target: SE2Pose) -> None:
        if reached or self.arm.stopped or (self._should_stop is not None
                                           and self._should_stop()):
            return
        raise MotionError(ErrorCode.HARDWARE,
                          f"{what} to ({target.x:.3f}, {target.y:.3f}, {target.z:.3f}) did not "
                          f"reach its target within its step budget (blocked?)")

    @staticmethod
    def _check(target: SE2Pose) -> None:
        if not target.is_finite():
            raise MotionError(ErrorCode.INVALID_GOAL, f"target {target} is not finite")


class TwinHand(Gripper):
    """:class:`Gripper` on a :class:`FrankaHand` with the executor's gripper settings (the
    same goals the franka_gripper client sends: Move, Grasp, Homing)."""

    def __init__(self, hand: FrankaHand, cfg: GripperConfig) -> None:
        self.hand = hand
        self.cfg = cfg

    def grasp(self) -> bool:
        c = self.cfg
        return self.hand.grasp(c.grasp_width, c.speed, c.force, c.epsilon_inner,
                               c.epsilon_outer)

    def home(self) -> None:
        if not self.hand.homing():
            raise MotionError(ErrorCode.HARDWARE, "gripper homing failed")

    def stop(self) -> None:
        self.hand.stop()

    def move_to(self, width: float) -> None:
        if not self.hand.move(width, self.cfg.speed):
            raise MotionError(ErrorCode.HARDWARE, f"gripper move to {width:.3f} m failed "
                                                  f"(width now {self.hand.width():.4f} m)")
