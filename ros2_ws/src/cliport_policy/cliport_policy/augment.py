"""SE(2) data augmentation of a batch of images and pick / place cells
(docs/design.md#augmentation).

Each sample gets a random rotation about the image centre, theta ~ N(0, theta_sigma), and a
translation ~ N(0, translation_sigma) pixels per axis, applied to all six channels (bilinear,
raw-zero fill) and to the pick and place cells; a draw that would move either cell off the
image is redrawn (up to ``MAX_TRIES``, then the sample is left as it is). The place rotation
label is relative to the pick, so it is unchanged. A gripper's grasp yaw turns with the
image: the image turned by theta turns every world yaw by -theta, so the pick bin is that of
``yaw - theta``, folded by half a turn (:func:`augment_grasp`,
docs/design.md#grasp-yaw-bins). Instructions with absolute spatial words ("left", "top",
...) are only translated: rotating their scenes would make the words lie
(the reference rotates every scene).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import torch

from cliport_policy.models.rotation import _sample
from cliport_policy.poses import pick_bin_of_yaw

MAX_TRIES = 20


def uses_absolute_words(instruction: str, words: Sequence[str]) -> bool:
    tokens = set(re.findall(r"[a-z]+", instruction.lower()))
    return any(w in tokens for w in words)


def _forward(cells: np.ndarray, theta: float, shift: np.ndarray, centre: np.ndarray
             ) -> np.ndarray:
    """Where cells (u, v) [N, 2] land: dst = M (src - c) + c + t in (x = v, y = u)."""
    cos, sin = math.cos(theta), math.sin(theta)
    d = cells[:, ::-1] - centre  # (x, y)
    x = cos * d[:, 0] + sin * d[:, 1]
    y = -sin * d[:, 0] + cos * d[:, 1]
    return np.stack([y + centre[1] + shift[1], x + centre[0] + shift[0]], axis=1)


def draw_transforms(cells: np.ndarray, shape: tuple[int, int], rotate: Sequence[bool],
                    theta_sigma: float, translation_sigma: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample (theta rad [B], shift (x, y) [B, 2], new cells [B, 2, 2] rounded).

    ``cells`` [B, 2, 2]: the pick and place cells (u, v) of each sample.
    """
    h, w = shape
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    b = cells.shape[0]
    thetas, shifts, out = np.zeros(b), np.zeros((b, 2)), cells.astype(np.int64).copy()
    for i in range(b):
        for _ in range(MAX_TRIES):
            theta = math.radians(rng.normal(0.0, theta_sigma)) if rotate[i] else 0.0
            shift = rng.normal(0.0, translation_sigma, size=2)
            moved = np.rint(_forward(cells[i].astype(np.float64), theta, shift, centre))
            if ((moved >= 0) & (moved < np.array([h, w]))).all():
                thetas[i], shifts[i], out[i] = theta, shift, moved.astype(np.int64)
                break
    return thetas, shifts, out


def warp(img: torch.Tensor, thetas: np.ndarray, shifts: np.ndarray) -> torch.Tensor:
    """Apply the transforms to images [B, C, H, W] (inverse mapping, bilinear, zero fill)."""
    b, _, h, w = img.shape
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=img.device),
                            torch.arange(w, dtype=torch.float32, device=img.device),
                            indexing="ij")
    th = torch.as_tensor(thetas, dtype=torch.float32, device=img.device).view(b, 1, 1)
    t = torch.as_tensor(shifts, dtype=torch.float32, device=img.device)
    dx = xx - cx - t[:, 0].view(b, 1, 1)
    dy = yy - cy - t[:, 1].view(b, 1, 1)
    cos, sin = torch.cos(th), torch.sin(th)
    sx = cx + cos * dx - sin * dy
    sy = cy + sin * dx + cos * dy
    return _sample(img, sx, sy)


def _augment(img: torch.Tensor, pick: torch.Tensor, place: torch.Tensor,
             instructions: Sequence[str], theta_sigma: float, translation_sigma: float,
             absolute_words: Sequence[str], rng: np.random.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    cells = np.stack([pick.cpu().numpy(), place.cpu().numpy()], axis=1)
    rotate = [not uses_absolute_words(s, absolute_words) for s in instructions]
    thetas, shifts, moved = draw_transforms(cells, tuple(img.shape[-2:]), rotate, theta_sigma,
                                            translation_sigma, rng)
    moved_t = torch.as_tensor(moved, device=pick.device)
    return warp(img, thetas, shifts), moved_t[:, 0], moved_t[:, 1], thetas


def augment(img: torch.Tensor, pick: torch.Tensor, place: torch.Tensor,
            instructions: Sequence[str], theta_sigma: float, translation_sigma: float,
            absolute_words: Sequence[str], rng: np.random.Generator
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented (images, pick cells, place cells) of a batch."""
    return _augment(img, pick, place, instructions, theta_sigma, translation_sigma,
                    absolute_words, rng)[:3]


def augment_grasp(img: torch.Tensor, pick: torch.Tensor, place: torch.Tensor,
                  pick_yaw: torch.Tensor, pick_rotations: int, instructions: Sequence[str],
                  theta_sigma: float, translation_sigma: float, absolute_words: Sequence[str],
                  rng: np.random.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented (images, pick cells, place cells, pick bins) of a gripper's batch:
    ``pick_yaw`` [B] are the grasp yaws (rad) before binning, binned once after the turn.
    The same draws as :func:`augment` for the same ``rng``."""
    out, p, q, thetas = _augment(img, pick, place, instructions, theta_sigma,
                                 translation_sigma, absolute_words, rng)
    yaws = pick_yaw.detach().cpu().double().numpy() - thetas
    bins = torch.tensor([pick_bin_of_yaw(float(y), pick_rotations) for y in yaws],
                        dtype=torch.long, device=pick.device)
    return out, p, q, bins
