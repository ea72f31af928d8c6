"""Training a parallel gripper's policy: a small model overfits five Franka-twin demos,
their grasp yaws included (config/twin-gripper.yaml's model at half resolution)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cliport_policy.agents import make_agent
from cliport_policy.config import load_policy_config
from cliport_policy.data import _place_bin, pick_bin

PICK_ROTATIONS = 8  # 22.5 deg bins: the twin's oracle yaws spread over all of them
PLACE_ROTATIONS = 12
MAX_STEPS = 400


@pytest.mark.slow  # 5 twin demos (~50 s) + ~200-400 steps: minutes of CPU, `pytest -m slow`
@pytest.mark.timeout(1200)
def test_small_model_overfits_five_twin_demos_with_their_grasp_yaws(twin_demos, overfit,
                                                                   half_resolution):
    """twin-gripper's model (grasp yaw by the crop classifier, 32-cell crop at half
    resolution; 12 place rotations, 32 px transport crops) reaches 100 % train accuracy on
    five twin demos: pick and place within 2 cells (8 mm) and both bins exact, every action.
    """
    demos = twin_demos(5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        accuracy, step, yaws = _overfit(demos, overfit, half_resolution)
    finally:
        torch.set_num_threads(threads)
    assert accuracy == 1.0, f"train accuracy {accuracy:.2f} after {step} steps"
    assert len(set(yaws)) >= 3  # the labels really differ in grasp yaw


def _overfit(demos, overfit, half_resolution) -> tuple[float, int, list[int]]:
    cfg = load_policy_config("twin-gripper")
    model = dataclasses.replace(cfg.model, pick_rotations=PICK_ROTATIONS,
                                place_rotations=PLACE_ROTATIONS, crop_size=32,
                                rotation_crop_size=32)
    torch.manual_seed(0)
    agent = make_agent(model)
    steps, img, text, pick, place = half_resolution(demos)  # 4 mm cells
    pick_rot = torch.tensor([pick_bin(s, PICK_ROTATIONS) for s in steps])
    place_rot = torch.tensor([_place_bin(s, PLACE_ROTATIONS) for s in steps])
    accuracy, step = overfit(agent, cfg.train.grad_clip,
                             (img, text, pick, place, pick_rot, place_rot), MAX_STEPS, log=True)
    return accuracy, step, pick_rot.tolist()


def test_a_gripper_run_trains_on_twin_demos_and_validates_the_grasp_yaw(twin_demos, tmp_path):
    """cliport-train's loop with twin-gripper: the grasp-yaw label turns with the augmented
    image, and validation reports the pick-bin error next to the pixel errors."""
    from cliport_policy.train import train

    demos = twin_demos(1)
    cfg = load_policy_config("twin-gripper")
    cfg = dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, place_rotations=4),
        train=dataclasses.replace(cfg.train, batch_size=2, steps=2, save_steps=(2,),
                                  last_every=1, log_every=1, val_every=2, val_samples=2))
    metrics = train(cfg, [demos.root], tmp_path / "run", [demos.root], progress=False)
    assert metrics["step"] == 2
    assert 0 <= metrics["val_pick_rot_error"] <= cfg.model.pick_rotations // 2
