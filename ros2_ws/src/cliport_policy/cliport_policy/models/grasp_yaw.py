"""Grasp-yaw classifier: k bins of a parallel gripper's yaw from a crop around the picked cell.

The reference's real robot chose the grasp yaw this way (36 bins on a 64 x 64 crop), instead
of running the pick network on k rotated copies of the scene: the pick FCN runs once and this
small network looks only at the crop, so the yaw costs a fixed, small amount whatever k is
(docs/results/gripper-design.md). The crop is the raw 6-channel image around the cell, not
rotated (:func:`~cliport_policy.models.rotation.rotated_crops` at 0 deg), normalised as the
spatial stream's input; no language: which yaw grips an object is a matter of its shape.
"""

from __future__ import annotations

import torch
from torch import nn

from cliport_policy.models.rotation import rotated_crops
from cliport_policy.models.streams import spatial_normalise


class GraspYawClassifier(nn.Module):
    """Crop [B, 6, s, s] around ``cells`` -> logits [B, k] over the grasp-yaw bins."""

    def __init__(self, n_rotations: int, crop_size: int = 64, width: int = 16) -> None:
        super().__init__()
        self.crop_size = crop_size
        layers: list[nn.Module] = []
        c = 6
        for w in (width, 2 * width, 4 * width):  # three stride-2 stages: 64 -> 8 cells
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(c * 16, n_rotations)

    def output_layers(self) -> list[nn.Module]:
        return [self.head]

    def forward(self, img: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """``img`` [B, 6, H, W] raw, ``cells`` [B, 2] long (u, v) -> logits [B, k]."""
        zero = torch.zeros(1, device=img.device)
        crops = rotated_crops(img, cells, zero, self.crop_size)
        return self.head(self.features(spatial_normalise(crops)))
