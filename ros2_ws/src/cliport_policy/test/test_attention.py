"""Pick attention with grasp-yaw bins: copy ``i`` shows the grasp of bin ``i`` at yaw 0 (the
measurement behind docs/design.md#grasp-yaw-bins), and the classifier head's logits factor
into p(cell) p(bin | cell)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cliport_policy.models.attention import Attention
from cliport_policy.models.grasp_yaw import GraspYawClassifier
from cliport_policy.poses import pick_bin_of_yaw, pick_yaw


def bar_image(yaw: float, centre=(160, 80), shape=(320, 160)) -> torch.Tensor:
    """Raw [1, 6, H, W] image of a 60 x 12 mm bar (2 mm cells) along world ``yaw``:
    columns run along world x and rows along world y (perception's grid)."""
    u, v = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    dx, dy = v - centre[1], u - centre[0]
    along = dx * math.cos(yaw) + dy * math.sin(yaw)
    across = -dx * math.sin(yaw) + dy * math.cos(yaw)
    mask = torch.tensor((np.abs(along) <= 15) & (np.abs(across) <= 3), dtype=torch.float32)
    img = torch.zeros(1, 6, *shape)
    img[0, :3] = mask * 200.0
    img[0, 3:] = mask * 0.04
    return img


def orientation(mask: np.ndarray) -> float:
    """World yaw (rad, folded by pi) of the long axis of a mask's pixels (second moments)."""
    u, v = np.nonzero(mask)
    dx, dy = v - v.mean(), u - u.mean()
    return 0.5 * math.atan2(2 * (dx * dy).mean(), (dx * dx).mean() - (dy * dy).mean())


def fold_pi(a: float) -> float:
    return (a + math.pi / 2) % math.pi - math.pi / 2


class ConvFCN(nn.Module):
    """A one-layer FCN with the streams' (image, sentence) signature."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 1, 3, padding=1)

    def forward(self, x, g):
        return self.conv(x)


class Probe(nn.Module):
    """An FCN that keeps what it was shown (the rotated copies) and returns zeros."""

    def forward(self, x, g):
        self.seen = x.detach().clone()
        return torch.zeros(x.shape[0], 1, *x.shape[-2:])


def test_copy_of_the_labelled_bin_shows_the_grasp_at_yaw_zero():
    k = 12
    for deg in (-75.0, -30.0, 0.0, 20.0, 50.0, 85.0):
        yaw = math.radians(deg)
        probe = Probe()
        Attention(probe, k)(bar_image(yaw), None)
        copy = probe.seen[pick_bin_of_yaw(yaw, k), 3].numpy() > 0.02
        assert abs(fold_pi(orientation(copy))) <= math.pi / k / 2 + math.radians(1.0)
        # every other copy shows it turned by the difference of the bins
        for b in (1, 5):
            shown = orientation(probe.seen[b, 3].numpy() > 0.02)
            assert abs(fold_pi(shown - (yaw - pick_yaw(b, k)))) < math.radians(1.5)


def test_the_classifier_head_adds_the_bins_log_probabilities_at_the_pick_cell():
    torch.manual_seed(0)
    k = 8
    fcn = ConvFCN()
    head = Attention(fcn, k, pad_square=False, classifier=GraspYawClassifier(k, 32, 4))
    img = bar_image(0.3)
    cells = torch.tensor([[160, 80]])
    out = head(img, None, cells)
    assert out.shape == (1, k, 320, 160)
    bins = torch.log_softmax(head.classifier(img, cells), dim=1)[0]
    cell_logits = fcn(img, None)[0, 0]
    for b in (0, 3, 7):
        torch.testing.assert_close(out[0, b], cell_logits + bins[b])
    # the softmax over (bin, cell) is the product of the cell's and the bin's
    joint = torch.softmax(out.flatten(), 0).view(k, 320, 160)
    torch.testing.assert_close(joint.sum(dim=(1, 2)), bins.exp(), atol=1e-5, rtol=1e-4)
    # without cells it classifies at the best cell
    best = int(cell_logits.flatten().argmax())
    torch.testing.assert_close(head(img, None), head(img, None, torch.tensor(
        [[best // 160, best % 160]])))
