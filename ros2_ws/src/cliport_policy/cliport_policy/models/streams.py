"""Fully convolutional networks of the agents: raw image (+ sentence) -> per-pixel logits.

Every FCN takes the raw 6-channel image ``[B, 6, H, W]`` (colour 0-255, then the height in
metres three times, docs/design.md#input-normalisation) and normalises inside, per stream: the
spatial stream with the Transporter constants on all six channels, the semantic stream with CLIP's
on RGB only.

* :class:`TwoStreamFCN` (CLIPort): Transporter ResNet45 + CLIP LingUNet with laterals,
  joined by ``add`` (pick) or ``conv`` (concat -> ReLU -> 1x1, transport key and query).
* :class:`SpatialFCN` (Transporter-only baseline): ResNet43 on RGB-D, no language.
* :class:`SemanticFCN` (CLIP-only baseline): CLIP + LingUNet without laterals, RGB + language.

The frozen CLIP is shared and passed in, never registered as a submodule, so it is not in
any optimiser or checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.clip_encoder import FrozenCLIP
from cliport_policy.cpu_isa import full_precision
from cliport_policy.models.lingunet import CLIPLingUNetLat
from cliport_policy.models.resnet import ResNet43_8s, ResNet45_10s

COLOR_MEAN, COLOR_STD = 0.18877631, 0.07276466
HEIGHT_MEAN, HEIGHT_STD = 0.00509261, 0.00903967


def spatial_normalise(img: torch.Tensor) -> torch.Tensor:
    """Transporter normalisation of the raw 6-channel image, in channels-last layout.

    Channels-last halves the time of the many thin convolutions on CPU (oneDNN) and suits
    tensor cores on GPU; the networks' weights are converted alike by the agent.
    """
    rgb = (img[:, :3] / 255.0 - COLOR_MEAN) / COLOR_STD
    depth = (img[:, 3:] - HEIGHT_MEAN) / HEIGHT_STD
    return torch.cat([rgb, depth], dim=1).contiguous(memory_format=torch.channels_last)


def _rgb(img: torch.Tensor) -> torch.Tensor:
    return img[:, :3].contiguous(memory_format=torch.channels_last)


def strided(fcn: nn.Module, img: torch.Tensor, g: torch.Tensor | None, stride: int
            ) -> torch.Tensor:
    """``fcn``'s map of ``img`` [B, 6, H, W], computed on the image averaged over
    ``stride`` x ``stride`` cells and resized back to H x W (bilinear: with the average
    pooling it keeps cell centres aligned). 1/stride^2 of the FCN's work, at that cost in
    resolution."""
    if stride == 1:
        return fcn(img, g)
    out = fcn(F.avg_pool2d(img, stride, ceil_mode=True), g)
    return F.interpolate(out, size=img.shape[-2:], mode="bilinear", align_corners=False)


class _Shared:
    """Holds the shared frozen CLIP outside the module tree."""

    def __init__(self, clip: FrozenCLIP | None) -> None:
        self.clip = clip


class SpatialFCN(nn.Module):
    needs_language = False

    def __init__(self, out: int, width: int) -> None:
        super().__init__()
        self.net = ResNet43_8s(6, out, width)

    def forward(self, img: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        return self.net(spatial_normalise(img))


class SemanticFCN(nn.Module):
    needs_language = True

    def __init__(self, clip: FrozenCLIP, out: int, fusion: str, batchnorm: bool,
                 decoder_width: int = 0, x2: bool = True) -> None:
        super().__init__()
        self._shared = _Shared(clip)
        self.decoder = CLIPLingUNetLat(clip.channels, clip.text_dim, out, None, fusion,
                                       batchnorm, decoder_width, x2)

    def forward(self, img: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        feats = self._shared.clip.image_features(_rgb(img))
        return self.decoder(feats, g, None, img.shape[-2:])


class TwoStreamFCN(nn.Module):
    needs_language = True

    def __init__(self, clip: FrozenCLIP, out: int, width: int, fusion: str, batchnorm: bool,
                 stream_fusion: str, decoder_width: int = 0, x2: bool = True) -> None:
        super().__init__()
        self._shared = _Shared(clip)
        self.spatial = ResNet45_10s(6, out, width, x2)
        self.semantic = CLIPLingUNetLat(clip.channels, clip.text_dim, out,
                                        ResNet45_10s.lateral_channels(width), fusion, batchnorm,
                                        decoder_width, x2)
        if stream_fusion not in ("add", "conv"):
            raise ValueError(f"unknown stream fusion {stream_fusion!r}")
        self.fuse = nn.Conv2d(2 * out, out, 1, bias=False) if stream_fusion == "conv" else None

    def output_layers(self) -> list[nn.Module]:
        if self.fuse is not None:
            return [self.fuse]
        return self.spatial.output_layers() + self.semantic.output_layers()

    def forward(self, img: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        x1, lateral = self.spatial(spatial_normalise(img))
        feats = self._shared.clip.image_features(_rgb(img))
        x2 = self.semantic(feats, g, lateral, img.shape[-2:])
        if self.fuse is None:
            return x1 + x2
        with full_precision(x1):  # the key's and query's features (fp32 from both streams)
            return self.fuse(F.relu_(torch.cat([x1, x2], dim=1)))
