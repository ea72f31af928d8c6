"""What training reads back from recorded episodes: each step's pick rotation label for a
parallel-gripper model, and the grasp yaw that label stands for.

The label comes from training's own loader (``cliport_policy.data.collate`` with the model's
``pick_rotations``) and goes back to a yaw through the policy's own
``cliport_policy.poses.decision_poses``, so a check built on these holds whatever binning
the policy uses.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class LoadedPick(NamedTuple):
    episode: int
    step: int
    label: int  # the pick rotation bin training gets
    yaw: float  # the grasp yaw (rad) the policy would command for that bin


def loaded_picks(dataset, n_rotations: int, episodes: range | None = None) -> list[LoadedPick]:
    """Every step of ``episodes`` (default all) of a ``cliport_sim.dataset.Dataset``."""
    from cliport_common.poses import yaw_of
    from cliport_policy.data import collate
    from cliport_policy.poses import decision_poses

    picks = []
    for e in episodes if episodes is not None else range(len(dataset)):
        for t in range(dataset.n_steps(e)):
            step = dataset.sample(e, t)
            label = int(collate([(0, step)], pick_rotations=n_rotations).pick_rot[0])
            u, v = (int(x) for x in step["pick_pix"])
            flat = np.zeros_like(step["heightmap"])
            (_, quat), _ = decision_poses(_workspace(dataset, e), flat, (u, v, label),
                                          (u, v, 0), pick_rotations=n_rotations)
            picks.append(LoadedPick(e, t, label, yaw_of(quat)))
    return picks


def _workspace(dataset, episode: int):
    """The episode's workspace from its meta (bounds, pixel_size)."""
    from cliport_perception.workspace import Workspace

    meta = dataset.episode(episode).meta
    (x0, x1), (y0, y1), (z0, z1) = meta["bounds"]
    return Workspace(x_min=x0, x_max=x1, y_min=y0, y_max=y1, z_min=z0, z_max=z1,
                     pixel_size=meta["pixel_size"])


def grasp_difference(a: float, b: float) -> float:
    """|a - b| (rad) for a parallel gripper's grasp yaws: a half turn is the same grasp."""
    d = (a - b) % math.pi
    return min(d, math.pi - d)
