"""The workspace grid shared by perception, policy, executor and simulator.

One pixel <-> world convention is used everywhere: **cell centres**. The reference code
mixes floor, round and cell corners (docs/design.md#cell-centres); here cell (u, v) covers
``[x_min + v*s, x_min + (v+1)*s) x [y_min + u*s, y_min + (u+1)*s)`` and its pose is its
centre. Row u runs along world y and column v along world x, as in the reference, so the
default grid is 320 rows x 160 columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_GRID_SIDE = 2**32 - 1  # cells along x or y: the largest image (sensor_msgs/Image, uint32)


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned workspace box in the arm's base frame, metres."""

    x_min: float = 0.25
    x_max: float = 0.75
    y_min: float = -0.5
    y_max: float = 0.5
    z_min: float = 0.0
    z_max: float = 0.28
    pixel_size: float = 0.003125

    def __post_init__(self) -> None:
        values = (self.x_min, self.x_max, self.y_min, self.y_max, self.z_min, self.z_max)
        if not all(math.isfinite(v) for v in values + (self.pixel_size,)):
            raise ValueError(f"workspace values must be finite: {self}")
        if not (self.x_min < self.x_max and self.y_min < self.y_max and self.z_min < self.z_max):
            raise ValueError(f"workspace bounds must have min < max: {self}")
        if self.pixel_size <= 0:
            raise ValueError(f"pixel_size must be positive, got {self.pixel_size}")
        # finite values can still span more than a float (1e308 - -1e308), or more cells
        # than an image can hold
        cells = [(hi - lo) / self.pixel_size for lo, hi in ((self.y_min, self.y_max),
                                                             (self.x_min, self.x_max))]
        if not (all(c <= MAX_GRID_SIDE for c in cells)
                and math.isfinite(self.z_max - self.z_min)):
            raise ValueError(f"workspace too large for a grid: {cells[0]:.3g} x {cells[1]:.3g} "
                             f"cells, z range {self.z_max - self.z_min:.3g} m")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) = (cells along y, cells along x)."""
        return (round((self.y_max - self.y_min) / self.pixel_size),
                round((self.x_max - self.x_min) / self.pixel_size))

    @property
    def bounds(self) -> np.ndarray:
        """Reference-style 3x2 array [[x_min, x_max], [y_min, y_max], [z_min, z_max]]."""
        return np.array([[self.x_min, self.x_max], [self.y_min, self.y_max],
                         [self.z_min, self.z_max]])

    def contains(self, x: float, y: float, z: float | None = None) -> bool:
        """True when (x, y[, z]) is inside the box (edges included)."""
        inside = self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max
        if z is not None:
            inside = inside and self.z_min <= z <= self.z_max
        return bool(inside)

    def pixel_to_xy(self, u: float, v: float) -> tuple[float, float]:
        """World (x, y) of the centre of cell (row u, column v)."""
        return (self.x_min + (v + 0.5) * self.pixel_size,
                self.y_min + (u + 0.5) * self.pixel_size)

    def xy_to_pixel(self, x: float, y: float) -> tuple[int, int]:
        """(row u, column v) of the cell containing (x, y); may lie outside the grid."""
        return (math.floor((y - self.y_min) / self.pixel_size),
                math.floor((x - self.x_min) / self.pixel_size))

    def in_grid(self, u: int, v: int) -> bool:
        rows, cols = self.shape
        return 0 <= u < rows and 0 <= v < cols
