"""The Franka twin as a world's arm: a Panda + Franka Hand run by the real executor's code.

An :class:`~cliport_sim.environment.Environment` with ``robot: panda`` holds a
:class:`TwinRobot`. Its :meth:`TwinRobot.run` does not script motions of its own: it turns the
action into the executor's ``PickPlaceRequest`` and hands it to
``cliport_executor.backends.moveit.MoveItFrankaBackend`` built over the twin's
``TwinMotion`` / ``TwinHand``, so the pose folding, heights, phases, grasp check and stop
handling are the ones a real FR3 / Panda runs. What the world adds around that call:

* **Time**: the supervisor's phase and goal timeouts run on simulated time (the physics
  steps taken), so an outcome never depends on how fast the machine is.
* **Hooks**: ``on_phase`` receives each phase name once; ``should_stop`` is polled after every
  physics step and, when true, cancels the goal through the supervisor, whose stop listener
  halts the arm and the hand as a cancel does on the real arm.
* **A clear view**: after the primitive the arm goes back to its ready pose (joint space), above
  the oracle camera's near plane and out of the top-down observation.

The error-recovery service calls of a real Franka have nothing to recover on the twin, so the
backend runs with recovery disabled (a hardware error just fails the goal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pybullet as p

from cliport_common.poses import Pose, SE2Pose, yaw_of
from cliport_executor.config import ExecutorConfig, load_executor_config
from cliport_executor.request import ErrorCode, Phase, PickPlaceRequest, Primitive
from cliport_executor.supervision import Supervisor
from cliport_perception.workspace import Workspace
from cliport_sim.action import Action
from cliport_sim.franka.config import FrankaConfig, load_franka_config
from cliport_sim.primitives import PrimitiveResult

HOME_SCALING = 0.5  # velocity scaling of the move back to the ready pose after a primitive


@dataclass(frozen=True)
class TwinSetup:
    """Everything a world needs to build the twin: the arm's and the executor's settings."""

    franka: FrankaConfig
    executor: ExecutorConfig
    workspace: Workspace

    @classmethod
    def load(cls, executor: ExecutorConfig | None = None) -> TwinSetup:
        """``franka.yaml`` and (unless given) ``executor.yaml``: the real arm's settings."""
        franka = load_franka_config()
        return cls(franka, executor or load_executor_config(), franka.workspace)


def rig_camera_names() -> list[str]:
    """The twin's camera names (one: the rig's RealSense)."""
    from cliport_sim.franka.rig import load_rig_config

    return [load_rig_config().camera_name]


def se2(pose: Pose) -> SE2Pose:
    (x, y, z), quat = pose
    return SE2Pose(float(x), float(y), float(z), yaw_of(quat))


class TwinRobot:
    """One Panda with a Franka Hand in ``client``; ``on_step`` runs after each physics step."""

    def __init__(self, client: int, setup: TwinSetup,
                 on_step: Callable[[], None] | None = None) -> None:
        from cliport_executor.backends.moveit import MoveItFrankaBackend
        from cliport_sim.franka.arm import FrankaArm
        from cliport_sim.franka.motion import TwinHand, TwinMotion

        self.client = client
        self.sim_steps = 0  # physics steps taken while this arm moved
        self._on_step = on_step
        self._should_stop: Callable[[], bool] | None = None
        self._supervisor: Supervisor | None = None
        self.ready_joints = tuple(setup.franka.ready_joints)
        self.arm = FrankaArm(client, setup.franka, step=self._step)
        self.arm.reset()
        self.dt = float(p.getPhysicsEngineParameters(physicsClientId=client)["fixedTimeStep"])
        cfg = setup.executor
        # Nothing to recover on the twin; the backend would otherwise ask for a ROS node.
        self.config = dataclasses.replace(
            cfg, recovery=dataclasses.replace(cfg.recovery, enabled=False))
        self.motion = TwinMotion(self.arm)
        self.tool = TwinHand(self.arm.hand, self.config.gripper)
        self.backend = MoveItFrankaBackend(self.config, motion=self.motion, tool=self.tool,
                                           recovery=None)
        self.backend.connect()

    @property
    def sim_time(self) -> float:
        """Simulated seconds this arm has moved (the supervisor's clock)."""
        return self.sim_steps * self.dt

    def _step(self) -> None:
        p.stepSimulation(physicsClientId=self.client)
        self.sim_steps += 1
        if self._on_step is not None:
            self._on_step()
        sup = self._supervisor
        if sup is not None and not sup.stopping and self._should_stop is not None \
                and self._should_stop():
            sup.cancel()

    def run(self, action: Action, *, speed_scaling: float = 0.0,
            on_phase: Callable[[str], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> PrimitiveResult:
        """One primitive through the moveit backend, then back to the ready pose."""
        primitive = Primitive.PUSH if action.primitive == "push" else Primitive.PICK_PLACE
        request = PickPlaceRequest("", se2(action.pose0), se2(action.pose1), primitive,
                                   speed_scaling)
        last: list[Phase] = []

        def feedback(phase: Phase, _progress: float) -> None:
            if on_phase is not None and (not last or last[-1] != phase):
                on_phase(phase.name.lower())
            last.append(phase)

        start = self.sim_steps
        sup = Supervisor(feedback, self.config.timeouts, clock=lambda: self.sim_time,
                         watchdog=False)
        self._supervisor, self._should_stop = sup, should_stop
        try:
            outcome = self.backend.execute(request, sup)
        finally:
            self._supervisor, self._should_stop = None, None
            sup.close()
        grasped = Phase.LIFT in sup.phases_seen and outcome.error_code != ErrorCode.GRASP_FAILED
        if outcome.success or outcome.error_code == ErrorCode.GRASP_FAILED:
            homed = self.home(should_stop)
            reason = "done" if outcome.success else "no_grasp"
            if not homed:
                return PrimitiveResult(False, grasped, "stopped" if should_stop and
                                       should_stop() else "home", self.sim_steps - start)
            return PrimitiveResult(True, grasped, reason, self.sim_steps - start)
        code = ErrorCode(outcome.error_code)
        reason = "stopped" if code == ErrorCode.CANCELED else \
            f"{code.name.lower()}: {outcome.message}"
        return PrimitiveResult(False, grasped, reason, self.sim_steps - start)

    def home(self, should_stop: Callable[[], bool] | None = None) -> bool:
        """Joint-space move to the ready pose; False if it did not get there."""
        return bool(self.arm.move_joints(self.ready_joints, HOME_SCALING,
                                         should_stop=should_stop))
