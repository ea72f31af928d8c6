"""Task sets: what ``--task`` names resolve to for training and evaluation.

``--task`` takes one registered task (``put-block-in-bowl-seen-colors``), several of them
(an explicit multi-task list), or one of the reference's set names (docs/design.md#eval-protocol):
``multi-language-conditioned`` and ``multi-attr-<held-out task>``. The sets' lists live in
``config/task_sets.yaml``. A resolved :class:`TaskSet` says which tasks to train on, with
which sampling probability each, and which tasks to validate and test on. Plain Python: the
task registry is only consulted to check names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cliport_common.config import ConfigError, config_path, from_dict, load_yaml

LANGUAGE_CONDITIONED = "multi-language-conditioned"
MULTI_ATTR_PREFIX = "multi-attr-"
KINDS = ("single", "multi", "multi-attr")


class TaskSetError(ValueError):
    """A ``--task`` value that names no task and no task set, or an invalid combination."""


@dataclass(frozen=True)
class TaskSet:
    """Concrete tasks behind a ``--task`` value.

    ``weights`` are the train tasks' sampling probabilities (sum 1): a task is drawn with
    them, then an episode of that task, then one of its actions, each once
    (docs/design.md#multitask-sampling-fix).
    """

    name: str
    kind: str  # single | multi | multi-attr
    train: tuple[str, ...]
    eval: tuple[str, ...]  # validated during training, rolled out by cliport-eval
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TaskSetError(f"task set kind must be one of {KINDS}, got {self.kind!r}")
        if not self.train or not self.eval:
            raise TaskSetError(f"task set {self.name!r} needs train and eval tasks")
        if len(self.weights) != len(self.train) or abs(sum(self.weights) - 1) > 1e-9:
            raise TaskSetError(f"task set {self.name!r}: {len(self.weights)} weights summing "
                               f"to {sum(self.weights)} for {len(self.train)} train tasks")

    @property
    def uniform(self) -> bool:
        return max(self.weights) - min(self.weights) < 1e-12


@dataclass(frozen=True)
class LanguageConditioned:
    train: tuple[str, ...]
    eval: tuple[str, ...]


@dataclass(frozen=True)
class HeldOut:
    drops: str
    seen: str | None = None


@dataclass(frozen=True)
class MultiAttr:
    pool: tuple[str, ...]
    seen_probability: float = 0.5
    held_out: dict[str, Any] = field(default_factory=dict)  # task -> HeldOut

    def __post_init__(self) -> None:
        if not 0 < self.seen_probability < 1:
            raise ConfigError(f"multi_attr.seen_probability must be in (0, 1), got "
                              f"{self.seen_probability}")


@dataclass(frozen=True)
class TaskSetsConfig:
    language_conditioned: LanguageConditioned
    multi_attr: MultiAttr
    unavailable: dict[str, Any] = field(default_factory=dict)  # set name -> why


def load_task_sets(path: str | Path | None = None) -> TaskSetsConfig:
    """The set definitions (default: the package's ``config/task_sets.yaml``)."""
    path = Path(path) if path is not None else config_path("cliport_policy", "task_sets.yaml")
    cfg = from_dict(TaskSetsConfig, load_yaml(path), where=str(path))
    held = {str(k): from_dict(HeldOut, v, where=f"{path}:multi_attr.held_out.{k}")
            for k, v in cfg.multi_attr.held_out.items()}
    for task, h in held.items():
        if h.drops not in cfg.multi_attr.pool:
            raise ConfigError(f"{path}: multi_attr.held_out.{task}.drops {h.drops!r} is not "
                              f"in multi_attr.pool")
    attr = MultiAttr(cfg.multi_attr.pool, cfg.multi_attr.seen_probability, held)
    return TaskSetsConfig(cfg.language_conditioned, attr,
                          {str(k): str(v) for k, v in cfg.unavailable.items()})


def set_names(sets: TaskSetsConfig | None = None) -> list[str]:
    """Every set name :func:`resolve` accepts."""
    sets = sets or load_task_sets()
    return [LANGUAGE_CONDITIONED] + [MULTI_ATTR_PREFIX + t for t in sets.multi_attr.held_out]


def is_set_name(name: str) -> bool:
    return name.startswith("multi-")


def _registered() -> list[str]:
    from cliport_sim.tasks import task_names

    return task_names()


def _unknown(name: str, known: Sequence[str]) -> TaskSetError:
    from cliport_common.cli import did_you_mean

    hint = did_you_mean(name, known) or "."
    return TaskSetError(f"unknown task or task set {name!r}{hint} Known task sets: "
                        f"{', '.join(k for k in known if is_set_name(k))}; tasks: "
                        f"{', '.join(k for k in known if not is_set_name(k))}")


def _named_set(name: str, sets: TaskSetsConfig, known: Sequence[str]) -> TaskSet:
    if name in sets.unavailable:
        raise TaskSetError(f"task set {name!r} {sets.unavailable[name]}")
    if name == LANGUAGE_CONDITIONED:
        lc = sets.language_conditioned
        return TaskSet(name, "multi", lc.train, lc.eval, _uniform(len(lc.train)))
    held_task = name[len(MULTI_ATTR_PREFIX):] if name.startswith(MULTI_ATTR_PREFIX) else ""
    if held_task not in sets.multi_attr.held_out:
        raise _unknown(name, known)
    attr = sets.multi_attr
    held: HeldOut = attr.held_out[held_task]
    if held.seen is None or held.seen in attr.pool:
        train = tuple(t for t in attr.pool if t != held.drops)
    else:
        train = tuple(held.seen if t == held.drops else t for t in attr.pool)
    if held.seen is None:
        weights = _uniform(len(train))
    else:
        rest = (1 - attr.seen_probability) / (len(train) - 1)
        weights = tuple(attr.seen_probability if t == held.seen else rest for t in train)
    return TaskSet(name, "multi-attr", train, (held_task,), weights)


def _uniform(n: int) -> tuple[float, ...]:
    return tuple(1.0 / n for _ in range(n))


def resolve(names: str | Sequence[str], sets: TaskSetsConfig | None = None,
            registered: Sequence[str] | None = None) -> TaskSet:
    """``--task`` value(s) -> a :class:`TaskSet`.

    One set name gives that set; registered task names give an explicit set trained and
    evaluated on exactly them, sampled uniformly. A set cannot be mixed with other names,
    and a task cannot be listed twice (it would get twice the samples).
    """
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise TaskSetError("no task given")
    sets = sets or load_task_sets()
    tasks = list(registered) if registered is not None else _registered()
    known = set_names(sets) + list(sets.unavailable) + tasks
    named = [n for n in names if is_set_name(n)]
    if named:
        if len(names) > 1:
            raise TaskSetError(f"a task set ({named[0]}) must be the only task given, got "
                               f"{names}")
        ts = _named_set(named[0], sets, known)
        missing = [t for t in ts.train + ts.eval if t not in tasks]
        if missing:
            raise TaskSetError(f"task set {ts.name!r} names unregistered tasks {missing}")
        return ts
    for n in names:
        if n not in tasks:
            raise _unknown(n, known)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TaskSetError(f"tasks given more than once: {dupes}")
    kind = "single" if len(names) == 1 else "multi"
    name = names[0] if len(names) == 1 else "+".join(names)
    return TaskSet(name, kind, tuple(names), tuple(names), _uniform(len(names)))


__all__ = ["TaskSet", "TaskSetError", "TaskSetsConfig", "load_task_sets", "resolve",
           "set_names", "is_set_name", "LANGUAGE_CONDITIONED", "MULTI_ATTR_PREFIX"]
