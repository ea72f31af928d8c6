"""The simulator's action: the same pick / place poses the executor's ``PickPlace`` takes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cliport_common.poses import Pose

PRIMITIVES = ("pick_place", "push")


@dataclass(frozen=True)
class Action:
    """Pick (or push start) and place (or push end) poses in the base frame.

    For ``push`` the z values and orientations are ignored by the primitive
    (docs/design.md#push-primitive).
    """

    pose0: Pose
    pose1: Pose
    primitive: str = "pick_place"

    def __post_init__(self) -> None:
        if self.primitive not in PRIMITIVES:
            raise ValueError(f"unknown primitive {self.primitive!r}; expected one of "
                             f"{PRIMITIVES}")
        for name in ("pose0", "pose1"):
            pos, quat = getattr(self, name)
            if len(pos) != 3 or len(quat) != 4:
                raise ValueError(f"{name} must be ((x, y, z), (qx, qy, qz, qw)), got "
                                 f"{getattr(self, name)!r}")
            if not all(math.isfinite(v) for v in (*pos, *quat)):
                raise ValueError(f"{name} has non-finite values: {getattr(self, name)!r}")
