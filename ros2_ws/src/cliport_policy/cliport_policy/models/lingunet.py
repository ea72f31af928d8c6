"""The semantic stream's trainable decoder (``CLIPLingUNetLat``), docs/design.md#clip-lingunet.

CLIP's layer4 map is decoded back to twice the input resolution through three U-Net ``Up``
stages (skips from CLIP layers 3, 2, 1) and three bottleneck stages. The sentence feature
``g`` gates the first three decoder levels (``mult``: Hadamard product, the paper's default;
``add``; ``film``: x * gamma(g) + beta(g)), and six lateral connections bring in the spatial
stream's decoder maps. Channel widths follow CLIP's: for RN50 (256, 512, 1024, 2048 per stage)
they are exactly the reference's; a small CLIP gives a proportionally small decoder.

``width`` sets the decoder apart from CLIP's channels (``model.decoder_width``): layer 4's
projection has 2 ``width`` channels and the three ``Up`` stages ``width``, ``width/2`` and
``width/4``, each with a middle twice its output (0: CLIP's channels, the reference's); the
bottleneck stages keep theirs. ``x2=False`` ends the decoder at the input's resolution
instead of twice it (``model.decoder_2x``).

``lateral_channels=None`` builds the lateral-free ``CLIPLingUNet`` of the CLIP-only baseline.
``batchnorm`` adds the BatchNorm the reference's ``DoubleConv`` has by mistake
(docs/design.md#decoder-batchnorm);
the default follows the paper (no BatchNorm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.cpu_isa import full_precision
from cliport_policy.models.resnet import ConvBlock, IdentityBlock


class LanguageFusion(nn.Module):
    """Condition a feature map on the sentence feature: mult, add or film."""

    def __init__(self, kind: str, text_dim: int, channels: int) -> None:
        super().__init__()
        self.kind = kind
        self.proj = nn.Linear(text_dim, channels)
        self.beta = nn.Linear(text_dim, channels) if kind == "film" else None
        if kind not in ("mult", "add", "film"):
            raise ValueError(f"unknown language fusion {kind!r}")

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        gamma = self.proj(g)[:, :, None, None].to(x.dtype)
        if self.kind == "mult":
            return x * gamma
        if self.kind == "add":
            return x + gamma
        return x * gamma + self.beta(g)[:, :, None, None].to(x.dtype)


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, mid: int, batchnorm: bool) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, mid, 3, padding=1)]
        layers += [nn.BatchNorm2d(mid)] if batchnorm else []
        layers += [nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 3, padding=1)]
        layers += [nn.BatchNorm2d(cout)] if batchnorm else []
        layers += [nn.ReLU(inplace=True)]
        super().__init__(*layers)


class Up(nn.Module):
    """x2 bilinear (align_corners, as the reference), concat the skip, DoubleConv."""

    def __init__(self, cin: int, cout: int, batchnorm: bool, mid: int = 0) -> None:
        super().__init__()
        self.conv = DoubleConv(cin, cout, mid or cin // 2, batchnorm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        if dy or dx:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class Lateral(nn.Module):
    """concat(decoder, lateral) -> ReLU -> 1x1 conv back to the decoder's width."""

    def __init__(self, c_dec: int, c_lat: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_dec + c_lat, c_dec, 1, bias=False)

    def forward(self, x: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        if lat.shape[-2:] != x.shape[-2:]:
            lat = F.interpolate(lat, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(F.relu_(torch.cat([x, lat.to(x.dtype)], dim=1)))


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, up: bool = True) -> None:
        super().__init__()
        self.cb = ConvBlock(cin, (cout, cout, cout))
        self.ib = IdentityBlock(cout, (cout, cout, cout))
        self.up = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ib(self.cb(x))
        if not self.up:
            return x
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class CLIPLingUNetLat(nn.Module):
    """Decoder over CLIP trunk features; ``forward(feats, g, lateral, size) -> [B, out, *size]``."""

    def __init__(self, clip_channels: Sequence[int], text_dim: int, out: int,
                 lateral_channels: Sequence[int] | None, fusion: str = "mult",
                 batchnorm: bool = False, width: int = 0, x2: bool = True) -> None:
        super().__init__()
        c1, c2, c3, c4 = clip_channels
        if width < 0 or width % 4:
            raise ValueError(f"decoder width {width}: 0 or a multiple of 4")
        if width:  # 2w -> w -> w/2 -> w/4, each Up's middle twice its output
            ups, top = (width, width // 2, width // 4), 2 * width
            mids = tuple(2 * c for c in ups)
        else:  # CLIP's channels halved; each Up's middle half its input
            ups, top, mids = (c3 // 2, c2 // 2, c1 // 2), c4 // 2, (0, 0, 0)
        self.conv1 = nn.Conv2d(c4, top, 3, padding=1, bias=False)
        self.lang = nn.ModuleList([LanguageFusion(fusion, text_dim, c)
                                   for c in (top, *ups[:2])])
        self.up = nn.ModuleList([Up(cin + skip, cout, batchnorm, mid) for cin, skip, cout, mid
                                 in zip((top, *ups[:2]), (c3, c2, c1), ups, mids, strict=True)])
        self.layers = nn.ModuleList([_UpBlock(ups[2], c1 // 4), _UpBlock(c1 // 4, c1 // 8),
                                     _UpBlock(c1 // 8, c1 // 16, up=x2)])
        dec = (*ups, c1 // 4, c1 // 8, c1 // 16)
        if lateral_channels is None:
            self.lateral = None
        else:
            if len(lateral_channels) != 6:
                raise ValueError(f"need 6 lateral channel counts, got {lateral_channels}")
            self.lateral = nn.ModuleList([Lateral(d, c) for d, c in
                                          zip(dec, lateral_channels, strict=True)])
        self.conv2 = nn.Conv2d(c1 // 16, out, 1)

    def output_layers(self) -> list[nn.Module]:
        return [self.conv2]

    def forward(self, feats: Sequence[torch.Tensor], g: torch.Tensor,
                lateral: Sequence[torch.Tensor] | None, size: tuple[int, int]) -> torch.Tensor:
        f1, f2, f3, f4 = feats
        lat = self.lateral

        def fuse_lat(i: int, x: torch.Tensor) -> torch.Tensor:
            return x if lat is None else lat[i](x, lateral[i])

        x = F.relu_(self.conv1(f4.to(self.conv1.weight.dtype)))
        for i, skip in enumerate((f3, f2, f1)):
            x = self.lang[i](x, g)
            x = fuse_lat(i, self.up[i](x, skip.to(x.dtype)))
        for i, layer in enumerate(self.layers):
            x = fuse_lat(3 + i, layer(x))
        with full_precision(x):  # the logits
            x = self.conv2(x.float())
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
