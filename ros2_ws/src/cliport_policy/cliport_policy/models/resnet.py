"""Transporter ResNets (the spatial stream), docs/design.md#transporter-resnets.

``ResNet43_8s`` (Transporter-only and CLIP-only baselines) and ``ResNet45_10s`` (CLIPort's
spatial stream, which also returns the six lateral feature maps the semantic decoder
fuses). ``width`` scales every layer: 64 is the paper size; the CPU configurations use 8.
Convolutions carry no bias and no BatchNorm, as in the reference with ``batchnorm=False``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy.cpu_isa import full_precision


def init_weights(module: nn.Module, residual_scale: float = 0.1, output_scale: float = 0.02
                 ) -> None:
    """He init of every conv / linear layer, zero biases, each residual branch's last conv
    scaled by ``residual_scale`` and the logit layers (``output_layers()``; behind a ReLU,
    only the last one) by ``output_scale``.

    Why: PyTorch's default init shrinks the signal ~6x per layer, and large first logits can
    kill the transport behind its fusion ReLU (docs/notes/weight-init.md).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (ConvBlock, IdentityBlock)):
                m.conv3.weight.mul_(residual_scale)
        for layer in _outermost_output_layers(module):
            layer.weight.mul_(output_scale)


def _outermost_output_layers(module: nn.Module) -> list[nn.Module]:
    """``output_layers()`` of the outermost modules that define it (a two-stream FCN names
    its fusion conv, not its streams' heads)."""
    if hasattr(module, "output_layers"):
        return list(module.output_layers())
    return [layer for child in module.children() for layer in _outermost_output_layers(child)]


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class SubsampledConv1x1(nn.Conv2d):
    """``nn.Conv2d(cin, cout, 1, stride=s)`` computed as a stride-1 1x1 convolution of
    ``x[:, :, ::s, ::s]``: the same positions, the same numbers (to float rounding),
    the same parameters and state-dict keys.

    Why: oneDNN's AVX-512 1x1 backward-weights kernel corrupts the heap for a strided 1x1
    convolution of a channels-last input with few channels (docs/notes/cpu-isa.md).
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, bias: bool = False) -> None:
        super().__init__(cin, cout, 1, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sh, sw = self.stride
        if (sh, sw) != (1, 1):
            x = x[:, :, ::sh, ::sw]
        return F.conv2d(x, self.weight, self.bias)


class ConvBlock(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck with a 1x1 projection shortcut.

    The ReLUs here and in the decoders work in place: each one's input is a fresh
    convolution, sum or concatenation whose backward does not need it, and a full-resolution
    activation not allocated is one less pass over memory (a paper-size act 8.9 s instead of
    9.8 s, medians of 3 alternated; tiny 0.91 s instead of 0.95 s).
    """

    def __init__(self, cin: int, filters: tuple[int, int, int], stride: int = 1,
                 final_relu: bool = True) -> None:
        super().__init__()
        f1, f2, f3 = filters
        self.conv1 = nn.Conv2d(cin, f1, 1, bias=False)
        self.conv2 = nn.Conv2d(f1, f2, 3, stride=stride, padding=1, bias=False)
        self.conv3 = nn.Conv2d(f2, f3, 1, bias=False)
        self.shortcut = SubsampledConv1x1(cin, f3, stride)
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(F.relu_(self.conv2(F.relu_(self.conv1(x)))))
        out = out + self.shortcut(x)
        return F.relu_(out) if self.final_relu else out


class IdentityBlock(nn.Module):
    """The same bottleneck with an identity shortcut (``filters[2] == cin``)."""

    def __init__(self, cin: int, filters: tuple[int, int, int], final_relu: bool = True) -> None:
        super().__init__()
        f1, f2, f3 = filters
        if f3 != cin:
            raise ValueError(f"IdentityBlock needs filters[2] == cin ({f3} != {cin})")
        self.conv1 = nn.Conv2d(cin, f1, 1, bias=False)
        self.conv2 = nn.Conv2d(f1, f2, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(f2, f3, 1, bias=False)
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(F.relu_(self.conv2(F.relu_(self.conv1(x))))) + x
        return F.relu_(out) if self.final_relu else out


def _stage(cin: int, c: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(ConvBlock(cin, (c, c, c), stride), IdentityBlock(c, (c, c, c)))


def _head(cin: int, inner: int, out: int) -> nn.Sequential:
    return nn.Sequential(ConvBlock(cin, (inner, inner, out), final_relu=False),
                         IdentityBlock(out, (inner, inner, out), final_relu=False))


class ResNet43_8s(nn.Module):  # noqa: N801 - the reference's name
    """Encoder to 1/8 resolution and back; ``[B, cin, H, W] -> [B, out, H, W]``."""

    def __init__(self, cin: int, out: int, width: int = 64) -> None:
        super().__init__()
        w = width
        self.stem = nn.Conv2d(cin, w, 3, padding=1)
        self.encoder = nn.Sequential(_stage(w, w), _stage(w, 2 * w, 2), _stage(2 * w, 4 * w, 2),
                                     _stage(4 * w, 8 * w, 2))
        self.dec1 = _stage(8 * w, 4 * w)
        self.dec2 = _stage(4 * w, 2 * w)
        self.dec3 = _stage(2 * w, w)
        self.head = _head(w, max(w // 4, 1), out)

    def output_layers(self) -> list[nn.Module]:
        return [self.head[0].conv3, self.head[0].shortcut, self.head[1].conv3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(F.relu_(self.stem(x)))
        x = _up2(self.dec1(x))
        x = _up2(self.dec2(x))
        x = _up2(self.dec3(x))
        with full_precision(x):  # the logits
            return self.head(x.float())


class ResNet45_10s(nn.Module):  # noqa: N801 - the reference's name
    """Encoder to 1/16, decoder to 2x, head, resize back; also the six lateral maps.

    ``forward`` returns ``(out [B, out, H, W], [16w@/16, 8w@/8, 4w@/4, 2w@/2, w@/1,
    w/2@x2])``: the inputs of decoder layers 6-10 and of the head. ``x2=False`` leaves out
    the last up-sampling: the head and the last lateral map at the input's resolution
    (a quarter of their pixels).
    """

    def __init__(self, cin: int, out: int, width: int = 64, x2: bool = True) -> None:
        super().__init__()
        w = width
        self.x2 = x2
        self.stem = nn.Conv2d(cin, w, 3, padding=1)
        self.encoder = nn.Sequential(_stage(w, w), _stage(w, 2 * w, 2), _stage(2 * w, 4 * w, 2),
                                     _stage(4 * w, 8 * w, 2), _stage(8 * w, 16 * w, 2))
        self.decoder = nn.ModuleList([_stage(16 * w, 8 * w), _stage(8 * w, 4 * w),
                                      _stage(4 * w, 2 * w), _stage(2 * w, w),
                                      _stage(w, w // 2)])
        self.head = _head(w // 2, max(w // 4, 1), out)

    def output_layers(self) -> list[nn.Module]:
        return [self.head[0].conv3, self.head[0].shortcut, self.head[1].conv3]

    @staticmethod
    def lateral_channels(width: int) -> tuple[int, ...]:
        return (16 * width, 8 * width, 4 * width, 2 * width, width, width // 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        size = x.shape[-2:]
        x = self.encoder(F.relu_(self.stem(x)))
        lateral = []
        for i, layer in enumerate(self.decoder):
            lateral.append(x)
            x = layer(x)
            x = _up2(x) if self.x2 or i < len(self.decoder) - 1 else x
        lateral.append(x)
        with full_precision(x):  # the logits
            x = self.head(x.float())
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False), lateral
