"""Helpers for tests and checks of task scenes (used by the package's tests).

``scene_fingerprint`` is what "the same seed gives the same scene" compares: every task
body's pose and colour and the goals' instructions. Colours come from
:meth:`Environment.color_of` where a task recoloured a body, because PyBullet's
``getVisualShapeData`` keeps reporting the URDF colour under the EGL renderer.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pybullet as p

from cliport_sim.colors import COLORS
from cliport_sim.environment import Environment, SimConfig, load_sim_config
from cliport_sim.recording import Recording, StateRecorder
from cliport_sim.tasks import make_task


def task_env(name: str, mode: str = "train", **config) -> Environment:
    """An environment for scene and oracle checks (no camera observation by default)."""
    return Environment(make_task(name, mode), SimConfig(**{"observe": False, **config}))


def body_color(env: Environment, body: int) -> tuple[float, ...]:
    """RGBA in 0..1 of a body's first visual shape, as the task last set it."""
    given = env.color_of(body)
    if given is not None:
        return given
    return tuple(p.getVisualShapeData(body, physicsClientId=env.client)[0][7])


def color_name(env: Environment, body: int) -> str:
    """The palette name of a body's colour (ValueError if it is not a palette colour)."""
    rgb = np.asarray(body_color(env, body)[:3])
    names = [n for n, c in COLORS.items() if np.allclose(np.divide(c, 255.0), rgb, atol=1e-3)]
    if len(names) != 1:
        raise ValueError(f"body {body} has colour {rgb}, not one palette colour")
    return names[0]


def scene_fingerprint(env: Environment, digits: int = 6) -> list:
    """Every task body's category, pose and colour; the goals' instructions; max steps."""
    rows: list = []
    for category in sorted(env.obj_ids):
        for body in env.obj_ids[category]:
            pos, quat = env.pose(body)
            rows.append((category, tuple(round(v, digits) for v in pos + quat),
                         tuple(round(c, digits) for c in body_color(env, body))))
    rows.append(tuple(g.language for g in env.task.goals))
    rows.append(env.task.max_steps)
    return rows


def stand_and_pieces(env: Environment) -> tuple[int, list[int], list[str]]:
    """A stand task's scene (pyramid, hanoi): the one fixed body, the rigid pieces in the
    task's order, and their palette colour names."""
    (stand,) = env.obj_ids["fixed"]
    pieces = list(env.obj_ids["rigid"])
    return stand, pieces, [color_name(env, b) for b in pieces]


def oracle_step_recording(seed: int, task: str = "put-block-in-bowl-seen-colors",
                          fps: int = 10, robot: str = "ur5") -> Recording:
    """The state recording of one oracle step of ``task``'s test episode ``seed`` on
    ``robot``'s arm (``SimConfig.robot``)."""
    cfg = dataclasses.replace(load_sim_config(), robot=robot, observe=False)
    with Environment(make_task(task, "test"), cfg) as env:
        env.reset(seed)
        rec = StateRecorder(fps=fps)
        rec.start(env)
        _, reward, _, info = env.step(env.task.oracle(env))
        rec.step_ended(reward, info["primitive"]["ok"])
        return rec.recording()


def collision_bounds(c: int, body: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) corners of a body's real collision surface along the world axes: a probe
    box's closest points on every side, since PyBullet's AABB is padded."""
    probe = p.createMultiBody(0, p.createCollisionShape(p.GEOM_BOX, halfExtents=[1, 1, 1],
                                                        physicsClientId=c),
                              basePosition=[50, 50, 50], physicsClientId=c)
    lo, hi = (np.array(v) for v in p.getAABB(body, physicsClientId=c))
    centre = (lo + hi) / 2
    out = np.zeros((2, 3))
    for axis in range(3):
        for k, sign in enumerate((-1, 1)):
            pos = centre.copy()
            pos[axis] = (hi[axis] if sign > 0 else lo[axis]) + sign * 1.05
            p.resetBasePositionAndOrientation(probe, pos.tolist(), [0, 0, 0, 1],
                                              physicsClientId=c)
            dist = min(q[8] for q in p.getClosestPoints(body, probe, 1.0, physicsClientId=c))
            out[k, axis] = pos[axis] - sign * (1.0 + dist)
    p.removeBody(probe, physicsClientId=c)
    return out[0], out[1]
