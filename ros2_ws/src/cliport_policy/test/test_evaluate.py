"""Evaluation: seeds, confidence intervals, checkpoint selection over tasks, and real
rollout runs end to end (one task, two tasks)."""

from __future__ import annotations

import json

import pytest
import torch

from cliport_policy import evaluate
from cliport_policy.agents import make_agent
from cliport_policy.checkpoint import save_checkpoint
from cliport_policy.evaluate import (
    confidence_interval,
    episode_seeds,
    evaluate_run,
    main,
    select_checkpoint,
)

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
    # the same run reached through another spelling of its path keeps its test episodes
    path = run / "eval" / f"{TASK}-results-test.json"
    stored = json.loads(path.read_text())
    stored["episodes"]["0"][0]["seconds"] = -1.0  # a mark a new rollout would not keep
    path.write_text(json.dumps(stored))
    assert main(["--run", str(run / "checkpoints" / ".."), "--task", TASK, "--val-episodes",
                 "1", "--test-episodes", "1", "--seeds", "1", "--heatmaps", "0",
                 "--quiet"]) == 0
    assert json.loads(path.read_text())["episodes"]["0"][0]["seconds"] == -1.0


def test_checkpoint_selection_on_the_mean_over_tasks():
    val = {"a": {"s1": {"mean": 0.9}, "s2": {"mean": 0.5}},
           "b": {"s1": {"mean": 0.1}, "s2": {"mean": 0.6}}}
    sel = select_checkpoint(val, ["s1", "s2"])
    assert sel["best"] == "s2"  # 0.55 over tasks against 0.5
    assert sel["checkpoints"]["s1"] == {"mean": pytest.approx(0.5), "tasks": {"a": 0.9,
                                                                              "b": 0.1}}
    assert sel["best_per_task"] == {"a": "s1", "b": "s2"}  # recorded, not used
    assert select_checkpoint({"a": {"s1": {"mean": 0.5}, "s2": {"mean": 0.5}}},
                             ["s1", "s2"])["best"] == "s2"  # ties: the later one


def test_multi_task_run_selects_on_the_mean_and_writes_results_and_table(tiny_cfg, tmp_path,
                                                                         monkeypatch):
    """Rollouts replaced by fixed rewards (the real ones are tested above): checkpoint 1 is
    the best on task a, checkpoint 2 on b and on the mean over tasks, so 2 is tested."""
    a, b = TASK, "put-block-in-bowl-unseen-colors"
    val = {("step-0000001.ckpt", a): 0.9, ("step-0000001.ckpt", b): 0.1,
           ("step-0000002.ckpt", a): 0.5, ("step-0000002.ckpt", b): 0.6}
    test = {10001: 0.4, 10003: 0.6, 10005: 0.8, 10007: 1.0}  # seed 0: 0.5, seed 1: 0.9
    calls = []

    def rollouts(checkpoint, task, mode, seeds, *args, **kwargs):
        calls.append((checkpoint.name, task, mode))
        reward = (lambda s: val[(checkpoint.name, task)]) if mode == "val" else (
            (lambda s: test[s]) if task == a else (lambda s: 0.3))
        return [evaluate.EpisodeResult(s, reward(s), 1, True) for s in seeds]

    monkeypatch.setattr(evaluate, "evaluate_checkpoint", rollouts)
    run = tmp_path / "run"
    for step in (1, 2):
        save_checkpoint(run / "checkpoints" / f"step-{step:07d}.ckpt",
                        make_agent(tiny_cfg.model), step)
    (run / "config.json").write_text(json.dumps(
        {"kind": "multi", "task_set": "pair", "train_tasks": [a, b], "eval_tasks": [a, b],
         "n_demos": 3}))
    kwargs = dict(val_episodes=1, test_episodes=2, seeds=2, progress=False)
    result = evaluate_run(run, None, **kwargs)  # the run's own evaluation tasks
    assert list(result["tasks"]) == [a, b] and result["method"] == "CLIPort (multi)"
    assert result["n_demos"] == 3 and result["n_episodes"] == 8
    sel = result["selection"]
    assert sel["best"] == "step-0000002.ckpt" and result["checkpoint"].endswith(sel["best"])
    assert sel["best_per_task"] == {a: "step-0000001.ckpt", b: "step-0000002.ckpt"}
    assert sel["checkpoints"]["step-0000002.ckpt"]["mean"] == pytest.approx(0.55)
    assert [c for c in calls if c[2] == "test"] == [("step-0000002.ckpt", a, "test")] * 2 + [
        ("step-0000002.ckpt", b, "test")] * 2
    assert result["tasks"][a]["test"]["per_seed"] == {"0": 0.5, "1": pytest.approx(0.9)}
    assert result["tasks"][a]["val"]["mean"] == 0.5  # the selected checkpoint's val
    # over tasks per seed: 0.4 and 0.6 -> mean 0.5, t(0.975, 1) x 0.1414 / sqrt(2)
    assert result["mean"] == pytest.approx(0.5)
    assert result["ci95"] == pytest.approx(12.706 * 0.1, rel=1e-3)
    saved = json.loads((run / "eval" / "results.json").read_text())
    assert saved["checkpoint"] == result["checkpoint"] and saved["tasks"] == result["tasks"]
    table = (run / "eval" / "table.md").read_text()
    # 2 seeds of 2 episodes: marked off the protocol; 3 demos: no paper column
    assert "| CLIPort (multi) | 70.0 ± 254.1† | 30.0 ± 0.0† |" in table
    assert (run / "eval" / "table.png").is_file() and (run / "eval" / "table.json").is_file()
    calls.clear()
    again = evaluate_run(run, [a, b], **kwargs)  # resumable: val and test seeds are kept
    assert calls == [] and again["tasks"] == result["tasks"]
    # another evaluation of the run keeps the earlier tasks' entries in results.json
    val[("step-0000001.ckpt", "align-rope")] = 0.2
    val[("step-0000002.ckpt", "align-rope")] = 0.1
    other = evaluate_run(run, "align-rope", **kwargs)
    assert other["evaluated"] == ["align-rope"] and set(other["tasks"]) == {a, b, "align-rope"}
    assert other["tasks"]["align-rope"]["checkpoint"].endswith("step-0000001.ckpt")
    assert other["tasks"][a] == result["tasks"][a]
    assert "`align-rope`" in (run / "eval" / "table.md").read_text()


def test_one_checkpoint_validated_when_asked_with_videos_and_no_ci_over_one_seed(
        tiny_cfg, tmp_path, capsys, caplog):
    """cliport-eval --val-episodes 1 --save-video 1 on a run with one checkpoint trained on
    another task: it is validated anyway, warned about, the first test episode becomes an
    MP4 + GIF of the arm with its step panels (map | pick | place) and index.html in
    eval/videos/<task>/, and one seed prints n/a for the CI."""
    import logging

    run = tmp_path / "run"
    torch.manual_seed(0)
    save_checkpoint(run / "checkpoints" / "step-0000001.ckpt", make_agent(tiny_cfg.model), 1,
                    extra={"train_tasks": ["stack-block-pyramid-seq-seen-colors"]})
    caplog.set_level(logging.WARNING)
    assert main(["--run", str(run), "--task", TASK, "--val-episodes", "1",
                 "--test-episodes", "1", "--seeds", "1", "--heatmaps", "0", "--quiet",
                 "--save-video", "1"]) == 0
    val = json.loads((run / "eval" / f"{TASK}-results-val.json").read_text())
    assert list(val) == ["step-0000001.ckpt"]  # validated although it is the only one
    out = capsys.readouterr().out
    assert f"{TASK}: " in out and "± n/a (95 % CI over 1 seed(s)" in out
    assert any("trained on stack-block-pyramid-seq-seen-colors, not on " + TASK in r.message
               for r in caplog.records)
    videos = run / "eval" / "videos" / TASK
    assert (videos / "10001.mp4").stat().st_size > 0 and (videos / "10001.gif").is_file()
    assert (videos / "10001-step1.png").is_file()
    page = (videos / "index.html").read_text()
    assert "10001.mp4" in page and "10001-step1.png" in page


@pytest.mark.parametrize("args, message", [
    (["--task", "put-block-in-bowl-seen-color"], "did you mean put-block-in-bowl-seen-colors"),
    (["--task", TASK, "--checkpoint", "{run}/checkpoints/bad.ckpt"],
     "not a readable checkpoint"),
])
def test_cli_errors_are_one_line_with_rc_2(tiny_cfg, tmp_path, capsys, args, message):
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "step-0000001.ckpt", make_agent(tiny_cfg.model), 1)
    (run / "checkpoints" / "bad.ckpt").write_bytes(b"PK\x03\x04 truncated")
    argv = ["--run", str(run), "--test-episodes", "1", "--quiet"]
    assert main(argv + [a.format(run=run) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cliport-eval: error: ") and message in err and "\n" not in err


def test_a_twin_policy_is_evaluated_on_the_twin():
    """``--robot panda``: the world is the Franka twin (its workspace, a parallel gripper),
    the one a policy trained on twin demos must be tested in."""
    env = evaluate.make_env("put-block-in-bowl-seen-colors", "test", "orthographic", "panda")
    try:
        assert env.parallel_gripper and env.config.robot == "panda"
        assert (env.workspace.x_min, env.workspace.pixel_size) == (0.30, 0.002)
    finally:
        env.close()
    from cliport_policy.eval_cli import main

    with pytest.raises(SystemExit):
        main(["--run", "x", "--robot", "kuka"])


class BareTablePicker:
    """A scripted policy that picks the table cell farthest from every object: the hand
    closes on nothing, a motion failure the episode must report, not hide."""

    def __init__(self, model_config) -> None:
        self.config = model_config

    def act(self, colormap, heightmap, instruction):
        import numpy as np
        from scipy import ndimage

        from cliport_policy.agents import AgentOutput

        free = ndimage.distance_transform_edt(heightmap < 0.005)
        u, v = np.unravel_index(int(np.argmax(free)), free.shape)
        empty = np.zeros(heightmap.shape, np.float32)
        return AgentOutput((int(u), int(v), 0), (int(u), int(v), 0), 1.0, 1.0, empty, empty)


def test_an_episode_reports_why_the_arm_failed(tiny_cfg):
    """On the Franka twin a grasp on the bare table holds nothing; the result says which
    steps and why, and the summary counts the episode."""
    env = evaluate.make_env(TASK, "test", "orthographic", "panda")
    try:
        result = evaluate.run_episode(BareTablePicker(tiny_cfg.model), env, 10001)
    finally:
        env.close()
    assert result.reward == 0.0 and result.done
    assert result.action_failures == [f"step {k}: the grasp held nothing"
                                      for k in range(result.steps)]
    summary = evaluate.summarise({0: [result, evaluate.EpisodeResult(10003, 1.0, 1, True)]})
    assert summary["action_failures"] == 1 and summary["errors"] == 0
    # results written before the field existed still load
    old = {"seed": 1, "reward": 1.0, "steps": 1, "done": True}
    assert evaluate.EpisodeResult(**old).action_failures == []
