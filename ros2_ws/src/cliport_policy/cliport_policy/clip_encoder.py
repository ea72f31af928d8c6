"""One frozen CLIP (open_clip) shared by the pick, key and query streams.

See docs/design.md#clip-lingunet, docs/design.md#one-frozen-clip and docs/design.md#clip-eval-mode.

The reference builds three fp16 copies of CLIP-RN50 (one per stream), leaves their BatchNorm
layers in training mode so the "frozen" running statistics drift, re-encodes the sentence
three times per action and saves all three copies in every checkpoint. Here one instance is
shared, it is always in eval mode (``train()`` cannot switch it), its parameters never require
gradients, sentence features are cached per instruction, and checkpoints store only a
fingerprint of its weights (so loading with other CLIP weights is detected) — never the
weights themselves.

Weights (``ClipConfig.pretrained``): an open_clip tag such as ``openai`` (downloaded once
where a network exists, then from open_clip's cache), a local ``.pt`` / ``.safetensors``
file (a path or ``package://<package>/<path>``, e.g. the demo model's CLIP pre-trained on
the demos by :mod:`cliport_policy.clip_pretrain`), or ``random`` (a seeded random init,
for tests and CPU-scale experiments only).
Model names resolve against open_clip's own configs and this package's ``config/clip/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from cliport_common.config import ConfigError, config_dir
from cliport_perception.sources.calibration_file import PACKAGE_SCHEME, resolve_file
from cliport_policy.config import ClipConfig

log = logging.getLogger(__name__)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RANDOM = "random"
TEXT_CACHE_SIZE = 4096


class ClipWeightsError(RuntimeError):
    """CLIP weights could not be found or loaded; the message says how to provide them."""


_configs_added = False
_announced: set[tuple[str, str]] = set()  # (model, source) lines already logged


class _OpenClipNoise(logging.Filter):
    """Drops open_clip's own root-logger lines (model config, 'Loading pretrained',
    'No pretrained weights loaded'): :func:`create_clip` says in one line what it loaded."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and "open_clip" in record.pathname)


@contextlib.contextmanager
def _quiet_open_clip():
    root = logging.getLogger()
    noise = _OpenClipNoise()
    root.addFilter(noise)
    try:
        yield
    finally:
        root.removeFilter(noise)


def _announce(model: str, source: str) -> None:
    """One line per process and weights: where the CLIP weights came from."""
    if (model, source) not in _announced:
        _announced.add((model, source))
        log.info("CLIP %s: weights from %s", model, source)


def _add_package_configs() -> None:
    global _configs_added
    if not _configs_added:
        import open_clip

        open_clip.add_model_config(config_dir("cliport_policy") / "clip")
        _configs_added = True


def create_clip(cfg: ClipConfig) -> nn.Module:
    """Build the open_clip model of ``cfg`` with its weights (see the module docstring)."""
    import open_clip

    _add_package_configs()
    if cfg.model not in open_clip.list_models():
        ours = sorted(p.stem for p in (config_dir("cliport_policy") / "clip").glob("*.json"))
        raise ClipWeightsError(f"unknown CLIP model {cfg.model!r}; open_clip knows "
                               f"{len(open_clip.list_models())} models, e.g. RN50, and this "
                               f"package adds {ours}")
    pretrained = cfg.pretrained.strip()
    if not pretrained:
        raise ClipWeightsError(
            "no CLIP weights configured: set model.clip.pretrained to an open_clip tag "
            "(e.g. 'openai', downloaded once where a network exists), to a local weights "
            "file (.pt or .safetensors, e.g. saved with cliport_policy.clip_encoder."
            "save_clip_weights), or to 'random' for tests")
    if pretrained == RANDOM:
        if (cfg.model, RANDOM) not in _announced:
            _announced.add((cfg.model, RANDOM))
            log.warning("CLIP %s with random weights (seed %d): for tests and CPU-scale "
                        "experiments only", cfg.model, cfg.seed)
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(cfg.seed)
            with _quiet_open_clip():
                model = open_clip.create_model(cfg.model, pretrained=None)
        finally:
            torch.random.set_rng_state(state)
        return model
    path = Path(pretrained).expanduser()
    if pretrained.startswith(PACKAGE_SCHEME):
        try:
            path = resolve_file(pretrained)
        except ConfigError as exc:
            raise ClipWeightsError(f"CLIP weights file {exc}") from exc
    looks_like_file = path.suffix in (".pt", ".pth", ".bin", ".safetensors") or "/" in pretrained
    if looks_like_file and not path.is_file():
        raise ClipWeightsError(f"CLIP weights file {path} does not exist")
    if not looks_like_file:
        tags = open_clip.list_pretrained_tags_by_model(cfg.model)
        if pretrained not in tags:
            raise ClipWeightsError(f"{pretrained!r} is not an open_clip tag of {cfg.model} "
                                   f"(tags: {tags}) nor a weights file")
    try:
        with _quiet_open_clip():
            model = open_clip.create_model(cfg.model, pretrained=str(path) if looks_like_file
                                           else pretrained)
        _announce(cfg.model, f"the file {path}" if looks_like_file
                  else f"open_clip's {pretrained!r} release")
        return model
    except Exception as exc:  # noqa: BLE001 - open_clip raises RuntimeError, OSError, ...
        raise ClipWeightsError(
            f"cannot load CLIP {cfg.model} weights {pretrained!r}: {exc}. Without a network, "
            f"copy the weights file to this machine and set model.clip.pretrained to its "
            f"path (open_clip caches downloads under ~/.cache/huggingface or ~/.cache/clip)"
        ) from exc


def clip_tokenizer(model: str):
    """open_clip's tokenizer of ``model``, without its root-logger lines."""
    import open_clip

    _add_package_configs()
    with _quiet_open_clip():
        return open_clip.get_tokenizer(model)


def trunk_channels(visual: nn.Module) -> tuple[int, int, int, int]:
    """Channels of the four ModifiedResNet stages :func:`trunk_features` returns."""
    return tuple(int(getattr(visual, f"layer{i}")[-1].conv3.out_channels) for i in range(1, 5))


def trunk_features(visual: nn.Module, rgb: torch.Tensor) -> list[torch.Tensor]:
    """The ModifiedResNet stages of raw 0-255 ``rgb`` [B, 3, H, W]: /4, /8, /16, /32.

    CLIPort reads the trunk before the attention pool. Without ``no_grad`` so that
    :mod:`cliport_policy.clip_pretrain` trains exactly what the frozen policy reads.
    """
    v = visual
    mean = rgb.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = rgb.new_tensor(CLIP_STD).view(1, 3, 1, 1)
    x = ((rgb / 255.0 - mean) / std).to(v.conv1.weight.dtype)
    x = v.act1(v.bn1(v.conv1(x)))
    x = v.act2(v.bn2(v.conv2(x)))
    x = v.act3(v.bn3(v.conv3(x)))
    x = v.avgpool(x)
    feats = []
    for layer in (v.layer1, v.layer2, v.layer3, v.layer4):
        x = layer(x)
        feats.append(x)
    return feats


def save_clip_weights(model: nn.Module, path: str | Path) -> Path:
    """Write a CLIP model's weights as ``.safetensors`` (loadable as ``pretrained=path``)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def fingerprint(module: nn.Module) -> str:
    """A short hash of every weight, to tell whether two CLIP instances are the same."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


class FrozenCLIP(nn.Module):
    """The frozen CLIP trunk (per-stage feature maps) and sentence encoder."""

    def __init__(self, cfg: ClipConfig, model: nn.Module | None = None) -> None:
        super().__init__()

        self.cfg = cfg
        clip = model if model is not None else create_clip(cfg)
        visual = clip.visual
        if not hasattr(visual, "layer4"):
            raise ClipWeightsError(f"CLIP {cfg.model} has no ResNet image tower; CLIPort's "
                                   f"decoder needs the ModifiedResNet stages (use an RN model)")
        visual.attnpool = None  # unused: CLIPort reads the trunk before the attention pool
        self.visual = visual
        self.text = clip
        clip.visual = nn.Identity()
        self.tokenizer = clip_tokenizer(cfg.model)
        self.fingerprint = fingerprint(self)
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.channels = trunk_channels(visual)
        self.text_dim = int(clip.text_projection.shape[1])

    def train(self, mode: bool = True) -> FrozenCLIP:
        """Always eval: frozen BatchNorm statistics must not drift
        (docs/design.md#clip-eval-mode)."""
        return super().train(False)

    @torch.no_grad()
    def image_features(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """``rgb`` [B, 3, H, W] raw 0-255 -> [layer1 /4, layer2 /8, layer3 /16, layer4 /32]."""
        return trunk_features(self.visual, rgb)

    @torch.no_grad()
    def encode_text(self, instructions: list[str]) -> torch.Tensor:
        """Sentence features [B, text_dim] (EOT state x text projection), cached."""
        missing = [s for s in dict.fromkeys(instructions) if s not in self._text_cache]
        if missing:
            tokens = self.tokenizer(missing, context_length=self.cfg.context_length)
            tokens = tokens.to(self.text.text_projection.device)
            feats = self.text.encode_text(tokens).float()
            for s, f in zip(missing, feats, strict=True):
                self._text_cache[s] = f
                if len(self._text_cache) > TEXT_CACHE_SIZE:
                    self._text_cache.popitem(last=False)
        return torch.stack([self._text_cache[s] for s in instructions])

    def clear_text_cache(self) -> None:
        self._text_cache.clear()

    def _apply(self, fn, *args, **kwargs):
        self._text_cache.clear()  # device / dtype moves invalidate cached features
        return super()._apply(fn, *args, **kwargs)
