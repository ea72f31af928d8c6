"""packing-boxes-pairs: "pack all the {colors} blocks into the brown box" (docs/design.md#tasks).

The boxes to pack are a random KD-tree split of the brown box's volume, so together they
fill it; each is coloured with one of two relevant colours and scattered on the table.
Four distractor boxes, the sizes of random leaves, take the palette's other colours. The
zone metric's tight z-bound (0.0525 above the box's bottom, just over its rim) gives no
credit to a box stacked on another, so the boxes must go side by side.

On the Franka twin (``env.parallel_gripper``) the Franka Hand opens 80 mm and the workspace
is smaller, so the brown box is U[0.08, 0.14]^2 and is cut finer (``min_dim`` 0.03): every
box to pack then has both horizontal sides <= 60 mm, so the fingers always fit across it.
"""

from __future__ import annotations

import math

from cliport_sim import assets
from cliport_sim.colors import rgba
from cliport_sim.geometry import IDENTITY_QUAT, multiply
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import TaskSetupError
from cliport_sim.tasks.kdtree import split_volume
from cliport_sim.tasks.packing_common import CONTAINER_WALL, PackingTask, add_container

BOX_XY_RANGE = (0.05, 0.30)
BOX_HEIGHT = 0.05
MIN_DIM = 0.05
MARGIN = 0.01
N_DISTRACTORS = 4
# The twin's scene (see the module docstring): leaves' sides are <= 2 * min_dim.
TWIN_BOX_XY_RANGE = (0.08, 0.14)
TWIN_MIN_DIM = 0.03
TWIN_MARGIN = 0.01
# The reference's tight bound is 0.0525 above its container's origin, which is the floor;
# ours is at mid-height, so the same physical bound (2.5 mm over the rim) is 0.0275 here.
ZONE_Z_BOUND = 0.0525 - BOX_HEIGHT / 2


@register_task("packing-boxes-pairs")
class PackingBoxesPairs(PackingTask):
    """Boxes from a KD-tree split of a U[0.05, 0.30]^2 x 0.05 brown box, plus 4 distractors.

    Every leaf is a box to pack, coloured with one of two colours drawn from this variant's
    palette (brown excluded: it is the container's colour). The instruction names the
    colours that the leaves actually got, so it reads "c1" when they all share one colour.
    Distractors take palette colours other than the named ones.
    """

    template = "pack all the {colors} blocks into the brown box"
    done_language = "done packing blocks."
    max_steps = 20

    def build(self, env) -> None:
        rng = env.rng
        twin = getattr(env, "parallel_gripper", False)
        xy_range, min_dim, margin = ((TWIN_BOX_XY_RANGE, TWIN_MIN_DIM, TWIN_MARGIN) if twin
                                     else (BOX_XY_RANGE, MIN_DIM, MARGIN))
        box_size = (float(rng.uniform(*xy_range)), float(rng.uniform(*xy_range)), BOX_HEIGHT)
        box_pose = add_container(self, env, box_size)
        leaves = split_volume(rng, box_size, min_dim=min_dim, margin=margin)

        palette = [c for c in self.colors() if c != "brown"]
        pair = [palette[i] for i in rng.choice(len(palette), 2, replace=False)]
        leaf_colors = [pair[int(rng.integers(2))] for _ in leaves]
        named = [c for c in pair if c in leaf_colors]

        floor = -box_size[2] / 2 + CONTAINER_WALL  # container frame: origin at its centre
        boxes, targets = [], []
        for leaf, color in zip(leaves, leaf_colors, strict=True):
            pose = self.require_pose(env, leaf.size)
            urdf = assets.box_urdf(leaf.size, rgba(color))
            boxes.append(env.add_object(urdf, pose, temporary=True))
            x, y, _ = leaf.center
            targets.append(multiply(box_pose, ((x, y, floor + leaf.size[2] / 2),
                                               IDENTITY_QUAT)))
        # a box fits its cell either way round: the oracle turns it by under 90 deg
        self.add_goal(boxes, targets, symmetries=[math.pi] * len(boxes),
                      matches=[[i == j for j in range(len(boxes))] for i in range(len(boxes))],
                      metric="zone", zones=[(box_pose, box_size[:2])],
                      zone_z_bound=ZONE_Z_BOUND,
                      language=self.template.format(colors=" and ".join(named)))
        self.max_steps = max(self.max_steps, len(boxes) + 1)

        others = [c for c in palette if c not in pair]
        if not others:
            raise TaskSetupError(f"{self.name}: no colours left for distractors")
        for k in rng.choice(len(leaves), N_DISTRACTORS):
            size = leaves[int(k)].size
            color = others[int(rng.integers(len(others)))]
            pose = self.require_pose(env, size)
            env.add_object(assets.box_urdf(size, rgba(color)), pose, temporary=True)
