"""Agents: registry, act(), losses, and the label -> argmax -> pose round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cliport_perception.workspace import Workspace
from cliport_policy.agents import _argmax, agent_names, image_tensor, make_agent
from cliport_policy.config import load_policy_config
from cliport_policy.poses import SURFACE_RADIUS_M, decision_poses
from cliport_sim.labels import action_labels

INSTRUCTION = "put the red blocks in a blue bowl"


def _scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    cmap = rng.integers(0, 255, (320, 160, 3), dtype=np.uint8)
    hmap = (rng.random((320, 160)) * 0.05).astype(np.float32)
    return cmap, hmap


def test_registry_names():
    assert {"cliport", "transporter", "clip_only"} <= set(agent_names())
    with pytest.raises(ValueError, match="unknown agent"):
        make_agent(dataclasses.replace(load_policy_config("tiny").model, agent="nope"))


@pytest.mark.parametrize("name", ["transporter", "clip_only"])
def test_baselines_act(tiny_agent, name):
    cfg = dataclasses.replace(tiny_agent.config, agent=name)
    agent = make_agent(cfg, tiny_agent.clip)
    d = agent.act(*_scene(), INSTRUCTION)
    assert 0 <= d.pick[0] < 320 and 0 <= d.pick[1] < 160 and 0 <= d.place[2] < 36
    if name == "transporter":
        assert agent.clip is None


def test_act_gives_a_decision_on_the_grid(tiny_agent):
    cmap, hmap = _scene()
    hmap[:10] = np.nan  # holes from a real camera must not break the policy
    d = tiny_agent.act(cmap, hmap, INSTRUCTION)
    assert d.pick_heatmap.shape == d.place_heatmap.shape == (320, 160)
    assert 0 < d.pick_score <= 1 and 0 < d.place_score <= 1
    assert d.pick_heatmap[d.pick[0], d.pick[1]] == pytest.approx(d.pick_score)
    again = tiny_agent.act(cmap, hmap, INSTRUCTION)
    assert (again.pick, again.place) == (d.pick, d.place)  # deterministic at eval


def test_act_batch_matches_single_acts(tiny_agent):
    scenes = [_scene(i) for i in range(2)]
    img = image_tensor(np.stack([s[0] for s in scenes]), np.stack([s[1] for s in scenes]))
    batch = tiny_agent.act_batch(img, [INSTRUCTION, "put the green blocks in a red bowl"])
    single = tiny_agent.act(*scenes[1], "put the green blocks in a red bowl")
    assert (batch[1].pick, batch[1].place) == (single.pick, single.place)


def test_losses_train_the_heads_not_clip(tiny_cfg):
    torch.manual_seed(0)
    agent = make_agent(tiny_cfg.model).train()
    assert not agent.clip.training  # frozen CLIP stays in eval mode (docs/design.md#clip-eval-mode)
    img = image_tensor(*[np.stack([a]) for a in _scene()])
    lp, lq = agent.losses(img, [INSTRUCTION], torch.tensor([[100, 50]]),
                          torch.tensor([[200, 80]]), torch.tensor([0]), torch.tensor([5]))
    assert lp.item() == pytest.approx(np.log(320 * 160), rel=0.01)  # near-uniform at init
    assert lq.item() == pytest.approx(np.log(36 * 320 * 160), rel=0.01)
    (lp + lq).backward()
    assert all(p.grad is None for p in agent.clip.parameters())
    assert agent.attention.fcn.spatial.stem.weight.grad.abs().sum() > 0
    assert agent.transport.query.semantic.conv2.weight.grad.abs().sum() > 0
    names = {n for n, _ in agent.named_parameters()}
    assert not any("visual" in n or "text" in n for n in names)  # CLIP is not a submodule


def test_one_hot_label_argmax_pose_round_trip_is_exact(demos):
    """Stored oracle labels -> one-hot maps -> argmax -> poses -> labels again."""
    ws = Workspace()
    checked = 0
    for i in range(len(demos)):
        ep = demos.episode(i)
        for t in range(ep.n_steps):
            pick_logits = torch.full((1, 1, 320, 160), -1e4)
            place_logits = torch.full((1, 36, 320, 160), -1e4)
            pu, pv = ep.pick_pix[t]
            qu, qv = ep.place_pix[t]
            pick_logits[0, ep.pick_rot[t], pu, pv] = 0
            place_logits[0, ep.place_rot[t], qu, qv] = 0
            (pick,), _, _ = _argmax(pick_logits)
            (place,), _, _ = _argmax(place_logits)
            assert pick == (pu, pv, ep.pick_rot[t]) and place == (qu, qv, ep.place_rot[t])
            pose0, pose1 = decision_poses(ws, ep.heightmap[t], pick, place)
            labels = action_labels(pose0, pose1, ws)
            assert labels.pick_pix == (pu, pv) and labels.place_pix == (qu, qv)
            assert labels.place_rot == ep.place_rot[t]
            # and the poses are those of the demo up to the cell size and the 10 deg bin
            assert np.allclose(pose0[0][:2], ep.pose0[t, :2], atol=ws.pixel_size)
            # z: the highest reading within SURFACE_RADIUS_M of the cell (over depth holes)
            r = round(SURFACE_RADIUS_M / ws.pixel_size)
            window = ep.heightmap[t][max(0, pu - r): pu + r + 1, max(0, pv - r): pv + r + 1]
            assert pose0[0][2] == pytest.approx(float(window.max()))
            checked += 1
    assert checked >= 5


def test_place_z_is_where_the_picked_top_ends():
    ws = Workspace()
    hmap = np.zeros((320, 160), np.float32)
    hmap[100, 50] = 0.04  # a 4 cm block
    hmap[200, 80] = 0.005  # a bowl floor
    pick, place = decision_poses(ws, hmap, (100, 50, 0), (200, 80, 0))
    assert pick[0][2] == pytest.approx(0.04) and place[0][2] == pytest.approx(0.045)


def test_a_depth_hole_in_a_block_top_does_not_send_the_gripper_to_the_table():
    ws = Workspace()
    hmap = np.zeros((320, 160), np.float32)
    hmap[95:106, 45:56] = 0.04  # a 4 cm block (2.2 cm on the UR5 grid's 3.125 mm cells)
    hmap[100, 50] = 0.0  # no depth reading at the chosen cell: fusion reports the table
    hmap[200, 80] = 0.005  # a bowl floor
    pick, place = decision_poses(ws, hmap, (100, 50, 0), (200, 80, 0))
    assert pick[0][2] == pytest.approx(0.04) and place[0][2] == pytest.approx(0.045)


def test_decision_poses_yaw_sign_and_out_of_grid():
    ws = Workspace()
    hmap = np.zeros((320, 160), np.float32)
    _, place = decision_poses(ws, hmap, (0, 0, 0), (10, 10, 9))  # bin 9 = -90 deg world yaw
    qz, qw = place[1][2], place[1][3]
    assert np.isclose(2 * np.arctan2(qz, qw), -np.pi / 2)
    with pytest.raises(ValueError, match="outside the grid"):
        decision_poses(ws, hmap, (320, 0, 0), (0, 0, 0))
