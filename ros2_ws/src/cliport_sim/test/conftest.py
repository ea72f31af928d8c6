"""Fixtures shared by the cliport_sim tests."""

import numpy as np
import pybullet as p
import pytest

from cliport_perception.workspace import Workspace
from cliport_sim.dataset import new_meta
from cliport_sim.episode import Episode


@pytest.fixture
def client():
    """A bare PyBullet DIRECT world with gravity and a ground plane at z = 0."""
    c = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.8, physicsClientId=c)
    plane = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
    p.createMultiBody(0, plane, physicsClientId=c)
    yield c
    p.disconnect(physicsClientId=c)


def random_episode(rng: np.random.Generator, n_steps: int = 3, seed: int = 0,
                   shape: tuple[int, int] = (320, 160)) -> Episode:
    """A valid episode of random content: every float32 bit pattern but NaN in the heightmap,
    unchanged cells between steps, non-ASCII instructions."""
    n = n_steps + 1
    bits = rng.integers(0, 2**32, size=(n, *shape), dtype=np.uint32)
    height = bits.view(np.float32)
    nan = ~np.isfinite(height)
    height[nan] = rng.uniform(0, 0.3, nan.sum()).astype(np.float32)
    height[1:, :40] = height[0, :40]  # unchanged cells, as between real steps
    pose = rng.normal(size=(n_steps, 7))
    return Episode(
        colormap=rng.integers(0, 256, (n, *shape, 3), dtype=np.uint8),
        heightmap=height, valid=rng.random((n, *shape)) < 0.8,
        pose0=pose, pose1=pose[::-1].copy(),
        pick_pix=rng.integers(0, 160, (n_steps, 2)), place_pix=rng.integers(0, 160, (n_steps, 2)),
        pick_rot=np.zeros(n_steps, int), place_rot=rng.integers(0, 36, n_steps),
        reward=np.r_[0.0, rng.random(n_steps)],
        instruction=np.array([f"put the blöck {i} in the bowl" for i in range(n_steps)]
                             + ["done putting blocks in bowls."]),
        meta=new_meta("put-block-in-bowl-seen-colors", "train", seed, Workspace()))


def assert_same(a: Episode, b: Episode) -> None:
    """Every array of two episodes equal, dtype and bits included."""
    assert np.array_equal(a.heightmap.view(np.uint32), b.heightmap.view(np.uint32))
    for name in ("colormap", "valid", "pose0", "pose1", "pick_pix", "place_pix", "pick_rot",
                 "place_rot", "reward", "instruction"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


@pytest.fixture
def make_episode():
    """:func:`random_episode`, for the episode file and store tests."""
    return random_episode


@pytest.fixture
def same_episode():
    """:func:`assert_same`."""
    return assert_same
