"""Pick attention (docs/design.md#attention): per-pixel (x rotation) logits over the whole
heightmap.

The image is zero-padded (raw zeros, as the reference) to a square so rotations keep every
cell; with ``k > 1`` the ``k`` rotated copies run through the FCN as one batch and are rotated
back. With ``k = 1`` (suction) no rotation is done at all, and ``pad_square=False`` skips the
padding too (half the compute; the reference pads anyway). Output logits are laid out
``[B, k, H, W]`` and the training label uses the *same* layout (the reference flattens
logits as (H, W, k) but labels as (k, H, W), wrong for k > 1, docs/design.md#pick-loss-layout).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.models.rotation import rotate


class Attention(nn.Module):
    def __init__(self, fcn: nn.Module, n_rotations: int = 1, pad_square: bool = True) -> None:
        super().__init__()
        self.fcn = fcn
        self.n_rotations = n_rotations
        self.pad_square = pad_square or n_rotations > 1

    def forward(self, img: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """``img`` [B, 6, H, W] raw, ``g`` [B, D] -> logits [B, k, H, W]."""
        b, _, h, w = img.shape
        side = max(h, w)
        pt, pl = ((side - h) // 2, (side - w) // 2) if self.pad_square else (0, 0)
        x = F.pad(img, [pl, side - w - pl, pt, side - h - pt]) if self.pad_square else img
        k = self.n_rotations
        if k == 1:
            out = self.fcn(x, g)
        else:
            angles = torch.arange(k, device=img.device, dtype=torch.float32) * (360.0 / k)
            angles = angles.repeat(b)
            x = rotate(x.repeat_interleave(k, dim=0), angles)
            gk = None if g is None else g.repeat_interleave(k, dim=0)
            out = rotate(self.fcn(x, gk), -angles)
        out = out[:, :, pt:pt + h, pl:pl + w]
        return out.reshape(b, k, h, w)
