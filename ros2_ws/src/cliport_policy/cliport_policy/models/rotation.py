"""Image rotation and rotated crops by explicit pixel-centre sampling (``grid_sample``).

Convention (docs/design.md#rotation-convention): rotation bin ``i`` of ``k`` rotates an image by
``+360 i / k`` degrees counter-clockwise *as displayed* (rows down, columns right), the
OpenCV/kornia sign; because rows run along world +y this is a world yaw of ``-360 i / k``.
Destination pixel ``d`` (offset from the pivot, ``(dx, dy)`` = (column, row)) samples the source at
``pivot + R(-a) d``. Pixel ``(r, c)`` has its centre at integer coordinates, so an angle of 0
reproduces the input exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _sample(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``img`` [N, C, H, W] at pixel coordinates ``x``, ``y`` [N, h, w]."""
    h, w = img.shape[-2:]
    grid = torch.stack([(2 * x + 1) / w - 1, (2 * y + 1) / h - 1], dim=-1)
    return F.grid_sample(img, grid.to(img.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def _offsets(size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx, dy) [size, size] offsets of a crop's pixels from its centre pixel ``size // 2``."""
    r = torch.arange(size, device=device, dtype=torch.float32) - size // 2
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return dx, dy


def rotate(img: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image [N, C, H, W] by ``degrees`` [N] about its geometric centre."""
    n, _, h, w = img.shape
    a = degrees.to(torch.float32).view(n, 1, 1) * (math.pi / 180.0)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = torch.meshgrid(torch.arange(h, device=img.device, dtype=torch.float32) - cy,
                            torch.arange(w, device=img.device, dtype=torch.float32) - cx,
                            indexing="ij")
    cos, sin = torch.cos(a), torch.sin(a)
    sx = cx + cos * xx - sin * yy
    sy = cy + sin * xx + cos * yy
    return _sample(img, sx, sy)


def rotated_crops(img: torch.Tensor, pivots: torch.Tensor, degrees: torch.Tensor,
                  size: int) -> torch.Tensor:
    """``size`` x ``size`` crops centred on ``pivots``, rotated, without rotating the image.

    ``img`` [B, C, H, W]; ``pivots`` [B, 2] (row, column) pixel coordinates in ``img``;
    ``degrees`` [k] -> crops [B * k, C, size, size] (sample-major), where crop pixel
    ``(size//2 + dy, size//2 + dx)`` is the image at ``pivot + R(-a) (dx, dy)``. Only a
    window of side ``size * sqrt(2) + 3`` around each pivot is read (the reference rotates
    the whole padded image ``k`` times to cut out 64 x 64 pixels,
    docs/design.md#transport-alignment).
    """
    b, c = img.shape[:2]
    k = degrees.shape[0]
    half = int(math.ceil(size / 2 * math.sqrt(2))) + 1
    padded = F.pad(img, [half, half, half, half])
    rows = pivots[:, 0].long()
    cols = pivots[:, 1].long()
    side = 2 * half + 1
    win = torch.stack([padded[i, :, rows[i]:rows[i] + side, cols[i]:cols[i] + side]
                       for i in range(b)])  # pivot at (half, half)
    win = win.repeat_interleave(k, dim=0)
    dx, dy = _offsets(size, img.device)
    a = (degrees.to(torch.float32) * (math.pi / 180.0)).repeat(b).view(b * k, 1, 1)
    cos, sin = torch.cos(a), torch.sin(a)
    sx = half + cos * dx - sin * dy
    sy = half + sin * dx + cos * dy
    return _sample(win, sx, sy)
