"""Training batches from the episode store (``cliport_sim.dataset``), one or many tasks.

A sample is drawn as the reference intends but without its multi-task bug
(docs/design.md#multitask-sampling-fix):
a task (uniformly, or with the task set's weights: multi-attr), then an episode of that
task, then one of its actions - each drawn once, from one explicit
``numpy.random.Generator``. The reference draws the task a second time when it loads the
episode, so the episode index of one task is read from another. Observations are the stored
fused maps (no re-fusion of raw views per sample, docs/design.md#prefused-batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cliport_common.poses import yaw_of
from cliport_policy.agents import image_tensor
from cliport_policy.poses import pick_bin_of_yaw
from cliport_sim.dataset import Dataset
from cliport_sim.labels import rotation_bin

STORED_ROTATIONS = 36  # the episode store's place_rot labels (cliport_sim.dataset)
STORED_PICK_ROTATIONS = 1  # its pick_rot labels are always 0 (the pick yaw lives in pose0)


@dataclass
class Batch:
    img: torch.Tensor  # [B, 6, H, W] raw
    instructions: list[str]
    pick: torch.Tensor  # [B, 2] long (u, v)
    place: torch.Tensor
    pick_rot: torch.Tensor  # [B] long
    place_rot: torch.Tensor
    tasks: list[int]  # index of each sample's dataset
    # [B] float: each pick's grasp yaw (rad) before binning, so that an augmentation can turn
    # it with the image and bin it once (None: no yaw, a suction model's batch)
    pick_yaw: torch.Tensor | None = None

    def to(self, device) -> Batch:
        return Batch(self.img.to(device), self.instructions, self.pick.to(device),
                     self.place.to(device), self.pick_rot.to(device), self.place_rot.to(device),
                     self.tasks, None if self.pick_yaw is None else self.pick_yaw.to(device))


class Sampler:
    """Random (task, episode, step) samples from one or more datasets.

    ``place_rotations``: the model's number of place rotation bins; labels are re-binned
    from the stored poses when it differs from the stored labels' 36. ``pick_rotations``:
    the model's pick bins; above 1 (a parallel gripper) the pick label is the stored pick
    pose's yaw (:func:`pick_bin`). ``weights``: each dataset's probability (default
    uniform, whatever the datasets' sizes).
    """

    def __init__(self, datasets: Sequence[Dataset], rng: np.random.Generator,
                 place_rotations: int = STORED_ROTATIONS,
                 weights: Sequence[float] | None = None,
                 pick_rotations: int = STORED_PICK_ROTATIONS) -> None:
        self.datasets = [d for d in datasets]
        if not self.datasets or any(len(d) == 0 for d in self.datasets):
            raise ValueError("every training dataset needs at least one episode")
        self.rng = rng
        self.place_rotations = place_rotations
        self.pick_rotations = pick_rotations
        self.weights: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, np.float64)
            if w.shape != (len(self.datasets),) or not np.all(w > 0):
                raise ValueError(f"need one positive weight per dataset, got {list(weights)} "
                                 f"for {len(self.datasets)} datasets")
            if np.ptp(w) > 1e-12 * w.max():  # uniform weights keep the uniform draw
                self.weights = w / w.sum()

    def draw(self) -> tuple[int, int, int]:
        """(task, episode, step), each drawn once: the episode is one of that task's."""
        if self.weights is None:
            task = int(self.rng.integers(len(self.datasets)))
        else:
            task = int(self.rng.choice(len(self.datasets), p=self.weights))
        ds = self.datasets[task]
        episode = int(self.rng.integers(len(ds)))
        step = int(self.rng.integers(ds.n_steps(episode)))
        return task, episode, step

    def batch(self, size: int) -> Batch:
        return collate([(t, self.datasets[t].sample(e, s)) for t, e, s in
                        (self.draw() for _ in range(size))], self.place_rotations,
                       self.pick_rotations)


def all_samples(datasets: Sequence[Dataset]) -> list[tuple[int, int, int]]:
    """Every (task, episode, step) action, in order (for validation and overfitting)."""
    return [(t, e, s) for t, ds in enumerate(datasets) for e in range(len(ds))
            for s in range(ds.n_steps(e))]


def collate(items: Sequence[tuple[int, dict]], place_rotations: int = STORED_ROTATIONS,
            pick_rotations: int = STORED_PICK_ROTATIONS) -> Batch:
    steps = [s for _, s in items]
    img = image_tensor(np.stack([s["colormap"] for s in steps]),
                       np.stack([s["heightmap"] for s in steps]))

    def long(key: str) -> torch.Tensor:
        return torch.as_tensor(np.stack([np.asarray(s[key]) for s in steps]).astype(np.int64))

    place_rot = long("place_rot")
    if place_rotations != STORED_ROTATIONS:
        place_rot = torch.tensor([_place_bin(s, place_rotations) for s in steps])
    pick_rot, pick_yaw = long("pick_rot"), None
    if pick_rotations != STORED_PICK_ROTATIONS:
        pick_yaw = torch.tensor([grasp_yaw(s) for s in steps], dtype=torch.float32)
        pick_rot = torch.tensor([pick_bin(s, pick_rotations) for s in steps])
    return Batch(img, [s["instruction"] for s in steps], long("pick_pix"), long("place_pix"),
                 pick_rot, place_rot, [t for t, _ in items], pick_yaw)


def grasp_yaw(step: dict) -> float:
    """The stored pick pose's yaw (rad): a parallel gripper's grasp yaw, e.g. the twin's."""
    return yaw_of(np.asarray(step["pose0"])[3:])


def pick_bin(step: dict, n_rotations: int) -> int:
    """The pick bin of a stored action: its grasp yaw binned over half a turn, the inverse
    of :func:`cliport_policy.poses.decision_poses` (docs/design.md#grasp-yaw-bins)."""
    return pick_bin_of_yaw(grasp_yaw(step), n_rotations)


def _place_bin(step: dict, n_rotations: int) -> int:
    """The place rotation bin of a stored action for a model with ``n_rotations`` bins
    (theta1 = yaw(pose0) - yaw(pose1), as :func:`cliport_sim.labels.action_labels`)."""
    theta = yaw_of(np.asarray(step["pose0"])[3:]) - yaw_of(np.asarray(step["pose1"])[3:])
    return rotation_bin(theta, n_rotations)
