"""The reference-style act / training step (bench/reference_policy.py) against ours.

Equal weights must give equal outputs: pick logits, transport logits in the exact
``conv_valid`` mode, decisions and training gradients. The reference's ``conv_resize``
correlation is shown to be a position-dependent sub-pixel shift of the exact one.

Tolerances. Logits are compared *relative to their scale* (``max |a - b| <= 1e-4 max |b|``):
a softmax over 36 x H x W entries puts ~1e-5 on each cell, so an absolute tolerance on
probabilities would pass almost anything, while logits are O(1) and reach ~10^2 in the
hand-made correlations; the probability maps are then compared relative to their own peak.

Model tests use the tiny config; the transport ones a 96 x 64 image (the code is generic in
H x W, the benchmark checks the paper's 320 x 160) to keep the direct ``conv2d`` at 36 x 3 x
65 x 65 kernels, which is what the reference pays, to a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cliport_policy.agents import image_tensor, make_agent, trainable_parameters
from cliport_policy.config import load_policy_config
from cliport_policy.models.rotation import rotated_crops
from cliport_policy.models.transport import fft_correlate


def _load_reference():
    """bench/reference_policy.py, imported by path (bench/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "reference_policy.py"
    spec = importlib.util.spec_from_file_location("reference_policy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_reference = _load_reference()
ReferenceAgent = _reference.ReferenceAgent
correlate = _reference.correlate
one_hot_ce = _reference.one_hot_ce
whole_image_crops = _reference.whole_image_crops

INSTRUCTION = "put the red block in the blue bowl"
REL = 1e-4


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def smooth_image(h: int, w: int, seed: int, scale: int = 8) -> torch.Tensor:
    """[1, 6, h, w] in [0, 1]: low-resolution noise upsampled bilinearly (|gradient| <~ 1/8),
    faded to zero over the outer 8 pixels (no step at the border to the zero padding)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 6, h // scale + 1, w // scale + 1, generator=g)
    img = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    ramp_h = (torch.minimum(torch.arange(h), torch.arange(h).flip(0)).float() / 8).clamp(max=1)
    ramp_w = (torch.minimum(torch.arange(w), torch.arange(w).flip(0)).float() / 8).clamp(max=1)
    return img * ramp_h[:, None] * ramp_w[None, :]


def scene(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A colormap (uint8) with a few coloured blocks on a grey table and its heightmap."""
    rng = np.random.default_rng(seed)
    color = np.full((h, w, 3), 90, np.uint8)
    height = np.zeros((h, w), np.float32)
    for _ in range(4):
        r, c = rng.integers(4, h - 14), rng.integers(4, w - 14)
        color[r:r + 10, c:c + 10] = rng.integers(0, 256, 3)
        height[r:r + 10, c:c + 10] = rng.uniform(0.02, 0.06)
    color = np.clip(color + rng.normal(0, 4, color.shape), 0, 255).astype(np.uint8)
    return color, height


def reference_model(model):
    """The reference always pads the pick input to a square: ours must too to compare."""
    if "pick_pad_square" in {f.name for f in dataclasses.fields(model)}:
        return dataclasses.replace(model, pick_pad_square=True)
    return model


@pytest.fixture(scope="module")
def agent():
    model = reference_model(load_policy_config("tiny").model)
    torch.manual_seed(0)
    return make_agent(model)


# -------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("pick", [(0, 0), (160, 80), (319, 159), (7, 152), (250, 2)])
def test_whole_image_rotation_crop_equals_rotated_crops(pick):
    """36 whole padded copies rotated about the pick, then cropped == our crop-then-rotate.

    Both sample the same source coordinates, rounded in float32 at different absolute
    offsets (pivot at ~47 in our window, up to ~383 in the padded image: up to ~7e-5 px
    apart), so values agree to 1e-5 on a smooth image (|gradient| <= 1/8 per pixel) and to
    1e-4 on white noise in [0, 1] with its unit steps to the zero padding."""
    degrees = torch.arange(36, dtype=torch.float32) * 10.0
    img = smooth_image(320, 160, seed=1)
    ours = rotated_crops(img, torch.tensor([pick]), degrees, 64)
    ref = whole_image_crops(img, pick, 36, 64)
    assert ref.shape == ours.shape == (36, 6, 64, 64)
    assert float((ref - ours).abs().max()) < 1e-5
    noise = torch.rand(1, 6, 320, 160, generator=torch.Generator().manual_seed(11))
    ours = rotated_crops(noise, torch.tensor([pick]), degrees, 64)
    ref = whole_image_crops(noise, pick, 36, 64)
    assert float((ref - ours).abs().max()) < 1e-4
    # rotation 0 is a copy (up to the pixel <-> grid round trip, ~1e-5), pivot at index 32
    u, v = pick
    raw = F.pad(noise, [32] * 4)[0, :, u:u + 64, v:v + 64]
    assert float((ref[0] - raw).abs().max()) < 2e-5
    assert float((ref[0, :, 32, 32] - noise[0, :, u, v]).abs().max()) < 2e-5


@pytest.mark.parametrize("pick", [(0, 0), (100, 50), (319, 159), (200, 7)])
def test_self_crop_correlation_peaks_at_crop_centre(pick):
    """Correlating a feature map with its own 64 x 64 crop at rotation 0 peaks exactly at
    the crop centre (docs/design.md#transport-alignment)."""
    g = torch.Generator().manual_seed(2)
    feat = torch.randn(1, 3, 320, 160, generator=g)  # zero-mean 'identity-ish' features
    crop = rotated_crops(feat, torch.tensor([pick]), torch.zeros(1), 64)  # [1, 3, 64, 64]
    logits = fft_correlate(F.pad(feat, [32] * 4), crop[None], (320, 160))[0, 0]
    assert divmod(int(logits.argmax()), 160) == pick


# ------------------------------------------------------------------------ correlation
def test_conv_valid_equals_fft_correlate():
    g = torch.Generator().manual_seed(3)
    key = torch.randn(1, 3, 160, 128, generator=g)
    kernels = torch.randn(36, 3, 64, 64, generator=g)
    exact = fft_correlate(key, kernels[None], (96, 64))
    valid = correlate(key, kernels, "conv_valid")
    assert valid.shape == exact.shape == (1, 36, 96, 64)
    assert rel_err(valid, exact) < 1e-5


def _resize_model(exact_ext: torch.Tensor, hp: int, wp: int, p: int) -> torch.Tensor:
    """What conv_resize computes: output (u, v) is the exact correlation bilinearly sampled at
    (u + du, v + dv), du = (u + p + 0.5) / Hp, dv = (v + p + 0.5) / Wp."""
    h, w = hp - 2 * p, wp - 2 * p
    u = torch.arange(h, dtype=torch.float32)
    v = torch.arange(w, dtype=torch.float32)
    su, sv = u + (u + p + 0.5) / hp, v + (v + p + 0.5) / wp
    yy, xx = torch.meshgrid(su, sv, indexing="ij")
    n, k, eh, ew = exact_ext.shape
    grid = torch.stack([(2 * xx + 1) / ew - 1, (2 * yy + 1) / eh - 1], dim=-1)[None]
    return F.grid_sample(exact_ext.reshape(1, n * k, eh, ew), grid.expand(1, h, w, 2),
                         mode="bilinear", align_corners=False).reshape(n, k, h, w)


PEAKS = {(20, 15): (0, 0), (44, 29): (0, 0), (90, 60): (-1, -1), (30, 58): (0, -1)}


@pytest.fixture(scope="module")
def peaked():
    """A 96 x 64 noise map padded by 32 and, as kernels, its own crops centred on PEAKS:
    one direct conv2d for all of them (its 64 x 64 im2col is the expensive part)."""
    g = torch.Generator().manual_seed(5)
    key = F.pad(torch.randn(1, 3, 96, 64, generator=g), [32] * 4)
    kernels = torch.cat([key[:, :, u:u + 64, v:v + 64] for u, v in PEAKS])
    return key, kernels, correlate(key, kernels, "conv_resize")


def test_conv_resize_is_a_subpixel_shift_of_the_exact_correlation(peaked):
    key, kernels, resized = peaked
    exact = fft_correlate(key, kernels[None], (96, 64))
    assert resized.shape == exact.shape == (1, len(PEAKS), 96, 64)
    assert rel_err(resized, exact) > 0.1  # not the exact correlation ...
    exact_ext = fft_correlate(key, kernels[None], (97, 65))
    # ... but the exact one shifted by (u + 32.5) / 160 rows, (v + 32.5) / 128 columns
    assert rel_err(resized, _resize_model(exact_ext, 160, 128, 32)) < 1e-4


def test_conv_resize_argmax_on_a_peaked_case(peaked):
    """Same argmax as the exact correlation for a sharp peak where the shift is < 0.5 px,
    i.e. in the upper-left quarter of the map (u < H / 2, v < W / 2; 160 x 80 of a 320 x 160
    map); beyond, the reference's argmax is one cell up / left of the true match."""
    key, kernels, resized = peaked
    exact = fft_correlate(key, kernels[None], (96, 64))[0]
    for i, ((u, v), (du, dv)) in enumerate(PEAKS.items()):
        assert divmod(int(exact[i].argmax()), 64) == (u, v)
        assert divmod(int(resized[0, i].argmax()), 64) == (u + du, v + dv)


# ------------------------------------------------------------------------------ models
def test_pick_logits_agree(agent):
    color, height = scene(320, 160, seed=6)
    img = image_tensor(color, height)[None]
    with torch.inference_mode():
        ours = agent.attention(img, agent.text_features([INSTRUCTION]))
    ref = ReferenceAgent(agent, "conv_valid").pick_logits(img, INSTRUCTION)
    assert ref.requires_grad  # autograd left on, as the reference
    assert ref.shape == ours.shape == (1, 1, 320, 160)
    assert rel_err(ref.detach(), ours) < REL


def test_text_is_encoded_without_the_cache(agent):
    agent.clip.clear_text_cache()
    ref = ReferenceAgent(agent)
    g = ref.encode_text(INSTRUCTION)
    assert INSTRUCTION not in agent.clip._text_cache
    assert torch.allclose(g[0], agent.text_features([INSTRUCTION])[0], atol=1e-6)


def test_transport_logits_agree_conv_valid(agent):
    color, height = scene(96, 64, seed=7)
    img = image_tensor(color, height)[None]
    pick = (40, 25)
    with torch.inference_mode():
        ours = agent.transport(img, torch.tensor([pick]), agent.text_features([INSTRUCTION]))
    ref = ReferenceAgent(agent, "conv_valid")
    exact = ref.place_logits(img, pick, INSTRUCTION).detach()
    assert exact.shape == ours.shape == (1, 36, 96, 64)
    assert rel_err(exact, ours) < REL
    # a relative probability error is ~ the absolute logit error
    p_ref, p_ours = (F.softmax(x.reshape(-1), 0) for x in (exact, ours))
    assert rel_err(p_ref, p_ours) < REL * max(1.0, float(ours.abs().max()))
    resized = ReferenceAgent(agent, "conv_resize").place_logits(img, pick, INSTRUCTION)
    assert rel_err(resized.detach(), ours) > 10 * REL  # the reference's shift is visible


def test_act_decisions_agree(agent):
    color, height = scene(96, 64, seed=8)
    ours = agent.act(color, height, INSTRUCTION)
    ref, pick_prob, place_prob = ReferenceAgent(agent, "conv_valid").act_maps(
        color, height, INSTRUCTION)
    assert ref.pick == ours.pick and ref.place == ours.place
    assert pick_prob.shape == (1, 96, 64) and place_prob.shape == (36, 96, 64)
    assert abs(ref.pick_score - ours.pick_score) <= REL * ours.pick_score
    assert abs(ref.place_score - ours.place_score) <= REL * ours.place_score
    assert np.abs(ref.pick_heatmap - ours.pick_heatmap).max() <= REL * ours.pick_heatmap.max()
    assert np.abs(ref.place_heatmap - ours.place_heatmap).max() <= REL * ours.place_heatmap.max()


def test_one_hot_ce_equals_ours():
    g = torch.Generator().manual_seed(9)
    logits = torch.randn(1, 36, 20, 12, generator=g)
    ref = one_hot_ce(logits, (13, 4), 7)
    target = torch.tensor([7 * 240 + 13 * 12 + 4])
    assert torch.allclose(ref, F.cross_entropy(logits.reshape(1, -1), target), atol=1e-5)


def test_train_step_gradients_equal_ours(agent):
    """One batch-1 reference step (conv_valid) has our losses and our gradients."""
    other, mine = (make_agent(agent.config, clip=agent.clip) for _ in range(2))
    other.load_state_dict(agent.state_dict())
    mine.load_state_dict(agent.state_dict())  # the module fixture stays untouched
    color, height = scene(64, 64, seed=10)
    img = image_tensor(color, height)[None]
    pick, place, pick_rot, place_rot = (30, 20), (50, 40), 0, 11
    other.train()
    lp, lq = other.losses(img, [INSTRUCTION], torch.tensor([pick]), torch.tensor([place]),
                          torch.tensor([pick_rot]), torch.tensor([place_rot]))
    (lp + lq).backward()
    ref = ReferenceAgent(mine, "conv_valid")
    before = [p.detach().clone() for p in trainable_parameters(mine)[1][:3]]
    rp, rq = ref.train_step(img, INSTRUCTION, pick, place, pick_rot, place_rot)
    assert rp == pytest.approx(float(lp.detach()), rel=1e-5)
    assert rq == pytest.approx(float(lq.detach()), rel=1e-5)
    for ours_params, ref_params in zip(trainable_parameters(other), trainable_parameters(mine),
                                       strict=True):
        g_ours = torch.cat([p.grad.reshape(-1) for p in ours_params])
        g_ref = torch.cat([p.grad.reshape(-1) for p in ref_params])
        assert rel_err(g_ref, g_ours) < 1e-3
    after = trainable_parameters(mine)[1][:3]
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))  # stepped
