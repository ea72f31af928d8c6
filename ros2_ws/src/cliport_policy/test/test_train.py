"""Training: a small model overfits five demos; resume continues where it stopped."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cliport_policy.checkpoint import load_agent
from cliport_policy.data import Sampler, all_samples, collate
from cliport_policy.train import LAST, list_checkpoints, train
from cliport_sim.dataset import Dataset, episode_dir

TASK = "put-block-in-bowl-seen-colors"  # as the demo_root fixture


def train_accuracy(agent, datasets) -> float:
    """Share of training actions whose pick and place cells are within 3 px (~1 cm) of the
    demo's and whose place rotation bin is the demo's."""
    items = [(t, datasets[t].sample(e, s)) for t, e, s in all_samples(datasets)]
    batch = collate(items, agent.config.place_rotations)
    good = 0
    for i, d in enumerate(agent.act_batch(batch.img, batch.instructions)):
        pick_ok = np.hypot(*np.subtract(d.pick[:2], batch.pick[i].tolist())) <= 3
        place_ok = np.hypot(*np.subtract(d.place[:2], batch.place[i].tolist())) <= 3
        good += bool(pick_ok and place_ok and d.place[2] == int(batch.place_rot[i]))
    return good / len(items)


@pytest.mark.timeout(900)
def test_small_model_overfits_five_demos_and_resumes(tiny_cfg, demo_root, tmp_path):
    # The tiny CLIPort with 12 place rotations (30 deg bins; labels re-binned from the stored
    # poses) so that it fits in a few CPU minutes.
    cfg = dataclasses.replace(
        tiny_cfg, model=dataclasses.replace(tiny_cfg.model, place_rotations=12),
        train=dataclasses.replace(tiny_cfg.train, batch_size=4, lr=2e-3, augment=False,
                                  last_every=10, log_every=10, save_steps=(10,), val_every=10,
                                  val_samples=4, threads=0))
    train_dir = episode_dir(demo_root, TASK, "train")
    val_dir = episode_dir(demo_root, TASK, "val")
    datasets = [Dataset(train_dir)]
    run = tmp_path / "run"
    accuracy, steps = 0.0, 0
    while accuracy < 1.0 and steps < 150:
        steps += 10
        metrics = train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train,
                                                                           steps=steps)),
                        [train_dir], run, [val_dir], progress=False)
        assert metrics["step"] == steps  # resumed from last.ckpt, never restarted
        accuracy = train_accuracy(load_agent(run / "checkpoints" / LAST), datasets)
    assert accuracy == 1.0, f"train accuracy {accuracy:.2f} after {steps} steps"
    names = [p.name for p in list_checkpoints(run)]
    assert names == [f"step-{s:07d}.ckpt" for s in range(10, steps + 1, 10)]  # + each end
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 10 and "val_pick_loss" in log[0]
    assert log[-1]["pick_loss"] < log[0]["pick_loss"]


def test_sampler_draws_task_then_episode_then_step(demos):
    sampler = Sampler([demos, demos], np.random.default_rng(0))
    draws = [sampler.draw() for _ in range(400)]
    tasks = np.bincount([t for t, _, _ in draws], minlength=2) / len(draws)
    assert np.allclose(tasks, 0.5, atol=0.08)
    assert all(0 <= s < demos.n_steps(e) for _, e, s in draws)
    batch = sampler.batch(3)
    assert batch.img.shape == (3, 6, 320, 160) and batch.pick.shape == (3, 2)


def test_training_refuses_an_empty_dataset(tiny_cfg, tmp_path):
    (tmp_path / "empty-train").mkdir()
    with pytest.raises(SystemExit, match="not a dataset directory|episodes"):
        train(tiny_cfg, [tmp_path / "missing"], tmp_path / "run", progress=False)
