"""cliport-train's progress total under a time cap and its closing summary line."""

from __future__ import annotations

from pathlib import Path

from cliport_policy.train_report import capped_total, summary_line

TASK = "put-block-in-bowl-seen-colors"


def test_the_time_cap_sets_the_total_the_eta_is_computed_for():
    # 10 steps in 60 s, 5 minutes allowed: 40 more steps fit, not the 3000 configured
    assert capped_total(10, 60.0, 3000, 300.0) == 50
    assert capped_total(10, 60.0, 30, 300.0) == 30  # the configured steps end it first
    assert capped_total(10, 400.0, 3000, 300.0) == 10  # past the cap: this step is the last
    assert capped_total(10, 60.0, 3000, None) == 3000
    assert capped_total(0, 0.0, 3000, 300.0) == 3000  # no rate yet


def test_summary_line_is_one_human_line():
    line = summary_line({"step": 500, "seconds": 300.4, "pick_loss": 0.1234,
                         "place_loss": 1.5, "samples_per_second": 1.25,
                         "stopped_by_time": True}, 3000, Path("runs/x"), 5.0,
                        Path("runs/x/checkpoints/step-0000500.ckpt"))
    assert line == ("trained 500/3000 steps in 5 min 00 s (stopped by --max-minutes 5); "
                    "loss pick 0.123 place 1.500; 1.25 samples/s; "
                    "checkpoint runs/x/checkpoints/step-0000500.ckpt")
    assert "\n" not in line and "{" not in line


def test_a_capped_run_ends_with_the_summary(demo_root, tmp_path, capsys):
    from cliport_policy.train import main

    run = tmp_path / "run"
    assert main(["--config", "tiny", "--data", str(demo_root), "--task", TASK,
                 "--n-demos", "2", "--steps", "50", "--batch-size", "1", "--out", str(run),
                 "--max-minutes", "0.0001", "--quiet"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("trained 1/50 steps in ") and "stopped by --max-minutes" in last
    assert "step-0000001.ckpt" in last


def test_train_help_lists_every_policy_config(capsys):
    import re

    import pytest

    from cliport_policy.config import load_policy_config, policy_config_names
    from cliport_policy.train import main

    names = policy_config_names()
    assert {"policy", "tiny", "tiny12", "tiny12-simclip"} <= set(names)
    for name in names:
        load_policy_config(name)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # as wrapped
    assert all(name in out for name in names)
