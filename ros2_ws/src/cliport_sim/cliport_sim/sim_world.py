"""The simulated world behind the sim node: one PyBullet scene shared by the arm and the
cameras, with the episode's bookkeeping (:class:`cliport_sim.world_thread.WorldThread`,
shared with the Franka twin). Plain Python (no rclpy).

The executor's ``sim`` backend runs each ``PickPlace`` goal as one ``Environment.step`` of
this world; the cameras render the same world between goals. Every PyBullet call runs on
one thread, the world's own: the EGL renderer's context belongs to the thread that made it
(rendering from another thread kills the process), and PyBullet is not thread-safe anyway.
Goals, resets and the oracle are handed to that thread (:meth:`SimWorld.call`); between
them it renders the cameras every ``frame_period`` seconds. While a goal runs they go on at
that rate, rendered between physics steps, as a real camera streams while the arm moves (a
silent camera would be reported stale by perception during every goal).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from cliport_executor.backend import register_backend
from cliport_executor.config import ExecutorConfig
from cliport_executor.request import Outcome, PickPlaceRequest
from cliport_executor.supervision import Supervisor
from cliport_perception.rgbd import RGBDFrame
from cliport_sim.environment import Environment, load_sim_config
from cliport_sim.sim_backend import SimBackend
from cliport_sim.tasks import make_task
from cliport_sim.world_thread import EpisodeState, WorldThread

__all__ = ["EpisodeState", "SimWorld", "SimWorldConfig", "WorldSimBackend"]


@dataclass(frozen=True)
class SimWorldConfig:
    task: str = "put-block-in-bowl-seen-colors"
    mode: str = "test"
    seed: int = 10001  # the first episode's seed; each reset takes the next (seed + 2)
    seed_stride: int = 2
    cameras: tuple[str, ...] = ("front", "left", "right")
    camera_noise: bool = False


class SimWorld(WorldThread):
    """The UR5 world on its thread. ``on_frames(frames, stamp_ns)`` is called on that
    thread with each camera render (every ``frame_period`` s, between jobs and during them)."""

    def __init__(self, cfg: SimWorldConfig, hz: int = 480, frame_period: float = 0.0,
                 on_frames: Callable[[list[RGBDFrame], int], None] | None = None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.hz = hz
        self.frame_period = frame_period
        self.on_frames = on_frames
        self.clock_ns = clock_ns
        self._next_render = time.monotonic()
        super().__init__(cfg.seed, cfg.seed_stride, name="sim-world")

    def build(self) -> Environment:
        sim_cfg = dataclasses.replace(load_sim_config(), hz=self.hz, observe=False,
                                      egl=True, camera_noise=self.cfg.camera_noise)
        env = Environment(make_task(self.cfg.task, self.cfg.mode), sim_cfg)
        env.on_physics_step = self._render_if_due  # the cameras go on while a goal runs
        return env

    def _render_if_due(self) -> None:
        if self.on_frames and self.frame_period > 0 and time.monotonic() >= self._next_render:
            self.idle()

    def idle(self) -> float | None:
        """Render the cameras every ``frame_period`` s (measured from the last render)."""
        if not (self.on_frames and self.frame_period > 0):
            return None
        now = time.monotonic()
        if now < self._next_render:
            return self._next_render - now
        stamp = self.clock_ns()
        self.on_frames(self._frames(stamp), stamp)
        self._next_render = time.monotonic() + self.frame_period
        return self.frame_period

    def _frames(self, stamp_ns: int) -> list[RGBDFrame]:
        return self.env.camera_frames(list(self.cfg.cameras), stamp_ns=stamp_ns)

    def frames(self, stamp_ns: int = 0) -> list[RGBDFrame]:
        return self.call(self._frames, stamp_ns)


@register_backend("sim_world")
class WorldSimBackend(SimBackend):
    """The executor's sim backend on a :class:`SimWorld`: goals hold the world's lock and
    are booked into its episode."""

    def __init__(self, config: ExecutorConfig, *, world: SimWorld, **resources) -> None:
        super().__init__(config, env=world.env, **resources)
        self._owns_env = False
        self.world = world

    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        return self.world.call(self._execute_here, request, supervisor)

    def _execute_here(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        if (refusal := self.world.refuse_when_done()) is not None:
            return refusal
        outcome = super().execute(request, supervisor)
        self.world.record(outcome)
        return outcome

    def safe_stop(self) -> None:
        self.world.call(super().safe_stop)
