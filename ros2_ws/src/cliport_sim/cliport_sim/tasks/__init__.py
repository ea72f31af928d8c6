"""Task registry: the reference's task names -> factories taking the mode.

Families with colour variants register ``<family>-{seen,unseen,full}-colors``; the rest
register their own names. ``make_task(name, mode)`` builds one; ``TASK_NAMES`` lists all.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from cliport_sim.tasks.base import Goal, Task, TaskSetupError

__all__ = ["Goal", "Task", "TaskSetupError", "UnknownTaskError", "make_task", "register_task",
           "task_names"]

_REGISTRY: dict[str, Callable[[str], Task]] = {}
# Modules holding task families; importing them registers their names.
_FAMILY_MODULES = (
    "put_block_in_bowl",
    "stack_block_pyramid",
    "towers_of_hanoi",
    "assembling_kits",
    "packing_shapes",
    "packing_boxes_pairs",
    "packing_google_objects",
    "separating_piles",
    "align_rope",
)
_loaded = False


def register_task(family: str, splits: tuple[str, ...] | None = ("seen", "unseen", "full")):
    """Class decorator: register ``family`` (with ``-<split>-colors`` variants if given)."""
    def deco(cls: type[Task]) -> type[Task]:
        cls.family = family
        if splits:
            for split in splits:
                def make(mode: str, _split=split) -> Task:
                    return cls(mode=mode, split=_split)
                _add(f"{family}-{split}-colors", make)
        else:
            _add(family, lambda mode: cls(mode=mode))
        return cls
    return deco


def register_factory(name: str, factory: Callable[[str], Task]) -> None:
    """Register one name with a factory ``factory(mode) -> Task``."""
    _add(name, factory)


def _add(name: str, factory: Callable[[str], Task]) -> None:
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} registered twice")
    _REGISTRY[name] = factory


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _FAMILY_MODULES:
        importlib.import_module(f"cliport_sim.tasks.{module}")


def task_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


class UnknownTaskError(ValueError):
    """A task name that is not registered; the message suggests the closest names."""


def make_task(name: str, mode: str = "train") -> Task:
    from cliport_common.cli import did_you_mean

    _load()
    if name not in _REGISTRY:
        raise UnknownTaskError(f"unknown task {name!r}{did_you_mean(name, _REGISTRY) or '.'} "
                               f"Known tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](mode)


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("(.+?)".join(re.escape(p) for p in parts) + r"\.?", re.IGNORECASE)


_traits: dict[str, tuple[str, str]] = {}  # task name -> (family, instruction template)


def _task_traits(name: str) -> tuple[str, str]:
    if name not in _traits:
        task = _REGISTRY[name]("train")
        _traits[name] = (getattr(task, "family", name), getattr(task, "template", "") or "")
    return _traits[name]


def tasks_for_instruction(instruction: str) -> list[str]:
    """The registered tasks whose instruction template ``instruction`` fits (one template
    can belong to several variants, e.g. seen and unseen colours)."""
    _load()
    text = " ".join(instruction.split())
    return sorted(n for n in _REGISTRY if _task_traits(n)[1]
                  and _template_regex(_task_traits(n)[1]).fullmatch(text))


def task_family(name: str) -> str:
    """A registered task's family (its variants share it), else the name itself."""
    _load()
    return _task_traits(name)[0] if name in _REGISTRY else name
