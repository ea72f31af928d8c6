"""Random KD-tree split of a container's volume into boxes that pack it (docs/design.md#tasks).

Two packing families need it: packing-boxes-pairs cuts the brown box into the boxes to be
packed, and the google-objects tasks cut it into one cell per object. Both follow the
reference: a cell is split while any side exceeds ``2 * min_dim``, along one of those sides
picked uniformly, at a cut uniform in ``[lo + min_dim, hi - min_dim]``, and the two halves
are separated by ``margin``. The region starts ``wall_clearance`` inside the container's
x / y sides (the reference's 1 cm) and spans its full height.

Unlike the reference (a recursive closure appending to a list), this is a plain function
over the episode's generator with an explicit stack, so the leaf order is part of the
contract (depth first, lower half first) and a seed always gives the same leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Leaf:
    """One cell: ``center`` in the container frame (x / y from its centre, z from its
    floor), ``size`` its side lengths; both in metres."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))


def split_volume(rng: np.random.Generator, size, *, min_dim: float, margin: float,
                 wall_clearance: float = 0.01) -> list[Leaf]:
    """Cut a ``size`` = (x, y, z) container into leaves; see the module docstring.

    Raises ValueError for sizes or parameters that cannot give a leaf.
    """
    size = np.asarray(size, dtype=np.float64)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(f"size must be three positive lengths, got {size.tolist()}")
    if not (min_dim > 0 and margin >= 0 and wall_clearance >= 0):
        raise ValueError(f"need min_dim > 0, margin >= 0, wall_clearance >= 0; got "
                         f"{min_dim}, {margin}, {wall_clearance}")
    lo = np.array([wall_clearance - size[0] / 2, wall_clearance - size[1] / 2, 0.0])
    hi = np.array([size[0] / 2 - wall_clearance, size[1] / 2 - wall_clearance, size[2]])
    if np.any(hi <= lo):
        raise ValueError(f"container {size.tolist()} is too small for a wall clearance of "
                         f"{wall_clearance}")
    leaves: list[Leaf] = []
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        extent = hi - lo
        splittable = extent > 2 * min_dim
        if not splittable.any():
            leaves.append(Leaf(tuple(float(v) for v in (lo + hi) / 2),
                               tuple(float(v) for v in extent)))
            continue
        axes = np.flatnonzero(splittable)
        axis = int(axes[int(rng.integers(len(axes)))])
        cut = lo[axis] + min_dim + float(rng.random()) * (extent[axis] - 2 * min_dim)
        hi1, lo2 = hi.copy(), lo.copy()
        hi1[axis] = cut - margin / 2
        lo2[axis] = cut + margin / 2
        stack.append((lo2, hi))  # popped second
        stack.append((lo, hi1))  # popped first: lower half first, depth first
    return leaves
