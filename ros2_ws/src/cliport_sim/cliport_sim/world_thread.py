"""A simulated world on its own thread, with the episode's bookkeeping. Plain Python (no rclpy).

Behind the ROS nodes that publish a PyBullet world like a real setup (the UR5 sim node, the
Franka twin). Every PyBullet call runs on one thread, the world's own: the EGL renderer's
context belongs to the thread that made it (rendering from another thread kills the
process), and PyBullet is not thread-safe anyway. Goals, resets and the oracle are handed to
that thread (:meth:`WorldThread.call`); between them the thread runs :meth:`WorldThread.idle`
(render the cameras, advance the physics), as often as that asks.

Subclasses build the world in :meth:`WorldThread.build` (an object with the
:class:`~cliport_sim.environment.Environment` episode API: ``reset(seed)``, ``lang_goal``,
``steps``, ``task.oracle(env)``, ``task.done()``, ``task.max_steps``, ``close()``).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from cliport_executor.request import ErrorCode, Outcome

IDLE_WAIT = 0.5  # s between idle calls when the world asks for none


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


class WorldThread:
    """The world thread and its episode: ``build`` runs on the thread first, then jobs."""

    def __init__(self, seed: int, seed_stride: int = 2, name: str = "sim-world") -> None:
        self.env: Any = None
        self.episode: EpisodeState | None = None
        self._next_seed = seed
        self._seed_stride = seed_stride
        self._scene = 0
        self._oracle: tuple[int, Any] | None = None  # (scene, action): one draw per scene
        self._jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.idle_error: Exception | None = None
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=name,
                                        daemon=True)
        self._thread.start()
        ready.result()  # re-raises a failure to build the world

    # ------------------------------------------------------------------ to override
    def build(self) -> Any:
        """Make the world (on its thread) and return the environment."""
        raise NotImplementedError

    def idle(self) -> float | None:
        """Work between jobs (on the world thread); returns seconds until the next call
        (None: no idle work)."""
        return None

    # ------------------------------------------------------------------ the world thread
    def _run(self, ready: Future) -> None:
        try:
            self.env = self.build()
            self._reset(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            self._loop()
        finally:
            self.env.close()

    def _loop(self) -> None:
        wait = self._idle()
        while not self._stop.is_set():
            try:
                fn, future = self._jobs.get(timeout=IDLE_WAIT if wait is None else wait)
            except queue.Empty:
                wait = self._idle()
                continue
            if fn is None:
                break
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
            wait = 0.0 if wait is not None else None  # idle work is due again

    def _idle(self) -> float | None:
        """:meth:`idle`, kept from ending the thread: its last error is in ``idle_error``
        (e.g. a publisher whose ROS context shut down before the world did)."""
        try:
            return self.idle()
        except Exception as exc:  # noqa: BLE001 - the world must go on serving jobs
            self.idle_error = exc
            return IDLE_WAIT

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, fn: Callable, *args):
        """Run ``fn(*args)`` on the world thread and return its result (re-raising)."""
        if self.on_thread():
            return fn(*args)
        if self._stop.is_set():
            raise RuntimeError("the simulated world is closed")
        future: Future = Future()
        self._jobs.put((lambda: fn(*args), future))
        return future.result()

    # ------------------------------------------------------------------ world jobs
    def _reset(self, seed: int | None) -> EpisodeState:
        seed = self._next_seed if seed is None else int(seed)
        self._next_seed = seed + self._seed_stride
        self.env.reset(seed)
        self._scene += 1
        self.episode = EpisodeState(seed, self.env.lang_goal,
                                    max_steps=int(self.env.task.max_steps), scene=self._scene)
        return self.episode

    def reset(self, seed: int | None = None) -> EpisodeState:
        """A new episode: the next seed (or ``seed``) of the task."""
        return self.call(self._reset, seed)

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

    def refuse_when_done(self) -> Outcome | None:
        """The answer to a goal once the episode is done (None while it runs): the scene
        stays as the episode left it until a reset."""
        if not self.episode.done:
            return None
        return Outcome.fail(ErrorCode.INVALID_GOAL, "the episode is done; reset the "
                                                    "simulation (sim/reset) for a new one")

    def record(self, outcome) -> EpisodeState:
        """Book one executed goal (an executor ``Outcome``) into the episode (on the world
        thread)."""
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
