"""``cliport-export-lerobot``: a dataset (sim demos or teleop recordings) -> LeRobot format.

LeRobot (>= 0.4, ``LeRobotDataset.create`` / ``add_frame`` / ``save_episode`` /
``finalize``) needs Python >= 3.12 and numpy >= 2, so it stays out of the ROS runtime:
install it in a separate environment (``pip install lerobot``) and run this there. Our own
store stays the crash-safe record; LeRobot's parquet files are only complete after
``finalize()`` (docs/design.md#lerobot-format), so this writes them in one go from finished
episodes.

One LeRobot frame per action step: the colormap as an image, the heightmap as a float32
array, the action as pick pose + place pose (xyz + quaternion xyzw, base frame), the grid
labels alongside, and the instruction as the frame's task.

    cliport-export-lerobot data/teleop/teleop-pick-place-train out/lerobot --repo-id me/teleop
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cliport_sim.dataset import Dataset

LEROBOT_HINT = ("LeRobot is not installed here: it needs Python >= 3.12 and numpy >= 2, so "
                "install it in a separate environment (pip install lerobot) and run "
                "cliport-export-lerobot there")

ACTION_NAMES = [f"pick.{k}" for k in ("x", "y", "z", "qx", "qy", "qz", "qw")] + \
               [f"place.{k}" for k in ("x", "y", "z", "qx", "qy", "qz", "qw")]
LABEL_NAMES = ["pick_u", "pick_v", "pick_rot", "place_u", "place_v", "place_rot"]


def features(rows: int, cols: int) -> dict[str, dict[str, Any]]:
    return {
        "observation.images.colormap": {"dtype": "image", "shape": (rows, cols, 3),
                                        "names": ["height", "width", "channels"]},
        "observation.heightmap": {"dtype": "float32", "shape": (rows, cols),
                                  "names": ["height", "width"]},
        "action": {"dtype": "float32", "shape": (14,), "names": ACTION_NAMES},
        "action.labels": {"dtype": "int32", "shape": (6,), "names": LABEL_NAMES},
        "next.reward": {"dtype": "float32", "shape": (1,), "names": None},
    }


def frames(dataset: Dataset) -> Iterator[tuple[int, dict[str, Any]]]:
    """(episode index, LeRobot frame) for every action step, in order."""
    for i in range(len(dataset)):
        ep = dataset.episode(i)
        for t in range(ep.n_steps):
            yield i, {
                "observation.images.colormap": ep.colormap[t],
                "observation.heightmap": ep.heightmap[t].astype(np.float32),
                "action": np.concatenate([ep.pose0[t], ep.pose1[t]]).astype(np.float32),
                "action.labels": np.array([*ep.pick_pix[t], ep.pick_rot[t], *ep.place_pix[t],
                                           ep.place_rot[t]], np.int32),
                "next.reward": np.array([ep.reward[t + 1]], np.float32),
                "task": str(ep.instruction[t]),
            }


def export(dataset_path: str | Path, out: str | Path, repo_id: str, fps: int = 1) -> int:
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as exc:
        raise RuntimeError(LEROBOT_HINT) from exc
    dataset = Dataset(dataset_path)
    if len(dataset) == 0:
        raise ValueError(f"{dataset_path}: no episodes to export")
    rows, cols = dataset.episode(0).heightmap.shape[1:]
    target = LeRobotDataset.create(repo_id=repo_id, fps=fps, root=out,
                                   features=features(rows, cols), use_videos=False)
    current, n = None, 0
    for episode, frame in frames(dataset):
        if current is not None and episode != current:
            target.save_episode()
        current = episode
        target.add_frame(frame)
        n += 1
    target.save_episode()
    target.finalize()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-export-lerobot", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="an episode directory (<task>-<mode>)")
    ap.add_argument("out", help="the LeRobot dataset root to create")
    ap.add_argument("--repo-id", default="local/cliport")
    ap.add_argument("--fps", type=int, default=1, help="one frame per pick-and-place step")
    args = ap.parse_args(argv)
    try:
        n = export(args.dataset, args.out, args.repo_id, args.fps)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"cliport-export-lerobot: error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {n} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
