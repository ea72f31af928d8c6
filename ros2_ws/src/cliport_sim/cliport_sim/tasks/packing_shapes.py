"""packing-shapes: "pack the {obj} in the brown box" (docs/design.md#tasks).

The paper calls it packing-unseen-shapes: the shapes of train episodes (kitting ids 0-13)
never appear in val / test episodes (ids 14-19), so a policy must ground shape names it
never saw. One instruction, one step: only the first of the five shapes is the target.
"""

from __future__ import annotations

from cliport_sim import assets
from cliport_sim.colors import rgba
from cliport_sim.tasks import register_task
from cliport_sim.tasks.packing_common import PackingTask, add_container

TRAIN_SHAPES = tuple(range(0, 14))
EVAL_SHAPES = tuple(range(14, 20))
N_SHAPES = 5
BOX_XY_RANGE = (0.10, 0.15)
BOX_HEIGHT = 0.05


@register_task("packing-shapes", splits=None)
class PackingShapes(PackingTask):
    """Brown box U[0.10, 0.15]^2 x 0.05 and 5 distinct kitting shapes; shape 1 is packed.

    Shape colours are the seen palette without brown, shuffled with the episode generator
    (the instruction names only the shape; a brown shape would blend into the brown box).
    """

    template = "pack the {obj} in the brown box"
    done_language = "done packing shapes."
    max_steps = 1

    def shape_ids(self) -> tuple[int, ...]:
        return TRAIN_SHAPES if self.mode == "train" else EVAL_SHAPES

    def build(self, env) -> None:
        rng = env.rng
        ids = self.shape_ids()
        shapes = [ids[i] for i in rng.choice(len(ids), N_SHAPES, replace=False)]
        palette = [c for c in self.colors() if c != "brown"]
        colors = [palette[i] for i in rng.permutation(len(palette))[:N_SHAPES]]
        box_size = (float(rng.uniform(*BOX_XY_RANGE)), float(rng.uniform(*BOX_XY_RANGE)),
                    BOX_HEIGHT)
        box_pose = add_container(self, env, box_size)
        objects = []
        for shape, color in zip(shapes, colors, strict=True):
            pose = self.require_pose(env, assets.KIT_SHAPE_SIZE)
            urdf = assets.kit_shape_urdf(shape, rgba(color))
            objects.append(env.add_object(urdf, pose, temporary=True))
        self.add_goal([objects[0]], [box_pose], metric="zone",
                      zones=[(box_pose, box_size[:2])],
                      language=self.template.format(obj=assets.KIT_SHAPE_LABELS[shapes[0]]))
