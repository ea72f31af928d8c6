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

Three CPU cuts, off by default (docs/notes/cpu-flops.md): ``key_stride`` runs the key's FCN
on the padded image averaged over s x s cells and resizes its map back before the
correlation; ``key_pad="features"`` runs the key's FCN on the unpadded image and zero-pads
its map; ``query_rotation="features"`` runs the query's FCN once on a window around the
pick and rotates crops of its map instead of running it on each rotated crop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.config import KEY_PADS, QUERY_ROTATIONS
from cliport_policy.models.rotation import rotated_crops
from cliport_policy.models.streams import strided


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
    # Along the width (rfft), then along the height with the rows moved last: every FFT
    # runs over contiguous memory. The kernels are c x c inside an Hp x Wp frame: their c
    # rows are transformed along the width before the zeros along the height are added.
    fk = torch.fft.fft(torch.fft.rfft(key.float(), dim=-1).transpose(-1, -2), dim=-1)
    fq = torch.fft.fft(torch.fft.rfft(kernels.float(), n=wp, dim=-1).transpose(-1, -2),
                       n=hp, dim=-1)  # [B, k, C, Wp/2+1, Hp]
    # The sum over channels as products of unbound slices: an einsum (bmm over every
    # frequency) or a slice per channel (its backward fills a whole zero volume) cost 2x.
    fks, fqs = fk.unsqueeze(1).unbind(2), fq.unbind(2)
    prod = fks[0] * fqs[0].conj()
    for a, b in zip(fks[1:], fqs[1:], strict=True):
        prod = prod + a * b.conj()
    x = torch.fft.ifft(prod, dim=-1)[..., :h]  # [B, k, Wp/2+1, h]
    return torch.fft.irfft(x.transpose(-1, -2), n=wp, dim=-1)[..., :w]


class Transport(nn.Module):
    def __init__(self, key_fcn: nn.Module, query_fcn: nn.Module, n_rotations: int = 36,
                 crop_size: int = 64, key_stride: int = 1, query_rotation: str = "image",
                 key_pad: str = "image") -> None:
        super().__init__()
        if query_rotation not in QUERY_ROTATIONS:
            raise ValueError(f"unknown query rotation {query_rotation!r}")
        if key_pad not in KEY_PADS:
            raise ValueError(f"unknown key padding {key_pad!r}")
        self.key = key_fcn
        self.query = query_fcn
        self.n_rotations = n_rotations
        self.crop_size = crop_size
        self.pad = crop_size // 2
        self.key_stride = key_stride
        self.query_rotation = query_rotation
        self.key_pad = key_pad

    def angles(self, device) -> torch.Tensor:
        k = self.n_rotations
        return torch.arange(k, device=device, dtype=torch.float32) * (360.0 / k)

    def crops(self, img: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
        """Rotated crops [B * k, 6, c, c] of the raw image around ``pick`` [B, 2] (u, v)."""
        return rotated_crops(img, pick, self.angles(img.device), self.crop_size)

    def query_kernels(self, img: torch.Tensor, pick: torch.Tensor, g: torch.Tensor | None
                      ) -> torch.Tensor:
        """The query FCN's kernels [B * k, C, c, c] around ``pick``. ``image``: the FCN on
        each rotated crop; ``features``: the FCN once on an unrotated window that holds every
        rotated crop (side c sqrt 2, rounded up to a multiple of 16), rotated crops of its
        map standing for the maps of rotated crops: 2.25 / k of the FCN's work at c = 64."""
        k = self.n_rotations
        if self.query_rotation == "image":
            gk = None if g is None else g.repeat_interleave(k, dim=0)
            return self.query(self.crops(img, pick), gk)
        side = 16 * math.ceil(self.crop_size * math.sqrt(2) / 16)
        zero = torch.zeros(1, device=img.device)
        window = self.query(rotated_crops(img, pick, zero, side), g)
        centre = torch.full_like(pick, side // 2)
        return rotated_crops(window, centre, self.angles(img.device), self.crop_size)

    def key_features(self, img: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """The key FCN's map [B, C, H + c, W + c] with its crop/2 border (``key_stride``: the
        FCN on a coarser image, ``models.streams.strided``). ``key_pad`` ``image``: the FCN
        of the zero-padded image; ``features``: the FCN's map of the image, zero-padded."""
        pad = [self.pad] * 4
        if self.key_pad == "image":
            return strided(self.key, F.pad(img, pad), g, self.key_stride)
        return F.pad(strided(self.key, img, g, self.key_stride), pad)

    def forward(self, img: torch.Tensor, pick: torch.Tensor, g: torch.Tensor | None
                ) -> torch.Tensor:
        """``img`` [B, 6, H, W] raw, ``pick`` [B, 2] long (u, v) -> logits [B, k, H, W]."""
        b, _, h, w = img.shape
        k = self.n_rotations
        key = self.key_features(img, g)
        query = self.query_kernels(img, pick, g)
        kernels = query.reshape(b, k, *query.shape[1:])
        return fft_correlate(key, kernels, (h, w))
