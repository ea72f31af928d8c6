"""packing-{seen,unseen}-google-objects-{seq,group}: pack named objects (docs/design.md#tasks).

seq: "pack the {obj} in the brown box", one instruction per object, for the first
#targets objects. group: "pack all the {obj} objects in the brown box", one instruction
for every copy of the target category. The objects are the named set of
:mod:`cliport_sim.google_objects` (the reference's 56 names, seen / unseen split by mode).

As in the reference, a random KD-tree split of the brown box sizes the objects (one cell
per object), the objects are dropped from 5 cm above their random poses with a slight
tilt and the scene settles for 480 steps.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull

from cliport_common.poses import Pose, quat_from_yaw, yaw_of
from cliport_sim import google_objects
from cliport_sim.geometry import matrix, multiply, quat_from_euler, quat_multiply, wrap_angle
from cliport_sim.tasks import register_factory
from cliport_sim.tasks.kdtree import Leaf, split_volume
from cliport_sim.tasks.packing_common import CONTAINER_WALL, PackingTask, add_container

BOX_XY_RANGE = (0.20, 0.35)
BOX_HEIGHT = 0.05
MIN_DIM = 0.08
MARGIN = 0.01
DROP_HEIGHT = 0.05
MAX_TILT = math.radians(6.0)


def tilted(pose: Pose, roll: float, pitch: float) -> Pose:
    """``pose`` with its orientation tilted by ``roll`` / ``pitch`` about its own axes.

    The reference multiplies a PyBullet (x, y, z, w) quaternion with a function that
    expects (w, x, y, z), so its "slight tilt" is some other rotation
    (docs/design.md#quaternion-order). Here both factors are xyzw and the product applies the
    tilt in the object's frame.
    """
    return pose[0], quat_multiply(pose[1], quat_from_euler(roll, pitch, 0.0))


def footprint_rectangle(points: np.ndarray) -> tuple[float, float, float]:
    """Smallest rectangle around ``points`` (N x 2): the direction (radians) of its
    longer side, and its long and short side lengths.

    The smallest-area rectangle has a side along an edge of the convex hull, so trying
    each hull edge's direction is exact. A box's footprint gives its own sides, even for
    a square, where principal axes would be arbitrary.
    """
    hull = points[ConvexHull(points).vertices]
    best = (math.inf, 0.0, 0.0, 0.0)
    for a, b in zip(hull, np.roll(hull, -1, axis=0), strict=True):
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        c, s = math.cos(angle), math.sin(angle)
        du = float(np.ptp(hull @ np.array([c, s])))
        dv = float(np.ptp(hull @ np.array([-s, c])))
        if du * dv < best[0] - 1e-12:
            best = (du * dv, angle if du >= dv else angle + math.pi / 2, max(du, dv),
                    min(du, dv))
    return best[1], best[2], best[3]


class PackingGoogleObjects(PackingTask):
    """Shared scene: brown box U[0.20, 0.35]^2 x 0.05 and one object per KD-tree cell.

    Differences from the reference, both so the oracle packs reliably:

    * targets are the objects' own KD-tree cells (the reference drops every object on the
      box's centre, piling them up), with the object's longer side along the cell's;
    * an object is scaled so its two largest sides fit its cell (the reference sets only
      its larger side to the cell's larger side, so round objects overlap the next cell,
      and an object that topples no longer fits);
    * the oracle places an object by its current footprint, turning it as little as
      possible (:meth:`place_pose`), and the largest objects are spawned first.

    The tilt uses consistent quaternion conventions (docs/design.md#quaternion-order).
    """

    settle_steps_after_reset = 480
    grouped = False

    def __init__(self, mode: str = "train", objects: str = "seen") -> None:
        super().__init__(mode)
        self.object_split = objects
        self.object_names = google_objects.object_names(objects, mode)

    @property
    def name(self) -> str:
        kind = "group" if self.grouped else "seq"
        return f"packing-{self.object_split}-google-objects-{kind}"

    def choose_objects(self, rng, n: int) -> tuple[list[str], str | None]:
        raise NotImplementedError

    def build(self, env) -> None:
        rng = env.rng
        # The built-in named set, or the user's Google Scanned Objects folder (sim.yaml:
        # google_objects_dir) with the reference's seen / unseen split by name.
        source = google_objects.object_source(env.config.google_objects_dir)
        self.object_names = source.names_for(self.object_split, self.mode)
        box_size = (float(rng.uniform(*BOX_XY_RANGE)), float(rng.uniform(*BOX_XY_RANGE)),
                    BOX_HEIGHT)
        box_pose = add_container(self, env, box_size)
        self._floor_z = box_pose[0][2] - box_size[2] / 2 + CONTAINER_WALL
        self._sizes: dict[int, tuple[float, float, float]] = {}
        self._cells: dict[int, list[float]] = {}  # body -> its cell's (short, long) side
        leaves = split_volume(rng, box_size, min_dim=MIN_DIM, margin=MARGIN)
        names, category = self.choose_objects(rng, len(leaves))
        fits = [self._fit(source, name, leaf)
                for name, leaf in zip(names, leaves, strict=True)]
        # Largest footprints first: they need the most free table.
        order = sorted(range(len(fits)), key=lambda i: -math.hypot(*sorted(fits[i][1])[1:]))
        bodies: dict[int, int] = {}
        for i in order:
            scale, size, _ = fits[i]
            dims = sorted(size, reverse=True)
            pose = self.require_pose(env, (dims[0], dims[1], size[2]))
            pose = (pose[0][0], pose[0][1], pose[0][2] + DROP_HEIGHT), pose[1]
            roll, pitch = rng.uniform(-MAX_TILT, MAX_TILT, 2)
            urdf = source.urdf(names[i], scale)
            bodies[i] = env.add_object(urdf, tilted(pose, float(roll), float(pitch)))
            texture = source.texture_for(names[i])
            if texture is not None:
                env.set_texture(bodies[i], texture)
            self._sizes[bodies[i]] = size
            self._cells[bodies[i]] = sorted(leaves[i].size[:2])
        objects = [bodies[i] for i in range(len(fits))]
        targets = []
        for (_, size, yaw), leaf in zip(fits, leaves, strict=True):
            z = -box_size[2] / 2 + CONTAINER_WALL + size[2] / 2
            targets.append(multiply(box_pose, ((leaf.center[0], leaf.center[1], z),
                                               quat_from_yaw(yaw))))
        zones = [(box_pose, box_size[:2])]
        if self.grouped:
            chosen = [i for i, n in enumerate(names) if n == category]
            self.add_goal([objects[i] for i in chosen], [targets[i] for i in chosen],
                          matches=[[i == j for j in chosen] for i in chosen], metric="zone",
                          zones=zones, language=self.template.format(obj=category))
            self.max_steps = len(chosen) + 1
        else:
            n_targets = int(rng.integers(1, len(objects))) if len(objects) > 1 else 1
            for i in range(n_targets):
                self.add_goal([objects[i]], [targets[i]], metric="zone", zones=zones,
                              max_reward=1.0 / n_targets,
                              language=self.template.format(obj=names[i]))
            self.max_steps = n_targets + 1

    @staticmethod
    def _fit(source, name: str, leaf: Leaf) -> tuple[float, tuple[float, float, float], float]:
        """Scale that fits ``name`` in ``leaf`` in any resting pose, its size at that
        scale, and the cell's long-axis yaw in the box frame.

        The object's two largest sides must fit the cell's two sides: an object that
        topples when dropped then still fits lying down.
        """
        dims = sorted(source.size(name), reverse=True)
        lx, ly, _ = leaf.size
        scale = min(max(lx, ly) / dims[0], min(lx, ly) / dims[1])
        yaw = 0.0 if lx >= ly else math.pi / 2
        return scale, source.size(name, scale), yaw

    def place_pose(self, env, obj: int, pick: Pose, target: Pose, goal) -> Pose:
        """Turn the object about the vertical only, so its current footprint's long side
        lies along the cell's (``target`` yaw; or across, when it fits both ways), and
        move it so that footprint is centred on the cell with its lowest corner on the
        box floor.

        An object that toppled after the drop rests on a side; the base class's
        yaw-only place would mis-centre it, this keeps whatever side it rests on.
        """
        corners = self._world_corners(env, obj)
        axis, long_side, _ = footprint_rectangle(corners[:, :2])
        # Turn as little as possible (a big wrist turn lets the compliant tip slip and
        # spin the object off on release): by pi, or by pi / 2 when the footprint fits
        # the cell either way round.
        period = math.pi / 2 if long_side <= self._cells[obj][0] + MARGIN else math.pi
        turn = wrap_angle(yaw_of(target[1]) - axis) % period
        if turn > period / 2:
            turn -= period
        c, s = math.cos(turn), math.sin(turn)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        turned = corners @ rot.T
        t_c, t_s = math.cos(yaw_of(target[1])), math.sin(yaw_of(target[1]))
        cell = np.array([[t_c, t_s], [-t_s, t_c]])  # world xy -> cell axes
        local = turned[:, :2] @ cell.T
        mid = cell.T @ ((local.min(0) + local.max(0)) / 2)
        shift = np.array([target[0][0] - mid[0], target[0][1] - mid[1],
                          self._floor_z - turned[:, 2].min()])
        pos = rot @ np.asarray(pick[0]) + shift
        return tuple(float(v) for v in pos), quat_multiply(quat_from_yaw(turn), pick[1])

    def _world_corners(self, env, obj: int) -> np.ndarray:
        half = np.asarray(self._sizes[obj]) / 2
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
        return (signs * half) @ matrix(env.pose(obj))[:3, :3].T + np.asarray(env.pose(obj)[0])


class PackingGoogleObjectsSeq(PackingGoogleObjects):
    """Distinct objects; the first #targets = randint(1, n) (1..n-1) are packed in order."""

    template = "pack the {obj} in the brown box"
    done_language = "done packing objects."

    def choose_objects(self, rng, n: int) -> tuple[list[str], str | None]:
        pool = self.object_names
        replace = n > len(pool)
        return [pool[i] for i in rng.choice(len(pool), n, replace=replace)], None


class PackingGoogleObjectsGroup(PackingGoogleObjects):
    """Two copies of the target category and two of a distractor category; the other
    objects are random names (with replacement) other than those two categories, so the
    instruction covers exactly two objects."""

    template = "pack all the {obj} objects in the brown box"
    done_language = "done packing objects."
    grouped = True

    def choose_objects(self, rng, n: int) -> tuple[list[str], str | None]:
        pool = self.object_names
        target, distractor = (pool[i] for i in rng.choice(len(pool), 2, replace=False))
        rest = [c for c in pool if c not in (target, distractor)]
        names = [target, target, distractor, distractor]
        names += [rest[int(rng.integers(len(rest)))] for _ in range(n - len(names))]
        names = names[:n]
        order = rng.permutation(len(names))
        return [names[i] for i in order], target


for _objects in ("seen", "unseen"):
    for _kind, _cls in (("seq", PackingGoogleObjectsSeq), ("group", PackingGoogleObjectsGroup)):
        register_factory(f"packing-{_objects}-google-objects-{_kind}",
                         lambda mode, _c=_cls, _o=_objects: _c(mode, _o))
