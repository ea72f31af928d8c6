"""scripts/reproduce_multitask.py: every stage runs end to end at the smoke preset's size."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[4] / "scripts"
SCRIPT = SCRIPTS / "reproduce_multitask.py"


def _script(path: Path = SCRIPT):
    if str(SCRIPTS) not in sys.path:  # the scripts import their shared module from there
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_smoke_preset_generates_trains_evaluates_and_writes_the_table(tmp_path):
    script = _script()
    results = script.reproduce(tmp_path, script.PRESETS["smoke"], workers=1,
                               observation="orthographic", progress=False)
    # the seen tasks, then the preset's unseen variant, both in the table
    assert set(results["tasks"]) == set(script.TASKS) | {"put-block-in-bowl-unseen-colors"}
    assert results["seen"]["evaluated"] == list(script.TASKS)
    assert results["unseen"]["evaluated"] == ["put-block-in-bowl-unseen-colors"]
    assert script.unseen_variants(script.TASKS) == (
        "put-block-in-bowl-unseen-colors", "stack-block-pyramid-seq-unseen-colors",
        "towers-of-hanoi-seq-unseen-colors")
    assert results["method"] == "CLIPort (multi)" and results["n_demos"] == 1
    assert results["train_tasks"] == list(script.TASKS)
    for suffix in ("md", "json", "png"):
        assert (tmp_path / f"table.{suffix}").is_file()
    table = (tmp_path / "table.md").read_text()
    # n = 1 is a paper column: CLIPort (multi) at 1 demo, docs/design.md#paper-results
    assert "| CLIPort (multi) |" in table and "(54.0)" in table and "(61.6)" in table
    assert "unseen" in table
    budget = json.loads((tmp_path / "budget.json").read_text())
    assert {"demos_s", "clip_s", "train_s", "eval_s", "eval_unseen_s"} <= set(budget)
    # the policy trained against the CLIP pre-trained on the three tasks' demos
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["model"]["clip"]["pretrained"] == str(tmp_path / "clip.safetensors")
    run = tmp_path / "run"
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert set(log[-1]["tasks"]) == set(script.TASKS)  # per-task progress


@pytest.mark.parametrize("name", ["reproduce_multitask.py", "reproduce_gripper.py",
                                  "reproduce_benchmark.py"])
def test_every_preset_writes_a_policy_config_that_loads(tmp_path, name):
    from cliport_policy.config import load_policy_config

    script = _script(SCRIPTS / name)
    for preset_name, preset in script.PRESETS.items():
        out = tmp_path / preset_name
        out.mkdir()
        cfg = load_policy_config(script.config_file(out, "tiny", preset.config_overrides))
        for section, values in preset.config_overrides.items():
            for key, value in values.items():
                got = getattr(getattr(cfg, section), key)
                assert list(got) == value if isinstance(value, list) else got == value, (
                    preset_name, section, key)


def test_a_stage_killed_midway_keeps_the_time_it_ran(tmp_path):
    """The budget file holds a running stage's time (a sitting killed mid-training still
    counts against the row's cap); a failed stage's time is kept too."""
    import time

    common = _script(SCRIPTS / "reproduce_common.py")
    path = tmp_path / "budget.json"
    budget = common.StageBudget(path, flush_s=0.05)
    seen: list[float] = []

    def train() -> None:
        time.sleep(0.5)
        seen.append(json.loads(path.read_text())["stages"]["train"]["wall_s"])
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        budget.timed("train", train)
    assert 0.2 < seen[0] <= 0.5
    again = common.StageBudget(path)
    assert again.stages["train"]["wall_s"] >= 0.5
    again.timed("train", lambda: time.sleep(0.1))
    assert json.loads(path.read_text())["stages"]["train"]["wall_s"] >= 0.6


def test_threads_argument_reaches_the_training_config(tmp_path):
    """``--threads 2`` trains one row on both cores; the preset's other overrides stay."""
    import argparse

    from cliport_policy.config import load_policy_config

    script = _script(SCRIPTS / "reproduce_benchmark.py")
    common = sys.modules["reproduce_common"]
    ap = argparse.ArgumentParser()
    common.add_run_arguments(ap, script.PRESETS, "cpu")
    preset = common.chosen_preset(ap.parse_args(["--preset", "smoke", "--threads", "2"]),
                                  script.PRESETS)
    cfg = load_policy_config(common.config_file(tmp_path, "cpu", preset.config_overrides))
    assert cfg.train.threads == 2
    assert cfg.train.batch_size == script.PRESETS["smoke"].config_overrides["train"][
        "batch_size"]
    default = common.chosen_preset(ap.parse_args([]), script.PRESETS)
    assert default == script.PRESETS["cpu"]


@pytest.mark.parametrize("argv", [["--threads", "-1"], ["--threads", "0"], ["--workers", "two"],
                                  ["--train-minutes", "0"], ["--train-minutes", "nan"]])
def test_run_arguments_refuse_what_cannot_run(argv, capsys):
    """A thread count, worker count or cap below one is a one-line usage error, not a crash
    after the demos are generated."""
    import argparse

    script = _script(SCRIPTS / "reproduce_benchmark.py")
    common = sys.modules["reproduce_common"]
    ap = argparse.ArgumentParser()
    common.add_run_arguments(ap, script.PRESETS, "cpu")
    with pytest.raises(SystemExit) as exit_info:
        ap.parse_args(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert argv[0] in error and repr(argv[1]) in error


def test_gripper_steps_keep_the_checkpoint_spacing(tmp_path):
    """``reproduce_gripper.py --steps N`` saves every 250 steps up to N and keeps the
    preset's other training overrides."""
    script = _script(SCRIPTS / "reproduce_gripper.py")
    common = sys.modules["reproduce_common"]
    preset = common.with_train_overrides(script.PRESETS["smoke"], save_steps=[250, 500])
    assert preset.config_overrides["train"]["save_steps"] == [250, 500]
    assert preset.config_overrides["train"]["batch_size"] == common.SMOKE_TRAIN["batch_size"]
    assert preset.config_overrides["model"] == script.PRESETS["smoke"].config_overrides["model"]
    assert script.PRESETS["smoke"].config_overrides["train"] == common.SMOKE_TRAIN
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--row", "pbib-100", "--out", str(tmp_path), "--steps", "-250"])
    assert exit_info.value.code == 2
    assert not any(tmp_path.iterdir())
