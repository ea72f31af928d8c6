"""Fixtures shared by the cliport_sim tests."""

import pybullet as p
import pytest


@pytest.fixture
def client():
    """A bare PyBullet DIRECT world with gravity and a ground plane at z = 0."""
    c = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.8, physicsClientId=c)
    plane = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
    p.createMultiBody(0, plane, physicsClientId=c)
    yield c
    p.disconnect(physicsClientId=c)
