"""separating-piles: push a pile of small blocks into one of two squares (docs/design.md#tasks).

"push the pile of {block_color} blocks into the {square_color} square". Two 0.15 m zones of
different colours lie at least 0.2 m apart; 50 one-centimetre blocks lie uniformly in
x in [0.40, 0.60], y in [-0.10, 0.10]. The arm carries the spatula and every action is a
push. Only the target zone is scored: the reward is the fraction of block sample points
(one per 1 cm block) inside it, so success (>= 0.99) needs all 50 blocks in.

The reference makes its demos with the generic pick-and-place expert (push from the
farthest block to the zone centre, every stroke ploughing through the centre). Ours plans
each stroke: see :class:`PushPlanner`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cliport_common.poses import Pose, quat_from_yaw, yaw_of
from cliport_sim import assets
from cliport_sim.action import Action
from cliport_sim.geometry import IDENTITY_QUAT
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Task, TaskSetupError

N_BLOCKS = 50
ZONE_SIZE = (0.15, 0.15, 0.0)
MIN_ZONE_DISTANCE = 0.2
PILE_X = (0.40, 0.60)
PILE_Y = (-0.10, 0.10)
PILE_Z = 0.01
MAX_ZONE_TRIES = 50

# Push geometry (the primitive starts 2 cm before pose0 and stops 5 cm short of pose1).
PUSH_START_OFFSET = 0.02
PUSH_END_OFFSET = 0.05
BLADE_TO_BLOCK = 0.008  # blade tip to the centre of a block touching its 6 mm thick blade


@dataclass(frozen=True)
class PushPlanner:
    """Choose one stroke that carries outside blocks into a square zone.

    Every block whose centre lies outside the zone shrunk by ``margin`` still needs a push.
    Candidate strokes run from just behind one such block (``behind``) straight at the zone
    centre. A stroke collects the outside blocks in its corridor (``corridor`` either side of
    the line, between the block and the zone centre); the planner takes the stroke
    collecting the most, ties going to the longest.

    The stroke stops as soon as what it carries is well inside: the block nearest the blade
    ends ``inside`` past the (shrunk) zone edge, plus room for the heap in front of the
    blade (``heap_per_block`` per carried block), but never closer than ``stop_before`` to
    the centre. Ploughing every stroke through the centre pushes the blocks gathered there
    out of the far side; shallow strokes leave them alone.
    """

    margin: float = 0.005  # m the zone is shrunk by before a block counts as in
    behind: float = 0.012  # m behind the block where a stroke starts
    inside: float = 0.025  # m past the zone edge the nearest carried block ends
    heap_per_block: float = 0.002  # m more per carried block, for the heap before the blade
    stop_before: float = 0.02  # m from the zone centre a stroke never passes
    corridor: float = 0.03  # m either side of a stroke's line whose blocks it carries

    def outside(self, zone: Pose, size: tuple[float, float], xy: np.ndarray) -> np.ndarray:
        """Mask of the blocks (rows of ``xy``) outside the zone shrunk by the margin."""
        local = to_zone_frame(zone, xy)
        return ((np.abs(local[:, 0]) > size[0] / 2 - self.margin)
                | (np.abs(local[:, 1]) > size[1] / 2 - self.margin))

    def plan(self, zone: Pose, size: tuple[float, float], xy: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray] | None:
        """(pose0, pose1) xy for the push primitive, or None if every block is in."""
        out = self.outside(zone, size, xy)
        if not out.any():
            return None
        centre = np.asarray(zone[0][:2], dtype=np.float64)
        pts = xy[out]
        best_key, best = None, None
        for b in pts:
            away = b - centre
            dist = float(np.linalg.norm(away))
            if dist < 1e-6:
                continue
            u = away / dist  # from the centre towards the block
            rel = pts - centre
            along = rel @ u
            across = np.abs(rel @ np.array([-u[1], u[0]]))
            n = int(np.sum((across < self.corridor) & (along <= dist + 1e-9) & (along > 0)))
            key = (n, dist)
            if best_key is None or key > best_key:
                best_key, best = key, (b, u, dist, n)
        if best is None:  # every outside block sits on the centre: cannot happen, but be safe
            return None
        b, u, dist, n = best
        half = np.array(size[:2], dtype=np.float64) / 2 - self.margin
        enter = entry_distance(zone, half, b, -u)
        reach = min(enter + self.inside + self.heap_per_block * n, dist - self.stop_before)
        # The blade's tip stops BLADE_TO_BLOCK short of the nearest carried block's centre.
        blade_stop = max(reach - BLADE_TO_BLOCK, 0.0)
        pose0 = b + u * (self.behind - PUSH_START_OFFSET)
        pose1 = b - u * (blade_stop + PUSH_END_OFFSET)
        return pose0, pose1


def entry_distance(zone: Pose, half: np.ndarray, start: np.ndarray, direction: np.ndarray
                   ) -> float:
    """Distance along ``direction`` from ``start`` (outside) to the box ``half`` of the zone."""
    local = to_zone_frame(zone, start[None, :])[0]
    yaw = yaw_of(zone[1])
    c, s = math.cos(yaw), math.sin(yaw)
    d = np.array([c * direction[0] + s * direction[1], -s * direction[0] + c * direction[1]])
    t_in = 0.0
    for k in range(2):
        if abs(local[k]) <= half[k]:
            continue
        if abs(d[k]) < 1e-9:
            return float("inf")
        t_in = max(t_in, (abs(local[k]) - half[k]) / abs(d[k]) if local[k] * d[k] < 0
                   else float("inf"))
    return t_in


def to_zone_frame(zone: Pose, xy: np.ndarray) -> np.ndarray:
    """World xy points (N x 2) in the zone's own frame (yaw only)."""
    yaw = yaw_of(zone[1])
    c, s = math.cos(yaw), math.sin(yaw)
    d = np.asarray(xy, dtype=np.float64) - np.asarray(zone[0][:2], dtype=np.float64)
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], axis=1)


@register_task("separating-piles")
class SeparatingPiles(Task):
    """Two zones, 50 small blocks, spatula pushes; zone metric on the target zone only.

    Differences from the reference: zone placement retries are bounded (the reference loops
    until the second zone is 0.2 m from the first, forever if it never fits), colours come
    from the episode's generator (docs/design.md#reproducible-instances), and the oracle plans
    its strokes (:class:`PushPlanner`) instead of reusing the pick-and-place expert.
    """

    template = "push the pile of {block_color} blocks into the {square_color} square"
    done_language = "done separating pile."
    max_steps = 20
    primitive = "push"
    end_effector = "spatula"

    def __init__(self, mode: str = "train", split: str | None = None) -> None:
        super().__init__(mode, split)
        self.planner = PushPlanner()

    def build(self, env) -> None:
        rng = env.rng
        palette = self.colors()
        zone1_color, zone2_color, block_color = (
            palette[i] for i in rng.choice(len(palette), 3, replace=False))
        zone_urdf = assets.asset_path("zone/zone.urdf")
        zone1 = self.require_pose(env, ZONE_SIZE)
        env.add_object(zone_urdf, zone1, "fixed", color=zone1_color)
        for _ in range(MAX_ZONE_TRIES):
            zone2 = self.require_pose(env, ZONE_SIZE)
            if math.dist(zone1[0][:2], zone2[0][:2]) >= MIN_ZONE_DISTANCE:
                break
        else:
            raise TaskSetupError(f"{self.name}: no room for a second zone "
                                 f"{MIN_ZONE_DISTANCE} m from the first")
        env.add_object(zone_urdf, zone2, "fixed", color=zone2_color)
        target, target_color = (zone1, zone1_color) if rng.random() < 0.5 else (zone2,
                                                                                 zone2_color)

        block_urdf = assets.asset_path("block/small.urdf")
        blocks = []
        for _ in range(N_BLOCKS):
            x = rng.uniform(*PILE_X)
            y = rng.uniform(*PILE_Y)
            yaw = rng.uniform(0.0, 2.0 * math.pi)
            blocks.append(env.add_object(block_urdf, ((x, y, PILE_Z), quat_from_yaw(yaw)),
                                         color=block_color))
        self.add_goal(blocks, [target], symmetries=[0.0] * N_BLOCKS, replace=True,
                      rotations=False, metric="zone",
                      zones=[(target, (ZONE_SIZE[0], ZONE_SIZE[1]))],
                      language=self.template.format(block_color=block_color,
                                                    square_color=target_color))

    def oracle(self, env) -> Action | None:
        """A push carrying the most outside blocks into the target zone (None when done)."""
        if not self.goals:
            return None
        goal = self.goals[0]
        zone, size = goal.zones[0]
        xy = np.array([env.pose(obj)[0][:2] for obj in goal.objects], dtype=np.float64)
        plan = self.planner.plan(zone, size, xy)
        if plan is None:
            return None
        # Keep both ends on the grid: a push starting just outside it cannot be labelled
        # as a pixel, so its demo would be dropped (the primitive still backs up 2 cm).
        ws = env.workspace
        lo = np.array([ws.x_min, ws.y_min]) + ws.pixel_size / 2
        hi = np.array([ws.x_max, ws.y_max]) - ws.pixel_size / 2
        start, end = (np.clip(point, lo, hi) for point in plan)
        return Action(((float(start[0]), float(start[1]), 0.0), IDENTITY_QUAT),
                      ((float(end[0]), float(end[1]), 0.0), IDENTITY_QUAT), "push")
