"""packing-{seen,unseen}-google-objects-{seq,group} in the real simulator."""

from __future__ import annotations

import math
import re

import numpy as np
import pybullet as p
import pytest
from scipy.spatial.transform import Rotation

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_sim import google_objects
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.oracle_check import run_oracle
from cliport_sim.tasks import make_task, task_names
from cliport_sim.tasks.packing_google_objects import footprint_rectangle, tilted

NAMES = [f"packing-{o}-google-objects-{k}" for o in ("seen", "unseen")
         for k in ("seq", "group")]
SEQ = re.compile(r"pack the (.+) in the brown box")
GROUP = re.compile(r"pack all the (.+) objects in the brown box")


def _env(name: str, mode: str = "train") -> Environment:
    return Environment(make_task(name, mode), SimConfig(observe=False))


def _body_name(env: Environment, body: int) -> str:
    return p.getBodyInfo(body, physicsClientId=env.client)[1].decode().replace("_", " ")


def test_registered_for_every_mode():
    for name in NAMES:
        assert name in task_names()
        for mode in ("train", "val", "test"):
            task = make_task(name, mode)
            assert task.name == name and task.mode == mode
            assert task.done_language == "done packing objects."


@pytest.mark.parametrize("name,mode,pool", [
    ("packing-unseen-google-objects-seq", "train", google_objects.OBJECTS_SEEN),
    ("packing-unseen-google-objects-group", "test", google_objects.OBJECTS_UNSEEN),
    ("packing-seen-google-objects-seq", "val", google_objects.OBJECTS_ALL)])
def test_objects_come_from_the_split(name, mode, pool):
    assert make_task(name, mode).object_names == pool
    with _env(name, mode) as env:
        env.reset(5)
        assert {_body_name(env, b) for b in env.obj_ids["rigid"]} <= set(pool)


def test_seq_goals_one_object_per_step():
    with _env("packing-seen-google-objects-seq") as env:
        for seed in range(4):
            env.reset(seed)
            task, objects = env.task, env.obj_ids["rigid"]
            n = len(task.goals)
            assert 4 <= len(objects) <= 9  # one per KD-tree cell of a >= 0.2 m box
            assert 1 <= n <= len(objects) - 1 and task.max_steps == n + 1
            named = []
            for goal in task.goals:
                (obj,) = goal.objects
                assert obj in objects and goal.metric == "zone"
                assert goal.max_reward == pytest.approx(1 / n)
                (_, (w, h)), = goal.zones
                assert 0.2 <= w <= 0.35 and 0.2 <= h <= 0.35
                match = SEQ.fullmatch(goal.language)
                assert match and match[1] == _body_name(env, obj)
                named.append(match[1])
            assert len(set(named)) == n  # distinct objects, unambiguous instructions
            assert len({g.objects[0] for g in task.goals}) == n


def test_group_goal_covers_the_two_copies_of_one_category():
    with _env("packing-unseen-google-objects-group", "val") as env:
        for seed in range(3):
            env.reset(seed)
            (goal,) = env.task.goals
            category = GROUP.fullmatch(goal.language)[1]
            names = [_body_name(env, b) for b in env.obj_ids["rigid"]]
            assert names.count(category) == 2 and env.task.max_steps == 3
            assert sorted(goal.objects) == sorted(b for b, n in zip(env.obj_ids["rigid"], names,
                                                                    strict=True)
                                                  if n == category)
            others = [n for n in set(names) if n != category]
            assert any(names.count(n) == 2 for n in others)  # the distractor pair


def test_tilt_is_a_small_rotation_in_the_object_frame():
    """The reference mixes (w, x, y, z) and (x, y, z, w); ours composes xyzw.

    See docs/design.md#quaternion-order.
    """
    yaw, roll, pitch = 1.1, 0.08, -0.05
    pos, quat = tilted(((0.5, 0.0, 0.1), quat_from_yaw(yaw)), roll, pitch)
    rot = Rotation.from_quat(quat)
    expected = Rotation.from_euler("z", yaw) * Rotation.from_euler("xyz", (roll, pitch, 0))
    assert np.allclose(rot.as_matrix(), expected.as_matrix(), atol=1e-12)
    up = rot.apply((0, 0, 1))
    assert math.degrees(math.acos(up[2])) < 6  # slight: the z axis leans a few degrees
    assert abs(yaw_of(quat) - yaw) < 0.01 and pos == (0.5, 0.0, 0.1)


@pytest.mark.parametrize("angle", [0.0, 0.3, -1.2, 2.0])
def test_footprint_rectangle(angle):
    c, s = math.cos(angle), math.sin(angle)
    for w, h in ((0.12, 0.05), (0.08, 0.08)):
        corners = np.array([[x, y] for x in (-w / 2, w / 2) for y in (-h / 2, h / 2)])
        rotated = corners @ np.array([[c, -s], [s, c]]).T + (0.4, 0.1)
        got, long_side, short_side = footprint_rectangle(rotated)
        assert (long_side, short_side) == pytest.approx((max(w, h), min(w, h)))
        period = math.pi if w != h else math.pi / 2
        diff = (got - angle) % period
        assert min(diff, period - diff) < 1e-9


def test_oracle_packs_the_objects():
    results = run_oracle("packing-unseen-google-objects-seq", "train", [2, 8])
    results += run_oracle("packing-seen-google-objects-group", "train", [0, 4])
    assert all(r.success for r in results), results


def _write_box_obj(path, size) -> None:
    """A closed box mesh (OBJ) of ``size`` centred on its origin."""
    hx, hy, hz = (s / 2 for s in size)
    verts = [(x, y, z) for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)]
    faces = [(1, 2, 4, 3), (5, 7, 8, 6), (1, 5, 6, 2), (3, 4, 8, 7), (1, 3, 7, 5), (2, 6, 8, 4)]
    lines = [f"v {x} {y} {z}" for x, y, z in verts] + [f"f {a} {b} {c} {d}"
                                                         for a, b, c, d in faces]
    path.write_text("\n".join(lines) + "\n")


def test_a_real_object_folder_replaces_the_builtin_set(tmp_path):
    from dataclasses import replace

    from cliport_sim.google_objects import OBJECTS_SEEN, OBJECTS_UNSEEN

    meshes = tmp_path / "google" / "meshes_fixed"
    meshes.mkdir(parents=True)
    have = OBJECTS_SEEN[:6] + OBJECTS_UNSEEN[:6]
    for i, name in enumerate(have):
        _write_box_obj(meshes / f"{name.replace(' ', '_')}.obj",
                       (0.1 + 0.01 * (i % 3), 0.08, 0.05))
    name = "packing-unseen-google-objects-seq"
    with _env(name, "test") as env:
        env.config = replace(env.config, google_objects_dir=str(tmp_path / "google"))
        env.reset(10001)
        assert set(env.task.object_names) == set(OBJECTS_UNSEEN[:6])  # test: unseen only
        objects = [b for g in env.task.goals for b in g.objects]
        assert objects
        for body in objects:  # our box meshes (0.1-0.12 x 0.08 x 0.05), uniformly scaled
            lo, hi = env.local_box(body)
            dims = sorted(hi - lo, reverse=True)
            assert abs(dims[2] / dims[1] - 0.05 / 0.08) < 0.1, dims
    missing = tmp_path / "empty" / "meshes_fixed"
    missing.mkdir(parents=True)
    _write_box_obj(missing / "not_a_reference_name.obj", (0.1, 0.1, 0.1))
    with _env(name, "test") as env:
        env.config = replace(env.config, google_objects_dir=str(tmp_path / "empty"))
        with pytest.raises(FileNotFoundError, match="none of the unseen objects"):
            env.reset(10001)
