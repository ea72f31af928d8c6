"""Policy configuration (``config/policy.yaml``, ``config/tiny.yaml``) as typed dataclasses.

The YAML files are loaded strictly (unknown keys and wrong types are errors naming the file
and key) by the perception package's loader; a checkpoint stores the ``ModelConfig`` it was
trained with, so an agent is always rebuilt with the architecture its weights belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from cliport_common.config import (
    ConfigError,
    config_dir,
    config_path,
    from_dict,
    load_yaml,
    to_dict,
)

LANG_FUSIONS = ("mult", "add", "film")
PICK_ROTATION_HEADS = ("attention", "classifier")
# The pick bins' span: a parallel gripper's grasp is the same turned by half a turn, so k pick
# bins cover 180 deg (bin i = grasp yaw 180 i / k deg, cliport_policy.poses). With one bin (a
# suction cup) the span does not matter.
PICK_ROTATION_SPAN_DEG = 180.0


@dataclass(frozen=True)
class ClipConfig:
    """The frozen CLIP encoder shared by the pick, key and query streams."""

    model: str = "RN50"
    pretrained: str = "openai"  # open_clip tag, local weights file, or "random"
    seed: int = 0
    context_length: int = 77


@dataclass(frozen=True)
class ModelConfig:
    agent: str = "cliport"
    clip: ClipConfig = field(default_factory=ClipConfig)
    spatial_width: int = 64
    lang_fusion: str = "mult"
    decoder_batchnorm: bool = False
    pick_rotations: int = 1  # grasp-yaw bins over 180 deg (1: suction, no yaw)
    # How the grasp yaw is chosen when pick_rotations > 1: "attention" runs the pick FCN on
    # k rotated copies (k times its compute); "classifier" runs it once and classifies a
    # crop around the picked cell (models/grasp_yaw.py).
    pick_rotation_head: str = "attention"
    rotation_crop_size: int = 64  # side (cells) of the classifier's crop around the pick
    # Pad the pick input to a square with raw zeros, as the reference does so rotations
    # keep every cell. With one pick rotation nothing is rotated: false halves the pick's
    # compute (the fully convolutional nets then see 320x160, not 320x320).
    pick_pad_square: bool = True
    place_rotations: int = 36
    crop_size: int = 64
    kernel_dim: int = 3

    def __post_init__(self) -> None:
        if self.lang_fusion not in LANG_FUSIONS:
            raise ConfigError(f"model.lang_fusion must be one of {LANG_FUSIONS}, "
                              f"got {self.lang_fusion!r}")
        if self.spatial_width < 2 or self.spatial_width % 2:
            raise ConfigError(f"model.spatial_width must be an even number >= 2, "
                              f"got {self.spatial_width}")
        if self.pick_rotations < 1 or self.place_rotations < 1:
            raise ConfigError("model.pick_rotations and model.place_rotations must be >= 1")
        if self.pick_rotation_head not in PICK_ROTATION_HEADS:
            raise ConfigError(f"model.pick_rotation_head must be one of "
                              f"{PICK_ROTATION_HEADS}, got {self.pick_rotation_head!r}")
        if self.rotation_crop_size < 8 or self.rotation_crop_size % 2:
            raise ConfigError(f"model.rotation_crop_size must be even and >= 8, got "
                              f"{self.rotation_crop_size}")
        if self.crop_size < 2 or self.crop_size % 2:
            raise ConfigError(f"model.crop_size must be even, got {self.crop_size}")

    def with_clip_pretrained(self, pretrained: str) -> ModelConfig:
        """The same model with its frozen CLIP weights from ``pretrained`` (an open_clip tag,
        a file or ``package://`` URL): training, loading and exporting all override it."""
        return replace(self, clip=replace(self.clip, pretrained=pretrained))


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 8
    lr: float = 1e-4
    transport_lr: float = 0.0  # the transport's Adam lr; 0 = ``lr``
    lr_steps: tuple[int, ...] = ()  # both lrs are multiplied by lr_gamma at each of these steps
    lr_gamma: float = 0.5
    grad_clip: float = 0.0  # max gradient norm of each network (pick, place); 0 = no clipping
    steps: int = 20000
    save_steps: tuple[int, ...] = (1000, 2000, 5000, 10000, 20000)
    last_every: int = 500
    log_every: int = 50
    val_every: int = 1000
    val_samples: int = 50  # per validation task: the first actions of its val set
    amp: bool = True
    augment: bool = True
    theta_sigma: float = 60.0
    translation_sigma: float = 26.67
    absolute_words: tuple[str, ...] = ("left", "right", "top", "bottom", "front", "back",
                                       "middle", "upper", "lower")
    num_workers: int = 0
    seed: int = 0
    cache_episodes: int = 256
    threads: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.steps < 1 or self.last_every < 1:
            raise ConfigError("train.batch_size, train.steps and train.last_every must be >= 1")
        if not 0.0 < self.lr_gamma <= 1.0 or any(s < 1 for s in self.lr_steps):
            raise ConfigError(f"train.lr_gamma must be in (0, 1] and train.lr_steps >= 1, got "
                              f"{self.lr_gamma}, {self.lr_steps}")
        if not self.grad_clip >= 0.0:  # also NaN
            raise ConfigError(f"train.grad_clip must be >= 0 (0 = off), got {self.grad_clip}")
        if self.lr <= 0 or self.transport_lr < 0:
            raise ConfigError(f"train.lr must be positive and train.transport_lr >= 0, got "
                              f"{self.lr}, {self.transport_lr}")


@dataclass(frozen=True)
class PolicyConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def named_config(name: str) -> Path:
    """``tiny`` -> the package's ``config/tiny.yaml``; a path is returned as it is."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return config_path("cliport_policy", f"{name}.yaml")


def load_policy_config(path: str | Path | None = None) -> PolicyConfig:
    """Load ``path`` (or a named config such as ``tiny``; default ``policy``)."""
    path = named_config(str(path) if path is not None else "policy")
    data = load_yaml(path)
    return from_dict(PolicyConfig, data, where=str(path))


def policy_config_names() -> list[str]:
    """The named configs ``--config`` takes: the package's YAMLs with a ``train`` section
    (read from the files, so help texts list what is there)."""
    names = []
    for path in sorted(config_dir("cliport_policy").glob("*.yaml")):
        data = load_yaml(path)
        if isinstance(data, dict) and "train" in data and "model" in data:
            names.append(path.stem)
    return names


def model_config_from_dict(data: dict) -> ModelConfig:
    return from_dict(ModelConfig, data, where="checkpoint model config")


__all__ = ["ClipConfig", "ModelConfig", "TrainConfig", "PolicyConfig", "load_policy_config",
           "model_config_from_dict", "named_config", "policy_config_names", "to_dict",
           "ConfigError"]
