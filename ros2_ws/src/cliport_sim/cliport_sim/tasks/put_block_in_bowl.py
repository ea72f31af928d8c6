"""put-block-in-bowl: "put the {pick} blocks in a {place} bowl" (docs/design.md#tasks)."""

from __future__ import annotations

from cliport_sim import assets
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Task, TaskSetupError

BLOCK_SIZE = (0.04, 0.04, 0.04)
BOWL_SIZE = (0.12, 0.12, 0.0)
N_DISTRACTORS = 6
MAX_PLACEMENT_TRIES = 50


@register_task("put-block-in-bowl")
class PutBlockInBowl(Task):
    """1-3 fixed bowls of colour B, 1..#bowls blocks of colour A, 6 distractors.

    Distractors take colours from this variant's palette (minus A and B), not from all
    11 colours: the reference leaks unseen colours into seen training scenes
    (docs/design.md#distractor-colours).
    """

    template = "put the {pick} blocks in a {place} bowl"
    done_language = "done placing blocks in bowls."

    def build(self, env) -> None:
        rng = env.rng
        n_bowls = int(rng.integers(1, 4))
        n_blocks = int(rng.integers(1, n_bowls + 1))
        palette = self.colors()
        pick_color, place_color = (palette[i] for i in rng.choice(len(palette), 2,
                                                                  replace=False))
        block_urdf = assets.asset_path("stacking/block.urdf")
        bowl_urdf = assets.asset_path("bowl/bowl.urdf")
        bowl_poses = []
        for _ in range(n_bowls):
            pose = self.require_pose(env, BOWL_SIZE)
            env.add_object(bowl_urdf, pose, "fixed", color=place_color)
            bowl_poses.append(pose)
        blocks = []
        for _ in range(n_blocks):
            pose = self.require_pose(env, BLOCK_SIZE)
            blocks.append(env.add_object(block_urdf, pose, color=pick_color))
        self.max_steps = n_blocks + 1
        self.add_goal(blocks, bowl_poses, symmetries=[0.0] * n_blocks, pos_eps=0.05,
                      language=self.template.format(pick=pick_color, place=place_color))
        others = [c for c in palette if c not in (pick_color, place_color)]
        placed = tries = 0
        while placed < N_DISTRACTORS:
            tries += 1
            if tries > MAX_PLACEMENT_TRIES:
                raise TaskSetupError(f"{self.name}: no room for {N_DISTRACTORS} distractors")
            is_block = rng.random() > 0.5
            pose = self.random_pose(env, BLOCK_SIZE if is_block else BOWL_SIZE)
            if pose is None:
                continue
            color = others[int(rng.integers(len(others)))]
            env.add_object(block_urdf if is_block else bowl_urdf, pose, "rigid", color=color)
            placed += 1

