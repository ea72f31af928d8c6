"""align-rope: lay a 20-bead rope along one side of a 3-sided square (docs/design.md#tasks).

"align the rope from {direction}". The rope is built in code, as in the reference: 20
beads (collision box of half-extent 0.005, visual sphere of radius 0.0075, mass 0.1)
chained by point-to-point constraints (max force 100), settling for 480 steps after reset.
The square's side L = 2 * 0.005 * 20 * sqrt(2) makes the targets exactly one link length
apart, so a rope whose two ends are on their targets is stretched straight along the side.

Spawn (a deliberate difference): the reference drops the rope as a vertical column, which
collapses into the same coil in every episode (deterministic physics), so only the coil's
position varied. Here the rope is laid on the table as a random smooth curve (the heading
turns by a normal step at each bead, no bead near a non-neighbour), at a random free pose.

Square frame (the reference's corner names): the open side is +y, so corners 0 (+x, +y)
and 1 (-x, +y) are its "tips" and corners 2 (+x, -y) and 3 (-x, -y) the closed corners.
The template's own open side is read from its geometry and turned to +y, so the words
match the picture whichever way the asset was drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as p

from cliport_common.poses import Pose, quat_from_yaw, yaw_of
from cliport_sim import assets
from cliport_sim.action import Action
from cliport_sim.geometry import IDENTITY_QUAT, multiply
from cliport_sim.tasks import register_task
from cliport_sim.tasks.base import Goal, Task, TaskSetupError

N_BEADS = 20
BEAD_RADIUS = 0.005  # collision box half-extent
BEAD_VISUAL_RADIUS = 1.5 * BEAD_RADIUS
BEAD_MASS = 0.1
LINK_MAX_FORCE = 100.0
SIDE = 2 * BEAD_RADIUS * N_BEADS * math.sqrt(2)  # ~0.283 m
LINK = SIDE / N_BEADS  # bead spacing along the side, also the rope's link length
POS_EPS = 0.02
CURVE_TURN_STD = 0.35  # rad: heading change per link of the spawned rope
CURVE_MIN_GAP = 0.012  # m: closest allowed approach of two non-neighbouring beads
MAX_CURVE_TRIES = 20

# (corner a, corner b, direction words); corner indices as in the module docstring.
DIRECTIONS: tuple[tuple[int, int, str], ...] = (
    (0, 1, "front left tip to front right tip"),
    (0, 2, "front right tip to back right corner"),
    (1, 3, "front left tip to back left corner"),
    (3, 2, "back right corner to back left corner"),
)
CORNERS = ((1, 1), (-1, 1), (1, -1), (-1, -1))  # sign of (x, y) of each corner, in L/2


def open_side_yaw(client: int, body: int) -> float:
    """Yaw, in the body's frame, of the direction in which its 3-sided square is open.

    The bars' centres sum to a vector pointing at the closed side (the two parallel bars
    cancel), so the open side is the opposite direction.
    """
    centres = [np.asarray(v[5][:2]) for v in p.getVisualShapeData(body, physicsClientId=client)
               if v[1] == -1]
    if len(centres) != 3:
        raise TaskSetupError(f"square template has {len(centres)} bars, expected 3")
    s = -np.sum(centres, axis=0)
    if np.linalg.norm(s) < 1e-6:
        raise TaskSetupError("cannot tell the square template's open side")
    return math.atan2(float(s[1]), float(s[0]))


def bead_targets(frame: Pose, a: int, b: int, z: float = BEAD_RADIUS) -> list[Pose]:
    """Target of bead i: corner a + (i + 1/2) (corner b - corner a) / 20, in the world."""
    ca = np.array(CORNERS[a], dtype=np.float64) * SIDE / 2
    cb = np.array(CORNERS[b], dtype=np.float64) * SIDE / 2
    step = (cb - ca) / N_BEADS
    out = []
    for i in range(N_BEADS):
        x, y = ca + (i + 0.5) * step
        out.append((multiply(frame, ((float(x), float(y), z), IDENTITY_QUAT))[0],
                    IDENTITY_QUAT))
    return out


@register_task("align-rope", splits=None)
class AlignRope(Task):
    """The rope task; pose metric (pos_eps 0.02, rotation ignored), either end order.

    Each bead may sit on its own target or on the mirrored one (the reference's
    ``eye + eye[::-1]`` matches). The oracle (:meth:`oracle`) commits to the end order that
    is closer to the rope's current lie and pulls the bead farthest from its target.
    """

    template = "align the rope from {direction}"
    done_language = "done aligning the rope."
    max_steps = 20
    primitive_params = {"height": 0.02, "speed": 0.001}
    settle_steps_after_reset = 480

    def build(self, env) -> None:
        rng = env.rng
        c = env.client
        frame = self.require_pose(env, (SIDE, SIDE, 0.0))
        urdf = assets.fill_template("square/square-template.urdf", {"DIM": (SIDE,)})
        square = env.add_object(urdf, frame, "fixed", temporary=True)
        turn = math.pi / 2 - open_side_yaw(c, square)
        body_pose = multiply(frame, ((0.0, 0.0, 0.0), quat_from_yaw(turn)))
        p.resetBasePositionAndOrientation(square, body_pose[0], body_pose[1],
                                          physicsClientId=c)

        a, b, words = DIRECTIONS[int(rng.integers(len(DIRECTIONS)))]
        targets = bead_targets(frame, a, b)

        beads = self._make_rope(env, self._rope_layout(env))
        matches = np.clip(np.eye(N_BEADS) + np.eye(N_BEADS)[::-1], 0, 1).astype(bool)
        self.add_goal(beads, targets, symmetries=[0.0] * N_BEADS, matches=matches,
                      replace=False, rotations=False, metric="pose", pos_eps=POS_EPS,
                      language=self.template.format(direction=words))

    def _rope_layout(self, env) -> np.ndarray:
        """World xy of the beads: a random smooth curve at a free pose (TaskSetupError if none)."""
        rng = env.rng
        for _ in range(MAX_CURVE_TRIES):
            turns = rng.normal(0.0, CURVE_TURN_STD, N_BEADS - 2)
            heading = np.concatenate([[0.0], np.cumsum(turns)])  # one per link
            steps = LINK * np.stack([np.cos(heading), np.sin(heading)], axis=1)
            xy = np.vstack([np.zeros(2), np.cumsum(steps, axis=0)])
            gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
            far_apart = np.abs(np.arange(N_BEADS)[:, None] - np.arange(N_BEADS)[None]) >= 2
            if gaps[far_apart].min() < CURVE_MIN_GAP:
                continue
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            pose = self.random_pose(env, (*(hi - lo + 2 * BEAD_VISUAL_RADIUS), 0.0))
            if pose is None:
                continue
            yaw = yaw_of(pose[1])
            rot = np.array([[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]])
            return (xy - (lo + hi) / 2) @ rot.T + np.asarray(pose[0][:2])
        raise TaskSetupError(f"{self.name}: no free space for the rope")

    def _make_rope(self, env, layout: np.ndarray) -> list[int]:
        """Beads at ``layout`` (N x 2, resting on the table), each tied to the previous one."""
        c = env.client
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=[BEAD_RADIUS] * 3,
                                       physicsClientId=c)
        visual = p.createVisualShape(p.GEOM_SPHERE, radius=BEAD_VISUAL_RADIUS,
                                     physicsClientId=c)
        beads: list[int] = []
        for i in range(N_BEADS):
            pos = np.array([layout[i, 0], layout[i, 1], BEAD_RADIUS])
            bead = p.createMultiBody(BEAD_MASS, shape, visual, basePosition=pos.tolist(),
                                     physicsClientId=c)
            if beads:
                # The pivot sits on this bead's centre, fixed in the previous bead's frame.
                pivot = (float(layout[i, 0] - layout[i - 1, 0]),
                         float(layout[i, 1] - layout[i - 1, 1]), 0.0)
                cid = p.createConstraint(beads[-1], -1, bead, -1, p.JOINT_POINT2POINT,
                                         (0, 0, 0), parentFramePosition=pivot,
                                         childFramePosition=(0, 0, 0), physicsClientId=c)
                p.changeConstraint(cid, maxForce=LINK_MAX_FORCE, physicsClientId=c)
            env.register_object(bead, "rigid")
            # The ends white, the 18 middle beads red (set_color records it for color_of).
            env.set_color(bead, "red" if 0 < i < N_BEADS - 1 else (1.0, 1.0, 1.0, 1.0))
            beads.append(bead)
        return beads

    # ----------------------------------------------------------------------------- oracle
    def assignment(self, env, goal: Goal) -> list[int]:
        """Target index of each bead: straight or mirrored, whichever is closer overall."""
        xy = np.array([env.pose(o)[0][:2] for o in goal.objects])
        txy = np.array([t[0][:2] for t in goal.targets])
        straight = float(np.linalg.norm(xy - txy, axis=1).sum())
        mirrored = float(np.linalg.norm(xy - txy[::-1], axis=1).sum())
        n = len(goal.objects)
        return list(range(n)) if straight <= mirrored else list(range(n - 1, -1, -1))

    def oracle(self, env) -> Action | None:
        """Pick the bead farthest from its target and place it there."""
        if not self.goals:
            return None
        goal = self.goals[0]
        assign = self.assignment(env, goal)
        maps = env.oracle_maps()
        order = []
        for i, obj in enumerate(goal.objects):
            target = goal.targets[assign[i]]
            d = math.dist(env.pose(obj)[0][:2], target[0][:2])
            if d >= goal.pos_eps:
                order.append((-d, i))
        for _, i in sorted(order):
            obj = goal.objects[i]
            mask = maps.segmentation == obj
            if not mask.any():
                continue
            pick = self.pick_pose(env, maps, mask)
            place = self.place_pose(env, obj, pick, goal.targets[assign[i]], goal)
            return Action(pick, place, self.primitive)
        return None
