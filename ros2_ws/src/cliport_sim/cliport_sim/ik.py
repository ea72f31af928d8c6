"""Damped least-squares IK refinement, the same steps for every simulated arm (UR5, Panda).

An arm gives its forward kinematics as joint frames and a tip pose; :func:`refine` moves the
joints from a seed (PyBullet's IK answer, or a previous solution) until the tip reaches the
target pose. Why here: the arms' own models are exact, PyBullet's IK leaves millimetres.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

# q -> (the joints' frames, 4x4 each, joint i turning about its frame's z; tip xyz; tip R)
Forward = Callable[[np.ndarray], tuple[Sequence[np.ndarray], np.ndarray, np.ndarray]]


def rotation_error(R_target: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Rotation vector (base frame) taking ``R`` to ``R_target``."""
    E = R_target @ R.T
    cos = max(-1.0, min(1.0, (np.trace(E) - 1.0) / 2.0))
    angle = math.acos(cos)
    v = np.array([E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]])
    s = math.sin(angle)
    if s < 1e-6:
        if cos > 0.0:  # tiny angle: v ~ 2 * rotation vector
            return v / 2.0
        B = (E + np.eye(3)) / 2.0  # angle ~ pi: E ~ 2 a a^T - I, so (E + I) / 2 ~ a a^T
        i = int(np.argmax(np.diag(B)))
        return B[:, i] / math.sqrt(max(B[i, i], 1e-12)) * angle
    return v * (angle / (2.0 * s))


def refine(q0: Sequence[float], forward: Forward, xyz: np.ndarray, R_target: np.ndarray, *,
           iterations: int, damping: float, tolerance: float,
           clip: Callable[[np.ndarray], np.ndarray] | None = None,
           damping_scales_with_error: bool = False) -> np.ndarray:
    """Joint angles near ``q0`` whose tip is at (``xyz``, ``R_target``).

    Each step solves ``J dq = err`` by damped least squares (minimum-norm steps, so a
    redundant arm keeps the seed's elbow), then ``clip`` (joint limits) if given. It stops
    when every error component is below ``tolerance`` or after ``iterations``. With
    ``damping_scales_with_error`` the damping shrinks near the solution (big steps far away,
    exact ones close by).
    """
    q = np.array(q0, dtype=np.float64)
    if clip is not None:
        q = clip(q)
    for _ in range(iterations):
        joints, tip, R = forward(q)
        err = np.concatenate([xyz - tip, rotation_error(R_target, R)])
        if np.abs(err).max() < tolerance:
            break
        Z = np.array([f[:3, 2] for f in joints])
        D = tip - np.array([f[:3, 3] for f in joints])
        J = np.empty((6, len(joints)))
        J[0] = Z[:, 1] * D[:, 2] - Z[:, 2] * D[:, 1]  # rows 0-2: z_i x (tip - o_i)
        J[1] = Z[:, 2] * D[:, 0] - Z[:, 0] * D[:, 2]
        J[2] = Z[:, 0] * D[:, 1] - Z[:, 1] * D[:, 0]
        J[3:] = Z.T
        lam = damping * min(1.0, float(np.linalg.norm(err))) if damping_scales_with_error \
            else damping
        q = q + J.T @ np.linalg.solve(J @ J.T + lam * np.eye(6), err)
        if clip is not None:
            q = clip(q)
    return q
