"""Place transport (docs/design.md#transport-crop): correlate a rotated crop around the pick with
the scene.

``key`` features of the scene (padded by ``crop/2``) are cross-correlated with ``query``
features of ``k`` rotated ``crop x crop`` windows around the pick, giving logits
``[B, k, H, W]`` for (rotation, row, column). Better than the reference
(docs/design.md#transport-alignment):

* **Crop, then rotate.** Only the window around the pick is resampled
  (:func:`~cliport_policy.models.rotation.rotated_crops`), not 36 copies of the whole image.
* **Exact alignment.** Logit (u, v) is the correlation of the kernel with the key window
  whose centre pixel is (u, v) - the reference's ``conv2d(padding=32)`` gives 385 x 225 and
  is resized back to 384 x 224 (a sub-pixel shift and blur). Correlating a map with its own
  crop at rotation 0 peaks exactly at the crop's centre.
* **FFT correlation.** ``F.conv2d`` with 36 x 3 x 64 x 64 kernels falls to a slow reference
  loop in oneDNN (docs/design.md#cpu-correlation); one batched rFFT product is exact to ~1e-6
  and its cost does not depend on the kernel size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.models.rotation import rotated_crops


def fft_correlate(key: torch.Tensor, kernels: torch.Tensor, out_hw: tuple[int, int]
                  ) -> torch.Tensor:
    """``key`` [B, C, Hp, Wp], ``kernels`` [B, k, C, c, c] -> [B, k, *out_hw] where
    ``out[b, r, u, v] = sum_{ch, i, j} key[b, ch, u + i, v + j] * kernels[b, r, ch, i, j]``
    (a valid cross-correlation, first ``out_hw`` entries)."""
    hp, wp = key.shape[-2:]
    h, w = out_hw
    c = kernels.shape[-1]
    if h + c - 1 > hp or w + c - 1 > wp:
        raise ValueError(f"key {hp}x{wp} too small for {h}x{w} outputs of a {c}x{c} kernel")
    fk = torch.fft.rfft2(key.float(), s=(hp, wp))  # [B, C, Hp, Wp/2+1]
    # The kernels are c x c inside an Hp x Wp frame: transform their c rows along the width
    # first, then the columns, instead of a full 2-D transform of mostly zeros.
    fq = torch.fft.fft(torch.fft.rfft(kernels.float(), n=wp, dim=-1), n=hp, dim=-2)
    prod = torch.einsum("bchw,brchw->brhw", fk, fq.conj())
    return torch.fft.irfft2(prod, s=(hp, wp))[..., :h, :w]

class Transport(nn.Module):
    def __init__(self, key_fcn: nn.Module, query_fcn: nn.Module, n_rotations: int = 36,
                 crop_size: int = 64) -> None:
        super().__init__()
        self.key = key_fcn
        self.query = query_fcn
        self.n_rotations = n_rotations
        self.crop_size = crop_size
        self.pad = crop_size // 2

    def angles(self, device) -> torch.Tensor:
        k = self.n_rotations
        return torch.arange(k, device=device, dtype=torch.float32) * (360.0 / k)

    def crops(self, img: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
        """Rotated crops [B * k, 6, c, c] of the raw image around ``pick`` [B, 2] (u, v)."""
        return rotated_crops(img, pick, self.angles(img.device), self.crop_size)

    def forward(self, img: torch.Tensor, pick: torch.Tensor, g: torch.Tensor | None
                ) -> torch.Tensor:
        """``img`` [B, 6, H, W] raw, ``pick`` [B, 2] long (u, v) -> logits [B, k, H, W]."""
        b, _, h, w = img.shape
        k, p = self.n_rotations, self.pad
        key = self.key(F.pad(img, [p, p, p, p]), g)
        gk = None if g is None else g.repeat_interleave(k, dim=0)
        query = self.query(self.crops(img, pick), gk)
        kernels = query.reshape(b, k, *query.shape[1:])
        return fft_correlate(key, kernels, (h, w))
