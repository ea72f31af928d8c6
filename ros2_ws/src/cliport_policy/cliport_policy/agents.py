"""Agents by name: the three Transporter networks (pick, key, query) with their FCNs.

``cliport`` is the paper's two-stream model; ``transporter`` (Transporter-only) and
``clip_only`` (CLIP-only) are its baselines (docs/design.md#agents). ``make_agent(config)`` builds
one; the :class:`Agent` holds the pick :class:`Attention`, the place :class:`Transport` and the one
shared frozen CLIP, and turns a batch of images + instructions into logits, losses and
decisions. Torch only: training and evaluation need no ROS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cliport_policy import cpu_isa
from cliport_policy.clip_encoder import FrozenCLIP
from cliport_policy.config import ModelConfig
from cliport_policy.models.attention import Attention
from cliport_policy.models.grasp_yaw import GraspYawClassifier
from cliport_policy.models.resnet import init_weights
from cliport_policy.models.streams import SemanticFCN, SpatialFCN, TwoStreamFCN
from cliport_policy.models.transport import Transport

# Initial scale of the logit-producing layers (see models.resnet.init_weights): both give
# near-uniform first softmax maps. For the transport that is the stream-fusion conv of key and
# query; their product summed over 3 x 64 x 64 terms starts with a spread of ~0.05.
PICK_OUTPUT_SCALE = 0.02
TRANSPORT_OUTPUT_SCALE = 0.01

_AGENTS: dict[str, Callable[[ModelConfig, FrozenCLIP | None], tuple[nn.Module, ...]]] = {}


def register_agent(name: str):
    def deco(fn):
        _AGENTS[name] = fn
        return fn
    return deco


def agent_names() -> list[str]:
    return sorted(_AGENTS)


@register_agent("cliport")
def _cliport(cfg: ModelConfig, clip: FrozenCLIP | None):
    def fcn(out: int, fusion: str) -> TwoStreamFCN:
        return TwoStreamFCN(clip, out, cfg.spatial_width, cfg.lang_fusion,
                            cfg.decoder_batchnorm, fusion, cfg.decoder_width, cfg.decoder_2x)
    return fcn(1, "add"), fcn(cfg.kernel_dim, "conv"), fcn(cfg.kernel_dim, "conv")


@register_agent("transporter")
def _transporter(cfg: ModelConfig, clip: FrozenCLIP | None):
    return (SpatialFCN(1, cfg.spatial_width), SpatialFCN(cfg.kernel_dim, cfg.spatial_width),
            SpatialFCN(cfg.kernel_dim, cfg.spatial_width))


@register_agent("clip_only")
def _clip_only(cfg: ModelConfig, clip: FrozenCLIP | None):
    def fcn(out: int) -> SemanticFCN:
        return SemanticFCN(clip, out, cfg.lang_fusion, cfg.decoder_batchnorm,
                           cfg.decoder_width, cfg.decoder_2x)
    return fcn(1), fcn(cfg.kernel_dim), fcn(cfg.kernel_dim)


@dataclass
class AgentOutput:
    """What an agent's ``act`` returns: one action as grid cells and rotation bins, with the
    softmax maps it came from (the node adds the poses: ``node_config.PolicyDecision``)."""

    pick: tuple[int, int, int]  # (u, v, rotation bin)
    place: tuple[int, int, int]
    pick_score: float
    place_score: float
    pick_heatmap: np.ndarray  # float32 [H, W]: pick probability (max over pick rotations)
    place_heatmap: np.ndarray  # float32 [H, W]: place probability (max over rotations)


def image_tensor(colormap: np.ndarray | torch.Tensor, heightmap: np.ndarray | torch.Tensor
                 ) -> torch.Tensor:
    """Colormap [.., H, W, 3] uint8 + heightmap [.., H, W] -> raw input [.., 6, H, W] float32."""
    cmap = torch.as_tensor(np.asarray(colormap)).float()
    hmap = torch.as_tensor(np.asarray(heightmap)).float()
    hmap = torch.nan_to_num(hmap, nan=0.0, posinf=0.0, neginf=0.0)
    img = torch.cat([cmap, hmap.unsqueeze(-1).expand(*hmap.shape, 3)], dim=-1)
    return img.movedim(-1, -3).contiguous()


def _argmax(logits: torch.Tensor) -> tuple[list[tuple[int, int, int]], torch.Tensor,
                                            torch.Tensor]:
    """logits [B, k, H, W] -> (u, v, r) per sample, probability maps [B, k, H, W], scores."""
    b, k, h, w = logits.shape
    prob = F.softmax(logits.reshape(b, -1).float(), dim=1)
    score, idx = prob.max(dim=1)
    cells = [(int(i % (h * w) // w), int(i % w), int(i // (h * w))) for i in idx.tolist()]
    return cells, prob.reshape(b, k, h, w), score


class Agent(nn.Module):
    """Pick attention + place transport + the shared frozen CLIP."""

    def __init__(self, config: ModelConfig, clip: FrozenCLIP | None = None) -> None:
        super().__init__()
        if config.agent not in _AGENTS:
            raise ValueError(f"unknown agent {config.agent!r}; available: {agent_names()}")
        self.config = config
        needs_clip = config.agent != "transporter"
        if needs_clip and clip is None:
            clip = FrozenCLIP(config.clip)
        self._clip = (clip if needs_clip else None,)  # outside the module tree
        pick, key, query = _AGENTS[config.agent](config, self.clip)
        classifier = None
        if config.pick_rotations > 1 and config.pick_rotation_head == "classifier":
            classifier = GraspYawClassifier(config.pick_rotations, config.rotation_crop_size)
        self.attention = Attention(pick, config.pick_rotations, config.pick_pad_square,
                                   classifier, config.pick_stride)
        self.transport = Transport(key, query, config.place_rotations, config.crop_size,
                                   config.key_stride, config.query_rotation,
                                   config.key_pad)
        init_weights(self.attention, output_scale=PICK_OUTPUT_SCALE)
        init_weights(self.transport, output_scale=TRANSPORT_OUTPUT_SCALE)
        self.to(memory_format=torch.channels_last)  # see streams.spatial_normalise
        # acting's compute precision: auto | fp32 | bf16 (cliport_policy.cpu_isa.choose)
        self.precision = "auto"

    @property
    def clip(self) -> FrozenCLIP | None:
        return self._clip[0]

    @property
    def device(self) -> torch.device:
        return next(self.attention.parameters()).device

    def to(self, *args, **kwargs):  # the shared CLIP moves with the agent
        super().to(*args, **kwargs)
        if self.clip is not None:
            self.clip.to(*args, **kwargs)
        return self

    def text_features(self, instructions: Sequence[str]) -> torch.Tensor | None:
        if self.clip is None:
            return None
        with torch.autocast(self.device.type, enabled=False):  # cached: one value at any precision
            return self.clip.encode_text(list(instructions)).to(self.device)

    def autocast(self):
        """The autocast context of this agent's ``precision`` on its device."""
        dev = self.device.type
        return cpu_isa.autocast(cpu_isa.choose(self.precision, dev).precision, dev)

    # ----------------------------------------------------------------- training
    def losses(self, img: torch.Tensor, instructions: Sequence[str], pick: torch.Tensor,
               place: torch.Tensor, pick_rot: torch.Tensor, place_rot: torch.Tensor,
               attention: nn.Module | None = None, transport: nn.Module | None = None,
               reduction: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax cross-entropy over all (rotation, row, column) of pick and place.

        ``pick``/``place`` [B, 2] long cells, ``*_rot`` [B] long bins; the true CE per sample
        (not divided by H*W*k as the reference does, docs/design.md#loss), averaged over the batch
        (``reduction="none"``: per sample, [B], for per-task training curves).
        ``attention``/``transport`` may be DDP wrappers of this agent's modules.
        """
        g = self.text_features(instructions)
        pick_logits = (attention or self.attention)(img, g, pick)
        place_logits = (transport or self.transport)(img, pick, g)
        return (_ce(pick_logits, pick, pick_rot, reduction),
                _ce(place_logits, place, place_rot, reduction))

    # ----------------------------------------------------------------- inference
    @torch.inference_mode()
    def act_batch(self, img: torch.Tensor, instructions: Sequence[str]) -> list[AgentOutput]:
        """Decisions for a batch of raw images [B, 6, H, W]; picks first, then places."""
        img = img.to(self.device)
        g = self.text_features(instructions)
        with self.autocast():
            pick_cells, pick_prob, pick_score = _argmax(self.attention(img, g))
            pick = torch.tensor([c[:2] for c in pick_cells], device=img.device,
                                dtype=torch.long)
            place_cells, place_prob, place_score = _argmax(self.transport(img, pick, g))
        out = []
        for i in range(img.shape[0]):
            out.append(AgentOutput(pick_cells[i], place_cells[i], float(pick_score[i]),
                                   float(place_score[i]),
                                   pick_prob[i].amax(0).cpu().numpy(),
                                   place_prob[i].amax(0).cpu().numpy()))
        return out

    def act(self, colormap: np.ndarray, heightmap: np.ndarray, instruction: str) -> AgentOutput:
        """One decision for one fused view and instruction (eval mode is set here)."""
        self.eval()
        return self.act_batch(image_tensor(colormap, heightmap)[None], [instruction])[0]


def _ce(logits: torch.Tensor, cell: torch.Tensor, rot: torch.Tensor,
        reduction: str = "mean") -> torch.Tensor:
    b, k, h, w = logits.shape
    target = rot.long() * (h * w) + cell[:, 0].long() * w + cell[:, 1].long()
    return F.cross_entropy(logits.reshape(b, -1).float(), target, reduction=reduction)


def make_agent(config: ModelConfig, clip: FrozenCLIP | None = None) -> Agent:
    return Agent(config, clip)


def trainable_parameters(agent: Agent) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(pick, transport) parameter lists for the two optimisers; CLIP is never in them."""
    return list(agent.attention.parameters()), list(agent.transport.parameters())
