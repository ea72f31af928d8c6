"""align-rope: registration, the rope and square, reproducible scenes, metric, oracle."""

from __future__ import annotations

import math
import re

import numpy as np
import pybullet as p
import pytest

from cliport_common.poses import yaw_of
from cliport_sim.colors import rgba
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.geometry import IDENTITY_QUAT
from cliport_sim.oracle_check import run_oracle
from cliport_sim.tasks import make_task, task_names
from cliport_sim.tasks.align_rope import (
    BEAD_RADIUS,
    DIRECTIONS,
    LINK,
    N_BEADS,
    SIDE,
    open_side_yaw,
)

NAME = "align-rope"
INSTRUCTION = re.compile(r"align the rope from (.+)")
ORACLE_SEEDS = [0, 2]


CONFIG = SimConfig(observe=False)


@pytest.fixture(scope="module")
def env():
    with Environment(make_task(NAME, "test"), CONFIG) as e:
        yield e


def test_registered_with_rope_primitive_settings():
    assert NAME in task_names()
    task = make_task(NAME, "train")
    assert task.name == NAME and task.max_steps == 20
    assert (task.primitive, task.end_effector) == ("pick_place", "suction")
    assert task.primitive_params == {"height": 0.02, "speed": 0.001}
    assert task.settle_steps_after_reset == 480
    assert task.done_language == "done aligning the rope."
    assert pytest.approx(0.2828, abs=1e-4) == SIDE


def test_rope_square_targets_and_instruction(env):
    seen = set()
    for seed in range(1, 40, 2):
        env.reset(seed)
        m = INSTRUCTION.fullmatch(env.lang_goal)
        assert m and m.group(1) in [d[2] for d in DIRECTIONS], env.lang_goal
        seen.add(m.group(1))
    assert len(seen) == 4  # every direction occurs

    env.reset(10005)
    c = env.client
    beads = env.obj_ids["rigid"]
    (square,) = env.obj_ids["fixed"]
    assert len(beads) == N_BEADS
    # 19 point-to-point links, each holding its beads about one link length apart.
    links = [p.getConstraintInfo(p.getConstraintUniqueId(i, physicsClientId=c),
                                 physicsClientId=c)
             for i in range(p.getNumConstraints(physicsClientId=c))]
    rope_links = [x for x in links if x[4] == p.JOINT_POINT2POINT]
    assert len(rope_links) == N_BEADS - 1 and all(x[10] == 100 for x in rope_links)
    for a, b in zip(beads, beads[1:], strict=False):
        assert math.dist(env.pose(a)[0], env.pose(b)[0]) == pytest.approx(LINK, abs=3e-3)
    assert all(env.pose(b)[0][2] < 3 * BEAD_RADIUS for b in beads)  # resting on the table
    white = (1.0, 1.0, 1.0, 1.0)
    assert [env.color_of(b) for b in beads] == [white] + [rgba("red")] * 18 + [white]
    # Rendered colours (beads laid out apart): the ends white, the 18 middle beads red.
    for k, bead in enumerate(beads):
        p.resetBasePositionAndOrientation(bead, (0.3 + 0.02 * k, -0.45, BEAD_RADIUS),
                                          IDENTITY_QUAT, physicsClientId=c)
    env.step_simulation(1)
    maps = env.oracle_maps()
    colors = [maps.colormap[maps.segmentation == b].mean(axis=0) for b in beads]
    red = np.array(rgba("red")[:3]) * 255
    for k, col in enumerate(colors):
        if 0 < k < N_BEADS - 1:
            assert np.abs(col / col.max() - red / red.max()).max() < 0.1, (k, col)
        else:
            assert col.min() > 0.9 * col.max(), (k, col)

    # Targets: 20 points one link apart on one side of the square, centred on it.
    goal = env.task.goals[0]
    t = np.array([x[0][:2] for x in goal.targets])
    assert np.allclose(np.linalg.norm(np.diff(t, axis=0), axis=1), LINK)
    centre = np.asarray(env.pose(square)[0][:2])
    side_mid = t.mean(axis=0)
    assert np.linalg.norm(side_mid - centre) == pytest.approx(SIDE / 2, abs=1e-6)
    assert goal.pos_eps == 0.02 and goal.metric == "pose" and not goal.replace
    # The square's open side is the words' "front": the two tips lie on it.
    open_yaw = yaw_of(env.pose(square)[1]) + open_side_yaw(c, square)
    words = env.lang_goal
    a_end = t[0] - (t[1] - t[0]) / 2
    b_end = t[-1] + (t[-1] - t[-2]) / 2
    front = np.array([math.cos(open_yaw), math.sin(open_yaw)])
    tips = [bool((end - centre) @ front > SIDE / 2 - 1e-6) for end in (a_end, b_end)]
    n_tips = words.count("tip")
    assert sum(tips) == n_tips, words


def test_either_end_order_scores(env):
    env.reset(10007)
    task = env.task
    goal = task.goals[0]
    beads = goal.objects
    for bead, target in zip(beads, reversed(goal.targets), strict=True):
        p.resetBasePositionAndOrientation(bead, target[0], IDENTITY_QUAT,
                                          physicsClientId=env.client)
    reward, info = task.reward(env)
    assert reward == pytest.approx(1.0) and info.get("goal_completed") and task.done()


def test_half_aligned_rope_gets_half_reward(env):
    env.reset(10009)
    task = env.task
    goal = task.goals[0]
    for bead, target in list(zip(goal.objects, goal.targets, strict=True))[:10]:
        xyz = np.asarray(target[0]) + (0.015, 0.0, 0.0)  # within pos_eps 0.02
        p.resetBasePositionAndOrientation(bead, xyz.tolist(), IDENTITY_QUAT,
                                          physicsClientId=env.client)
    for k, bead in enumerate(goal.objects[10:]):  # far from every target
        p.resetBasePositionAndOrientation(bead, (0.3 + 0.02 * k, -0.6, BEAD_RADIUS),
                                          IDENTITY_QUAT, physicsClientId=env.client)
    reward, info = task.reward(env)
    assert reward == pytest.approx(0.5) and not info.get("goal_completed")


def test_oracle_solves_seeds():
    for r in run_oracle(NAME, "train", ORACLE_SEEDS):
        assert r.success, r
