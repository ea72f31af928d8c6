"""What the three packing families share: the brown box and the pick.

The packing objects weigh 0.1 kg and are up to 0.1 m (boxes) or 0.15 m (objects) across.
Held by the compliant suction tip far from their centre of mass, their weight and the
arm's turns twist the tip and the object swings off or lands crooked. So the packing
expert picks near the middle of the object's top view, drawing uniformly among the mask
cells within :data:`PICK_RADIUS` of the mask's centroid: picks stay varied, but never on
a far edge (the reference picks anywhere on the mask, docs/design.md#oracle-picks).
"""

from __future__ import annotations

import numpy as np

from cliport_common.poses import Pose
from cliport_sim import assets
from cliport_sim.geometry import IDENTITY_QUAT
from cliport_sim.tasks.base import Task

PICK_RADIUS = 0.015  # metres from the mask centroid
CONTAINER_WALL = 0.002  # floor and wall thickness of the brown box (docs/design.md#assets)


def add_container(task: Task, env, size) -> Pose:
    """Place the fixed brown box of outer ``size`` at a free pose; returns that pose
    (the box's centre: its floor is on the table)."""
    pose = task.require_pose(env, size)
    env.add_object(assets.container_urdf(size), pose, "fixed", temporary=True)
    return pose


class PackingTask(Task):
    """Base of the packing families: the centre-biased pick described above."""

    def pick_pose(self, env, maps, mask: np.ndarray) -> Pose:
        pixels = np.argwhere(mask)
        centroid = pixels.mean(axis=0)
        dist = np.linalg.norm(pixels - centroid, axis=1) * env.workspace.pixel_size
        near = pixels[dist <= PICK_RADIUS]
        if len(near) == 0:  # centroid off the object (a ring, a clamp): nearest cell
            near = pixels[[int(np.argmin(dist))]]
        u, v = near[int(env.rng.integers(len(near)))]
        x, y = env.workspace.pixel_to_xy(int(u), int(v))
        z = env.workspace.z_min + float(maps.heightmap[u, v])
        return (x, y, z), IDENTITY_QUAT
