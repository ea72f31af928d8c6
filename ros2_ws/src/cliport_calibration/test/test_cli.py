"""cliport-handeye end to end: sim -> file -> static TF; solve from a sample file; errors."""

import subprocess
import sys

import numpy as np
import yaml

from cliport_calibration import cli, samples, transforms
from cliport_calibration.handeye import Sample


def test_sim_writes_a_passing_result_that_perception_reads(tmp_path, capsys):
    out = tmp_path / "sim.yaml"
    assert cli.main(["sim", "--samples", "10", "--seed", "3", "--out", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    data = yaml.safe_load(out.read_text())
    assert data["sim_check"]["translation_error_mm"] < 5.0
    from cliport_perception.calibration import load_calibration

    assert list(load_calibration(out).extrinsics) == ["front_color_optical_frame"]
    assert cli.main(["static-tf", str(out)]) == 0
    assert "--child-frame-id front_color_optical_frame" in capsys.readouterr().out


def test_solve_from_a_sample_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = transforms.make(np.radians([-130.0, 0, 90]), (1.0, 0.0, 0.75))
    Y = transforms.make(np.radians([180.0, 0, 0]), (0.1, 0.0, -0.01))
    path = tmp_path / "s.jsonl"
    for _ in range(10):
        E = transforms.make(rng.uniform(-0.5, 0.5, 3), rng.uniform([0.3, -0.2, 0.1],
                                                                   [0.6, 0.2, 0.4]))
        samples.append(path, Sample(E, transforms.invert(X) @ E @ Y))
    out = tmp_path / "lab.yaml"
    assert cli.main(["solve", str(path), "--out", str(out), "--camera-serial", "S1"]) == 0
    data = yaml.safe_load(out.read_text())
    assert data["camera_serial"] == "S1" and data["parent_frame"] == "fr3_link0"
    assert np.allclose(data["residuals"]["rms_mm"], 0.0, atol=1e-3)


def test_errors_are_one_line_messages_and_exit_2(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    path.write_text("")
    assert cli.main(["solve", str(path), "--out", str(tmp_path / "x.yaml")]) == 2
    assert "at least 6" in capsys.readouterr().err
    assert cli.main(["static-tf", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_board_image_for_printing(tmp_path):
    out = tmp_path / "board.png"
    r = subprocess.run([sys.executable, "-m", "cliport_calibration.cli", "board", "--dpi", "100",
                        "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "240 x 180 mm" in r.stdout
    from PIL import Image

    ppm = 100 / 0.0254
    margin = 2 * round(0.01 * ppm)
    assert Image.open(out).size == (round(0.24 * ppm) + margin, round(0.18 * ppm) + margin)
