"""Designs of the procedural everyday objects that stand in for Google Scanned Objects.

Why primitives: the real set is 56 textured scans (CC-BY, a separate download). For
training data without that download, each named object here is a small compound of boxes,
cylinders and spheres with the object's colours, so the instruction vocabulary ("pack the
hammer in the brown box") and the seen / unseen split match the reference while the
geometry stays light and exactly reproducible.

Designs are in centimetres with the object resting on z = 0; :mod:`cliport_sim.google_objects`
recentres and scales them. The names are the reference's 56 names (docs/design.md#google-objects).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

RGB = tuple[float, float, float]

_C: dict[str, RGB] = {
    "black": (0.08, 0.08, 0.08), "white": (0.94, 0.94, 0.92), "grey": (0.55, 0.55, 0.56),
    "silver": (0.75, 0.76, 0.78), "dark grey": (0.3, 0.3, 0.32), "red": (0.85, 0.12, 0.12),
    "dark red": (0.5, 0.05, 0.12), "blue": (0.1, 0.3, 0.8), "light blue": (0.55, 0.75, 0.95),
    "navy": (0.05, 0.1, 0.35), "green": (0.2, 0.65, 0.25), "lime": (0.55, 0.8, 0.2),
    "yellow": (0.95, 0.8, 0.1), "gold": (0.85, 0.65, 0.15), "orange": (0.95, 0.5, 0.1),
    "brown": (0.45, 0.28, 0.15), "light brown": (0.72, 0.55, 0.35), "tan": (0.82, 0.7, 0.5),
    "purple": (0.5, 0.25, 0.65), "pink": (0.95, 0.6, 0.7), "skin": (0.96, 0.78, 0.62),
    "wood": (0.7, 0.5, 0.3), "honey": (0.9, 0.65, 0.2),
}


@dataclass(frozen=True)
class Part:
    """One primitive: ``kind`` box (size = x, y, z), cylinder (radius, length, along
    ``axis``) or sphere (radius,); ``center`` and ``size`` in design units."""

    kind: str
    size: tuple[float, ...]
    center: tuple[float, float, float]
    rgb: RGB
    axis: str = "z"
    yaw: float = 0.0


def _box(x: float, y: float, z0: float, sx: float, sy: float, sz: float, color: str,
         yaw: float = 0.0) -> Part:
    """Box standing on height ``z0``."""
    return Part("box", (sx, sy, sz), (x, y, z0 + sz / 2), _C[color], yaw=yaw)


def _cyl(x: float, y: float, z: float, r: float, length: float, color: str,
         axis: str = "z") -> Part:
    """Cylinder centred at (x, y, z)."""
    return Part("cylinder", (r, length), (x, y, z), _C[color], axis=axis)


def _sph(x: float, y: float, z: float, r: float, color: str) -> Part:
    return Part("sphere", (r,), (x, y, z), _C[color])


# ----------------------------------------------------------------------------- archetypes
def _shoe(upper: str, sole: str, accent: str, style: str = "low") -> list[Part]:
    """Sole + heel block + toe; boots get a shaft, sandals straps, cleats studs."""
    z = 0.0
    parts: list[Part] = []
    if style == "cleats":
        for x in (-3.5, -1.0, 1.5, 4.0):
            for y in (-1.2, 1.2):
                parts.append(_box(x, y, 0.0, 0.8, 0.8, 0.6, "white"))
        z = 0.6
    parts.append(_box(0, 0, z, 11.0, 4.2, 1.0, sole))
    if style == "sandal":
        parts += [_box(2.5, 0, z + 1.0, 1.2, 4.0, 1.2, upper),
                  _box(-0.5, 0, z + 1.0, 1.2, 4.0, 1.2, upper),
                  _box(-4.2, 0, z + 1.0, 1.0, 4.0, 2.5, upper)]
        return parts
    height = 9.0 if style == "boot" else 3.8
    parts += [_box(-2.0, 0, z + 1.0, 6.5, 3.8, height, upper),
              _box(3.3, 0, z + 1.0, 4.0, 3.6, 2.2, upper),
              _box(-2.6, 1.95, z + 1.6, 5.0, 0.15, 0.7, accent),
              _box(-2.6, -1.95, z + 1.6, 5.0, 0.15, 0.7, accent),
              _box(0.5, 0, z + 1.0 + height - 0.3, 2.0, 2.4, 0.5, accent)]
    return parts


def _quadruped(body: str, head: str, length: float, extras: list[Part],
               leg_h: float = 3.0, width: float = 4.0, body_h: float = 4.0,
               head_r: float = 2.2) -> list[Part]:
    """Four legs at the corners, a box body, a head sphere in front."""
    lx, ly = length / 2 - 0.8, width / 2 - 0.8
    parts = [_box(sx * lx, sy * ly, 0.0, 1.6, 1.6, leg_h + 0.2, body)
             for sx in (-1, 1) for sy in (-1, 1)]
    parts.append(_box(0, 0, leg_h, length, width, body_h, body))
    parts.append(_sph(length / 2 + head_r * 0.5, 0, leg_h + body_h + head_r * 0.4, head_r,
                      head))
    return parts + extras


def _biped(body: str, legs: str, head: str, extras: list[Part], body_w: float = 5.0,
           head_r: float = 2.6) -> list[Part]:
    """Two wide feet, a box torso, arms at the sides, a head sphere."""
    parts = [_box(0, sx * body_w / 4, 0.0, 3.2, body_w / 2 - 0.2, 3.0, legs) for sx in (-1, 1)]
    parts.append(_box(0, 0, 3.0, 3.0, body_w, 4.5, body))
    parts += [_box(0, sx * (body_w / 2 + 0.7), 4.0, 1.4, 1.4, 3.5, body) for sx in (-1, 1)]
    parts.append(_sph(0, 0, 7.5 + head_r * 0.9, head_r, head))
    return parts + extras


def _carton(sx: float, sy: float, sz: float, main: str, band: str, logo: bool = False
            ) -> list[Part]:
    parts = [_box(0, 0, 0, sx, sy, sz, main), _box(0, 0, sz * 0.35, sx + 0.1, sy + 0.1,
                                                   sz * 0.3, band)]
    if logo:
        parts += [_cyl(0, 0, sz + 0.05, min(sx, sy) * 0.25, 0.1, "white"),
                  _cyl(0, 0, sz + 0.12, min(sx, sy) * 0.18, 0.1, "red")]
    return parts


def _hat(main: str, band: str) -> list[Part]:
    return [_cyl(0, 0, 0.25, 8.0, 0.5, main), _cyl(0, 0, 3.0, 4.5, 5.0, main),
            _cyl(0, 0, 1.1, 4.6, 1.2, band)]


def _tape(color: str) -> list[Part]:
    parts = []
    for k in range(10):
        a = 2 * math.pi * k / 10
        parts.append(Part("box", (2.0, 3.3, 2.5), (4.0 * math.cos(a), 4.0 * math.sin(a), 1.25),
                          _C[color], yaw=a))
    return parts


def _towel(stripe: str) -> list[Part]:
    return [_box(0, -4.5 + 1.5 * k, 0, 14.0, 1.5, 2.5, stripe if k % 2 else "white")
            for k in range(7)]


def _mouse(main: str, accent: str) -> list[Part]:
    return [_box(0, 0, 0, 11.0, 6.0, 1.5, main), _box(-0.5, 0, 1.5, 8.0, 5.0, 1.8, main),
            _box(3.0, 0, 3.3, 1.2, 0.6, 0.4, "dark grey"),
            _box(-2.5, 0, 3.3, 1.5, 1.5, 0.1, accent)]


def _figure_extras_bull() -> list[Part]:
    return [_cyl(5.4, 1.6, 8.4, 0.35, 2.0, "white", "y"), _cyl(5.4, -1.6, 8.4, 0.35, 2.0,
                                                                "white", "y"),
            _box(-5.0, 0, 5.0, 1.4, 0.5, 0.5, "brown")]


_DESIGNS: dict[str, Callable[[], list[Part]]] = {
    # --------------------------------------------------------------- seen (37)
    "alarm clock": lambda: [_box(-2.5, 0, 0, 1.5, 2.8, 1.4, "black"),
                            _box(2.5, 0, 0, 1.5, 2.8, 1.4, "black"),
                            _cyl(0, 0, 5.2, 4.0, 3.0, "red", "y"),
                            _cyl(0, -1.6, 5.2, 3.3, 0.3, "white", "y"),
                            _sph(-2.6, 0, 9.0, 1.4, "silver"), _sph(2.6, 0, 9.0, 1.4, "silver")],
    "android toy": lambda: _biped("lime", "lime", "lime",
                                  [_cyl(-0.8, 0, 10.5, 0.2, 1.6, "lime"),
                                   _cyl(0.8, 0, 10.5, 0.2, 1.6, "lime")]),
    "black boot with leopard print": lambda: _shoe("black", "black", "tan", "boot"),
    "black fedora": lambda: _hat("black", "dark grey"),
    "black razer mouse": lambda: _mouse("black", "green"),
    "black sandal": lambda: _shoe("black", "black", "black", "sandal"),
    "black shoe with orange stripes": lambda: _shoe("black", "white", "orange"),
    "bull figure": lambda: _quadruped("brown", "brown", 10.0, _figure_extras_bull()),
    "butterfinger chocolate": lambda: [_box(0, 0, 0, 15.0, 4.5, 1.4, "yellow"),
                                       _box(0, 0, 1.4, 6.0, 4.5, 0.05, "blue")],
    "c clamp": lambda: [_box(-4.0, 0, 0, 1.5, 8.0, 1.5, "red"),
                        _box(-1.0, 3.3, 0, 6.0, 1.4, 1.5, "red"),
                        _box(-1.0, -3.3, 0, 6.0, 1.4, 1.5, "red"),
                        _box(3.0, -1.0, 0.25, 0.8, 6.0, 1.0, "silver"),
                        _box(3.0, -4.8, 0, 4.0, 1.0, 1.5, "silver")],
    "can opener": lambda: [_box(-3.0, 0.9, 0, 12.0, 1.4, 1.0, "silver"),
                           _box(-3.0, -0.9, 0, 12.0, 1.4, 1.0, "silver"),
                           _box(4.5, 0, 0, 3.5, 4.5, 2.0, "dark grey"),
                           _box(5.0, 3.5, 0.5, 1.0, 3.0, 1.0, "black")],
    "crayon box": lambda: [_box(0, 0, 0, 12.0, 9.0, 3.0, "yellow"),
                           _box(0, 0, 3.0, 6.0, 9.0, 0.05, "green")]
                          + [_cyl(6.6, -3.5 + 1.75 * k, 1.5, 0.5, 1.2,
                                  ("red", "blue", "green", "orange", "purple")[k], "x")
                             for k in range(5)],
    "dog statue": lambda: _quadruped("grey", "grey", 9.0,
                                     [_box(-3.8, 0, 4.5, 3.0, 0.6, 0.6, "grey"),
                                      _box(5.2, 1.2, 8.3, 0.8, 0.6, 1.5, "dark grey"),
                                      _box(5.2, -1.2, 8.3, 0.8, 0.6, 1.5, "dark grey")],
                                     leg_h=3.0, body_h=3.5),
    "frypan": lambda: [_cyl(0, 0, 0.9, 8.0, 1.8, "black"), _cyl(0, 0, 1.85, 7.0, 0.1,
                                                                 "dark grey"),
                       _box(11.5, 0, 0.6, 9.0, 2.0, 1.2, "black")],
    "green and white striped towel": lambda: _towel("green"),
    "grey soccer shoe with cleats": lambda: _shoe("grey", "grey", "white", "cleats"),
    "hard drive": lambda: [_box(0, 0, 0, 14.7, 10.2, 2.0, "silver"),
                           _box(-1.0, 0, 2.0, 7.0, 6.0, 0.05, "white")],
    "honey dipper": lambda: [_box(-4.0, 0, 0, 11.0, 1.2, 1.2, "wood")]
                            + [_box(2.5 + 1.2 * k, 0, 0, 0.9, 3.2, 3.2, "honey")
                               for k in range(4)]
                            + [_box(4.3, 0, 0.5, 4.0, 2.2, 2.2, "honey")],
    "magnifying glass": lambda: [_cyl(0, 0, 0.4, 5.0, 0.8, "black"),
                                 _cyl(0, 0, 0.5, 4.4, 0.8, "light blue"),
                                 _box(8.5, 0, 0, 8.0, 1.8, 1.4, "black")],
    "mario figure": lambda: _biped("red", "blue", "skin",
                                   [_cyl(0, 0, 12.2, 2.4, 0.8, "red"),
                                    _box(0, 0, 3.0, 3.1, 5.1, 2.5, "blue")]),
    "nintendo 3ds": lambda: [_box(0, 0, 0, 13.4, 7.4, 1.0, "light blue"),
                             _box(0, 0, 1.0, 13.4, 7.4, 1.0, "navy"),
                             _cyl(0, 3.7, 1.0, 0.5, 13.0, "dark grey", "x")],
    "nintendo cartridge": lambda: [_box(0, 0, 0, 5.6, 3.6, 0.9, "dark grey"),
                                   _box(0, 0.4, 0.9, 4.0, 2.4, 0.05, "red")],
    "office depot box": lambda: _carton(14.0, 10.0, 8.0, "red", "white"),
    "orca plush toy": lambda: [_box(0, 0, 0, 14.0, 6.0, 4.0, "black"),
                               _box(1.0, 0, 0, 10.0, 5.0, 0.3, "white"),
                               _box(0, 0, 4.0, 3.0, 0.8, 3.0, "black"),
                               _box(-8.5, 0, 1.0, 3.0, 7.0, 0.8, "black"),
                               _box(5.0, 1.5, 2.5, 1.2, 0.1, 0.8, "white")],
    "pepsi gold caffeine free box": lambda: _carton(16.0, 11.0, 7.0, "gold", "white", True),
    "pepsi wild cherry box": lambda: _carton(16.0, 11.0, 7.0, "dark red", "pink", True),
    "porcelain cup": lambda: [_cyl(0, 0, 3.5, 4.0, 7.0, "white"),
                              _box(4.8, 0, 1.5, 1.8, 0.8, 4.0, "white")],
    "purple tape": lambda: _tape("purple"),
    "red and white flashlight": lambda: [_box(-2.0, 0, 0.4, 12.0, 3.0, 3.0, "red"),
                                         _box(5.5, 0, 0, 3.5, 4.0, 4.0, "white"),
                                         _box(7.3, 0, 0.5, 0.2, 3.0, 3.0, "light blue")],
    "rhino figure": lambda: _quadruped("grey", "grey", 11.0,
                                       [_cyl(7.0, 0, 8.3, 0.5, 2.0, "white")],
                                       width=5.0, body_h=4.5, head_r=2.5),
    "rocket racoon figure": lambda: _biped("brown", "orange", "brown",
                                           [_box(-2.5, 0, 1.0, 2.5, 1.6, 1.6, "brown"),
                                            _box(0, 1.4, 11.2, 0.8, 0.6, 1.2, "brown"),
                                            _box(0, -1.4, 11.2, 0.8, 0.6, 1.2, "brown")]),
    "scissors": lambda: [_box(3.5, 0.4, 0, 9.0, 1.0, 0.5, "silver", yaw=0.12),
                         _box(3.5, -0.4, 0, 9.0, 1.0, 0.5, "silver", yaw=-0.12),
                         _cyl(-3.0, 1.8, 0.3, 1.8, 0.6, "orange"),
                         _cyl(-3.0, -1.8, 0.3, 1.8, 0.6, "orange")],
    "silver tape": lambda: _tape("silver"),
    "spatula with purple head": lambda: [_box(-3.5, 0, 0, 14.0, 1.6, 1.2, "black"),
                                         _box(6.5, 0, 0, 7.0, 6.0, 0.4, "purple")],
    "spiderman figure": lambda: _biped("red", "blue", "red",
                                       [_box(0, 0, 5.0, 3.05, 2.0, 2.5, "blue"),
                                        _sph(1.2, 0.9, 10.0, 0.7, "white"),
                                        _sph(1.2, -0.9, 10.0, 0.7, "white")]),
    "tablet": lambda: [_box(0, 0, 0, 20.0, 13.5, 0.8, "black"),
                       _box(0, 0, 0.8, 18.0, 11.5, 0.05, "navy")],
    "toy school bus": lambda: [_cyl(sx * 5.0, sy * 2.6, 1.2, 1.2, 1.0, "black", "y")
                               for sx in (-1, 1) for sy in (-1, 1)]
                              + [_box(0, 0, 1.0, 16.0, 6.0, 5.0, "yellow"),
                                 _box(0.5, 3.0, 3.5, 12.0, 0.1, 1.5, "black"),
                                 _box(0.5, -3.0, 3.5, 12.0, 0.1, 1.5, "black"),
                                 _box(8.0, 0, 2.0, 0.1, 4.0, 2.0, "black")],
    # --------------------------------------------------------------- unseen (19)
    "ball puzzle": lambda: [_cyl(0, 0, 0.5, 2.5, 1.0, "black"), _sph(0, 0, 4.6, 4.5, "white"),
                            _sph(3.2, 0, 7.0, 1.6, "red"), _sph(-3.2, 0, 7.0, 1.6, "blue"),
                            _sph(0, 3.2, 7.0, 1.6, "yellow"), _sph(0, -3.2, 7.0, 1.6, "green")],
    "black and blue sneakers": lambda: _shoe("black", "white", "blue"),
    "black shoe with green stripes": lambda: _shoe("black", "black", "green"),
    "brown fedora": lambda: _hat("brown", "black"),
    "dinosaur figure": lambda: _quadruped("green", "green", 10.0,
                                          [_box(-8.0, 0, 3.5, 6.0, 1.6, 1.6, "green"),
                                           _box(6.0, 0, 6.0, 2.0, 1.8, 3.0, "green")],
                                          head_r=2.0),
    "hammer": lambda: [_box(-2.0, 0, 0, 18.0, 2.2, 1.8, "wood"),
                       _box(8.0, 0, 0, 3.0, 9.0, 2.6, "dark grey")],
    "light brown boot with golden laces": lambda: _shoe("light brown", "brown", "gold", "boot"),
    "lion figure": lambda: _quadruped("tan", "tan", 10.0,
                                      [_sph(5.0, 0, 8.0, 3.2, "brown"),
                                       _box(-6.5, 0, 4.5, 3.0, 0.6, 0.6, "tan")]),
    "pepsi max box": lambda: _carton(16.0, 11.0, 7.0, "black", "blue", True),
    "pepsi next box": lambda: _carton(16.0, 11.0, 7.0, "navy", "silver", True),
    "porcelain salad plate": lambda: [_cyl(0, 0, 0.3, 6.0, 0.6, "white"),
                                      _cyl(0, 0, 0.9, 10.0, 0.6, "white")],
    "porcelain spoon": lambda: [_box(-3.0, 0, 0, 10.0, 1.3, 0.6, "white"),
                                _cyl(3.8, 0, 0.5, 2.4, 1.0, "white")],
    "red and white striped towel": lambda: _towel("red"),
    "red cup": lambda: [_cyl(0, 0, 4.5, 4.2, 9.0, "red"),
                        _cyl(0, 0, 8.8, 4.4, 0.4, "white")],
    "screwdriver": lambda: [_box(-4.0, 0, 0, 7.0, 2.6, 2.6, "red"),
                            _box(-4.0, 0, 0, 2.0, 2.7, 2.7, "yellow"),
                            _box(3.5, 0, 0, 8.0, 0.7, 0.7, "silver")],
    "toy train": lambda: [_cyl(sx * 4.5, sy * 2.4, 1.1, 1.1, 0.8, "black", "y")
                          for sx in (-1, 0.2, 1) for sy in (-1, 1)]
                         + [_box(0, 0, 1.0, 14.0, 5.0, 1.5, "red"),
                            _cyl(2.0, 0, 4.5, 2.0, 8.0, "green", "x"),
                            _box(-4.5, 0, 2.5, 4.5, 5.0, 5.0, "green"),
                            _cyl(4.5, 0, 7.0, 0.8, 2.0, "black")],
    "unicorn toy": lambda: _quadruped("white", "white", 10.0,
                                      [_cyl(6.6, 0, 10.0, 0.4, 2.6, "gold"),
                                       _box(3.0, 0, 7.0, 3.5, 1.0, 1.2, "pink"),
                                       _box(-6.0, 0, 4.0, 2.5, 1.0, 1.0, "pink")]),
    "white razer mouse": lambda: _mouse("white", "green"),
    "yoshi figure": lambda: _biped("green", "orange", "green",
                                   [_box(0.9, 0, 3.2, 1.3, 4.0, 3.8, "white"),
                                    _box(-1.5, 0, 5.0, 1.0, 4.4, 2.0, "red"),
                                    _sph(2.2, 0, 10.0, 1.4, "green")]),
}

SEEN: tuple[str, ...] = tuple(list(_DESIGNS)[:37])
UNSEEN: tuple[str, ...] = tuple(list(_DESIGNS)[37:])


def parts(name: str) -> list[Part]:
    """The design of ``name`` (centimetres, resting on z = 0)."""
    try:
        return _DESIGNS[name]()
    except KeyError:
        raise KeyError(f"unknown object {name!r}; known: {', '.join(_DESIGNS)}") from None
