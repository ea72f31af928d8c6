"""stack-block-pyramid-seq in the real simulator: names, scenes, step-wise goals, oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cliport_sim.colors import EVAL_COLORS, FULL_COLORS, TRAIN_COLORS
from cliport_sim.environment import Environment
from cliport_sim.geometry import multiply
from cliport_sim.oracle_check import run_oracle
from cliport_sim.tasks.stack_block_pyramid import PYRAMID
from cliport_sim.testing import stand_and_pieces, task_env

FAMILY = "stack-block-pyramid-seq"
NAMES = [f"{FAMILY}-{s}-colors" for s in ("seen", "unseen", "full")]


def _env(name: str = NAMES[0], mode: str = "train") -> Environment:
    return task_env(name, mode)


@pytest.mark.parametrize(("name", "mode", "palette"), [
    (NAMES[0], "test", TRAIN_COLORS), (NAMES[1], "train", TRAIN_COLORS),
    (NAMES[1], "val", EVAL_COLORS), (NAMES[2], "train", FULL_COLORS)])
def test_goals_instructions_and_targets(name, mode, palette):
    with _env(name, mode) as env:
        env.reset(3)
        task = env.task
        stand, blocks, colors = stand_and_pieces(env)
        assert len(blocks) == 6 and len(set(colors)) == 6 and set(colors) <= set(palette)
        stand_pose = env.pose(stand)
        c = colors
        expected = [
            f"put the {c[0]} block on the lightest brown block",
            f"put the {c[1]} block on the middle brown block",
            f"put the {c[2]} block on the darkest brown block",
            f"put the {c[3]} block on the {c[0]} and {c[1]} blocks",
            f"put the {c[4]} block on the {c[1]} and {c[2]} blocks",
            f"put the {c[5]} block on the {c[3]} and {c[4]} blocks"]
        assert [g.language for g in task.goals] == expected
        assert task.lang_goal == expected[0]
        for goal, block, xyz in zip(task.goals, blocks, PYRAMID, strict=True):
            assert goal.objects == [block] and goal.symmetries == [math.pi / 2]
            assert goal.metric == "pose" and goal.max_reward == pytest.approx(1 / 6)
            want = multiply(stand_pose, (xyz, (0, 0, 0, 1)))
            assert np.allclose(goal.targets[0][0], want[0], atol=1e-6)


def test_oracle_builds_the_pyramid():
    results = run_oracle(NAMES[0], "train", [0, 2])
    assert all(r.success for r in results), results


def test_the_oracle_turns_each_block_by_less_than_45_degrees():
    """The place yaw is the smallest turn modulo the cube's 90 deg: one label per scene,
    where the block's random start yaw would otherwise give any of four turns."""
    from cliport_common.poses import yaw_of

    turns = []
    with _env() as env:
        for seed in (0, 1, 2):
            env.reset(seed)
            action = env.task.oracle(env)
            turns.append(math.degrees(yaw_of(action.pose1[1])))
    assert all(-45.0 <= t < 45.0 for t in turns), turns
    assert any(abs(t) > 1.0 for t in turns), turns  # the blocks do need turning
