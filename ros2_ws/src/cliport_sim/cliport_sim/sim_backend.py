"""The executor's ``sim`` backend: the PyBullet UR5 with suction or spatula, through one task.

It lives with the simulator, and the executor finds it by name through the
``cliport_executor.backends`` entry point that this package declares (setup.py), so the
executor itself never imports PyBullet.

The backend owns (or is handed) a :class:`cliport_sim.environment.Environment` and runs each
goal as one ``env.step`` of that episode, so the result carries the task's reward and a sim
node can run whole episodes through the action. The motions are cliport_sim's own
primitives (``pick_place`` with contact-sensing suction descents, ``push`` with the
spatula); this module only maps goals to them and adds what a served arm needs:

* **Cancel / preemption / timeouts** land at the next control period: ``should_stop`` is
  polled before every simulation step.
* **Pacing**: ``real_time_factor`` > 0 sleeps so simulated time runs at that multiple of
  the wall clock (1 = real time); 0 runs flat out (tests, evaluation).
* **Safe state**: after a stop or a failure the joints are commanded to hold where they are
  (a held object stays held rather than being dropped from the air).

The tool is the task's (suction for pick-and-place tasks, spatula for the piles), so a goal
whose primitive needs the other tool is refused with ``ERROR_INVALID_GOAL``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

from cliport_common.poses import Pose, SE2Pose, quat_from_yaw
from cliport_executor.backend import ArmBackend, register_backend
from cliport_executor.config import ExecutorConfig, SimBackendConfig
from cliport_executor.request import (
    ErrorCode,
    Outcome,
    Phase,
    PickPlaceRequest,
    Primitive,
    phases_of,
)
from cliport_executor.supervision import Supervisor
from cliport_sim.action import Action
from cliport_sim.environment import Environment, SimConfig, load_sim_config
from cliport_sim.tasks import make_task

TOOL_FOR = {Primitive.PICK_PLACE: "suction", Primitive.PUSH: "spatula"}
PRIMITIVE_NAME = {Primitive.PICK_PLACE: "pick_place", Primitive.PUSH: "push"}
PACE_SLACK = 0.005  # s: sleep only when the simulation runs this far ahead of the clock
SPEED_KEYS = ("speed", "contact_speed")  # primitive parameters a goal's speed_scaling lowers


def sim_pose(pose: SE2Pose) -> Pose:
    return (pose.x, pose.y, pose.z), quat_from_yaw(pose.yaw)


class Pacer:
    """Holds a simulation to ``factor`` x real time by sleeping between steps."""

    def __init__(self, robot, hz: int, factor: float) -> None:
        self.robot = robot
        self.dt = 1.0 / hz
        self.factor = factor
        self.start_steps = robot.sim_steps
        self.start_time = time.monotonic()

    def __call__(self) -> None:
        if self.factor <= 0:
            return
        sim_elapsed = (self.robot.sim_steps - self.start_steps) * self.dt / self.factor
        ahead = sim_elapsed - (time.monotonic() - self.start_time)
        if ahead > PACE_SLACK:
            time.sleep(ahead)


@register_backend("sim")
class SimBackend(ArmBackend):
    """PyBullet UR5 (DIRECT) running ``config.sim.task``; ``env`` injects a ready world."""

    def __init__(self, config: ExecutorConfig, *, env: Environment | None = None,
                 **_resources) -> None:
        self.config: SimBackendConfig = config.sim
        self.env = env
        self._owns_env = env is None
        self.last_info: dict = {}
        self.episode_done = False

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        if self.env is None:
            cfg = self.config
            sim_cfg = dataclasses.replace(load_sim_config(), hz=cfg.hz, observe=cfg.observe,
                                          egl=cfg.egl)
            self.env = Environment(make_task(cfg.task, cfg.mode), sim_cfg)
            self._owns_env = True
            self.reset(cfg.seed)
        elif self.env.robot is None:
            self.reset(self.config.seed)

    def reset(self, seed: int) -> None:
        """Start a new episode of the task (the scene for ``seed``)."""
        self.env.reset(seed)
        self.episode_done = False
        self.last_info = {}

    def disconnect(self) -> None:
        if self.env is not None and self._owns_env:
            self.env.close()
            self.env = None

    @property
    def sim_config(self) -> SimConfig:
        return self.env.config

    # ------------------------------------------------------------------ goals
    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        env = self.env
        if env is None or env.robot is None:
            return Outcome.fail(ErrorCode.HARDWARE, "sim backend is not connected")
        primitive = Primitive(request.primitive)
        tool = env.task.end_effector
        if TOOL_FOR[primitive] != tool:
            return Outcome.fail(ErrorCode.INVALID_GOAL,
                                f"the simulated arm carries a {tool} for task {env.task.name}; "
                                f"{PRIMITIVE_NAME[primitive]} needs the {TOOL_FOR[primitive]}")
        try:
            action = Action(sim_pose(request.pick), sim_pose(request.place),
                            PRIMITIVE_NAME[primitive])
        except ValueError as exc:
            return Outcome.fail(ErrorCode.INVALID_GOAL, str(exc))
        supervisor.begin(phases_of(primitive))
        pace = Pacer(env.robot, env.config.hz, self.config.real_time_factor)

        def should_stop() -> bool:
            pace()
            return supervisor.should_stop()

        def on_phase(name: str) -> None:
            supervisor.enter(Phase[name.upper()])

        try:
            _, reward, done, info = env.step(action, on_phase=on_phase, should_stop=should_stop,
                                             params=self._params(primitive,
                                                                 request.speed_scaling))
        except ValueError as exc:  # the primitive refused the poses
            self.safe_stop()
            return Outcome.fail(ErrorCode.INVALID_GOAL, str(exc))
        self.last_info = info
        self.episode_done = done
        return self._outcome(info, reward, supervisor)

    def _params(self, primitive: Primitive, speed_scaling: float) -> dict[str, float]:
        """YAML defaults, then the task's own parameters, then the goal's slow-down."""
        base = self.config.push if primitive == Primitive.PUSH else self.config.pick_place
        params = {**dataclasses.asdict(base), **self.env.task.primitive_params}
        if 0.0 < speed_scaling < 1.0:
            for key in SPEED_KEYS:
                if key in params:
                    params[key] = params[key] * speed_scaling
        return params

    def _outcome(self, info: dict, reward: float, supervisor: Supervisor) -> Outcome:
        reason = info.get("primitive", {}).get("reason", "")
        if reason == "stopped":
            self.safe_stop()
            return supervisor.stop_outcome()
        if reason == "step_budget":
            self.safe_stop()
            where = supervisor.phase_now.name.lower() if supervisor.phase_now else "a motion"
            return Outcome.fail(ErrorCode.TIMEOUT, f"{where}: a motion ran out of its "
                                                   f"simulation-step budget (arm blocked?)")
        supervisor.finish()
        if reason == "no_grasp":
            return Outcome.fail(ErrorCode.GRASP_FAILED, "nothing was held after the lift; the "
                                                        "arm backed up over the pick", reward)
        message = ("the held object touched nothing down to the place descent's limit; "
                   "released there") if reason == "no_place_contact" else ""
        return Outcome(True, ErrorCode.NONE, message, reward)

    def safe_stop(self) -> None:
        """Hold the joints where they are (the motors' target becomes the current angles)."""
        robot = self.env.robot if self.env is not None else None
        if robot is None:
            return
        with contextlib.suppress(Exception):  # safe_stop must not raise
            robot.movej(robot.joint_positions())
