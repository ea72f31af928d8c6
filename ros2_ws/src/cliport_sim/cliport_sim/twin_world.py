"""The Franka twin's world on its own thread: the scene, the camera and the episode.

Plain Python (no rclpy), behind the ``twin`` node (:mod:`cliport_sim.nodes.twin_node`).
One :class:`~cliport_sim.world_thread.WorldThread` owns the PyBullet world: the task's
scene with the Panda and the Franka Hand, and the RealSense-like camera
(:class:`~cliport_sim.franka.rig.CameraRig`). The camera runs on simulated time: while a
goal moves the arm, every physics step goes through the world's step hook, which renders a
frame every ``hz / rig.fps`` steps (30 Hz of simulated time) and paces the simulation
against the wall clock (``real_time_factor``). Between goals the scene stands still (each
goal ends with the scene settled), and the camera repeats at ``idle_camera_rate`` Hz of wall
time, each frame with its own noise, as a camera looking at a still table does.

Goals run on the world thread through :class:`~cliport_sim.twin_backend.TwinBackend`: the
executor's ``moveit`` backend with the twin's arm and hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p

from cliport_common.config import ConfigError, config_path, load_config
from cliport_common.frames import FR3_BASE_FRAME
from cliport_perception.rgbd import RGBDFrame
from cliport_sim.recording import DEFAULT_FPS
from cliport_sim.world_thread import WorldThread


@dataclass(frozen=True)
class TwinConfig:
    """The twin node's settings (``config/twin.yaml``, section ``twin``)."""

    task: str = "put-block-in-bowl-seen-colors"
    mode: str = "test"
    seed: int = 10001
    seed_stride: int = 2
    base_frame: str = FR3_BASE_FRAME
    calibration_file: str = ""  # the camera's pose; "" = franka.yaml's rig.calibration_file
    camera_fps: float = 0.0  # frames per simulated second while moving; 0 = the rig's fps
    idle_camera_rate: float = 30.0  # Hz (wall) of frames between goals
    real_time_factor: float = 1.0  # simulated / wall time while a goal runs; 0 = unpaced
    record_fps: int = DEFAULT_FPS  # states per simulated s kept for videos; 0 = off
    executor_params: list[str] = field(default_factory=list)  # the server's parameter files

    def __post_init__(self) -> None:
        for name in ("camera_fps", "idle_camera_rate", "real_time_factor"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < float("inf")):
                raise ConfigError(f"twin.{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.record_fps, int) or self.record_fps < 0:
            raise ConfigError(f"twin.record_fps must be an integer >= 0, got "
                              f"{self.record_fps!r}")
        if not self.base_frame:
            raise ConfigError("twin.base_frame must not be empty")


def load_twin_config(path: str | Path | None = None) -> TwinConfig:
    return load_config(TwinConfig, path or config_path("cliport_sim", "twin.yaml"), "twin")


def make_twin_environment(cfg: TwinConfig):
    """The task's scene with the Panda and the Franka Hand (``Environment``, robot panda);
    the world publishes the camera itself, so the environment observes nothing."""
    import dataclasses

    from cliport_sim.environment import Environment, load_sim_config
    from cliport_sim.tasks import make_task

    sim_cfg = dataclasses.replace(load_sim_config(), robot="panda", observe=False, egl=True)
    return Environment(make_task(cfg.task, cfg.mode), sim_cfg)


class TwinWorld(WorldThread):
    """The twin's world thread. ``on_frame(frame, stamp_ns)`` gets every camera frame, on
    the world thread."""

    def __init__(self, cfg: TwinConfig,
                 on_frame: Callable[[RGBDFrame, int], None] | None = None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.on_frame = on_frame
        self.clock_ns = clock_ns
        self.rig = None
        self.frames_rendered = 0
        self.physics_steps = 0
        self._pace_origin: tuple[float, int] | None = None  # (wall s, physics step) of a goal
        self._next_idle = time.monotonic()
        self._rng = np.random.default_rng([cfg.seed, 7])
        super().__init__(cfg.seed, cfg.seed_stride, name="twin-world")

    # ------------------------------------------------------------------ the world
    def build(self):
        from cliport_sim.franka.rig import CameraRig, load_rig_config

        env = make_twin_environment(self.cfg)
        self.rig = CameraRig(env.client, load_rig_config(),
                             self.cfg.calibration_file or None)
        self._set_rate(int(env.config.hz))
        previous = env.on_physics_step

        def stepped() -> None:
            if previous is not None:
                previous()
            self._stepped()

        env.on_physics_step = stepped
        return env

    @property
    def camera_fps(self) -> float:
        """Frames per simulated second while the arm moves."""
        return self.cfg.camera_fps or self.rig.config.fps

    def _set_rate(self, hz: int) -> None:
        self.hz = hz
        self.steps_per_frame = max(1, round(hz / self.camera_fps))

    def _reset(self, seed):
        episode = super()._reset(seed)
        step = p.getPhysicsEngineParameters(physicsClientId=self.env.client)["fixedTimeStep"]
        self._set_rate(round(1.0 / step))  # the physics rate the scene was built with
        return episode

    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world started."""
        return self.physics_steps / self.hz

    def _stepped(self) -> None:
        """After every physics step: a frame every ``steps_per_frame`` steps, then pacing."""
        self.physics_steps += 1
        if self.physics_steps % self.steps_per_frame:
            return
        self.render()
        if self._pace_origin is not None and self.cfg.real_time_factor > 0:
            wall0, step0 = self._pace_origin
            due = wall0 + (self.physics_steps - step0) / self.hz / self.cfg.real_time_factor
            ahead = due - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def render(self) -> None:
        """Render one frame and hand it on (on the world thread)."""
        if self.on_frame is None:
            return
        stamp = self.clock_ns()
        frame = self.rig.render_frame(self._rng, stamp_ns=stamp)
        self.frames_rendered += 1
        self.on_frame(frame, stamp)

    def idle(self) -> float | None:
        if self.on_frame is None or self.cfg.idle_camera_rate <= 0:
            return None
        now = time.monotonic()
        if now < self._next_idle:
            return self._next_idle - now
        self.render()
        period = 1.0 / self.cfg.idle_camera_rate
        self._next_idle = time.monotonic() + period
        return period

    def joint_state(self) -> tuple[list[str], list[float], list[float]] | None:
        """(names, positions, velocities) of the arm's seven joints and the two fingers,
        named after ``base_frame``'s arm (``fr3_link0`` -> ``fr3_joint1`` ...,
        ``fr3_finger_joint1``); on the world thread."""
        arm = getattr(getattr(self.env, "robot", None), "arm", None)
        if arm is None:
            return None
        prefix = self.cfg.base_frame.removesuffix("_link0")
        names = [f"{prefix}_joint{i}" for i in range(1, 8)]
        names += [f"{prefix}_finger_joint{i}" for i in (1, 2)]
        fingers = [p.getJointState(arm.body, j, physicsClientId=self.env.client)[:2]
                   for j in arm.hand.finger_ids]
        return (names, [*arm.joints(), *(f[0] for f in fingers)],
                [*arm.joint_velocities(), *(f[1] for f in fingers)])

    def held_objects(self) -> list[int]:
        """Task objects that touch both fingers (what the hand holds); on the world thread."""
        arm = getattr(getattr(self.env, "robot", None), "arm", None)
        if arm is None:
            return []
        c = self.env.client
        return [obj for obj in self.env.obj_ids["rigid"]
                if all(p.getContactPoints(arm.body, obj, linkIndexA=f, physicsClientId=c)
                       for f in arm.hand.finger_ids)]

    def paced(self, fn: Callable, *args):
        """Run ``fn(*args)`` on the world thread with the simulation paced to the wall clock
        (``real_time_factor``), as a goal's motions are."""
        def run():
            self._pace_origin = (time.monotonic(), self.physics_steps)
            try:
                return fn(*args)
            finally:
                self._pace_origin = None
        return self.call(run)
