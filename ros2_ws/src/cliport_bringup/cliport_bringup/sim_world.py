"""The simulated world behind the sim node: one PyBullet scene shared by the arm and the
cameras, with the episode's bookkeeping. Plain Python (no rclpy).

The executor's ``sim`` backend runs each ``PickPlace`` goal as one ``Environment.step`` of
this world; the cameras render the same world between goals. Every PyBullet call runs on
one thread, the world's own: the EGL renderer's context belongs to the thread that made it
(rendering from another thread kills the process), and PyBullet is not thread-safe anyway.
Goals, resets and the oracle are handed to that thread (:meth:`SimWorld.call`); between
them it renders the cameras every ``frame_period`` seconds. While a goal runs the cameras
publish nothing: perception then reports them stale, as it would for a camera that stopped.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from cliport_executor.backend import register_backend
from cliport_executor.backends.sim import SimBackend
from cliport_executor.config import ExecutorConfig
from cliport_executor.request import ErrorCode, Outcome, PickPlaceRequest
from cliport_executor.supervision import Supervisor
from cliport_perception.rgbd import RGBDFrame
from cliport_sim.environment import Environment, load_sim_config
from cliport_sim.tasks import make_task


@dataclass(frozen=True)
class SimWorldConfig:
    task: str = "put-block-in-bowl-seen-colors"
    mode: str = "test"
    seed: int = 10001  # the first episode's seed; each reset takes the next (seed + 2)
    seed_stride: int = 2
    cameras: tuple[str, ...] = ("front", "left", "right")
    camera_noise: bool = False


@dataclass
class EpisodeState:
    seed: int
    lang_goal: str
    step: int = 0
    total_reward: float = 0.0
    last_reward: float = 0.0
    done: bool = False
    max_steps: int = 0
    last_message: str = ""
    # Changes with every change of the scene (a reset, an executed goal), across episodes:
    # what an oracle decision or a camera frame was made for.
    scene: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SimWorld:
    """The world thread and its episode. ``on_frames(frames, stamp_ns)`` is called on that
    thread with each camera render (every ``frame_period`` s while no job runs)."""

    def __init__(self, cfg: SimWorldConfig, hz: int = 480, frame_period: float = 0.0,
                 on_frames: Callable[[list[RGBDFrame], int], None] | None = None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.hz = hz
        self.frame_period = frame_period
        self.on_frames = on_frames
        self.clock_ns = clock_ns
        self.env: Environment | None = None
        self.episode: EpisodeState | None = None
        self._next_seed = cfg.seed
        self._scene = 0
        self._oracle: tuple[int, Any] | None = None  # (scene, action): one draw per scene
        self._jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="sim-world",
                                        daemon=True)
        self._thread.start()
        ready.result()  # re-raises a failure to build the world

    # ------------------------------------------------------------------ the world thread
    def _run(self, ready: Future) -> None:
        try:
            sim_cfg = dataclasses.replace(load_sim_config(), hz=self.hz, observe=False,
                                          egl=True, camera_noise=self.cfg.camera_noise)
            self.env = Environment(make_task(self.cfg.task, self.cfg.mode), sim_cfg)
            self._reset(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor
            ready.set_exception(exc)
            return
        ready.set_result(None)
        next_render = time.monotonic()
        while not self._stop.is_set():
            timeout = (max(0.0, next_render - time.monotonic())
                       if self.on_frames and self.frame_period > 0 else 0.5)
            try:
                fn, future = self._jobs.get(timeout=timeout)
            except queue.Empty:
                if self.on_frames and self.frame_period > 0:
                    stamp = self.clock_ns()
                    self.on_frames(self._frames(stamp), stamp)
                    next_render = time.monotonic() + self.frame_period
                continue
            if fn is None:
                break
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
        self.env.close()

    def call(self, fn: Callable, *args):
        """Run ``fn(*args)`` on the world thread and return its result (re-raising)."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        if self._stop.is_set():
            raise RuntimeError("the simulated world is closed")
        future: Future = Future()
        self._jobs.put((lambda: fn(*args), future))
        return future.result()

    # ------------------------------------------------------------------ world jobs
    def _reset(self, seed: int | None) -> EpisodeState:
        seed = self._next_seed if seed is None else int(seed)
        self._next_seed = seed + self.cfg.seed_stride
        self.env.reset(seed)
        self._scene += 1
        self.episode = EpisodeState(seed, self.env.lang_goal,
                                    max_steps=int(self.env.task.max_steps), scene=self._scene)
        return self.episode

    def _frames(self, stamp_ns: int) -> list[RGBDFrame]:
        return self.env.camera_frames(list(self.cfg.cameras), stamp_ns=stamp_ns)

    def reset(self, seed: int | None = None) -> EpisodeState:
        """A new episode: the next seed (or ``seed``) of the task."""
        return self.call(self._reset, seed)

    def frames(self, stamp_ns: int = 0) -> list[RGBDFrame]:
        return self.call(self._frames, stamp_ns)

    def _oracle_here(self):
        scene = self.episode.scene
        if self._oracle is None or self._oracle[0] != scene:
            self._oracle = (scene, None if self.episode.done
                            else self.env.task.oracle(self.env))
        return self._oracle[1]

    def oracle(self):
        """The task's scripted oracle action for the current scene (None: nothing to do).

        Drawn once per scene: the oracle samples its pick cell from the episode's generator,
        so asking again (each status announcement does) must not draw again, or an episode
        would depend on how often it was asked, i.e. on timing."""
        return self.call(self._oracle_here)

    def snapshot(self) -> tuple[EpisodeState, Any]:
        """The episode (a copy) and the oracle action for that same scene, taken together on
        the world thread, so a goal cannot run between the two."""
        return self.call(lambda: (dataclasses.replace(self.episode), self._oracle_here()))

    def record(self, outcome: Outcome) -> EpisodeState:
        """Book one executed goal into the episode (on the world thread)."""
        ep = self.episode
        ep.step = self.env.steps
        ep.last_reward = float(outcome.reward or 0.0)
        ep.total_reward += ep.last_reward
        ep.lang_goal = self.env.lang_goal  # sequential tasks move on to the next sub-goal
        ep.done = bool(self.env.task.done() or self.env.steps >= self.env.task.max_steps)
        ep.last_message = outcome.message
        self._scene += 1
        ep.scene = self._scene
        return ep

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._jobs.put((None, None))
            self._thread.join(timeout=10)


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
        if self.world.episode.done:
            return Outcome.fail(ErrorCode.INVALID_GOAL, "the episode is done; reset the "
                                                        "simulation (sim/reset) for a new one")
        outcome = super().execute(request, supervisor)
        self.world.record(outcome)
        return outcome

    def safe_stop(self) -> None:
        self.world.call(super().safe_stop)
