"""Pick attention (docs/design.md#attention): per-pixel (x rotation) logits over the whole
heightmap.

The image is zero-padded (raw zeros, as the reference) to a square so rotations keep every
cell; with ``k > 1`` the ``k`` rotated copies run through the FCN as one batch and are rotated
back. With ``k = 1`` (suction) no rotation is done at all, and ``pad_square=False`` skips the
padding too (half the compute; the reference pads anyway). ``stride`` > 1 runs the FCN on
the image averaged over stride x stride cells, its logits resized back
(``models.streams.strided``, ``model.pick_stride``). Copy ``i`` is the image turned by
``span i / k`` (span 180 deg: a parallel gripper's grasp bins, docs/design.md#grasp-yaw-bins),
which turns every world yaw by ``-span i / k``: an object whose grasp yaw is that angle reads
as yaw 0 in copy ``i``, so the FCN scores one canonical view in every copy. With a
``classifier`` (models/grasp_yaw.py) the FCN runs once and the yaw bins come from the
classifier at the pick cell. Output logits are laid out
``[B, k, H, W]`` and the training label uses the *same* layout (the reference flattens
logits as (H, W, k) but labels as (k, H, W), wrong for k > 1, docs/design.md#pick-loss-layout).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.config import PICK_ROTATION_SPAN_DEG
from cliport_policy.models.rotation import rotate
from cliport_policy.models.streams import strided


class Attention(nn.Module):
    def __init__(self, fcn: nn.Module, n_rotations: int = 1, pad_square: bool = True,
                 classifier: nn.Module | None = None, stride: int = 1) -> None:
        super().__init__()
        self.fcn = fcn
        self.stride = stride
        self.n_rotations = n_rotations
        self.classifier = classifier
        self.pad_square = pad_square or (n_rotations > 1 and classifier is None)

    def forward(self, img: torch.Tensor, g: torch.Tensor | None,
                cells: torch.Tensor | None = None) -> torch.Tensor:
        """``img`` [B, 6, H, W] raw, ``g`` [B, D] -> logits [B, k, H, W].

        With a classifier the logits are the cell logits plus the log-probabilities of the
        yaw bins at ``cells`` [B, 2] (training: the labelled pick cells; None: each sample's
        best cell), so the softmax over (bin, row, column) is p(cell) p(bin | that cell) and
        its cross-entropy is the cell's plus the bin's."""
        if self.classifier is not None:
            logits = self._forward(img, g, 1)
            if cells is None:
                flat = logits.flatten(1).argmax(dim=1)
                cells = torch.stack([flat // img.shape[-1], flat % img.shape[-1]], dim=1)
            yaw = torch.log_softmax(self.classifier(img, cells).float(), dim=1)
            return logits.float() + yaw[:, :, None, None]
        return self._forward(img, g, self.n_rotations)

    def _forward(self, img: torch.Tensor, g: torch.Tensor | None, k: int) -> torch.Tensor:
        b, _, h, w = img.shape
        side = max(h, w)
        pt, pl = ((side - h) // 2, (side - w) // 2) if self.pad_square else (0, 0)
        x = F.pad(img, [pl, side - w - pl, pt, side - h - pt]) if self.pad_square else img
        if k == 1:
            out = strided(self.fcn, x, g, self.stride)
        else:
            step = PICK_ROTATION_SPAN_DEG / k
            angles = (torch.arange(k, device=img.device, dtype=torch.float32) * step).repeat(b)
            x = rotate(x.repeat_interleave(k, dim=0), angles)
            gk = None if g is None else g.repeat_interleave(k, dim=0)
            out = rotate(strided(self.fcn, x, gk, self.stride), -angles)
        out = out[:, :, pt:pt + h, pl:pl + w]
        return out.reshape(b, k, h, w)
