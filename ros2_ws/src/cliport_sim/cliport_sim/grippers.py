"""End effectors for the simulated UR5: a suction gripper and a spatula
(docs/design.md#suction-gripper).

Each is made of separate bodies hung on the arm's ``ee_link`` by fixed constraints, so one
arm URDF serves both tools. The suction tip's constraint is weak (50 N), which makes the tip
give way on contact like the reference's compliant tip. Collisions between the tool bodies
and the arm are switched off: only contacts with the world count.

Suction holds an object with a fixed constraint at the pose it had when grasped. Of the
bodies the tip touches, it takes the one pressed hardest (largest total normal force, then
deepest), not whichever contact happened to be listed last as in the reference, and only
bodies the environment declared graspable (rigid objects; see :meth:`set_graspable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pybullet as p

ASSET_DIR = Path(__file__).parent / "assets" / "ur5"
SUCTION_BASE_URDF = ASSET_DIR / "suction" / "base.urdf"
SUCTION_TIP_URDF = ASSET_DIR / "suction" / "tip.urdf"
SPATULA_URDF = ASSET_DIR / "spatula" / "spatula.urdf"

# Distance of each tool body's frame (its centre) below the flange, along the tool.
SUCTION_BASE_OFFSET = 0.026
SUCTION_TIP_OFFSET = 0.066  # tip cylinder 0.028 long: its lower face is 0.08 below the flange
SPATULA_OFFSET = 0.06  # blade 0.04 tall: its lower edge is 0.08 below the flange
TIP_MAX_FORCE = 50.0  # N: the compliant suction tip (docs/design.md#suction-gripper)
RIGID_MAX_FORCE = 1000.0  # N: tool parts that should not move relative to the flange
CONTACT_DISTANCE = 1e-3  # m: a contact point at most this far apart counts as touching

Graspable = Callable[[int], bool]


class EndEffector:
    """Tool bodies attached to ``ee_link``; subclasses say which body senses contact."""

    def __init__(self, client: int, arm: int, ee_link: int) -> None:
        self.client = client
        self.arm = arm
        self.ee_link = ee_link
        self._attached: list[tuple[int, float]] = []  # (body, offset below the flange)
        self._graspable: Graspable | None = None

    # ------------------------------------------------------------------ construction
    def _attach(self, urdf: Path, offset: float, max_force: float) -> int:
        c = self.client
        pos, quat = self._ee_pose()
        # The URDF inertia is used as written (PyBullet otherwise recomputes it from the
        # collision shape, which makes the suction tip far too easy to twist).
        body = p.loadURDF(str(urdf), pos, quat, flags=p.URDF_USE_INERTIA_FROM_FILE,
                          physicsClientId=c)
        cid = p.createConstraint(self.arm, self.ee_link, body, -1, p.JOINT_FIXED, (0, 0, 0),
                                 parentFramePosition=(0, 0, -offset),
                                 childFramePosition=(0, 0, 0), physicsClientId=c)
        p.changeConstraint(cid, maxForce=max_force, physicsClientId=c)
        for link in range(-1, p.getNumJoints(self.arm, physicsClientId=c)):
            p.setCollisionFilterPair(self.arm, body, link, -1, 0, physicsClientId=c)
        for other, _ in self._attached:
            p.setCollisionFilterPair(other, body, -1, -1, 0, physicsClientId=c)
        self._attached.append((body, offset))
        self.reset_pose()
        return body

    def _ee_pose(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        s = p.getLinkState(self.arm, self.ee_link, computeForwardKinematics=True,
                           physicsClientId=self.client)
        return s[4], s[5]

    @property
    def body_ids(self) -> tuple[int, ...]:
        """Every body that belongs to the tool."""
        return tuple(b for b, _ in self._attached)

    def reset_pose(self) -> None:
        """Put the tool bodies where their constraints want them, at rest (after a reset)."""
        c = self.client
        pos, quat = self._ee_pose()
        for body, offset in self._attached:
            at, _ = p.multiplyTransforms(pos, quat, (0, 0, -offset), (0, 0, 0, 1))
            p.resetBasePositionAndOrientation(body, at, quat, physicsClientId=c)
            p.resetBaseVelocity(body, (0, 0, 0), (0, 0, 0), physicsClientId=c)

    # ------------------------------------------------------------------ graspable objects
    def set_graspable(self, ids: Iterable[int] | Graspable | None) -> None:
        """Bodies the tool may hold: ids, a predicate, or None for any dynamic non-tool body."""
        if ids is None or callable(ids):
            self._graspable = ids
        else:
            allowed = frozenset(int(i) for i in ids)
            self._graspable = allowed.__contains__

    def is_graspable(self, body: int) -> bool:
        if body == self.arm or body in self.body_ids:
            return False
        if self._graspable is not None:
            return bool(self._graspable(body))
        return p.getDynamicsInfo(body, -1, physicsClientId=self.client)[0] > 0.0

    # ------------------------------------------------------------------ contact
    def _touching(self, body: int, ignore: tuple[int, ...] = ()) -> list[tuple]:
        """Contact points of ``body`` with anything outside the robot and ``ignore``."""
        own = (self.arm, *self.body_ids, *ignore)
        return [pt for pt in p.getContactPoints(bodyA=body, physicsClientId=self.client)
                if pt[2] not in own and pt[8] <= CONTACT_DISTANCE]

    def detect_contact(self) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------------ grasping
    @property
    def held_object(self) -> int | None:
        return None

    def activate(self) -> None:
        """Start holding (no-op for tools that cannot hold)."""

    def release(self) -> None:
        """Stop holding (no-op for tools that cannot hold)."""

    def check_grasp(self) -> bool:
        return self.held_object is not None


class Suction(EndEffector):
    """Suction cup: a visual housing and a compliant tip that senses contact and holds."""

    def __init__(self, client: int, arm: int, ee_link: int,
                 graspable: Iterable[int] | Graspable | None = None) -> None:
        super().__init__(client, arm, ee_link)
        self.base = self._attach(SUCTION_BASE_URDF, SUCTION_BASE_OFFSET, RIGID_MAX_FORCE)
        self.tip = self._attach(SUCTION_TIP_URDF, SUCTION_TIP_OFFSET, TIP_MAX_FORCE)
        self._constraint: int | None = None
        self._held: int | None = None
        self.set_graspable(graspable)

    @property
    def held_object(self) -> int | None:
        return self._held

    def detect_contact(self) -> bool:
        """Tip touching anything; while holding, the held object touching anything else."""
        if self._held is None:
            return bool(self._touching(self.tip))
        return bool(self._touching(self._held))

    def activate(self) -> None:
        """Hold the graspable body the tip presses on hardest, at its current relative pose."""
        if self._held is not None:
            return
        best: dict[tuple[int, int], tuple[float, float]] = {}
        for pt in self._touching(self.tip):
            key = (pt[2], pt[4])  # (body, link)
            if not self.is_graspable(key[0]):
                continue
            force, depth = best.get(key, (0.0, 0.0))
            best[key] = (force + pt[9], max(depth, -pt[8]))
        if not best:
            return
        body, link = max(best, key=best.__getitem__)
        c = self.client
        tip_pos, tip_quat = p.getBasePositionAndOrientation(self.tip, physicsClientId=c)
        if link < 0:
            obj_pos, obj_quat = p.getBasePositionAndOrientation(body, physicsClientId=c)
        else:
            obj_pos, obj_quat = p.getLinkState(body, link, physicsClientId=c)[:2]
        inv_pos, inv_quat = p.invertTransform(tip_pos, tip_quat)
        rel_pos, rel_quat = p.multiplyTransforms(inv_pos, inv_quat, obj_pos, obj_quat)
        self._constraint = p.createConstraint(
            self.tip, -1, body, link, p.JOINT_FIXED, (0, 0, 0),
            parentFramePosition=rel_pos, childFramePosition=(0, 0, 0),
            parentFrameOrientation=rel_quat, childFrameOrientation=(0, 0, 0, 1),
            physicsClientId=c)
        self._held = body

    def release(self) -> None:
        if self._constraint is not None:
            p.removeConstraint(self._constraint, physicsClientId=self.client)
        self._constraint = None
        self._held = None

    def check_grasp(self) -> bool:
        return self._constraint is not None


class Spatula(EndEffector):
    """A flat blade for pushing; it senses contact but never holds anything."""

    def __init__(self, client: int, arm: int, ee_link: int,
                 graspable: Iterable[int] | Graspable | None = None) -> None:
        super().__init__(client, arm, ee_link)
        self.blade = self._attach(SPATULA_URDF, SPATULA_OFFSET, RIGID_MAX_FORCE)
        self.set_graspable(graspable)

    def detect_contact(self) -> bool:
        return bool(self._touching(self.blade))
