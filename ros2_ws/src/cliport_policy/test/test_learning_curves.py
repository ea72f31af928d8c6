"""Learning curves from a run directory: the losses by step, the val success by checkpoint."""

import json

import pytest
from PIL import Image

from cliport_policy.learning_curves import (
    main,
    read_curves,
    round_ticks,
    running_median,
    write_curves,
)


def _run(tmp_path):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    lines = [json.dumps({"step": s, "pick_loss": 10.0 - s / 100, "place_loss": 9.0,
                         "seconds": s * 2.0}) for s in (10, 20, 30)]
    # a resumed call logs step 30 again, its seconds from 0; a kill may cut the last line
    lines += [json.dumps({"step": 30, "pick_loss": 1.0, "place_loss": 2.0, "seconds": 5.0}),
              '{"step": 4']
    (run / "train_log.jsonl").write_text("\n".join(lines))
    val = {"step-0000010.ckpt": {"mean": 0.25, "ci95": 0.1},
           "step-0000030.ckpt": {"mean": 0.75, "ci95": 0.05}}
    (run / "eval" / "put-block-in-bowl-seen-colors-results-val.json").write_text(
        json.dumps(val))
    (run / "eval" / "results.json").write_text(
        json.dumps({"selection": {"best": "step-0000030.ckpt"}}))
    return run


def test_read_curves_takes_the_last_log_of_a_step_and_skips_a_cut_line(tmp_path):
    curves = read_curves(_run(tmp_path))
    assert curves["train"]["step"] == [10, 20, 30]
    assert curves["train"]["pick_loss"] == [9.9, 9.8, 1.0]
    assert curves["train"]["wall_s"] == 65.0  # 60 s in the first call, 5 in the resumed one
    assert curves["val"] == {"put-block-in-bowl-seen-colors": [[10, 0.25, 0.1],
                                                               [30, 0.75, 0.05]]}
    assert curves["best"] == "step-0000030.ckpt"


def test_each_task_keeps_the_checkpoint_chosen_for_it(tmp_path):
    # a single-task run evaluated on its seen split, then on its unseen one: each split's
    # own val choice is marked, not only the last evaluation's
    run = _run(tmp_path)
    (run / "eval" / "results.json").write_text(json.dumps({
        "selection": {"best": "step-0000030.ckpt"},
        "tasks": {"put-block-in-bowl-seen-colors": {"checkpoint": "c/step-0000010.ckpt"},
                  "put-block-in-bowl-unseen-colors": {"checkpoint": "c/step-0000030.ckpt"}}}))
    assert read_curves(run)["best_by_task"] == {
        "put-block-in-bowl-seen-colors": "step-0000010.ckpt",
        "put-block-in-bowl-unseen-colors": "step-0000030.ckpt"}


def test_write_curves_writes_json_and_png(tmp_path):
    png = write_curves(_run(tmp_path), tmp_path / "out" / "row-curves", "row")
    assert png.name == "row-curves.png"
    assert Image.open(png).size == (980, 400)
    assert json.loads((tmp_path / "out" / "row-curves.json").read_text())["best"]


def test_an_empty_run_is_one_line_error(tmp_path, capsys):
    assert main(["--run", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no train_log.jsonl" in err


def test_running_median_ignores_single_spikes():
    assert running_median([1, 1, 50, 1, 1], width=3) == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("x_max, ticks", [(3992, [0, 1000, 2000, 3000]),
                                          (5000, [0, 1000, 2000, 3000, 4000, 5000]),
                                          (2648, [0, 1000, 2000]), (998, [0, 200, 400, 600, 800]),
                                          (12, [0, 5, 10]), (2, [0, 1, 2])])
def test_step_ticks_are_round_whole_steps(x_max, ticks):
    """The step axis is labelled at round checkpoint steps, not at quarters of the last one."""
    assert round_ticks(x_max) == ticks
