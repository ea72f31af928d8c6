"""Shapes and exactness of the networks (random weights)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cliport_policy.models.attention import Attention
from cliport_policy.models.lingunet import CLIPLingUNetLat
from cliport_policy.models.resnet import (
    ResNet43_8s,
    ResNet45_10s,
    SubsampledConv1x1,
    init_weights,
)
from cliport_policy.models.rotation import rotate, rotated_crops
from cliport_policy.models.streams import strided
from cliport_policy.models.transport import Transport, fft_correlate


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_size_parameter_counts():
    # docs/design.md#runtime-facts: ResNet43_8s ~9.8M, ResNet45_10s ~39.5M trainable parameters
    assert abs(n_params(ResNet43_8s(6, 1)) / 1e6 - 9.8) < 0.1
    assert abs(n_params(ResNet45_10s(6, 1)) / 1e6 - 39.5) < 0.1
    # the decoder at RN50 widths: ~52.9M
    dec = CLIPLingUNetLat((256, 512, 1024, 2048), 1024, 1, ResNet45_10s.lateral_channels(64))
    assert abs(n_params(dec) / 1e6 - 52.9) < 1.5


@pytest.mark.parametrize("shape", [(320, 320), (384, 224), (64, 64)])
def test_resnets_keep_the_input_size(shape):
    x = torch.randn(2, 6, *shape)
    assert ResNet43_8s(6, 3, width=8)(x).shape == (2, 3, *shape)
    out, lat = ResNet45_10s(6, 3, width=8)(x)
    assert out.shape == (2, 3, *shape)
    h, w = shape
    expect = [(128, h // 16), (64, h // 8), (32, h // 4), (16, h // 2), (8, h), (4, 2 * h)]
    assert [(t.shape[1], t.shape[2]) for t in lat] == expect


@pytest.mark.parametrize("cin,cout", [(8, 16), (4, 8), (16, 32)])
def test_subsampled_1x1_conv_is_a_strided_1x1_conv_and_trains(cin, cout):
    """Same numbers as nn.Conv2d(cin, cout, 1, stride=2); its backward on a channels-last
    input is the case oneDNN's AVX-512 kernel crashed on (8 -> 16, stride 2).

    Equal to float rounding, not bit for bit: the two calls may take different oneDNN
    kernels, whose sums run in different orders (1 ulp apart for 4 -> 8 with AVX-512 kernels)."""
    torch.manual_seed(0)
    sub = SubsampledConv1x1(cin, cout, stride=2).to(memory_format=torch.channels_last)
    plain = torch.nn.Conv2d(cin, cout, 1, stride=2, bias=False)
    assert sub.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(sub.state_dict())
    x = torch.rand(2, cin, 321, 160).to(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(sub(x), plain(x.contiguous()), rtol=1e-6, atol=1e-6)
    for _ in range(3):
        sub(x.requires_grad_()).square().sum().backward()
    ref = x.detach().contiguous()[:, :, ::2, ::2]
    expected = torch.einsum("nchw,nkhw->kc", ref, 2 * plain(x.detach().contiguous()))
    assert torch.allclose(sub.weight.grad[:, :, 0, 0], 3 * expected, rtol=1e-4)


@pytest.mark.parametrize("fusion", ["mult", "add", "film"])
def test_lingunet_output_and_language_dependence(tiny_agent, fusion):
    clip = tiny_agent.clip
    dec = CLIPLingUNetLat(clip.channels, clip.text_dim, 3, ResNet45_10s.lateral_channels(8),
                          fusion)
    init_weights(dec)  # as the agent builds it
    x = torch.rand(1, 6, 320, 320) * 255
    _, lat = ResNet45_10s(6, 3, 8)(x)
    feats = clip.image_features(x[:, :3])
    g = clip.encode_text(["put the red blocks in a blue bowl", "put the green blocks in a "
                          "yellow bowl"])
    out = dec([f.expand(2, -1, -1, -1) for f in feats], g, [t.expand(2, -1, -1, -1) for t in lat],
              (320, 320))
    assert out.shape == (2, 3, 320, 320)
    assert not torch.allclose(out[0], out[1])  # the sentence changes the map


def test_attention_shapes_and_rotations(tiny_agent):
    img = torch.rand(2, 6, 320, 160) * 255
    g = tiny_agent.text_features(["a", "b"])
    fcn = tiny_agent.attention.fcn
    assert Attention(fcn, 1)(img, g).shape == (2, 1, 320, 160)
    assert Attention(fcn, 4)(img, g).shape == (2, 4, 320, 160)


def test_rotate_by_90_degrees_is_exact_and_counter_clockwise():
    img = torch.arange(25.0).view(1, 1, 5, 5)
    out = rotate(img, torch.tensor([90.0]))
    # counter-clockwise as displayed: the right column becomes the top row
    assert torch.allclose(out[0, 0], torch.rot90(img[0, 0], 1, (0, 1)), atol=1e-4)
    assert torch.allclose(rotate(img, torch.tensor([0.0])), img, atol=1e-5)


def test_rotated_crops_follow_the_convention():
    img = torch.randn(1, 2, 120, 100)
    pivot = torch.tensor([[60, 40]])
    crops = rotated_crops(img, pivot, torch.tensor([0.0, 90.0]), 16)
    assert crops.shape == (2, 2, 16, 16)
    assert torch.allclose(crops[0], img[0, :, 52:68, 32:48], atol=1e-5)
    # bin at +90 deg: crop[8 + dy, 8 + dx] = img[py + dx, px - dy]
    for dy in range(-8, 8):
        for dx in range(-8, 8):
            assert torch.allclose(crops[1, :, 8 + dy, 8 + dx], img[0, :, 60 + dx, 40 - dy],
                                  atol=1e-4)


def test_crops_off_the_image_read_zeros():
    img = torch.ones(1, 1, 40, 40)
    crop = rotated_crops(img, torch.tensor([[0, 0]]), torch.tensor([0.0]), 8)[0, 0]
    assert crop[4:, 4:].min() == 1 and crop[:4].max() == 0 and crop[:, :4].max() == 0


def test_fft_correlation_equals_a_valid_convolution():
    torch.manual_seed(0)
    key = torch.randn(2, 3, 40, 30, dtype=torch.float64)
    kernels = torch.randn(2, 4, 3, 8, 8, dtype=torch.float64)
    out = fft_correlate(key.float(), kernels.float(), (32, 22))
    ref = torch.stack([F.conv2d(key[b:b + 1], kernels[b])[0, :, :32, :22] for b in range(2)])
    assert out.shape == (2, 4, 32, 22)
    assert (out.double() - ref).abs().max() < 1e-4 * ref.abs().max()
    with pytest.raises(ValueError):
        fft_correlate(key.float(), kernels.float(), (40, 30))


def test_self_correlation_peaks_at_the_crop_centre(tiny_agent):
    # docs/design.md#transport-alignment: an image correlated with its own crop at bin 0 peaks at
    # the crop's centre pixel
    torch.manual_seed(1)
    h, w, c = 96, 64, 16
    feat = torch.randn(1, 3, h, w)
    pad = c // 2
    key = F.pad(feat, [pad] * 4)
    for u, v in [(40, 30), (10, 5), (90, 60)]:
        crop = rotated_crops(feat, torch.tensor([[u, v]]), torch.tensor([0.0]), c)
        out = fft_correlate(key, crop.view(1, 1, 3, c, c), (h, w))[0, 0]
        assert divmod(int(out.argmax()), w) == (u, v)


def test_transport_shapes(tiny_agent):
    img = torch.rand(2, 6, 320, 160) * 255
    g = tiny_agent.text_features(["a", "b"])
    with torch.no_grad():
        out = tiny_agent.transport(img, torch.tensor([[10, 10], [300, 150]]), g)
    assert out.shape == (2, 36, 320, 160)
    assert torch.isfinite(out).all()
    assert math.isclose(tiny_agent.transport.angles("cpu")[1].item(), 10.0)


def test_a_decoder_width_apart_from_clip_and_no_2x_stage_keep_the_map_size(tiny_agent):
    """decoder_width: the Up stages 32 -> 16 -> 8 wide instead of CLIP's 128 -> 64 -> 32
    (a fifth of the decoder's weights); decoder_2x false: both streams end at the input's
    resolution. The map keeps the input size and still depends on the sentence."""
    clip = tiny_agent.clip
    x = torch.rand(1, 6, 96, 64) * 255
    out, lat = ResNet45_10s(6, 3, 8, x2=False)(x)
    assert out.shape == (1, 3, 96, 64) and lat[-1].shape[-2:] == (96, 64)
    wide = CLIPLingUNetLat(clip.channels, clip.text_dim, 3, ResNet45_10s.lateral_channels(8))
    dec = CLIPLingUNetLat(clip.channels, clip.text_dim, 3, ResNet45_10s.lateral_channels(8),
                          width=32, x2=False)
    init_weights(dec)
    assert n_params(dec) < n_params(wide) / 5
    g = clip.encode_text(["put the red block in the blue bowl", "put the green block in the "
                          "yellow bowl"])
    feats = [f.expand(2, -1, -1, -1) for f in clip.image_features(x[:, :3])]
    maps = dec(feats, g, [t.expand(2, -1, -1, -1) for t in lat], (96, 64))
    assert maps.shape == (2, 3, 96, 64)
    assert not torch.allclose(maps[0], maps[1])
    with pytest.raises(ValueError):
        CLIPLingUNetLat(clip.channels, clip.text_dim, 3, None, width=6)


def test_a_strided_fcn_keeps_cell_centres_aligned():
    """An FCN run on 2 x 2 cell averages, its map resized back: a linear ramp comes back
    unshifted away from the border (the average and the resize agree on cell centres)."""
    rows, cols = torch.meshgrid(torch.arange(48.0), torch.arange(32.0), indexing="ij")
    img = (2 * rows + 3 * cols).expand(1, 6, 48, 32)
    out = strided(lambda x, g: x[:, :1], img, None, 2)
    assert out.shape == (1, 1, 48, 32)
    torch.testing.assert_close(out[0, 0, 1:-1, 1:-1], img[0, 0, 1:-1, 1:-1])
    assert strided(lambda x, g: x, img, None, 1) is img


class _Pointwise(torch.nn.Module):
    """A linear per-cell map: rotating before or after it is the same."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(6, 3, 1, bias=False)

    def forward(self, x: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        return self.conv(x)


def test_query_rotation_features_rotates_the_map_instead_of_the_crops():
    """query_rotation features (one pass on a window, its map's crops rotated) gives the
    kernels of image (each rotated crop through the query) for a query that commutes with
    rotation, near the border too; the logits keep the heightmap's grid."""
    torch.manual_seed(0)
    query, key = _Pointwise(), _Pointwise()
    img = torch.rand(2, 6, 64, 48) * 255
    pick = torch.tensor([[30, 20], [2, 45]])
    by_image = Transport(key, query, 6, 16, query_rotation="image")
    by_map = Transport(key, query, 6, 16, key_stride=2, query_rotation="features")
    with torch.no_grad():
        torch.testing.assert_close(by_map.query_kernels(img, pick, None),
                                   by_image.query_kernels(img, pick, None),
                                   rtol=1e-4, atol=1e-3)
        assert by_map(img, pick, None).shape == (2, 6, 64, 48)
    with pytest.raises(ValueError):
        Transport(key, query, 6, 16, query_rotation="crops")


def test_key_pad_features_pads_the_map_instead_of_the_image():
    """key_pad features (the key's FCN on the unpadded image, its map zero-padded) gives the
    logits of image for a key whose map of zeros is zero, and refuses unknown values."""
    torch.manual_seed(0)
    query, key = _Pointwise(), _Pointwise()
    img = torch.rand(2, 6, 64, 48) * 255
    pick = torch.tensor([[30, 20], [2, 45]])
    by_image = Transport(key, query, 6, 16, query_rotation="features")
    by_map = Transport(key, query, 6, 16, query_rotation="features", key_pad="features")
    with torch.no_grad():
        assert by_map.key_features(img, None).shape == (2, 3, 64 + 16, 48 + 16)
        torch.testing.assert_close(by_map(img, pick, None), by_image(img, pick, None),
                                   rtol=1e-4, atol=1e-2)
    with pytest.raises(ValueError):
        Transport(key, query, 6, 16, key_pad="zeros")


def test_a_strided_pick_keeps_the_heightmap_grid(tiny_agent):
    img = torch.rand(2, 6, 320, 160) * 255
    g = tiny_agent.text_features(["a", "b"])
    fcn = tiny_agent.attention.fcn
    with torch.no_grad():
        assert Attention(fcn, 1, stride=2)(img, g).shape == (2, 1, 320, 160)
        assert Attention(fcn, 2, stride=2)(img, g).shape == (2, 2, 320, 160)


@pytest.mark.parametrize("field,value", [("decoder_width", 6), ("decoder_width", -4),
                                         ("key_stride", 0), ("pick_stride", 0),
                                         ("query_rotation", "crops"), ("key_pad", "zeros")])
def test_the_cpu_options_refuse_values_the_models_cannot_build(field, value):
    from cliport_policy.config import ConfigError, ModelConfig

    with pytest.raises(ConfigError, match=f"model.{field} must be"):
        ModelConfig(**{field: value})
