"""The world thread: every job runs on the one thread that built the world, errors come
back to the caller, idle work runs between jobs, and the episode's oracle is drawn once per
scene."""

from __future__ import annotations

import threading
import time

import pytest

from cliport_executor.request import ErrorCode, Outcome
from cliport_sim.world_thread import WorldThread


class CountingTask:
    max_steps = 3

    def __init__(self) -> None:
        self.draws = 0

    def oracle(self, env):
        self.draws += 1
        return ("action", self.draws)

    def done(self) -> bool:
        return False


class FakeEnv:
    """The Environment's episode API, without physics (what the thread needs of it)."""

    def __init__(self) -> None:
        self.task = CountingTask()
        self.lang_goal = "put the red block in the blue bowl"
        self.steps = 0
        self.closed = False
        self.threads: set[int] = set()

    def reset(self, seed: int) -> None:
        self.threads.add(threading.get_ident())
        self.seed = seed

    def close(self) -> None:
        self.closed = True


class World(WorldThread):
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.idles = 0
        super().__init__(seed=7, seed_stride=2, name="test-world")

    def build(self):
        if self.fail:
            raise RuntimeError("no world today")
        self.built_on = threading.get_ident()
        return FakeEnv()

    def idle(self) -> float:
        self.idles += 1
        if self.idles == 3:
            raise RuntimeError("publisher's context is invalid")
        return 0.01


def test_jobs_run_on_the_world_thread_and_errors_come_back():
    w = World()
    try:
        assert w.call(threading.get_ident) == w.built_on != threading.get_ident()
        assert w.env.threads == {w.built_on}
        with pytest.raises(ZeroDivisionError):
            w.call(lambda: 1 / 0)
        assert w.call(lambda: 42) == 42  # the thread survives a failed job
        time.sleep(0.7)
        assert w.idles > 3  # idle work between jobs, going on after it failed once
        assert "context is invalid" in str(w.idle_error)
    finally:
        w.close()
    assert w.env.closed
    with pytest.raises(RuntimeError, match="closed"):
        w.call(lambda: 1)


def test_a_world_that_cannot_be_built_fails_its_constructor():
    with pytest.raises(RuntimeError, match="no world today"):
        World(fail=True)


def test_episodes_take_the_next_seed_and_the_oracle_is_drawn_once_per_scene():
    w = World()
    try:
        assert w.episode.seed == 7 and w.env.seed == 7
        first = w.oracle()
        assert w.oracle() is first and w.snapshot()[1] is first
        ep = w.call(w.record, Outcome.ok(0.5))
        assert ep.total_reward == 0.5 and ep.scene == 2
        assert w.oracle() is not first  # a new scene, a new draw
        assert w.reset().seed == 9 and w.reset(100).seed == 100 and w.reset().seed == 102
    finally:
        w.close()


def test_goals_are_refused_once_the_episode_is_done_until_a_reset():
    w = World()
    try:
        assert w.refuse_when_done() is None
        w.env.steps = CountingTask.max_steps  # the task's step limit reached by this goal
        assert w.call(w.record, Outcome.ok(0.0)).done
        refusal = w.refuse_when_done()
        assert not refusal.success and refusal.error_code == ErrorCode.INVALID_GOAL
        assert "sim/reset" in refusal.message
        w.env.steps = 0
        w.reset()
        assert w.refuse_when_done() is None
    finally:
        w.close()
