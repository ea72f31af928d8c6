"""The procedural named objects (seen / unseen split) and real object folders."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from cliport_sim import google_objects as G
from cliport_sim.asset_gen import _png
from cliport_sim.assets._mesh import ObjWriter, rect
from cliport_sim.testing import collision_bounds

SPEC_UNSEEN = (
    "ball puzzle", "black and blue sneakers", "black shoe with green stripes", "brown fedora",
    "dinosaur figure", "hammer", "light brown boot with golden laces", "lion figure",
    "pepsi max box", "pepsi next box", "porcelain salad plate", "porcelain spoon",
    "red and white striped towel", "red cup", "screwdriver", "toy train", "unicorn toy",
    "white razer mouse", "yoshi figure")


@pytest.fixture
def sim():
    c = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.8, physicsClientId=c)
    p.createMultiBody(0, p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c),
                      physicsClientId=c)
    yield c
    p.disconnect(c)


def footprint(c, body) -> np.ndarray:
    """Real collision extent along x, y, z (no AABB padding)."""
    lo, hi = collision_bounds(c, body)
    return hi - lo


def test_split_sizes_and_names():
    assert len(G.OBJECTS_SEEN) == 37 and len(G.OBJECTS_UNSEEN) == 19
    assert not set(G.OBJECTS_SEEN) & set(G.OBJECTS_UNSEEN)
    assert G.OBJECTS_UNSEEN == SPEC_UNSEEN
    assert len(set(G.OBJECTS_ALL)) == 56


def test_object_names_follow_the_spec():
    for mode in ("train", "val", "test"):
        assert G.object_names("seen", mode) == G.OBJECTS_ALL
    assert G.object_names("unseen", "train") == G.OBJECTS_SEEN
    assert G.object_names("unseen", "val") == G.OBJECTS_UNSEEN
    assert G.object_names("unseen", "test") == G.OBJECTS_UNSEEN
    with pytest.raises(ValueError, match="split"):
        G.object_names("full", "train")
    with pytest.raises(ValueError, match="mode"):
        G.object_names("seen", "eval")


def test_bad_names_and_scales_are_rejected():
    with pytest.raises(KeyError, match="unknown object 'red mug'"):
        G.object_urdf("red mug")
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            G.object_urdf("hammer", bad)
        with pytest.raises(ValueError, match="side"):
            G.scale_for_side(bad)


def test_urdfs_are_cached_and_deterministic_across_processes():
    path = G.object_urdf("toy train", 0.5)
    assert G.object_urdf("toy train", 0.5) == path
    assert G.object_urdf("toy train", 0.25) != path
    code = ("import hashlib; from cliport_sim import google_objects as G; "
            "print(hashlib.sha256(G.object_urdf('toy train', 0.5).read_bytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_object_fits_the_given_side_and_rests_stably(sim):
    side = 0.1  # e.g. a KD-tree leaf's larger side
    bodies = {}
    for i, name in enumerate(G.OBJECTS_ALL):
        scale = G.scale_for_side(side)
        size = G.object_size(name, scale)
        pos = ((i % 8) * 0.2, (i // 8) * 0.2, size[2] / 2 + 0.005)
        bodies[name] = (p.loadURDF(str(G.object_urdf(name, scale)), pos, physicsClientId=sim),
                        size)
    for _ in range(480):
        p.stepSimulation(physicsClientId=sim)
    for name, (body, size) in bodies.items():
        measured = footprint(sim, body)
        assert max(measured[:2]) == pytest.approx(side, abs=1e-3), name
        np.testing.assert_allclose(measured, size, atol=0.002, err_msg=name)
        pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=sim)
        up = np.array(p.getMatrixFromQuaternion(quat)).reshape(3, 3)[2, 2]
        assert math.degrees(math.acos(min(1.0, up))) < 3, name
        assert pos[2] == pytest.approx(size[2] / 2, abs=0.002), name
        lin, ang = p.getBaseVelocity(body, physicsClientId=sim)
        assert np.linalg.norm(lin) < 5e-3 and np.linalg.norm(ang) < 5e-2, name
        info = p.getDynamicsInfo(body, -1, physicsClientId=sim)
        assert info[0] == pytest.approx(G.OBJECT_MASS) and info[1] == pytest.approx(1.0)


def test_objects_are_multicoloured_compounds(sim):
    body = p.loadURDF(str(G.object_urdf("red and white striped towel")), physicsClientId=sim)
    colours = {v[7] for v in p.getVisualShapeData(body, physicsClientId=sim)}
    assert len(colours) == 2
    assert len(p.getCollisionShapeData(body, -1, physicsClientId=sim)) == 7


# ----------------------------------------------------------------------- real folders
def _cube_obj(path: Path, half: float) -> None:
    w = ObjWriter("test cube")
    w.prism(rect(-half, -half, half, half), -half, half)
    path.write_text(w.text())


@pytest.fixture
def google_folder(tmp_path):
    root = tmp_path / "google"
    (root / "meshes_fixed").mkdir(parents=True)
    (root / "textures").mkdir()
    _cube_obj(root / "meshes_fixed" / "red_mug.obj", 0.1)
    _cube_obj(root / "meshes_fixed" / "toy_car.obj", 0.05)
    (root / "textures" / "red_mug.png").write_bytes(_png(2, 2, [b"\xff\x00\x00" * 2] * 2))
    return root


def test_load_object_folder_reads_the_reference_layout(sim, google_folder):
    folder = G.load_object_folder(google_folder)
    assert folder.names == ("red mug", "toy car")
    assert G.load_object_folder(google_folder / "meshes_fixed").names == folder.names
    assert folder.texture("red mug") == google_folder / "textures" / "red_mug.png"
    assert folder.texture("toy car") is None
    body = p.loadURDF(str(folder.urdf("red mug", 0.25)), (0, 0, 1), physicsClientId=sim)
    # A real mesh's convex hull is grown by PyBullet's 1 mm collision margin.
    np.testing.assert_allclose(footprint(sim, body), (0.052, 0.052, 0.052), atol=1e-3)
    tex = p.loadTexture(str(folder.texture("red mug")), physicsClientId=sim)
    p.changeVisualShape(body, -1, textureUniqueId=tex, physicsClientId=sim)
    with pytest.raises(KeyError, match="no object 'blue mug'"):
        folder.urdf("blue mug")


def test_load_object_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no meshes_fixed"):
        G.load_object_folder(tmp_path)
    (tmp_path / "meshes_fixed").mkdir()
    with pytest.raises(FileNotFoundError, match="no .obj meshes"):
        G.load_object_folder(tmp_path)
