"""towers-of-hanoi-seq: "move the {color} ring to the {loc}" (docs/design.md#tasks).

Three rings start stacked on the rod over the stand's light brown tile; the instructions
walk through the optimal 7-move solution that ends with the tower on the dark brown side.
"""

from __future__ import annotations

from cliport_common.poses import Pose
from cliport_sim import assets
from cliport_sim.geometry import IDENTITY_QUAT, multiply
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Task, TaskSetupError

STAND_SIZE = (0.12, 0.36, 0.01)
N_DISKS = 3
# Rod positions in the stand's frame and how the instructions name them.
RODS = ((0.0, -0.12, 0.03), (0.0, 0.0, 0.03), (0.0, 0.12, 0.03))
ROD_NAMES = ("lighter brown side", "middle of the stand", "darker brown side")
DISK_SPACING = 0.015  # vertical spacing of the starting stack


def hanoi_moves(n: int, source: int = 0, target: int = 2, spare: int = 1
                ) -> list[tuple[int, int, int]]:
    """The optimal solution as ``(disk, from_rod, to_rod)``; disk 0 is the smallest."""
    if n <= 0:
        return []
    return (hanoi_moves(n - 1, source, spare, target) + [(n - 1, source, target)]
            + hanoi_moves(n - 1, spare, target, source))


@register_task("towers-of-hanoi-seq")
class TowersOfHanoiSeq(Task):
    """Seven sequential pose goals (1/7 each, ring rotation ignored) in the solution's order.

    Ring colours are three distinct palette colours drawn with the episode's generator
    (docs/design.md#reproducible-instances).
    """

    template = "move the {color} ring to the {loc}"
    done_language = "solved towers of hanoi."
    max_steps = 14

    def build(self, env) -> None:
        palette = self.colors()
        if len(palette) < N_DISKS:
            raise TaskSetupError(f"{self.name}: palette has {len(palette)} colours, "
                                 f"{N_DISKS} are needed")
        names = [palette[i] for i in env.rng.choice(len(palette), N_DISKS, replace=False)]

        stand_pose = self.require_pose(env, STAND_SIZE)
        env.add_object(assets.asset_path("hanoi/stand.urdf"), stand_pose, "fixed")
        rods: list[Pose] = [multiply(stand_pose, (xyz, IDENTITY_QUAT)) for xyz in RODS]

        disks = []
        for i, name in enumerate(names):
            # Largest (disk 2) lowest, smallest (disk 0) on top, as the reference stacks them.
            (x, y, z), _ = rods[0]
            pose = ((x, y, z + DISK_SPACING * (N_DISKS - i - 2)), stand_pose[1])
            disks.append(env.add_object(assets.asset_path(f"hanoi/disk{i}.urdf"), pose,
                                        color=name))

        moves = hanoi_moves(N_DISKS)
        for disk, _, to_rod in moves:
            target = (rods[to_rod][0], IDENTITY_QUAT)
            # A ring slides on at any yaw: the oracle does not turn it (design.md#oracle-turn)
            self.add_goal([disks[disk]], [target], symmetries=[0.0], rotations=False,
                          max_reward=1.0 / len(moves),
                          language=self.template.format(color=names[disk],
                                                        loc=ROD_NAMES[to_rod]))
