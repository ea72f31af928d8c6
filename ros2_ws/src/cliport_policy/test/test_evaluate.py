"""Evaluation: seeds, confidence intervals, and a real rollout run end to end."""

from __future__ import annotations

import json

import pytest
import torch

from cliport_policy.agents import make_agent
from cliport_policy.checkpoint import save_checkpoint
from cliport_policy.evaluate import confidence_interval, episode_seeds, evaluate_run, main

TASK = "put-block-in-bowl-seen-colors"


def test_episode_seeds_follow_the_demo_convention():
    assert episode_seeds("test", 0, 3) == [10001, 10003, 10005]
    assert episode_seeds("test", 1, 3) == [10007, 10009, 10011]  # disjoint blocks per seed
    assert episode_seeds("val", 0, 2) == [1, 3]
    assert all(s % 2 for s in episode_seeds("val", 2, 100))  # never the even train seeds
    with pytest.raises(ValueError, match="test range"):
        episode_seeds("val", 0, 6000)
    with pytest.raises(ValueError):
        episode_seeds("train", 0, 1)


def test_confidence_interval():
    mean, half = confidence_interval([0.9, 0.92, 0.94])
    assert mean == pytest.approx(0.92)
    assert half == pytest.approx(4.303 * 0.02 / 3 ** 0.5, rel=1e-3)  # t(0.975, 2) = 4.303
    assert confidence_interval([0.5]) == (0.5, 0.0)


def test_evaluate_run_selects_on_val_and_writes_results(tiny_cfg, tmp_path, capsys):
    run = tmp_path / "run"
    for step in (1, 2):
        torch.manual_seed(step)
        save_checkpoint(run / "checkpoints" / f"step-{step:07d}.ckpt",
                        make_agent(tiny_cfg.model), step)
    result = evaluate_run(run, TASK, val_episodes=1, test_episodes=1, seeds=2,
                          heatmap_episodes=1, progress=False)
    val = json.loads((run / "eval" / f"{TASK}-results-val.json").read_text())
    assert set(val) == {"step-0000001.ckpt", "step-0000002.ckpt"}
    best = max(val, key=lambda k: (val[k]["mean"], k))
    assert result["checkpoint"].endswith(best)
    assert result["n_seeds"] == 2 and result["n_episodes"] == 2
    assert set(result["per_seed"]) == {"0", "1"} and 0 <= result["mean"] <= 1
    test = json.loads((run / "eval" / f"{TASK}-results-test.json").read_text())
    assert [e["seed"] for e in test["episodes"]["1"]] == [10003]
    assert sorted((run / "eval" / "heatmaps" / TASK).glob("10001-step*.png"))
    # resumable: a second run does not roll the val checkpoints out again
    assert main(["--run", str(run), "--task", TASK, "--val-episodes", "1",
                 "--test-episodes", "1", "--seeds", "1", "--heatmaps", "0", "--quiet"]) == 0
    assert "95 % CI" in capsys.readouterr().out
