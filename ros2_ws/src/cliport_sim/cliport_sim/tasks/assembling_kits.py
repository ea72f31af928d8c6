"""assembling-kits-seq: "put the {color} {obj} in the {loc}{obj} hole", one shape per step.

A kit board with five shape holes (docs/design.md#tasks) and five coloured shapes, one per hole,
scattered on the table; the steps come in a random order. Shapes are drawn with
replacement, so a shape can have several holes; the instruction then names the hole by
where it lies among its twins (top / bottom = smaller / larger world x, left / right =
smaller / larger world y, otherwise middle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cliport_common.poses import Pose, quat_from_yaw
from cliport_sim import assets
from cliport_sim.colors import rgba
from cliport_sim.geometry import multiply
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Goal, Task, TaskSetupError

TWO_PI = 2.0 * math.pi
N_OBJECTS = 5
KIT_SIZE = (0.28, 0.2, 0.005)
SHAPE_SIZE = (0.08, 0.08, 0.02)
# Hole centres in the kit frame (x, y); z is the kit's top face.
HOLES_XY = ((-0.09, 0.045), (0.0, 0.045), (0.09, 0.045), (-0.045, -0.045), (0.045, -0.045))
SHAPE_NAMES = assets.KIT_SHAPE_LABELS  # docs/design.md#kitting-shapes, e.g. "letter R shape"
SYMMETRIES = assets.KIT_SYMMETRIES
TRAIN_SHAPES = tuple(range(14))
EVAL_SHAPES = tuple(range(14, 20))
ALL_SHAPES = tuple(range(20))
# A hole counts as taken when another shape's centre is this close to it.
OCCUPIED_RADIUS = 0.04


def hole_location(i: int, xy: Sequence[Sequence[float]], shapes: Sequence[int]) -> str:
    """The ``{loc}`` word of hole ``i`` ("" when its shape has a single hole).

    Compared with every other hole of the same shape: "top " if it has the smaller world x
    and x is the dominant axis for all of them, "bottom " for the larger x, else "left " /
    "right " for a smaller / larger world y than all of them, else "middle ".
    """
    others = [j for j in range(len(shapes)) if j != i and shapes[j] == shapes[i]]
    if not others:
        return ""
    x, y = xy[i][0], xy[i][1]
    deltas = [(xy[j][0] - x, xy[j][1] - y) for j in others]
    if all(dx > 0 and abs(dx) > abs(dy) for dx, dy in deltas):
        return "top "
    if all(dx < 0 and abs(dx) > abs(dy) for dx, dy in deltas):
        return "bottom "
    if all(dy > 0 for _, dy in deltas):
        return "left "
    if all(dy < 0 for _, dy in deltas):
        return "right "
    return "middle "


def same_instruction(i: int, shapes: Sequence[int], locs: Sequence[str]) -> list[int]:
    """Holes (by index) that hole ``i``'s instruction cannot tell apart from it, itself
    included: same shape and same location word."""
    return [j for j in range(len(shapes)) if shapes[j] == shapes[i] and locs[j] == locs[i]]


def shapes_for(split: str, mode: str) -> tuple[int, ...]:
    """Shape ids a variant draws from: 0-13 to train, 14-19 to evaluate, all for full."""
    if split == "full":
        return ALL_SHAPES
    return TRAIN_SHAPES if mode == "train" else EVAL_SHAPES


@register_task("assembling-kits-seq")
class AssemblingKitsSeq(Task):
    """Five sequential pose goals (1/5 each, per-shape symmetry), in a random order.

    Differences from the reference:

    * colours and shapes come from the episode's generator and immutable palettes; the
      reference shuffles the global colour list in place (docs/design.md#reproducible-instances);
    * when a shape has several holes and two of them get the same location word (e.g.
      two "middle" holes among three twins), the instruction cannot tell them apart, so
      each of those steps accepts either hole (the oracle takes a free one). The reference
      insisted on one of them, rewarding a coin flip.
    """

    template = "put the {color} {obj} in the {loc}{obj} hole"
    done_language = "done assembling kit."
    max_steps = N_OBJECTS
    # Default primitive speed: the place descent slows to ~1 mm per step near contact, so a
    # shape no longer bounces out of its hole (20/20 seeds in train and test per variant).

    def __init__(self, mode: str = "train", split: str | None = None) -> None:
        super().__init__(mode, split)
        # The episode's layout, index i = hole i = the shape body that belongs in it.
        self.shapes: list[int] = []
        self.holes: list[Pose] = []
        self.shape_bodies: list[int] = []
        self.locations: list[str] = []

    def build(self, env) -> None:
        rng = env.rng
        palette = self.colors()
        if len(palette) < N_OBJECTS:
            raise TaskSetupError(f"{self.name}: palette has {len(palette)} colours, "
                                 f"{N_OBJECTS} are needed")
        color_names = [palette[i] for i in rng.permutation(len(palette))[:N_OBJECTS]]
        pool = shapes_for(self.split or "seen", self.mode)
        shapes = [int(pool[k]) for k in rng.integers(len(pool), size=N_OBJECTS)]

        kit_pose = self.require_pose(env, KIT_SIZE)
        env.add_object(assets.asset_path("kitting/kit.urdf"), kit_pose, "fixed")
        holes: list[Pose] = []
        for (hx, hy), shape in zip(HOLES_XY, shapes, strict=True):
            yaw = float(rng.uniform(0.0, TWO_PI))
            hole = multiply(kit_pose, ((hx, hy, assets.KIT_HOLE_Z), quat_from_yaw(yaw)))
            env.add_object(assets.kit_hole_urdf(shape), hole, "fixed", temporary=True)
            holes.append(hole)
        holes_xy = [h[0][:2] for h in holes]
        locs = [hole_location(i, holes_xy, shapes) for i in range(N_OBJECTS)]

        objects = []
        for shape, name in zip(shapes, color_names, strict=True):
            pose = self.require_pose(env, SHAPE_SIZE)
            objects.append(env.add_object(assets.kit_shape_urdf(shape, rgba(name)), pose,
                                          temporary=True))
        self.shapes, self.holes, self.shape_bodies, self.locations = shapes, holes, objects, locs

        for i in rng.permutation(N_OBJECTS):
            same = same_instruction(int(i), shapes, locs)
            self.add_goal([objects[i]], [holes[j] for j in same],
                          symmetries=[SYMMETRIES[shapes[i]]], max_reward=1.0 / N_OBJECTS,
                          language=self.template.format(color=color_names[i],
                                                        obj=SHAPE_NAMES[shapes[i]],
                                                        loc=locs[i]))

    def _nearest(self, env, obj: int, goal: Goal, targets: np.ndarray) -> int:
        """Nearest hole not already taken by another shape (any hole if all are)."""
        free = [j for j in targets if not self._occupied(env, obj, goal.targets[j])]
        return super()._nearest(env, obj, goal, np.asarray(free if free else targets))

    def _occupied(self, env, obj: int, hole: Pose) -> bool:
        return any(math.dist(env.pose(other)[0][:2], hole[0][:2]) < OCCUPIED_RADIUS
                   for other in self.shape_bodies if other != obj)
