"""Outlines of the 20 kitting shapes as unions of convex polygons (docs/design.md#kitting-shapes).

Why unions of convex pieces: each piece becomes one convex hull in PyBullet, so letters,
the ring and the heart collide with their real outline (holes and notches included), and
the same pieces, offset outward, draw the matching kit holes.

Design units are millimetres. Shapes with a rotational symmetry are centred on their
rotation centre (the symmetry metric turns about the body origin); the others (letters,
heart: symmetry 2 pi) are centred on their bounding box. Every outline fits 0.08 x 0.08 m.
"""

from __future__ import annotations

import math

from cliport_sim.assets._mesh import (
    Polygon,
    annulus_pieces,
    bounds,
    ccw,
    rect,
    regular,
    translate,
)

TWO_PI = 2 * math.pi


def _star(points: int, r_out: float, r_in: float) -> list[Polygon]:
    inner = regular(points, r_in, phase=math.pi / 2 + math.pi / points)
    outer = regular(points, r_out, phase=math.pi / 2)
    tips = [[inner[k - 1], outer[k], inner[k]] for k in range(points)]
    return [inner, *tips]


def _flower() -> list[Polygon]:
    pieces = [regular(16, 17.0, phase=0.0)]
    for k in range(4):
        a = k * math.pi / 2
        pieces.append(regular(16, 15.0, phase=a, center=(22 * math.cos(a), 22 * math.sin(a))))
    return pieces


def _letter_g() -> list[Polygon]:
    arc = annulus_pieces(21.0, 36.0, 10, math.radians(35), math.radians(345))
    return [*arc, rect(6, -7, 33, 7)]


def _heart() -> list[Polygon]:
    return [regular(24, 19.0, 0.0, (-16, 12)), regular(24, 19.0, 0.0, (16, 12)),
            [(-33.5, 6.0), (0.0, -36.0), (33.5, 6.0)]]


# (name, pieces in mm, symmetry in radians), in the reference's index order 0..19.
_DESIGNS: list[tuple[str, list[Polygon], float]] = [
    ("letter R", [rect(-28, -36, -13, 36), rect(-13, 21, 10, 36), rect(-13, -3, 10, 12),
                  [(10, -3), (26, 5), (26, 28), (10, 36)],
                  [(-4, -3), (11, -3), (28, -36), (13, -36)]], TWO_PI),
    ("letter A", [[(-30, -36), (-15, -36), (7, 36), (-8, 36)],
                  [(15, -36), (30, -36), (8, 36), (-7, 36)], rect(-19, -14, 19, -1)], TWO_PI),
    ("triangle", [regular(3, 42.0)], TWO_PI / 3),
    ("square", [rect(-30, -30, 30, 30)], math.pi / 2),
    ("plus", [rect(-36, -11, 36, 11), rect(-11, -36, 11, 36)], math.pi / 2),
    ("letter T", [rect(-30, 21, 30, 36), rect(-7.5, -36, 7.5, 21)], TWO_PI),
    ("diamond", [[(0, 38), (-24, 0), (0, -38), (24, 0)]], math.pi),
    ("pentagon", [regular(5, 37.0)], TWO_PI / 5),
    ("rectangle", [rect(-38, -20, 38, 20)], math.pi),
    ("flower", _flower(), math.pi / 2),
    ("star", _star(5, 38.0, 16.0), TWO_PI / 5),
    ("circle", [regular(32, 36.0)], 0.0),
    ("letter G", _letter_g(), TWO_PI),
    ("letter V", [[(-30, 36), (-15, 36), (7, -36), (-8, -36)],
                  [(15, 36), (30, 36), (8, -36), (-7, -36)]], TWO_PI),
    ("letter E", [rect(-26, -36, -11, 36), rect(-11, 21, 26, 36), rect(-11, -7.5, 20, 7.5),
                  rect(-11, -36, 26, -21)], TWO_PI),
    ("letter L", [rect(-24, -36, -9, 36), rect(-9, -36, 24, -21)], TWO_PI),
    ("ring", annulus_pieces(18.0, 36.0, 16), 0.0),
    ("hexagon", [regular(6, 37.0, phase=0.0)], TWO_PI / 6),
    ("heart", _heart(), TWO_PI),
    ("letter M", [rect(-32, -36, -18, 36), rect(18, -36, 32, 36),
                  [(-32, 36), (-18, 36), (7, -12), (-7, -12)],
                  [(32, 36), (18, 36), (-7, -12), (7, -12)]], TWO_PI),
]

NAMES: tuple[str, ...] = tuple(name for name, _, _ in _DESIGNS)
SYMMETRIES: tuple[float, ...] = tuple(sym for _, _, sym in _DESIGNS)


def pieces_m(index: int) -> list[Polygon]:
    """Convex CCW pieces of shape ``index`` in metres, centred as the module explains."""
    _, pieces, sym = _DESIGNS[index]
    pieces = [ccw(p) for p in pieces]
    if sym == TWO_PI:
        x0, y0, x1, y1 = bounds(pieces)
        pieces = [translate(p, -(x0 + x1) / 2, -(y0 + y1) / 2) for p in pieces]
    return [[(x / 1000.0, y / 1000.0) for x, y in p] for p in pieces]
