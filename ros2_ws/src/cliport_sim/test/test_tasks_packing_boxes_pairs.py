"""packing-boxes-pairs in the real simulator, and the KD-tree split it shares."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pybullet as p
import pytest

from cliport_sim.colors import colors_for
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.oracle_check import run_oracle
from cliport_sim.tasks import make_task, task_names
from cliport_sim.tasks.kdtree import split_volume
from cliport_sim.tasks.packing_boxes_pairs import N_DISTRACTORS, ZONE_Z_BOUND
from cliport_sim.testing import color_name

NAMES = [f"packing-boxes-pairs-{s}-colors" for s in ("seen", "unseen", "full")]
INSTRUCTION = re.compile(r"pack all the (\w+)(?: and (\w+))? blocks into the brown box")


# ------------------------------------------------------------------------- KD-tree split
def _overlap(a, b) -> float:
    """Largest gap (negative = overlap depth) between two leaves along any axis."""
    gaps = [abs(a.center[k] - b.center[k]) - (a.size[k] + b.size[k]) / 2 for k in range(3)]
    return max(gaps)


@pytest.mark.parametrize("seed", range(20))
def test_split_leaves_fill_the_box_apart(seed):
    rng = np.random.default_rng(seed)
    size = (rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), 0.05)
    leaves = split_volume(rng, size, min_dim=0.05, margin=0.01)
    for leaf in leaves:
        lo = np.subtract(leaf.center, np.divide(leaf.size, 2))
        hi = np.add(leaf.center, np.divide(leaf.size, 2))
        assert np.all(lo[:2] >= -np.divide(size[:2], 2) + 0.01 - 1e-9)
        assert np.all(hi[:2] <= np.divide(size[:2], 2) - 0.01 + 1e-9)
        assert lo[2] == 0.0 and hi[2] == pytest.approx(0.05)
        assert max(leaf.size[:2]) <= 0.1 + 1e-9  # split while a side exceeds 2 * min_dim
        assert min(leaf.size[:2]) >= 0.05 - 0.005 - 1e-9
    for a, b in itertools.combinations(leaves, 2):
        assert _overlap(a, b) >= 0.01 - 1e-9  # the margin separates every pair
    # leaves + margins tile the inner region: volumes add up to at most its volume
    inner = (size[0] - 0.02) * (size[1] - 0.02) * 0.05
    assert sum(leaf.volume for leaf in leaves) <= inner + 1e-12


def test_split_is_deterministic_and_checks_input():
    a = split_volume(np.random.default_rng(5), (0.3, 0.25, 0.05), min_dim=0.05, margin=0.01)
    b = split_volume(np.random.default_rng(5), (0.3, 0.25, 0.05), min_dim=0.05, margin=0.01)
    assert a == b and len(a) > 1
    assert split_volume(np.random.default_rng(0), (0.1, 0.1, 0.05), min_dim=0.05,
                        margin=0.01)[0].size == pytest.approx((0.08, 0.08, 0.05))
    with pytest.raises(ValueError, match="three positive"):
        split_volume(np.random.default_rng(0), (0.1, -0.1, 0.05), min_dim=0.05, margin=0.01)
    with pytest.raises(ValueError, match="too small"):
        split_volume(np.random.default_rng(0), (0.02, 0.1, 0.05), min_dim=0.05, margin=0.01)
    with pytest.raises(ValueError, match="min_dim"):
        split_volume(np.random.default_rng(0), (0.1, 0.1, 0.05), min_dim=0.0, margin=0.01)


# ------------------------------------------------------------------------- the task
def _env(name: str, mode: str = "train") -> Environment:
    return Environment(make_task(name, mode), SimConfig(observe=False))


def test_registered_for_every_split_and_mode():
    for name in NAMES:
        assert name in task_names()
        for mode in ("train", "val", "test"):
            task = make_task(name, mode)
            assert task.name == name and task.max_steps == 20
            assert task.done_language == "done packing blocks."


@pytest.mark.parametrize("name,mode", [(NAMES[0], "train"), (NAMES[1], "test"),
                                       (NAMES[2], "val")])
def test_boxes_colours_and_instruction(name, mode):
    palette = set(colors_for(name.split("-")[3], mode)) - {"brown"}
    with _env(name, mode) as env:
        for seed in (0, 1, 2):
            env.reset(seed)
            (goal,) = env.task.goals
            match = INSTRUCTION.fullmatch(goal.language)
            assert match, goal.language
            named = {c for c in match.groups() if c}
            boxes = set(goal.objects)
            distractors = [b for b in env.obj_ids["rigid"] if b not in boxes]
            assert len(distractors) == N_DISTRACTORS
            assert {color_name(env, b) for b in boxes} == named <= palette
            assert not {color_name(env, b) for b in distractors} & named
            assert goal.metric == "zone" and goal.zone_z_bound == ZONE_Z_BOUND
            (zone_pose, (w, h)), = goal.zones
            assert 0.05 <= w <= 0.3 and 0.05 <= h <= 0.3
            # the targets lie inside the brown box, one per box
            assert len(goal.targets) == len(boxes)
            assert np.array_equal(goal.matches, np.eye(len(boxes), dtype=bool))


def test_a_box_stacked_on_another_earns_no_credit():
    """The z-bound: a box lying on a packed box is not 'in' the brown box."""
    with _env(NAMES[0]) as env:
        env.reset(3)
        task = env.task
        (goal,) = task.goals
        first, target = goal.objects[0], goal.targets[0]
        p.resetBasePositionAndOrientation(first, target[0], target[1],
                                          physicsClientId=env.client)
        share = len(env.object_points(first)) / sum(len(env.object_points(o))
                                                    for o in goal.objects)
        assert task._zone_reward(env, goal) == pytest.approx(share)
        raised = (target[0][0], target[0][1], target[0][2] + 0.05)
        p.resetBasePositionAndOrientation(first, raised, target[1], physicsClientId=env.client)
        assert task._zone_reward(env, goal) == 0.0


def test_oracle_packs_every_box():
    results = run_oracle(NAMES[0], "train", [0, 2])
    assert all(r.success for r in results), results


def test_the_oracle_turns_each_box_by_less_than_90_degrees():
    """A box fits its cell either way round (symmetry 180 deg): the place yaw is the smaller
    of the two turns, one label per scene."""
    from cliport_common.poses import yaw_of

    turns = []
    with _env(NAMES[0]) as env:
        for seed in (0, 1, 2):
            env.reset(seed)
            assert env.task.goals[0].symmetries == [math.pi] * len(env.task.goals[0].objects)
            turns.append(math.degrees(yaw_of(env.task.oracle(env).pose1[1])))
    assert all(-90.0 <= t < 90.0 for t in turns), turns

