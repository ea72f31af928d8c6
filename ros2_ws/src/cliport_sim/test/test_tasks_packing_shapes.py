"""packing-shapes in the real simulator: registration, scenes, instructions, oracle."""

from __future__ import annotations

import re

import numpy as np
import pybullet as p
import pytest

from cliport_sim import assets
from cliport_sim.colors import rgba
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.oracle_check import run_oracle
from cliport_sim.tasks import make_task, task_names
from cliport_sim.tasks.packing_common import PICK_RADIUS
from cliport_sim.tasks.packing_shapes import EVAL_SHAPES, TRAIN_SHAPES

NAME = "packing-shapes"
INSTRUCTION = re.compile(r"pack the (.+) in the brown box")


def _env(mode: str = "train") -> Environment:
    return Environment(make_task(NAME, mode), SimConfig(observe=False))


def test_registered_for_every_mode():
    assert NAME in task_names()
    for mode in ("train", "val", "test"):
        task = make_task(NAME, mode)
        assert task.name == NAME and task.mode == mode and task.max_steps == 1


@pytest.mark.parametrize("mode", ["train", "test"])
def test_scene_goal_and_instruction(mode):
    allowed = {assets.KIT_SHAPE_LABELS[i] for i in (TRAIN_SHAPES if mode == "train"
                                                    else EVAL_SHAPES)}
    with _env(mode) as env:
        for seed in (1, 2):
            env.reset(seed)
            task = env.task
            assert len(env.obj_ids["fixed"]) == 1 and len(env.obj_ids["rigid"]) == 5
            (goal,) = task.goals
            assert goal.metric == "zone" and goal.objects == env.obj_ids["rigid"][:1]
            (zone_pose, (w, h)), = goal.zones
            assert 0.10 <= w <= 0.15 and 0.10 <= h <= 0.15
            match = INSTRUCTION.fullmatch(task.lang_goal)
            assert match and match[1] in allowed
            colors = {p.getVisualShapeData(b, physicsClientId=env.client)[0][7]
                      for b in env.obj_ids["rigid"]}
            assert len(colors) == 5  # five different colours, none of them the box's brown
            assert not any(np.allclose(c, rgba("brown")) for c in colors)
    assert not set(TRAIN_SHAPES) & set(EVAL_SHAPES)


def test_picks_land_near_the_middle_of_the_object():
    with _env() as env:
        env.reset(4)
        task, maps = env.task, env.oracle_maps()
        obj = task.goals[0].objects[0]
        mask = maps.segmentation == obj
        cells = np.argwhere(mask)
        cu, cv = cells.mean(axis=0)
        centre = env.workspace.pixel_to_xy(int(round(cu)), int(round(cv)))
        picks = {task.pick_pose(env, maps, mask)[0] for _ in range(20)}
        assert len(picks) > 1  # still a random choice
        for x, y, z in picks:
            assert np.hypot(x - centre[0], y - centre[1]) <= PICK_RADIUS + 0.005
            assert z == pytest.approx(0.02, abs=0.002)  # the top of a 2 cm shape


def test_oracle_packs_the_shape():
    results = run_oracle(NAME, "train", [0, 2])
    assert all(r.success for r in results), results
    assert make_task(NAME).done_language == "done packing shapes."
