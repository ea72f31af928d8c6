"""The Tableau colour palette and the seen / unseen colour splits (docs/design.md#colours).

Immutable tuples in a fixed order: the reference shuffles the global lists in place and
builds the ``full`` list from a ``set`` (order depends on PYTHONHASHSEED), so an instance
depended on what ran before it (docs/design.md#reproducible-instances). Here every
task draws from these with the episode's own ``numpy.random.Generator``.
"""

from __future__ import annotations

COLORS: dict[str, tuple[int, int, int]] = {
    "blue": (78, 121, 167),
    "red": (255, 87, 89),
    "green": (89, 169, 79),
    "orange": (242, 142, 43),
    "yellow": (237, 201, 72),
    "purple": (176, 122, 161),
    "pink": (255, 157, 167),
    "cyan": (118, 183, 178),
    "brown": (156, 117, 95),
    "white": (255, 255, 255),
    "gray": (186, 176, 172),
}

TRAIN_COLORS: tuple[str, ...] = ("blue", "red", "green", "yellow", "brown", "gray", "cyan")
EVAL_COLORS: tuple[str, ...] = ("blue", "red", "green", "orange", "purple", "pink", "white")
# The union in a fixed, documented order (train colours first, then the eval-only ones).
FULL_COLORS: tuple[str, ...] = TRAIN_COLORS + tuple(c for c in EVAL_COLORS
                                                     if c not in TRAIN_COLORS)

SPLITS = ("seen", "unseen", "full")


def colors_for(split: str, mode: str) -> tuple[str, ...]:
    """Colour names available to a ``*-{split}-colors`` variant in ``mode``.

    seen: train colours always; unseen: train colours in train mode, eval colours in
    val/test; full: all 11.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown colour split {split!r}; expected one of {SPLITS}")
    if mode not in ("train", "val", "test"):
        raise ValueError(f"unknown mode {mode!r}; expected train, val or test")
    if split == "full":
        return FULL_COLORS
    if split == "unseen" and mode != "train":
        return EVAL_COLORS
    return TRAIN_COLORS


def rgba(name: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """PyBullet ``rgbaColor`` (0..1) of a palette colour."""
    r, g, b = COLORS[name]
    return (r / 255.0, g / 255.0, b / 255.0, alpha)
