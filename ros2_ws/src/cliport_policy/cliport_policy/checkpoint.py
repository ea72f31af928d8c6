"""Checkpoints: the trainable weights, optimiser states and the config that built them.

What is stored: ``format``, ``model`` (the :class:`ModelConfig` as a dict), ``attention`` and
``transport`` state dicts (never the frozen CLIP, docs/design.md#one-frozen-clip: the
reference saves three copies of it in every file), the CLIP weights' fingerprint, ``step``, optional
optimiser states, training config and metrics. Files are written atomically (temporary name, fsync,
rename), so a crash mid-save leaves the previous file intact. Loading checks everything and
raises :class:`CheckpointError` naming the file and the problem: unreadable or truncated file,
not a policy checkpoint, another format version, missing or unexpected weights, shapes that
do not fit the architecture, or CLIP weights other than the ones it was trained with.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from cliport_policy.agents import Agent, make_agent
from cliport_policy.clip_encoder import FrozenCLIP
from cliport_policy.config import ConfigError, ModelConfig, model_config_from_dict, to_dict

FORMAT = "cliport_policy.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and why."""


def save_checkpoint(path: str | os.PathLike, agent: Agent, step: int,
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "model": to_dict(agent.config),
        "clip_fingerprint": agent.clip.fingerprint if agent.clip is not None else None,
        "step": int(step),
        "attention": {k: v.detach().cpu() for k, v in agent.attention.state_dict().items()},
        "transport": {k: v.detach().cpu() for k, v in agent.transport.state_dict().items()},
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "extra": extra or {},
    }
    return _save_atomically(state, path)


def _save_atomically(state: dict[str, Any], path: Path) -> Path:
    """Temporary name, fsync, rename, fsync the folder: a crash leaves the old file intact."""
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict, validated for format (no weights loaded into a model)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    state = _load_weights_only(path)
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a cliport_policy checkpoint (no 'format' entry)")
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']!r}, this version "
                              f"reads {FORMAT!r}")
    for key in ("model", "attention", "transport", "step"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint has no {key!r} entry")
    return state


def _load_weights_only(path: Path) -> Any:
    """``torch.load(weights_only=True)``, its failures as one line in our words.

    Never anything else: a checkpoint is data, and unpickling arbitrary objects runs code.
    torch's own messages advise re-running with ``weights_only=False``, so they are not
    passed on (nor chained): the reason is stated instead."""
    problem = _container_problem(path)
    if problem is None:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            problem = _refusal(str(exc))
        except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
            problem = _damage(exc)
    raise CheckpointError(f"{path}: not a readable checkpoint: {problem}") from None


def _container_problem(path: Path) -> str | None:
    """What is wrong with the file as a container (a checkpoint is a zip archive)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if not head:
        return "the file is empty"
    if is_zip:
        return None
    if head.startswith(b"PK\x03\x04"):
        return ("truncated or damaged: a zip archive without its end (central directory); "
                "was the copy cut short?")
    if head[0] == 0x80:
        return "a bare pickle, not the zip archive torch.save writes; it is not unpickled"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not a character cut at the end of the head
            return "not a zip archive (the file starts with binary data of another kind)"
        text = head[:exc.start].decode("utf-8")
    if all(c.isprintable() or c.isspace() for c in text):
        return "a text file, not the zip archive torch.save writes"
    return "not a zip archive"


def _refusal(message: str) -> str:
    """The safe unpickler's refusal, reworded without its advice."""
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message)
    if found:
        return (f"it holds an object of type {found.group(1)}, which is never loaded "
                f"(a checkpoint holds tensors and plain data only)")
    found = re.search(r"Unsupported operand (\d+)", message)
    if found:
        return (f"its pickle uses an instruction (opcode {found.group(1)}) that the "
                f"weights-only loader refuses; the file is damaged or not a checkpoint")
    return "its pickle holds something the weights-only loader refuses"


def _damage(exc: Exception) -> str:
    """A corrupt file's error from torch or the zip reader, as one line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"^\[enforce fail at [^\]]*\]\s*\.?\s*", "", first)
    if "weights_only" in first or not first:
        return f"{type(exc).__name__} while reading it (truncated or corrupt?)"
    return f"{first} (truncated or corrupt?)"


def stored_model_config(state: dict, path: str | os.PathLike) -> ModelConfig:
    """The ``ModelConfig`` a checkpoint's ``state`` (read from ``path``) was trained with.

    Keys added since it was written take their (behaviour-keeping) default; a config this
    version cannot build is a CheckpointError naming the file.
    """
    try:
        return model_config_from_dict(state["model"])
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its model config is not valid here: {exc}") from exc


def checkpoint_model_config(path: str | os.PathLike) -> ModelConfig:
    return stored_model_config(read_checkpoint(path), path)


def _load_module(module: torch.nn.Module, weights: dict, what: str, path: Path) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{path}: {what} weights do not match the architecture: "
                              f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected {unexpected[:5]}"
                              f"{'...' if len(unexpected) > 5 else ''}")
    bad = [f"{k} {tuple(weights[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
           if tuple(weights[k].shape) != tuple(v.shape)]
    if bad:
        raise CheckpointError(f"{path}: {what} weight shapes do not fit: {bad[:5]}")
    module.load_state_dict(weights)


def load_into(agent: Agent, path: str | os.PathLike, state: dict | None = None) -> dict:
    """Load a checkpoint's weights into ``agent`` (same architecture and CLIP); returns it."""
    path = Path(path)
    state = state or read_checkpoint(path)
    if stored_model_config(state, path) != agent.config:
        raise CheckpointError(f"{path}: trained with model config {state['model']}, the agent "
                              f"has {to_dict(agent.config)}")
    want = state.get("clip_fingerprint")
    have = agent.clip.fingerprint if agent.clip is not None else None
    if want != have:
        raise CheckpointError(f"{path}: trained with CLIP weights {want}, these are {have} "
                              f"(model.clip.pretrained = {agent.config.clip.pretrained!r})")
    _load_module(agent.attention, state["attention"], "attention", path)
    _load_module(agent.transport, state["transport"], "transport", path)
    return state


def load_agent(path: str | os.PathLike, device: str | torch.device = "cpu",
               clip: FrozenCLIP | None = None, clip_pretrained: str | None = None) -> Agent:
    """Build the agent a checkpoint describes and load its weights.

    ``clip_pretrained`` overrides where the frozen CLIP weights come from (e.g. a local
    file on a machine without a network); the fingerprint check still applies.
    """
    path = Path(path)
    state = read_checkpoint(path)
    cfg = stored_model_config(state, path)
    if clip_pretrained:
        cfg = cfg.with_clip_pretrained(clip_pretrained)
        state = dict(state, model=to_dict(cfg))
    agent = make_agent(cfg, clip)
    load_into(agent, path, state)
    return agent.to(device).eval()


def export_checkpoint(src: str | os.PathLike, dst: str | os.PathLike,
                      half: bool = False, clip_pretrained: str | None = None) -> Path:
    """A checkpoint to ship or deploy: the weights and config of ``src`` without optimiser
    states, optionally stored as float16 (half the bytes; loading casts them back to the
    model's float32, so decisions move by float16 rounding only). Atomic, like saving.

    ``clip_pretrained`` rewrites where the frozen CLIP weights come from (a training run's
    local file -> the ``package://`` URL it is shipped under); those weights are loaded and
    must have the fingerprint the policy was trained with."""
    src, dst = Path(src), Path(dst)
    state = read_checkpoint(src)
    cfg = stored_model_config(state, src)
    if clip_pretrained:
        from cliport_policy.clip_encoder import ClipWeightsError

        cfg = cfg.with_clip_pretrained(clip_pretrained)
        try:
            have = FrozenCLIP(cfg.clip).fingerprint
        except ClipWeightsError as exc:
            raise CheckpointError(f"--clip-pretrained {clip_pretrained}: {exc}") from exc
        if have != state.get("clip_fingerprint"):
            raise CheckpointError(f"{src}: trained with CLIP weights "
                                  f"{state.get('clip_fingerprint')}, {clip_pretrained} holds "
                                  f"{have}")
        state = dict(state, model=to_dict(cfg))

    def shrink(weights: dict) -> dict:
        return {k: v.half() if half and v.is_floating_point() else v
                for k, v in weights.items()}

    extra = dict(state.get("extra") or {})
    extra.pop("rng", None)  # training-resume state: not part of a shipped model
    extra["exported_from"] = {"file": src.name, "step": int(state["step"]),
                              "weights_dtype": "float16" if half else "float32"}
    out = {**state, "attention": shrink(state["attention"]),
           "transport": shrink(state["transport"]), "optimizers": {}, "extra": extra}
    dst.parent.mkdir(parents=True, exist_ok=True)
    return _save_atomically(out, dst)


def main(argv: list[str] | None = None) -> int:
    """``cliport-export-checkpoint SRC DST [--half] [--clip-pretrained PATH_OR_URL]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="cliport-export-checkpoint",
                                 description="Strip a training checkpoint to its weights (and "
                                             "config) for shipping; --half stores float16.")
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--half", action="store_true", help="store the weights as float16")
    ap.add_argument("--clip-pretrained", metavar="PATH_OR_URL",
                    help="where the frozen CLIP weights are found where the model is used "
                         "(e.g. package://cliport_policy/models/<file>.safetensors)")
    args = ap.parse_args(argv)
    try:
        out = export_checkpoint(args.src, args.dst, args.half, args.clip_pretrained)
    except CheckpointError as exc:
        print(f"cliport-export-checkpoint: error: {exc}")
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
