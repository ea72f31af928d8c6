"""Training labels from the episode store: a gripper's pick yaw comes back as the pick bin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_perception.workspace import Workspace
from cliport_policy.data import collate
from cliport_policy.poses import decision_poses
from cliport_sim import dataset as ds
from cliport_sim.episode import Episode
from cliport_sim.geometry import wrap_angle
from cliport_sim.labels import action_labels, pose_to_array

WS = Workspace(0.30, 0.62, -0.32, 0.32, 0.0, 0.28, 0.002)  # a Franka-sized grid
PICK_YAWS_DEG = (-85.0, -40.0, 0.0, 30.0, 89.0)
TURN_DEG = 25.0  # every place turns the object by this much


def gripper_episode() -> Episode:
    """Actions whose pick poses carry a grasp yaw, labelled as cliport-demos labels them."""
    n = len(PICK_YAWS_DEG)
    pose0, pose1, labels = [], [], []
    for i, deg in enumerate(PICK_YAWS_DEG):
        yaw = math.radians(deg)
        p0 = ((0.35 + 0.05 * i, -0.2 + 0.1 * i, 0.04), quat_from_yaw(yaw))
        p1 = ((0.55, 0.25 - 0.1 * i, 0.045), quat_from_yaw(yaw + math.radians(TURN_DEG)))
        pose0.append(pose_to_array(p0))
        pose1.append(pose_to_array(p1))
        labels.append(action_labels(p0, p1, WS))
    rows, cols = WS.shape
    return Episode(
        colormap=np.zeros((n + 1, rows, cols, 3), np.uint8),
        heightmap=np.full((n + 1, rows, cols), 0.04, np.float32),
        valid=np.ones((n + 1, rows, cols), bool), pose0=np.array(pose0), pose1=np.array(pose1),
        pick_pix=[lb.pick_pix for lb in labels], place_pix=[lb.place_pix for lb in labels],
        pick_rot=[lb.pick_rot for lb in labels], place_rot=[lb.place_rot for lb in labels],
        reward=np.r_[0.0, np.full(n, 1.0 / n)], instruction=["put it there"] * (n + 1),
        meta=ds.new_meta("put-block-in-bowl-seen-colors", "train", 0, WS, robot="panda"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> ds.Dataset:
    root = ds.episode_dir(tmp_path_factory.mktemp("data"), "put-block-in-bowl-seen-colors",
                          "train")
    with ds.EpisodeWriter(root) as writer:
        writer.write(gripper_episode())
    return ds.Dataset(root)


def test_a_stored_pick_yaw_comes_back_as_the_pick_label_and_as_the_commanded_yaw(dataset):
    steps = [dataset.sample(0, t) for t in range(dataset.n_steps(0))]
    batch = collate([(0, s) for s in steps], place_rotations=36, pick_rotations=36)
    half_pick_bin, half_place_bin = math.pi / 72, math.pi / 36  # 36 bins over pi / 2 pi
    for j, (step, deg) in enumerate(zip(steps, PICK_YAWS_DEG, strict=True)):
        assert yaw_of(step["pose0"][3:]) == pytest.approx(math.radians(deg))  # saved as is
        pick = (*(int(c) for c in batch.pick[j]), int(batch.pick_rot[j]))
        place = (*(int(c) for c in batch.place[j]), int(batch.place_rot[j]))
        p0, p1 = decision_poses(WS, steps[j]["heightmap"], pick, place, 36, 36)
        # a parallel gripper's grasp is the same turned by half a turn: compared folded by pi
        off = (yaw_of(p0[1]) - math.radians(deg) + math.pi / 2) % math.pi - math.pi / 2
        assert abs(off) <= half_pick_bin + 1e-9
        assert -math.pi / 2 <= yaw_of(p0[1]) < math.pi / 2
        turn = wrap_angle(yaw_of(p1[1]) - yaw_of(p0[1]))
        assert abs(wrap_angle(turn - math.radians(TURN_DEG))) <= half_place_bin + 1e-9


def test_a_one_rotation_pick_model_keeps_the_stored_zero_label(dataset):
    steps = [(0, dataset.sample(0, t)) for t in range(dataset.n_steps(0))]
    assert collate(steps).pick_rot.tolist() == [0] * len(steps)
