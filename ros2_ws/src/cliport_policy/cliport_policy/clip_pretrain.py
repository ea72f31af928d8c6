"""``cliport-pretrain-clip``: pre-train a small CLIP on the demos, for CPU-scale CLIPort.

    cliport-pretrain-clip --data DATA --task put-block-in-bowl-seen-colors --n-demos 100 \
        --out runs/clip-tiny-sim.safetensors [--val-task put-block-in-bowl-seen-colors]

Why: CLIPort's language grounding comes from CLIP's web pre-training (docs/design.md#clip-lingunet):
its frozen image features already respond to "red" where a red block lies, and its sentence features
already separate "red block" from "blue block". The CPU-sized CLIP of ``config/tiny.yaml``
has no such weights to download, and with a random frozen CLIP the policy's pick learns to
find *a* block long before it learns *which* one (``pick_language_tv``, README). This gives
the small CLIP what the big one brings, from the only labelled data there is: the demos.

Objective, on the stored top-down colormaps at the policy's own scale (the trunk sees the
whole 320 x 160 map, as it does inside the policy):

* **pixel -> caption**: the trunk's features (all four stages, bilinearly read at a pick or
  place pixel, one linear head) must pick out that object's caption ("red block", "blue
  bowl": read from the instruction by ``config/clip_pretrain.yaml``'s rules) among all the
  training set's captions, embedded by CLIP's own text tower;
* **instruction -> pixel**: each instruction's sentence feature, through a "pick" and a
  "place" linear head, must pick out its own pick / place pixel among the batch's pixels, so
  the sentence feature the policy reads says which colour is the block and which the bowl.

The heads are dropped afterwards; the result is an ordinary open_clip weights file
(``model.clip.pretrained: <file>``), frozen by the policy like any CLIP.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cliport_common.config import ConfigError, config_path, from_dict, load_yaml
from cliport_policy import cpu_isa
from cliport_policy.augment import uses_absolute_words
from cliport_policy.clip_encoder import (
    clip_tokenizer,
    create_clip,
    save_clip_weights,
    trunk_channels,
    trunk_features,
)
from cliport_policy.config import ClipConfig, TrainConfig

log = logging.getLogger(__name__)
ABSOLUTE_WORDS = TrainConfig().absolute_words  # the policy augmentation's words


@dataclass(frozen=True)
class CaptionRule:
    """An instruction template: a regex with named groups, and the two objects' captions."""

    pattern: str
    pick: str
    place: str

    def __post_init__(self) -> None:
        try:
            rx = re.compile(self.pattern)
        except re.error as exc:
            raise ConfigError(f"caption rule {self.pattern!r}: not a regular expression: "
                              f"{exc}") from exc
        names = set(rx.groupindex)
        for what in (self.pick, self.place):
            used = set(re.findall(r"{(\w+)}", what))
            if not used <= names:
                raise ConfigError(f"caption {what!r} uses {sorted(used - names)}, which the "
                                  f"pattern {self.pattern!r} does not capture")


@dataclass(frozen=True)
class ClipPretrainConfig:
    clip: ClipConfig = field(default_factory=lambda: ClipConfig(model="cliport-tiny-RN",
                                                                pretrained="random"))
    steps: int = 600
    batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 1e-4
    flip: bool = True
    seed: int = 0
    threads: int = 0
    log_every: int = 25
    captions: tuple[CaptionRule, ...] = ()

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.lr <= 0:
            raise ConfigError("clip pre-training needs steps >= 1, batch_size >= 2, lr > 0")
        if not self.captions:
            raise ConfigError("clip pre-training needs at least one caption rule")


def load_pretrain_config(path: str | Path | None = None) -> ClipPretrainConfig:
    path = Path(path) if path else config_path("cliport_policy", "clip_pretrain.yaml")
    return from_dict(ClipPretrainConfig, load_yaml(path), where=str(path))


def captions_of(instruction: str, rules: Sequence[CaptionRule]) -> tuple[str, str] | None:
    """(pick caption, place caption) of an instruction, or None when no rule matches."""
    text = " ".join(instruction.strip().lower().rstrip(".").split())
    for rule in rules:
        m = re.match(rule.pattern, text)
        if m:
            groups = m.groupdict()
            return rule.pick.format(**groups), rule.place.format(**groups)
    return None


@dataclass
class Point:
    """One labelled pixel of one stored step."""

    item: int  # index into the step list
    u: int
    v: int
    caption: str


class CaptionedSteps:
    """Every step of some datasets whose instruction a rule captions, with its two points."""

    def __init__(self, datasets: Sequence, rules: Sequence[CaptionRule]) -> None:
        self.datasets = list(datasets)
        self.steps: list[tuple[int, int, int]] = []
        self.instructions: list[str] = []
        self.points: list[tuple[Point, Point]] = []
        skipped = 0
        for d, ds in enumerate(self.datasets):
            for e in range(len(ds)):
                for s in range(ds.n_steps(e)):
                    sample = ds.sample(e, s)
                    caps = captions_of(sample["instruction"], rules)
                    if caps is None:
                        skipped += 1
                        continue
                    i = len(self.steps)
                    self.steps.append((d, e, s))
                    self.instructions.append(sample["instruction"])
                    (pu, pv), (qu, qv) = sample["pick_pix"], sample["place_pix"]
                    self.points.append((Point(i, int(pu), int(pv), caps[0]),
                                        Point(i, int(qu), int(qv), caps[1])))
        if skipped:
            log.warning("%d steps have instructions no caption rule matches; skipped", skipped)
        if not self.steps:
            raise ValueError("no step's instruction matches a caption rule: add a rule to "
                             "clip_pretrain.yaml's captions for this task's template")
        self.vocabulary = sorted({p.caption for pair in self.points for p in pair})

    def __len__(self) -> int:
        return len(self.steps)

    def colormap(self, i: int) -> np.ndarray:
        d, e, s = self.steps[i]
        return self.datasets[d].sample(e, s)["colormap"]


class CaptionedScenes:
    """Captioned scenes (``cliport-scenes``) as items of the same two objectives.

    Each scene gives ``pairs`` items: two objects with different captions, named in a
    sentence without a task's verb ("the red block and the blue bowl"); the first named plays
    the pick, the second the place. So the text tower learns to keep two colour-shape
    phrases and their order apart from scenes with no demonstration in them.
    """

    def __init__(self, scenes: Sequence, pairs: int = 3, template: str = "the {a} and the {b}",
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.scenes = list(scenes)
        self.instructions: list[str] = []
        self.points: list[tuple[Point, Point]] = []
        self._scene_of: list[int] = []
        for k, scene in enumerate(self.scenes):
            objects = list(zip(scene.captions, np.asarray(scene.pixels).tolist(), strict=True))
            if len({c for c, _ in objects}) < 2:
                continue  # one caption: nothing to tell apart
            for _ in range(pairs):
                while True:
                    i, j = rng.choice(len(objects), 2, replace=False)
                    if objects[i][0] != objects[j][0]:
                        break
                n = len(self.instructions)
                (ca, (au, av)), (cb, (bu, bv)) = objects[i], objects[j]
                self.instructions.append(template.format(a=ca, b=cb))
                self.points.append((Point(n, au, av, ca), Point(n, bu, bv, cb)))
                self._scene_of.append(k)
        if not self.points:
            raise ValueError("no scene holds two objects with different captions")
        self.vocabulary = sorted({c for s in self.scenes for c in s.captions})

    def __len__(self) -> int:
        return len(self.points)

    def colormap(self, i: int) -> np.ndarray:
        return self.scenes[self._scene_of[i]].colormap


class Combined:
    """Several captioned sets as one: items in order, one vocabulary."""

    def __init__(self, *parts) -> None:
        self.parts = [p for p in parts if p is not None]
        self.instructions = [t for p in self.parts for t in p.instructions]
        self.points = [pt for p in self.parts for pt in p.points]
        self.vocabulary = sorted({c for p in self.parts for c in p.vocabulary})
        self._offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def colormap(self, i: int) -> np.ndarray:
        k = int(np.searchsorted(self._offsets, i, side="right")) - 1
        return self.parts[k].colormap(i - int(self._offsets[k]))

    def draw(self, rng: np.random.Generator, size: int) -> list[int]:
        """A batch with an equal share of every part, so 20 demo steps are not drowned by
        1,200 scene items."""
        shares = np.diff(np.linspace(0, size, len(self.parts) + 1).round().astype(int))
        out: list[int] = []
        for part, k, start in zip(self.parts, shares, self._offsets[:-1], strict=True):
            picks = rng.choice(len(part), size=int(k), replace=len(part) < k)
            out += [int(start) + int(i) for i in picks]
        return out


def draw_batch(data, rng: np.random.Generator, size: int) -> list[int]:
    """``size`` items of ``data`` (a :class:`Combined` draws from each part equally)."""
    if isinstance(data, Combined):
        return data.draw(rng, size)
    return [int(i) for i in rng.choice(len(data), size=min(size, len(data)), replace=False)]


def sample_at(feats: Sequence[torch.Tensor], uv: torch.Tensor, size: tuple[int, int],
              batch_index: torch.Tensor) -> torch.Tensor:
    """Bilinear read of every stage at pixels ``uv`` [N, 2] (row, col) of images
    ``batch_index`` [N] -> [N, sum of channels]."""
    h, w = size
    # grid_sample's x is the column, y the row, in [-1, 1] over pixel edges (align_corners=False)
    grid = torch.stack([(uv[:, 1].float() + 0.5) / w * 2 - 1,
                        (uv[:, 0].float() + 0.5) / h * 2 - 1], dim=-1)
    out = []
    for f in feats:
        g = f[batch_index]  # [N, C, h', w']
        s = F.grid_sample(g.float(), grid.view(-1, 1, 1, 2), mode="bilinear",
                          align_corners=False)
        out.append(s.flatten(1))
    return torch.cat(out, dim=1)


class PretrainHeads(nn.Module):
    """The throw-away heads: pixel features -> CLIP embedding; sentence -> pick / place."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.pixel = nn.Sequential(nn.LayerNorm(channels), nn.Linear(channels, dim))
        self.pick = nn.Linear(dim, dim)
        self.place = nn.Linear(dim, dim)

    @classmethod
    def for_model(cls, model: nn.Module) -> PretrainHeads:
        """Heads sized for an open_clip ModifiedResNet CLIP (all four stages, its embedding)."""
        return cls(sum(trunk_channels(model.visual)), int(model.text_projection.shape[1]))


def _flip(img: torch.Tensor, uv: torch.Tensor, rng: np.random.Generator
          ) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = img.shape[-2:]
    uv = uv.clone()
    if rng.random() < 0.5:
        img = img.flip(-2)
        uv[:, 0] = h - 1 - uv[:, 0]
    if rng.random() < 0.5:
        img = img.flip(-1)
        uv[:, 1] = w - 1 - uv[:, 1]
    return img, uv


def losses(model: nn.Module, heads: PretrainHeads, tokenizer, data: CaptionedSteps,
           items: Sequence[int], context_length: int, rng: np.random.Generator | None = None
           ) -> dict[str, torch.Tensor]:
    """Both objectives (see the module docstring) and their accuracies on ``items``."""
    imgs, uvs = [], []
    for i in items:
        img = torch.as_tensor(data.colormap(i)).permute(2, 0, 1).float()
        uv = torch.tensor([[p.u, p.v] for p in data.points[i]])
        # a flip would make "left" / "top" in an instruction or caption lie
        # (docs/design.md#language-aware-augmentation)
        if rng is not None and not uses_absolute_words(data.instructions[i], ABSOLUTE_WORDS):
            img, uv = _flip(img, uv, rng)
        imgs.append(img)
        uvs.append(uv)
    img = torch.stack(imgs)
    uv = torch.cat(uvs)  # [2B, 2]: pick, place, pick, place, ...
    n = len(items)
    batch_index = torch.arange(n).repeat_interleave(2)
    feats = trunk_features(model.visual, img)
    pix = F.normalize(heads.pixel(sample_at(feats, uv, img.shape[-2:], batch_index)), dim=-1)

    vocab = data.vocabulary
    captions = [p.caption for i in items for p in data.points[i]]
    instructions = [data.instructions[i] for i in items]
    tokens = tokenizer(vocab + instructions, context_length=context_length)
    text = model.encode_text(tokens)
    cap = F.normalize(text[:len(vocab)], dim=-1)
    sentence = text[len(vocab):]
    scale = model.logit_scale.exp().clamp(max=100.0)

    target = torch.tensor([vocab.index(c) for c in captions])
    caption_logits = scale * pix @ cap.T
    out = {"caption_loss": F.cross_entropy(caption_logits, target),
           "caption_acc": (caption_logits.argmax(1) == target).float().mean()}
    for k, head in ((0, heads.pick), (1, heads.place)):
        q = F.normalize(head(sentence), dim=-1)  # [B, D]
        logits = scale * q @ pix.T  # against every pixel of the batch
        t = torch.arange(n) * 2 + k
        # a pixel with the same caption in another image is not a wrong answer
        same = torch.tensor([[captions[j] == captions[int(t[r])] for j in range(2 * n)]
                             for r in range(n)])
        same[torch.arange(n), t] = False
        logits = logits.masked_fill(same, float("-inf"))
        name = ("pick", "place")[k]
        out[f"{name}_loss"] = F.cross_entropy(logits, t)
        out[f"{name}_acc"] = (logits.argmax(1) == t).float().mean()
    out["loss"] = out["caption_loss"] + 0.5 * (out["pick_loss"] + out["place_loss"])
    return out


@torch.no_grad()
def recalibrate_batchnorm(visual: nn.Module, data: CaptionedSteps, batch_size: int) -> None:
    """Set every BatchNorm's running statistics to their average over ``data``'s batches.

    The policy runs this CLIP frozen, in eval mode: its BatchNorm layers then use the running
    statistics, which a short pre-training (momentum 0.1 from the init's 0 / 1) leaves far
    from the trained weights' real statistics.
    """
    bns = [m for m in visual.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes below
    visual.train()
    try:
        for start in range(0, len(data), batch_size):
            rgb = torch.stack([torch.as_tensor(data.colormap(i)).permute(2, 0, 1).float()
                               for i in range(start, min(start + batch_size, len(data)))])
            trunk_features(visual, rgb)
    finally:
        for m, mom in zip(bns, saved, strict=True):
            m.momentum = mom
        visual.eval()


@torch.no_grad()
def evaluate(model: nn.Module, heads: PretrainHeads, tokenizer, data: CaptionedSteps,
             context_length: int, batch_size: int) -> dict[str, float]:
    """Mean accuracies over all of ``data`` (train-mode BatchNorm off)."""
    model.eval()
    heads.eval()
    sums: dict[str, float] = {}
    count = 0
    for start in range(0, len(data), batch_size):
        items = list(range(start, min(start + batch_size, len(data))))
        if len(items) < 2:
            break
        out = losses(model, heads, tokenizer, data, items, context_length)
        for k, v in out.items():
            if k.endswith("_acc"):
                sums[k] = sums.get(k, 0.0) + float(v) * len(items)
        count += len(items)
    return {k: v / max(count, 1) for k, v in sums.items()}


def pretrain(cfg: ClipPretrainConfig, train: CaptionedSteps, val: CaptionedSteps | None = None,
             log_fn=print) -> tuple[nn.Module, dict[str, float]]:
    """Pre-train ``cfg.clip``'s model on ``train``; returns it and its final metrics."""

    cpu_isa.limit_for_training()  # before this process's first convolution, if it is
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = create_clip(cfg.clip)
    tokenizer = clip_tokenizer(cfg.clip.model)
    heads = PretrainHeads.for_model(model)
    visual_params = [p for n, p in model.visual.named_parameters()
                     if not n.startswith("attnpool")]
    text_params = [p for n, p in model.named_parameters() if not n.startswith("visual.")]
    opt = torch.optim.AdamW(visual_params + text_params + list(heads.parameters()),
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    t0 = time.monotonic()
    running: dict[str, float] = {}
    for step in range(1, cfg.steps + 1):
        model.train()
        heads.train()
        items = draw_batch(train, rng, cfg.batch_size)
        out = losses(model, heads, tokenizer, train, items,
                     cfg.clip.context_length, rng if cfg.flip else None)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        sched.step()
        for k, v in out.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        if step % cfg.log_every == 0 or step == cfg.steps:
            k = cfg.log_every if step % cfg.log_every == 0 else step % cfg.log_every
            row = {"step": step, **{n: round(v / k, 4) for n, v in running.items()},
                   "seconds": round(time.monotonic() - t0, 1)}
            log_fn(json.dumps(row))
            running = {}
    recalibrate_batchnorm(model.visual, train, cfg.batch_size)
    metrics = {f"train_{k}": v for k, v in evaluate(model, heads, tokenizer, train,
                                                    cfg.clip.context_length,
                                                    cfg.batch_size).items()}
    if val is not None:
        metrics.update({f"val_{k}": v for k, v in evaluate(
            model, heads, tokenizer, val, cfg.clip.context_length, cfg.batch_size).items()})
    model.eval()
    return model, metrics


def main(argv: list[str] | None = None) -> int:
    from cliport_sim.dataset import Dataset, DatasetError, episode_dir

    ap = argparse.ArgumentParser(prog="cliport-pretrain-clip",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", help="pre-training YAML (default: config/clip_pretrain.yaml)")
    ap.add_argument("--data", required=True, help="episode store root (cliport-demos --out)")
    ap.add_argument("--task", action="append", required=True,
                    help="task(-variant) whose train demos to use; repeat for several")
    ap.add_argument("--n-demos", type=int, default=None, help="first N train episodes")
    ap.add_argument("--val-task", action="append", default=[],
                    help="task whose val episodes to report accuracies on")
    ap.add_argument("--steps", type=int, help="override the config's steps")
    ap.add_argument("--scenes", help="a cliport-scenes store to learn captions from as well "
                    "(task-agnostic renders: no demonstration in them)")
    ap.add_argument("--out", required=True, help="weights file to write (.safetensors)")
    ap.add_argument("--half", action="store_true", help="store float16 weights (half size)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        cfg = load_pretrain_config(args.config)
        if args.steps:
            from dataclasses import replace
            cfg = replace(cfg, steps=args.steps)
        from cliport_sim.tasks import make_task

        for t in [*args.task, *(args.val_task or [])]:
            make_task(t)  # a misspelt name: one line with suggestions, not a missing folder
        train = CaptionedSteps([Dataset(episode_dir(args.data, t, "train"),
                                        n_demos=args.n_demos, cache_episodes=1024)
                                for t in args.task], cfg.captions)
        val = (CaptionedSteps([Dataset(episode_dir(args.data, t, "val"), cache_episodes=1024)
                               for t in args.val_task], cfg.captions)
               if args.val_task else None)
        if args.scenes:
            from cliport_sim.scene_captions import load_scene, scene_files

            files = scene_files(args.scenes)
            if not files:
                raise ValueError(f"--scenes {args.scenes}: no scenes there (cliport-scenes)")
            train = Combined(train, CaptionedScenes([load_scene(f) for f in files],
                                                    seed=cfg.seed))
    except (ConfigError, DatasetError, ValueError) as exc:
        print(f"cliport-pretrain-clip: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(train)} training steps, {len(train.vocabulary)} captions: "
          f"{', '.join(train.vocabulary)}")
    model, metrics = pretrain(cfg, train, val)
    if args.half:
        model = model.half()
    out = save_clip_weights(model, args.out)
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); use it as "
          f"model.clip.pretrained: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
