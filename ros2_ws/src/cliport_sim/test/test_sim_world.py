"""SimWorld's episode bookkeeping, without ROS: one oracle draw per scene, so an episode
does not depend on how often (or when) its status was announced."""

from __future__ import annotations

import pytest

from cliport_executor.request import Outcome
from cliport_sim.sim_world import SimWorld, SimWorldConfig

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def world():
    w = SimWorld(SimWorldConfig(cameras=("front",)))
    yield w
    w.close()


def test_the_oracle_is_drawn_once_per_scene(world):
    scene = world.reset(10001).scene
    first = world.oracle()
    again = [world.oracle() for _ in range(3)]
    assert all(a is first for a in again)  # no new draw from the episode's generator
    snap, action = world.snapshot()
    assert action is first and snap.scene == scene and snap is not world.episode

    world.call(lambda: world.env.step(first))
    world.record(Outcome.ok(0.5))
    assert world.episode.scene == scene + 1
    assert world.oracle() is not first  # a new scene, a new decision


def test_episodes_are_the_same_however_often_they_were_asked(world):
    def picks(asks: int) -> list:
        world.reset(10003)
        out = []
        while not world.episode.done:
            for _ in range(asks):
                world.oracle()
            action = world.oracle()
            out.append(action.pose0)
            outcome = world.call(lambda a=action: world.env.step(a))
            world.record(Outcome.ok(outcome[1]))
        return out

    assert picks(0) == picks(4)


def test_scenes_number_across_episodes(world):
    a = world.reset().scene
    b = world.reset().scene
    assert b > a


def test_the_cameras_go_on_while_a_goal_runs():
    """Frames keep coming at the camera rate during a step (rendered between physics steps),
    so perception never sees the sim cameras stall while the arm moves."""
    stamps: list[int] = []
    w = SimWorld(SimWorldConfig(cameras=("front",)), frame_period=0.05,
                 on_frames=lambda frames, stamp: stamps.append(stamp))
    try:
        action = w.oracle()

        def step():
            before = len(stamps)
            w.env.step(action)
            return len(stamps) - before

        assert w.call(step) >= 2  # rendered during the step, not only between jobs
    finally:
        w.close()
