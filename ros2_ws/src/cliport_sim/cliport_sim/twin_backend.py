"""The executor's ``moveit`` backend on the Franka twin: the same sequencing, the twin's arm.

Plain Python (no rclpy). :class:`TwinBackend` is an :class:`~cliport_executor.backend.ArmBackend`
that holds a :class:`~cliport_executor.backends.moveit.MoveItFrankaBackend` -- the real
arm's backend, unchanged: ``franka/poses`` (yaw offset and pi fold), the Cartesian
``primitives`` and the error-recovery order -- built with the twin's ``Motion`` and ``Tool``
(:mod:`cliport_sim.franka.motion`) instead of MoveItPy and the franka_gripper actions, and
:class:`TwinRecovery` instead of franka_ros2's recovery calls. What it adds is the world:

* every goal runs on the twin's world thread (PyBullet is single-threaded), with the
  simulation paced to the wall clock (:meth:`~cliport_sim.twin_world.TwinWorld.paced`);
* a cancel reaches the arm from the server's spin thread through ``Motion.stop`` (thread-safe),
  so the arm halts at its next physics step, holding what it holds;
* after the goal the scene settles and the task scores it: the result carries the reward,
  and the episode books the step, as the UR5 simulator's ``sim`` backend does;
* after a goal that ended with the arm free (success, or a grasp that held nothing) the arm
  goes back to its ready pose, as the twin's ``Environment.step`` does: the ``moveit``
  backend leaves the hand above the place pose, in the camera's and the oracle's view of
  the next scene. A real arm does the same; ``docs/hardware.md`` says what that means.

The arm and hand are rebuilt with every episode's scene, so the motion and tool given to the
``moveit`` backend follow the current ones (:class:`_CurrentMotion`, :class:`_CurrentTool`).
"""

from __future__ import annotations

import dataclasses
import threading

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Motion, Scaling, Tool
from cliport_executor.backend import ArmBackend, register_backend
from cliport_executor.backends.moveit import MoveItFrankaBackend
from cliport_executor.config import ExecutorConfig
from cliport_executor.franka.recovery import RecoveryCalls
from cliport_executor.request import ErrorCode, Outcome, PickPlaceRequest
from cliport_executor.supervision import Supervisor


class _CurrentMotion(Motion):
    """The twin's ``TwinMotion`` for the arm of the current scene."""

    def __init__(self, world) -> None:
        self._world = world
        self._lock = threading.Lock()
        self._key = None
        self._impl = None

    def current(self):
        robot = self._world.env.robot  # a cliport_sim.twin.TwinRobot
        with self._lock:
            if self._key is not robot:
                self._key, self._impl = robot, robot.motion
            return self._impl

    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        self.current().move_free(target, scaling)

    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        return self.current().move_linear(target, scaling, stop_on_contact)

    def stop(self) -> None:
        self.current().stop()

    def resume(self) -> None:
        self.current().resume()


class _CurrentTool(Tool):
    """The twin's ``TwinHand`` for the hand of the current scene."""

    kind = "gripper"

    def __init__(self, world, config: ExecutorConfig) -> None:
        self._world = world
        self._gripper = config.gripper
        self._lock = threading.Lock()
        self._key = None
        self._impl = None

    def current(self):
        from cliport_sim.franka.motion import TwinHand

        hand = self._world.env.robot.arm.hand
        with self._lock:
            if self._key is not hand:
                self._key, self._impl = hand, TwinHand(hand, self._gripper)
            return self._impl

    def open(self) -> None:
        self.current().open()

    def pregrasp(self) -> None:
        self.current().pregrasp()

    def release(self) -> None:
        self.current().release()

    def grasp(self) -> bool:
        return self.current().grasp()

    def close(self) -> None:
        self.current().close()

    def home(self) -> None:
        self.current().home()

    def stop(self) -> None:
        self.current().stop()


class TwinRecovery(RecoveryCalls):
    """franka_ros2's recovery steps on the twin: the arm is let move again (its reflex state
    cleared); the twin has no hardware component or controllers to re-activate, so those
    steps succeed at once. The ``moveit`` backend still runs them in the real order."""

    def __init__(self, motion: _CurrentMotion) -> None:
        self._motion = motion
        self.steps: list[str] = []

    def error_recovery(self, timeout: float) -> None:
        self._motion.resume()
        self.steps.append("error_recovery")

    def activate_hardware(self, component: str, timeout: float) -> None:
        self.steps.append(f"activate_hardware {component}")

    def activate_controllers(self, controllers: tuple[str, ...], timeout: float) -> None:
        self.steps.append(f"activate_controllers {' '.join(controllers)}")


@register_backend("twin")
class TwinBackend(ArmBackend):
    """The ``moveit`` backend's sequence on a :class:`~cliport_sim.twin_world.TwinWorld`."""

    def __init__(self, config: ExecutorConfig, *, world, **_resources) -> None:
        self.config = config
        self.world = world
        motion = _CurrentMotion(world)
        self.moveit = MoveItFrankaBackend(config, motion=motion,
                                          tool=_CurrentTool(world, config),
                                          recovery=TwinRecovery(motion))

    def connect(self) -> None:
        self.world.call(self.moveit.connect)

    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        return self.world.paced(self._execute_here, request, supervisor)

    def _execute_here(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        if (refusal := self.world.refuse_when_done()) is not None:
            return refusal
        outcome = self.moveit.execute(request, supervisor)
        env = self.world.env
        if outcome.success or outcome.error_code == ErrorCode.GRASP_FAILED:
            env.robot.home()  # the world's step, not the backend's: see the module docstring
        env.steps += 1
        env.step_simulation(1)  # forget cached oracle maps: the arm has moved things
        env.settle()
        reward, _info = env.task.reward(env)
        outcome = dataclasses.replace(outcome, reward=float(reward))
        self.world.record(outcome)
        return outcome

    def safe_stop(self) -> None:
        self.world.call(self.moveit.safe_stop)

    def disconnect(self) -> None:
        self.world.call(self.moveit.disconnect)
