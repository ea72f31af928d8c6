"""stack-block-pyramid-seq: "put the {pick} block on {place}" step by step (docs/design.md#tasks).

Six 4 cm blocks in six distinct palette colours and a three-tile stand (light, middle and
dark brown at stand y -0.05, 0, +0.05). The pyramid is built bottom row first, each block
being its own instructed goal, so a policy learns to follow step-wise references such as
"the red and green blocks".
"""

from __future__ import annotations

import math

from cliport_common.poses import Pose
from cliport_sim import assets
from cliport_sim.geometry import multiply
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Task, TaskSetupError

STAND_SIZE = (0.05, 0.15, 0.005)
BLOCK_SIZE = (0.04, 0.04, 0.04)
N_BLOCKS = 6
BLOCK_SYMMETRY = math.pi / 2
# Block centres in the stand's frame: bottom row (light, middle, dark tile), middle row, top.
# x and y are the reference's. z is where a block of each row rests (the stand's origin is
# at its mid-height): the reference's 0.03 / 0.08 / 0.13 float 0.5-2.5 cm above that,
# which its unbounded place descent hid, but the place descent here stops 3 cm under the
# target. z is not scored.
_ROW_Z = tuple(STAND_SIZE[2] / 2 + BLOCK_SIZE[2] * (row + 0.5) for row in range(3))
PYRAMID = ((0.0, -0.05, _ROW_Z[0]), (0.0, 0.0, _ROW_Z[0]), (0.0, 0.05, _ROW_Z[0]),
           (0.0, -0.025, _ROW_Z[1]), (0.0, 0.025, _ROW_Z[1]), (0.0, 0.0, _ROW_Z[2]))
BOTTOM_PLACES = ("the lightest brown block", "the middle brown block",
                 "the darkest brown block")
# Each upper block rests on two blocks of the row below (indices into the colour list).
UPPER_SUPPORTS = ((0, 1), (1, 2), (3, 4))


@register_task("stack-block-pyramid-seq")
class StackBlockPyramidSeq(Task):
    """Six sequential pose goals (1/6 each, symmetry pi/2) in the pyramid's fixed order.

    The block colours are a permutation drawn with the episode's generator from an immutable
    palette; the reference shuffles the global colour list in place, so an instance depended
    on earlier episodes (docs/design.md#reproducible-instances). Fixed here.
    """

    template = "put the {pick} block on {place}"
    done_language = "done stacking block pyramid."
    max_steps = 12
    # Default primitive speed: the place descent slows to ~1 mm per step near contact, so
    # a block no longer knocks the row under it off the stand (20/20 seeds in train and
    # test for every variant; before that slow-down this task needed speed 0.003).

    def build(self, env) -> None:
        palette = self.colors()
        if len(palette) < N_BLOCKS:
            raise TaskSetupError(f"{self.name}: palette has {len(palette)} colours, "
                                 f"{N_BLOCKS} are needed")
        names = [palette[i] for i in env.rng.permutation(len(palette))[:N_BLOCKS]]

        stand_pose = self.require_pose(env, STAND_SIZE)
        env.add_object(assets.asset_path("stacking/stand.urdf"), stand_pose, "fixed")

        block_urdf = assets.asset_path("stacking/block.urdf")
        blocks = []
        for name in names:
            pose = self.require_pose(env, BLOCK_SIZE)
            blocks.append(env.add_object(block_urdf, pose, color=name))

        targets: list[Pose] = [multiply(stand_pose, (xyz, (0.0, 0.0, 0.0, 1.0)))
                               for xyz in PYRAMID]
        for i, (block, target) in enumerate(zip(blocks, targets, strict=True)):
            self.add_goal([block], [target], symmetries=[BLOCK_SYMMETRY],
                          max_reward=1.0 / N_BLOCKS,
                          language=self.template.format(pick=names[i],
                                                        place=self.place_phrase(i, names)))

    @staticmethod
    def place_phrase(step: int, names: list[str]) -> str:
        """Where block ``step`` goes: a stand tile, or the two blocks under it."""
        if step < len(BOTTOM_PLACES):
            return BOTTOM_PLACES[step]
        a, b = UPPER_SUPPORTS[step - len(BOTTOM_PLACES)]
        return f"the {names[a]} and {names[b]} blocks"
