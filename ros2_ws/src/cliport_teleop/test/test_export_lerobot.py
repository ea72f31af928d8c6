"""The LeRobot export: frames built from our episodes (always), the writer only where
LeRobot is installed (Python >= 3.12 + numpy >= 2; not in this venv)."""

from __future__ import annotations

import numpy as np
import pytest

from cliport_sim.dataset import Dataset, EpisodeWriter
from cliport_sim.episode import Episode
from cliport_teleop import export_lerobot


def write_episode(root, seed: int, steps: int = 2) -> None:
    rng = np.random.default_rng(seed)
    with EpisodeWriter(root) as w:
        w.write(Episode(
            colormap=rng.integers(0, 255, (steps + 1, 320, 160, 3), dtype=np.uint8),
            heightmap=rng.random((steps + 1, 320, 160), dtype=np.float32) * 0.05,
            valid=np.ones((steps + 1, 320, 160), bool),
            pose0=rng.random((steps, 7)), pose1=rng.random((steps, 7)),
            pick_pix=np.array([[10 + i, 20] for i in range(steps)], np.int32),
            place_pix=np.array([[30, 40 + i] for i in range(steps)], np.int32),
            pick_rot=np.zeros(steps, np.int32), place_rot=np.arange(steps, dtype=np.int32),
            reward=np.array([0.0] + [0.5] * steps),
            instruction=np.array([f"step {i}" for i in range(steps + 1)]),
            meta={"seed": seed}))


def test_frames_carry_images_actions_labels_and_tasks(tmp_path):
    root = tmp_path / "demo-train"
    write_episode(root, 0, steps=2)
    write_episode(root, 1, steps=1)
    frames = list(export_lerobot.frames(Dataset(root)))
    assert [e for e, _ in frames] == [0, 0, 1]
    episode, f = frames[1]
    spec = export_lerobot.features(320, 160)
    assert set(f) == set(spec) | {"task"}
    for name, feature in spec.items():
        assert tuple(np.shape(f[name])) == tuple(feature["shape"]), name
    ep = Dataset(root).episode(0)
    assert np.array_equal(f["action"], np.concatenate([ep.pose0[1], ep.pose1[1]]).astype(
        np.float32))
    assert f["action.labels"].tolist() == [11, 20, 0, 30, 41, 1]
    assert f["task"] == "step 1" and f["next.reward"][0] == pytest.approx(0.5)


def test_without_lerobot_the_cli_says_where_to_run_it(tmp_path, capsys):
    pytest.importorskip("cliport_sim")
    try:
        import lerobot  # noqa: F401
        pytest.skip("lerobot is installed here")
    except ImportError:
        pass
    root = tmp_path / "demo-train"
    write_episode(root, 0)
    assert export_lerobot.main([str(root), str(tmp_path / "out")]) == 2
    assert "Python >= 3.12" in capsys.readouterr().err
