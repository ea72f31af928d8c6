"""A reference-style CLIPort ``act()`` and training step, built around *our* FCN modules.

Why this exists: **benchmarks and equivalence tests only** (``bench/bench_policy_act.py``,
``bench/bench_policy_train.py``, ``tests/test_reference_policy.py``), so it lives in ``bench/``
and not in the runtime package. It re-expresses how the original CLIPort code computes an
action (docs/design.md#attention, docs/design.md#transport-crop, docs/design.md#loss) while calling
the very same pick / key / query FCNs of an :class:`~cliport_policy.agents.Agent`, so with equal
weights both implementations must give the same decisions, and the benchmark compares *how* the work
is done, not what is computed.

What it does the reference's way (docs/design.md#departures), on purpose:

* **Batch size 1**, the numpy image converted and padded per stream; the pick input always
  padded to a square (ours can skip that for one pick rotation, ``pick_pad_square: false``;
  compare against an agent with it true).
* **The sentence encoded three times** (pick, key, query) by CLIP's tokenizer and text
  tower, with no cache (the :class:`~cliport_policy.clip_encoder.FrozenCLIP` cache is
  bypassed).
* **Whole-image rotation for the place crops**: the raw image is padded by ``crop/2``, copied
  ``k = 36`` times, every *whole* padded copy is rotated about the pick pixel and only then is
  a ``crop x crop`` window cut out. Same rotation convention as
  :mod:`cliport_policy.models.rotation` (destination offset ``d = (dx, dy) = (col, row)``
  samples the source at ``pivot + R(-a) d``; bilinear, zeros outside; pixel-centre
  ``grid_sample`` normalisation), so the crops equal ``rotated_crops`` up to float error.
* **Correlation by** ``F.conv2d``, in one of two modes (:data:`CORRELATIONS`):

  - ``conv_resize`` (CLIPort's; the reference's sub-pixel bug, docs/design.md#transport-alignment):
    ``conv2d(key, kernels, padding=crop/2)`` gives ``(Hp + 1) x (Wp + 1)``, which is resized
    bilinearly to ``Hp x Wp`` and cropped by ``crop/2`` on every border. Output row ``u``
    then reads conv row ``u + crop/2 + delta_u`` with ``delta_u = (u + crop/2 + 0.5) / Hp``
    (0.08 px at the top to 0.92 px at the bottom of a 320-row map; the same along columns):
    a position-dependent shift and blur. For a sharp peak in the lower or right half
    (``delta > 0.5``) the argmax moves by one cell.
  - ``conv_valid`` (Ravens'): the kernels zero-padded to ``(crop + 1) x (crop + 1)`` with one
    extra zero row and column at the end, then a valid ``conv2d``: exactly ``H x W``, equal to
    :func:`~cliport_policy.models.transport.fft_correlate`. Used for equality checks.

* **Autograd left on at inference**: no ``no_grad`` / ``inference_mode`` around the act
  path (the frozen CLIP runs without gradients, as in the reference), so every activation
  is kept for a graph nobody uses. Module modes are not changed either (the reference never
  calls ``eval()`` at evaluation; with ``decoder_batchnorm: false`` no layer depends on it).
* **Training at batch 1**: the cross-entropy is built the reference's way, as a one-hot label
  volume times ``log_softmax`` over all (rotation, row, column) — the same value as
  ``agents._ce`` (the true CE and our ``[k, H, W]`` label layout, *not* the reference's
  division by ``H W k`` nor its ``(k, H, W)``-vs-``(H, W, k)`` pick label bug,
  docs/design.md#pick-loss-layout); pick and place are each backpropagated and stepped by their own
  Adam.

What it does *not* reproduce, because it would change the computed values or the weights: the
three fp16 CLIP copies (one shared fp32 FrozenCLIP is used; fp16 convolutions are also ~3x
slower on CPU) and CLIP's BatchNorm drift (docs/design.md#clip-eval-mode). For a fair timing the
conv2d can run with oneDNN disabled (``fast_conv=True``, the default; its reference loop for 64 x 64
kernels takes ~50 s per call on these CPUs, docs/design.md#cpu-correlation) in the forward pass; its
backward keeps oneDNN, faster there (see :func:`conv2d`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from cliport_policy.agents import Agent, AgentOutput, trainable_parameters

CORRELATIONS = ("conv_resize", "conv_valid")


# ------------------------------------------------------------------------------- geometry
def pixel_grid(x: torch.Tensor, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel coordinates (centres at integers) -> ``grid_sample`` grid, align_corners=False."""
    return torch.stack([(2 * x + 1) / w - 1, (2 * y + 1) / h - 1], dim=-1)


def rotate_about(img: torch.Tensor, pivot: tuple[float, float], degrees: torch.Tensor
                 ) -> torch.Tensor:
    """Rotate every whole image ``img`` [N, C, H, W] by ``degrees`` [N] about ``pivot``
    (row, column): destination ``pivot + d`` samples the source at ``pivot + R(-a) d``."""
    n, _, h, w = img.shape
    py, px = float(pivot[0]), float(pivot[1])
    a = degrees.to(torch.float32).view(n, 1, 1) * (math.pi / 180.0)
    rows = torch.arange(h, device=img.device, dtype=torch.float32) - py
    cols = torch.arange(w, device=img.device, dtype=torch.float32) - px
    dy, dx = torch.meshgrid(rows, cols, indexing="ij")
    cos, sin = torch.cos(a), torch.sin(a)
    sx = px + cos * dx - sin * dy
    sy = py + sin * dx + cos * dy
    grid = pixel_grid(sx, sy, h, w).to(img.dtype)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def whole_image_crops(img: torch.Tensor, pick: tuple[int, int], n_rotations: int,
                      crop: int) -> torch.Tensor:
    """The reference's place crops: pad ``img`` [1, C, H, W] by ``crop/2``, make
    ``n_rotations`` copies of the whole padded image, rotate copy ``i`` by ``+360 i / k``
    degrees about the pick pixel, cut rows ``[u, u + crop)`` and columns ``[v, v + crop)``
    (the pivot lands on crop index ``crop // 2``) -> [k, C, crop, crop]."""
    p = crop // 2
    return padded_image_crops(F.pad(img, [p, p, p, p]), pick, n_rotations, crop)


def padded_image_crops(padded: torch.Tensor, pick: tuple[int, int], n_rotations: int,
                       crop: int) -> torch.Tensor:
    """:func:`whole_image_crops` of an image already padded by ``crop/2`` on every side."""
    p = crop // 2
    u, v = int(pick[0]), int(pick[1])
    degrees = torch.arange(n_rotations, device=padded.device, dtype=torch.float32) * (
        360.0 / n_rotations)
    copies = padded.repeat(n_rotations, 1, 1, 1)  # k copies of the whole padded image
    rotated = rotate_about(copies, (u + p, v + p), degrees)
    return rotated[:, :, u:u + crop, v:v + crop]


# ---------------------------------------------------------------------------- correlation
@contextmanager
def onednn_disabled(disable: bool = True) -> Iterator[None]:
    """oneDNN off for convolutions (the flag ``torch.backends.mkldnn.flags(enabled=False)``
    sets, without that context manager's TF32 warning on CPU-only builds)."""
    prev = torch.backends.mkldnn.enabled
    if disable:
        torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = prev


def conv2d(x: torch.Tensor, w: torch.Tensor, padding: int, fast_conv: bool) -> torch.Tensor:
    """``F.conv2d`` on contiguous tensors (the faster layout of the non-oneDNN path here).

    ``fast_conv``: the *forward* runs with oneDNN disabled. The backward (if any) runs later,
    outside this block, with the caller's setting (by default oneDNN on), which is the faster
    one there: at 1 x 3 x 384 x 224 and 36 x 3 x 64 x 64, padding 32, 2 threads, forward 6.7 s
    without oneDNN (~50 s with it, docs/design.md#cpu-correlation), backward 8.9 s with oneDNN
    (vs 14.7 s without)."""
    x, w = x.contiguous(), w.contiguous()
    with onednn_disabled(fast_conv):
        return F.conv2d(x, w, padding=padding)


def correlate(key: torch.Tensor, kernels: torch.Tensor, mode: str = "conv_resize",
              fast_conv: bool = True) -> torch.Tensor:
    """``key`` [1, C, Hp, Wp] (padded by ``c/2``), ``kernels`` [k, C, c, c] -> [1, k, H, W]
    with ``H = Hp - c``, ``W = Wp - c``, by ``F.conv2d`` (see the module docstring)."""
    c = kernels.shape[-1]
    p = c // 2
    hp, wp = key.shape[-2:]
    if mode == "conv_valid":
        return conv2d(key, F.pad(kernels, [0, 1, 0, 1]), 0, fast_conv)
    if mode == "conv_resize":
        out = conv2d(key, kernels, p, fast_conv)  # [1, k, Hp + 1, Wp + 1]
        out = F.interpolate(out, size=(hp, wp), mode="bilinear", align_corners=False)
        return out[:, :, p:hp - p, p:wp - p]
    raise ValueError(f"unknown correlation mode {mode!r}; one of {CORRELATIONS}")


# ---------------------------------------------------------------------------------- agent
def one_hot_ce(logits: torch.Tensor, cell: tuple[int, int], rot: int) -> torch.Tensor:
    """The reference's loss construction: a one-hot (rotation, row, column) label volume,
    ``-sum(label * log_softmax(logits))`` over all entries of ``logits`` [1, k, H, W]."""
    label = torch.zeros_like(logits, dtype=torch.float32)
    label[0, int(rot), int(cell[0]), int(cell[1])] = 1.0
    logp = F.log_softmax(logits.reshape(1, -1).float(), dim=1)
    return -(label.reshape(1, -1) * logp).sum()


def numpy_image(colormap: np.ndarray, heightmap: np.ndarray) -> np.ndarray:
    """[H, W, 3] colour + [H, W] height -> [H, W, 6] float32 (height repeated three times)."""
    height = np.nan_to_num(np.asarray(heightmap, np.float32), nan=0.0, posinf=0.0,
                           neginf=0.0)
    return np.concatenate([np.asarray(colormap, np.float32),
                           np.repeat(height[..., None], 3, axis=-1)], axis=-1)


def _to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device)


def _decision_parts(logits: torch.Tensor) -> tuple[tuple[int, int, int], float, np.ndarray]:
    """The reference's argmax: softmax, to numpy, ``np.argmax`` + ``unravel_index``."""
    _, k, h, w = logits.shape
    prob = F.softmax(logits.reshape(-1).float(), dim=0).reshape(k, h, w)
    prob = prob.detach().cpu().numpy()
    r, u, v = np.unravel_index(int(np.argmax(prob)), prob.shape)
    return (int(u), int(v), int(r)), float(prob[r, u, v]), prob


class ReferenceAgent:
    """Reference-style pick / place / act / training step over ``agent``'s modules."""

    def __init__(self, agent: Agent, correlation: str = "conv_resize",
                 fast_conv: bool = True) -> None:
        if correlation not in CORRELATIONS:
            raise ValueError(f"unknown correlation mode {correlation!r}; one of {CORRELATIONS}")
        self.agent = agent
        self.correlation = correlation
        self.fast_conv = fast_conv
        self.optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None

    @property
    def device(self) -> torch.device:
        return self.agent.device

    # ------------------------------------------------------------------ streams
    def encode_text(self, instruction: str) -> torch.Tensor | None:
        """One uncached pass of CLIP's tokenizer and text tower -> [1, D] (frozen: no grad)."""
        clip = self.agent.clip
        if clip is None:
            return None
        tokens = clip.tokenizer([instruction], context_length=clip.cfg.context_length)
        with torch.no_grad():
            tokens = tokens.to(clip.text.text_projection.device)
            return clip.text.encode_text(tokens).float().to(self.device)

    def pick_logits(self, img: np.ndarray | torch.Tensor, instruction: str) -> torch.Tensor:
        """``img`` [H, W, 6] numpy (or [1, 6, H, W]) -> pick logits [1, k, H, W].

        Always padded to a square, as the reference: equal to ours when the agent's
        ``pick_pad_square`` is true (with one rotation ours may skip the padding)."""
        img = self._hwc(img)
        h, w = img.shape[:2]
        side = max(h, w)
        pt, pl = (side - h) // 2, (side - w) // 2
        padded = np.pad(img, ((pt, side - h - pt), (pl, side - w - pl), (0, 0)))
        x = _to_tensor(padded, self.device)
        g = self.encode_text(instruction)
        att = self.agent.attention
        k = att.n_rotations
        if k == 1:
            out = att.fcn(x, g)
        else:  # one rotated copy at a time, rotated back after the FCN
            centre = ((side - 1) / 2.0, (side - 1) / 2.0)
            outs = []
            for i in range(k):
                a = torch.full((1,), 360.0 * i / k, device=x.device)
                outs.append(rotate_about(att.fcn(rotate_about(x, centre, a), g), centre, -a))
            out = torch.cat(outs, dim=1)
        return out[:, :, pt:pt + h, pl:pl + w]

    def place_logits(self, img: np.ndarray | torch.Tensor, pick: tuple[int, int],
                     instruction: str) -> torch.Tensor:
        """``img`` [H, W, 6] numpy (or [1, 6, H, W]), ``pick`` (u, v) -> [1, k, H, W]."""
        img = self._hwc(img)
        tr = self.agent.transport
        k, c, p = tr.n_rotations, tr.crop_size, tr.pad
        padded = _to_tensor(np.pad(img, ((p, p), (p, p), (0, 0))), self.device)
        key = tr.key(padded, self.encode_text(instruction))
        crops = padded_image_crops(padded, pick, k, c)
        g = self.encode_text(instruction)
        query = tr.query(crops, None if g is None else g.expand(k, -1))
        return correlate(key, query, self.correlation, self.fast_conv)

    @staticmethod
    def _hwc(img: np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(img, torch.Tensor):
            if img.dim() != 4 or img.shape[0] != 1:
                raise ValueError(f"the reference runs one image [1, 6, H, W], got "
                                 f"{tuple(img.shape)}")
            return img[0].detach().cpu().numpy().transpose(1, 2, 0).astype(np.float32)
        return np.asarray(img, np.float32)

    # ---------------------------------------------------------------- inference
    def act_maps(self, colormap: np.ndarray, heightmap: np.ndarray, instruction: str
                 ) -> tuple[AgentOutput, np.ndarray, np.ndarray]:
        """A decision plus its full pick and place probability maps [k, H, W]."""
        img = numpy_image(colormap, heightmap)
        pick, pick_score, pick_prob = _decision_parts(self.pick_logits(img, instruction))
        place, place_score, place_prob = _decision_parts(
            self.place_logits(img, pick[:2], instruction))
        decision = AgentOutput(pick, place, pick_score, place_score, pick_prob.max(0),
                               place_prob.max(0))
        return decision, pick_prob, place_prob

    def act(self, colormap: np.ndarray, heightmap: np.ndarray, instruction: str) -> AgentOutput:
        """One decision, the reference's way (autograd on, batch 1, 3 text passes)."""
        return self.act_maps(colormap, heightmap, instruction)[0]

    # ----------------------------------------------------------------- training
    def make_optimizers(self, lr: float) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        pick_params, place_params = trainable_parameters(self.agent)
        self.optimizers = (torch.optim.Adam(pick_params, lr=lr),
                           torch.optim.Adam(place_params, lr=lr))
        return self.optimizers

    def train_step(self, img: np.ndarray | torch.Tensor, instruction: str,
                   pick: tuple[int, int], place: tuple[int, int], pick_rot: int,
                   place_rot: int) -> tuple[float, float]:
        """One batch-1 step: pick forward, CE, backward, Adam step; then the same for place.

        The gradients of this step stay in ``.grad`` (each optimiser zeroes its own before
        its backward). Returns the two losses.
        """
        if self.optimizers is None:
            self.make_optimizers(1e-4)
        opt_pick, opt_place = self.optimizers
        self.agent.attention.train()
        self.agent.transport.train()
        img = self._hwc(img)
        loss_pick = one_hot_ce(self.pick_logits(img, instruction), pick, pick_rot)
        opt_pick.zero_grad(set_to_none=True)
        loss_pick.backward()
        opt_pick.step()
        loss_place = one_hot_ce(self.place_logits(img, pick, instruction), place, place_rot)
        opt_place.zero_grad(set_to_none=True)
        loss_place.backward()
        opt_place.step()
        return float(loss_pick.detach()), float(loss_place.detach())


__all__ = ["CORRELATIONS", "ReferenceAgent", "correlate", "numpy_image", "one_hot_ce",
           "onednn_disabled", "padded_image_crops", "rotate_about", "whole_image_crops"]
