"""Policy configuration (``config/policy.yaml``, ``config/tiny.yaml``) as typed dataclasses.

The YAML files are loaded strictly (unknown keys and wrong types are errors naming the file
and key) by the perception package's loader; a checkpoint stores the ``ModelConfig`` it was
trained with, so an agent is always rebuilt with the architecture its weights belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from cliport_common.config import (
    Check,
    ConfigError,
    config_dir,
    config_path,
    from_dict,
    load_yaml,
    to_dict,
)
from cliport_policy.cpu_isa import PRECISIONS

LANG_FUSIONS = ("mult", "add", "film")
PICK_ROTATION_HEADS = ("attention", "classifier")
QUERY_ROTATIONS = ("image", "features")
KEY_PADS = ("image", "features")
# The pick bins' span: a parallel gripper's grasp is the same turned by half a turn, so k pick
# bins cover 180 deg (bin i = grasp yaw 180 i / k deg, cliport_policy.poses). With one bin (a
# suction cup) the span does not matter.
PICK_ROTATION_SPAN_DEG = 180.0


@dataclass(frozen=True)
class ClipConfig:
    """The frozen CLIP encoder shared by the pick, key and query streams."""

    model: str = "RN50"  # an open_clip model name, or one of config/clip/*.json
    pretrained: str = "openai"  # open_clip tag, local weights file, or "random"
    seed: int = 0  # init seed when pretrained is "random"
    context_length: int = 77  # tokens per instruction


@dataclass(frozen=True)
class ModelConfig:
    """The two-stream architecture; a checkpoint stores the one its weights belong to."""

    agent: str = "cliport"  # cliport | transporter | clip_only (cliport_policy.agents)
    clip: ClipConfig = field(default_factory=ClipConfig)  # the frozen semantic encoder
    spatial_width: int = 64  # base width of the Transporter ResNets (64 in the paper)
    lang_fusion: str = "mult"  # how language joins the image features: one of LANG_FUSIONS
    decoder_batchnorm: bool = False  # docs/design.md#decoder-batchnorm
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
    place_rotations: int = 36  # place-yaw bins over 360 deg
    crop_size: int = 64  # side (cells) of the transport's crop around the pick
    kernel_dim: int = 3  # transport output / kernel channels
    # The LingUNet decoder's width after its first up-sampling stage, halved by each of the
    # next two (models/lingunet.py); 0: CLIP's layer-3 channels / 2, as the reference.
    decoder_width: int = 0
    # Both streams' decoders end at twice the input resolution and resize back, as the
    # reference; false: they end at the input's (a quarter of the last stage's pixels).
    decoder_2x: bool = True
    # The transport key's FCN sees the padded image averaged over key_stride^2 cells, its
    # map resized back before the correlation (1: full resolution, as the reference).
    key_stride: int = 1
    # The same for the pick's FCN on the heightmap (its logits resized back).
    pick_stride: int = 1
    # How the query's k rotated kernels are made: "image" runs its FCN on each rotated crop
    # (the reference); "features" runs it once on a window around the pick and rotates crops
    # of its map (one FCN pass instead of k, models/transport.py).
    query_rotation: str = "image"
    # Where the key's crop/2 border comes from: "image" runs its FCN on the zero-padded
    # image (the reference); "features" runs it on the image and zero-pads its map (the
    # FCN then sees 320x160 cells, not 384x224: 0.6 of its work).
    key_pad: str = "image"

    def __post_init__(self) -> None:
        check = Check(self, "model")
        check.one_of("lang_fusion", LANG_FUSIONS)
        check.one_of("pick_rotation_head", PICK_ROTATION_HEADS)
        check.one_of("query_rotation", QUERY_ROTATIONS)
        check.one_of("key_pad", KEY_PADS)
        check.at_least(1, "pick_rotations", "place_rotations", "key_stride", "pick_stride")
        check.even(2, "spatial_width", "crop_size")
        check.even(8, "rotation_crop_size")
        if self.decoder_width and (self.decoder_width < 4 or self.decoder_width % 4):
            raise check.fail("decoder_width", "0 or a multiple of 4", "0 = CLIP's channels")

    def with_clip_pretrained(self, pretrained: str) -> ModelConfig:
        """The same model with its frozen CLIP weights from ``pretrained`` (an open_clip tag,
        a file or ``package://`` URL): training, loading and exporting all override it."""
        return replace(self, clip=replace(self.clip, pretrained=pretrained))


@dataclass(frozen=True)
class TrainConfig:
    """One training run: optimiser, schedule, checkpoints, validation, augmentation."""

    batch_size: int = 8  # samples per step
    lr: float = 1e-4  # Adam learning rate (the transport's too when transport_lr is 0)
    transport_lr: float = 0.0  # the transport's Adam lr; 0 = ``lr``
    lr_steps: tuple[int, ...] = ()  # both lrs are multiplied by lr_gamma at each of these steps
    lr_gamma: float = 0.5  # the factor applied at each of lr_steps
    grad_clip: float = 0.0  # max gradient norm of each network (pick, place); 0 = no clipping
    steps: int = 20000  # training steps in all
    save_steps: tuple[int, ...] = (1000, 2000, 5000, 10000, 20000)  # steps kept as checkpoints
    last_every: int = 500  # steps between last.ckpt writes
    log_every: int = 50  # steps between logged losses
    val_every: int = 1000  # steps between validations
    val_samples: int = 50  # per validation task: the first actions of its val set
    amp: bool = True  # autocast allowed; false = fp32 on every device, whatever precision says
    precision: str = "auto"  # auto | fp32 | bf16 (auto: bf16 where native, cpu_isa.choose)
    augment: bool = True  # random SE(2) transforms of each sample
    theta_sigma: float = 60.0  # degrees: the augmentation's rotation
    translation_sigma: float = 26.67  # cells: and its shift
    # Instructions with one of these words are not rotated (they name a side of the table).
    absolute_words: tuple[str, ...] = ("left", "right", "top", "bottom", "front", "back",
                                       "middle", "upper", "lower")
    num_workers: int = 0  # not used: batches are built in the training process
    seed: int = 0  # of the model's init, the sampling and the augmentation
    cache_episodes: int = 256  # decoded episodes kept in memory per dataset
    threads: int = 0  # torch CPU threads (0 = torch's default)

    def __post_init__(self) -> None:
        check = Check(self, "train")
        check.at_least(1, "batch_size", "steps", "last_every")
        check.within("lr_gamma", 0.0, 1.0, open_low=True)
        if any(s < 1 for s in self.lr_steps):
            raise check.fail("lr_steps", "all >= 1")
        check.non_negative("grad_clip", note="0 = off")
        check.positive("lr")
        check.non_negative("transport_lr", note="0 = lr")
        check.one_of("precision", PRECISIONS)


@dataclass(frozen=True)
class PolicyConfig:
    model: ModelConfig = field(default_factory=ModelConfig)  # what is trained
    train: TrainConfig = field(default_factory=TrainConfig)  # and how


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
