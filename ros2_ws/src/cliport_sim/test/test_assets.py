"""Task assets: sizes, masses and frictions from docs/design.md#assets, measured in PyBullet.

Extents are measured physically: a large probe box is brought up to the body from each
side and PyBullet's closest-point distance gives where the collision surface really is
(``getAABB`` pads compounds and meshes by a few millimetres, contact does not).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from cliport_sim import asset_gen, assets
from cliport_sim.testing import collision_bounds

TOL = 0.002  # the brief: AABB within 2 mm of docs/design.md#assets

SPEC_SHAPES = ("letter R", "letter A", "triangle", "square", "plus", "letter T", "diamond",
               "pentagon", "rectangle", "flower", "star", "circle", "letter G", "letter V",
               "letter E", "letter L", "ring", "hexagon", "heart", "letter M")
TAU = 2 * math.pi
SPEC_SYMMETRIES = (TAU, TAU, TAU / 3, math.pi / 2, math.pi / 2, TAU, math.pi, TAU / 5, math.pi,
                   math.pi / 2, TAU / 5, 0, TAU, TAU, TAU, TAU, 0, TAU / 6, TAU, TAU)


@pytest.fixture
def sim():
    """A fresh DIRECT client with gravity, a flat ground at z = 0 and a probe body."""
    c = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.8, physicsClientId=c)
    p.setTimeStep(1 / 240, physicsClientId=c)
    p.createMultiBody(0, p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c),
                      physicsClientId=c)
    yield c
    p.disconnect(c)


def load(c, urdf, pos=(0, 0, 0), yaw=0.0, fixed=False) -> int:
    return p.loadURDF(str(urdf), pos, p.getQuaternionFromEuler((0, 0, yaw)),
                      useFixedBase=fixed, physicsClientId=c)


def extent(c, body) -> np.ndarray:
    lo, hi = collision_bounds(c, body)
    return hi - lo


def settle(c, steps=480) -> None:
    for _ in range(steps):
        p.stepSimulation(physicsClientId=c)


def dynamics(c, body) -> tuple[float, float]:
    info = p.getDynamicsInfo(body, -1, physicsClientId=c)
    return info[0], info[1]


def tilt_deg(c, body) -> float:
    _, q = p.getBasePositionAndOrientation(body, physicsClientId=c)
    z_axis = np.array(p.getMatrixFromQuaternion(q)).reshape(3, 3)[:, 2]
    return math.degrees(math.acos(min(1.0, z_axis[2])))


# --------------------------------------------------------------------------- files
def test_committed_assets_equal_a_fresh_deterministic_generation():
    assert asset_gen.generate() == asset_gen.generate()
    assert asset_gen.stale() == [], "run `python -m cliport_sim.asset_gen`"


def test_assets_are_small():
    total = sum(f.stat().st_size for f in assets.ASSETS_ROOT.rglob("*")
                if f.is_file() and "ur5" not in f.parts and f.suffix != ".py")
    assert total < 1_000_000


def test_generator_writes_into_another_folder(tmp_path):
    assert asset_gen.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "bowl" / "bowl.urdf").is_file()
    assert asset_gen.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "bowl" / "bowl.urdf").write_text("changed")
    assert asset_gen.main(["--out", str(tmp_path), "--check"]) == 1


def test_asset_path_errors_are_clear():
    assert assets.asset_path("bowl/bowl.urdf").is_file()
    with pytest.raises(FileNotFoundError, match="no asset 'bowl/cup.urdf'"):
        assets.asset_path("bowl/cup.urdf")
    with pytest.raises(FileNotFoundError, match="leaves the assets folder"):
        assets.asset_path("../setup.py")


def test_meshes_are_prescaled():
    assert assets.MESH_SCALE == (1.0, 1.0, 1.0)
    for urdf in assets.ASSETS_ROOT.rglob("*.urdf"):
        for mesh in ET.parse(urdf).getroot().iter("mesh"):
            assert mesh.get("scale") in ("1 1 1", "SCALE0 SCALE1 SCALE2"), urdf


# --------------------------------------------------------------------------- sizes
FIXED_SIZES = [
    ("stacking/block.urdf", (0.04, 0.04, 0.04), 0.01, 1.0),
    ("block/block.urdf", (0.04, 0.04, 0.04), 0.1, 1.0),
    ("block/small.urdf", (0.01, 0.01, 0.01), 0.001, 0.5),
    ("bowl/bowl.urdf", (0.12, 0.12, 0.04), 0.1, 1.0),
    ("kitting/kit.urdf", (0.28, 0.2, 0.005), 0.1, 1.0),
    ("zone/zone.urdf", (0.15, 0.15, 0.002), 0.1, 1.0),
    ("stacking/stand.urdf", (0.05, 0.15, 0.005), 0.3, 1.0),
    ("hanoi/stand.urdf", (0.12, 0.36, 0.06), 0.0, 1.0),
    ("hanoi/disk0.urdf", (0.05, 0.05, 0.014), 0.1, 1.0),
    ("hanoi/disk1.urdf", (0.065, 0.065, 0.014), 0.1, 1.0),
    ("hanoi/disk2.urdf", (0.08, 0.08, 0.014), 0.1, 1.0),
    ("workspace/workspace.urdf", (0.6, 1.1, 0.01), 0.0, 1.0),
]


@pytest.mark.parametrize(("rel", "size", "mass", "friction"), FIXED_SIZES,
                         ids=[r for r, *_ in FIXED_SIZES])
def test_asset_size_mass_friction(sim, rel, size, mass, friction):
    body = load(sim, assets.asset_path(rel), (0, 0, 1))
    np.testing.assert_allclose(extent(sim, body), size, atol=TOL)
    got_mass, got_friction = dynamics(sim, body)
    assert got_mass == pytest.approx(mass)
    assert got_friction == pytest.approx(friction)


@pytest.mark.parametrize("size", [(0.1, 0.1, 0.05), (0.35, 0.2, 0.05), (0.05, 0.3, 0.05)])
def test_container_template(sim, size):
    body = load(sim, assets.container_urdf(size), (0, 0, 1))
    np.testing.assert_allclose(extent(sim, body), size, atol=TOL)
    assert dynamics(sim, body) == pytest.approx((0.1, 0.3))
    visuals = p.getVisualShapeData(body, physicsClientId=sim)
    for v in visuals:
        np.testing.assert_allclose(v[7], (156 / 255, 117 / 255, 95 / 255, 1), atol=1e-6)
    # An open box: a block dropped in its middle lands on the 2 mm floor, inside the walls.
    load(sim, assets.container_urdf(size), (0.5, 0, size[2] / 2), fixed=True)
    block = load(sim, assets.asset_path("stacking/block.urdf"), (0.5, 0, 0.1))
    settle(sim)
    pos, _ = p.getBasePositionAndOrientation(block, physicsClientId=sim)
    assert pos[2] == pytest.approx(0.002 + 0.02, abs=0.001)


def test_box_template_size_and_colour(sim):
    body = load(sim, assets.box_urdf((0.05, 0.07, 0.03), (1.0, 0.0, 0.0)), (0, 0, 1))
    np.testing.assert_allclose(extent(sim, body), (0.05, 0.07, 0.03), atol=1e-4)
    assert dynamics(sim, body) == pytest.approx((0.1, 1.0))
    assert p.getVisualShapeData(body, physicsClientId=sim)[0][7] == (1.0, 0.0, 0.0, 1.0)


def test_square_template(sim):
    side = 2 * 0.005 * 20 * math.sqrt(2)
    body = load(sim, assets.square_urdf(side), (0, 0, 0), fixed=True)
    lo, hi = collision_bounds(sim, body)
    np.testing.assert_allclose((hi - lo)[:2], (side, side), atol=1e-4)
    assert hi[2] == pytest.approx(0.001, abs=1e-4)  # bars 0.001 above the table
    # Open towards +x: a ray along x through the middle meets only the closed side.
    hits = p.rayTestBatch([(-1, 0, 0.0005), (1, 0, 0.0005)], [(0, 0, 0.0005)] * 2,
                          physicsClientId=sim)
    assert hits[0][0] == body and hits[1][0] == -1


def test_plane_and_workspace_tops(sim):
    p.removeBody(0, physicsClientId=sim)  # the fixture's own ground
    plane = load(sim, assets.asset_path("plane/plane.urdf"), (0, 0, -0.001), fixed=True)
    work = load(sim, assets.asset_path("workspace/workspace.urdf"), (0.5, 0, 0), fixed=True)
    hits = p.rayTestBatch([(0.5, 0, 1), (2.0, 2.0, 1)], [(0.5, 0, -1), (2.0, 2.0, -1)],
                          physicsClientId=sim)
    assert hits[0][0] == work and hits[0][3][2] == pytest.approx(0.0, abs=1e-6)
    assert hits[1][0] == plane and hits[1][3][2] == pytest.approx(-0.001, abs=1e-6)
    lo, hi = collision_bounds(sim, work)
    assert lo[0] < 0.25 and hi[0] > 0.75 and lo[1] < -0.5 and hi[1] > 0.5  # covers the grid
    colour = p.getVisualShapeData(work, physicsClientId=sim)[0][7]
    assert colour == pytest.approx((0.2, 0.2, 0.2, 1.0))
    assert p.getVisualShapeData(plane, physicsClientId=sim)[0][4].endswith(b"plane.obj")


def test_stands_are_light_mid_dark_along_y(sim):
    for rel, spacing in (("stacking/stand.urdf", 0.05), ("hanoi/stand.urdf", 0.12)):
        body = load(sim, assets.asset_path(rel), fixed=True)
        tiles = [v for v in p.getVisualShapeData(body, physicsClientId=sim) if v[2] == p.GEOM_BOX]
        ys = [t[5][1] for t in tiles]
        assert ys == pytest.approx([-spacing, 0.0, spacing])
        brightness = [sum(t[7][:3]) for t in tiles]
        assert brightness[0] > brightness[1] > brightness[2]


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("fixed_bowl", [True, False])
def test_block_dropped_into_bowl_stays_inside(sim, fixed_bowl):
    bowl = load(sim, assets.asset_path("bowl/bowl.urdf"), (0.5, 0.0, 0.0), fixed=fixed_bowl)
    blocks = [load(sim, assets.asset_path("stacking/block.urdf"), (0.5 + dx, dy, 0.08), yaw)
              for dx, dy, yaw in ((0.0, 0.0, 0.3), (0.025, -0.02, 1.1))]
    settle(sim, 720)
    bowl_pos, _ = p.getBasePositionAndOrientation(bowl, physicsClientId=sim)
    assert bowl_pos[2] == pytest.approx(0.0, abs=0.001)  # upright, on its bottom
    assert tilt_deg(sim, bowl) < 2
    for block in blocks:
        pos, _ = p.getBasePositionAndOrientation(block, physicsClientId=sim)
        assert math.hypot(pos[0] - bowl_pos[0], pos[1] - bowl_pos[1]) < 0.045
        assert 0.004 < pos[2] < 0.04 + 0.03  # above the floor, not outside below the rim


def test_bowl_collision_is_a_compound_of_convex_pieces(sim):
    bowl = load(sim, assets.asset_path("bowl/bowl.urdf"), fixed=True)
    shapes = p.getCollisionShapeData(bowl, -1, physicsClientId=sim)
    # Floor disk (PyBullet loads URDF cylinders as convex hulls) + 16 wall boxes.
    kinds = sorted(s[2] for s in shapes)
    assert kinds == [p.GEOM_BOX] * 16 + [p.GEOM_MESH]


def test_hanoi_disks_slide_onto_a_rod_and_stack(sim):
    load(sim, assets.asset_path("hanoi/stand.urdf"), (0.5, 0.0, 0.005), fixed=True)
    rod_x, rod_y = 0.5, 0.12
    disks = []
    for i in (2, 1, 0):  # largest first; each dropped from above the rod top (0.06)
        disks.append(load(sim, assets.asset_path(f"hanoi/disk{i}.urdf"),
                          (rod_x + 0.003, rod_y - 0.002, 0.075)))
        settle(sim, 360)
    tile_top = 0.01
    for level, disk in enumerate(disks):
        pos, _ = p.getBasePositionAndOrientation(disk, physicsClientId=sim)
        assert math.hypot(pos[0] - rod_x, pos[1] - rod_y) < 0.007  # around the rod
        expected = tile_top + assets.HANOI_DISK_THICKNESS * (level + 0.5)
        assert pos[2] == pytest.approx(expected, abs=0.001)
        assert tilt_deg(sim, disk) < 2


def test_hanoi_disk_sizes_decrease_with_index(sim):
    widths = [extent(sim, load(sim, assets.asset_path(f"hanoi/disk{i}.urdf"), (i, 0, 1)))[0]
              for i in range(3)]
    assert widths == sorted(widths)
    np.testing.assert_allclose(widths, assets.HANOI_DISK_DIAMETERS, atol=TOL)


# --------------------------------------------------------------------------- kitting
def test_kitting_names_and_symmetries_follow_the_spec():
    assert assets.KIT_SHAPE_NAMES == SPEC_SHAPES
    np.testing.assert_allclose(assets.KIT_SYMMETRIES, SPEC_SYMMETRIES)


def _top_vertices(obj: Path) -> np.ndarray:
    v = np.array([[float(x) for x in line.split()[1:]] for line in obj.read_text().splitlines()
                  if line.startswith("v ")])
    return v[v[:, 2] > v[:, 2].max() - 1e-9][:, :2]


@pytest.mark.parametrize("index", range(20))
def test_kitting_shape_origin_is_its_rotation_centre(index):
    sym = SPEC_SYMMETRIES[index]
    pts = _top_vertices(assets.asset_path(f"kitting/{index:02d}.obj"))
    if 0 < sym < TAU - 1e-9:
        c, s = math.cos(sym), math.sin(sym)
        turned = pts @ np.array([[c, s], [-s, c]])
        nearest = np.min(np.linalg.norm(turned[:, None] - pts[None], axis=2), axis=1)
        assert nearest.max() < 1e-5
    else:  # letters, heart: bounding box centred; circle, ring: centred disks
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        np.testing.assert_allclose((lo + hi) / 2, (0, 0), atol=1e-6)


def test_all_kitting_shapes_rest_stably_on_a_plane(sim):
    for i in range(20):
        body = load(sim, assets.kit_shape_urdf(i), (5.0, 0, 1.0), fixed=True)
        size = extent(sim, body)
        assert size[0] <= 0.08 + 1e-4 and size[1] <= 0.08 + 1e-4, assets.KIT_SHAPE_NAMES[i]
        assert size[2] == pytest.approx(0.02, abs=1e-4)
        p.removeBody(body, physicsClientId=sim)
    bodies = []
    for i in range(20):
        urdf = assets.kit_shape_urdf(i, (0.2, 0.4, 0.8))
        bodies.append(load(sim, urdf, ((i % 5) * 0.12, (i // 5) * 0.12, 0.012), yaw=0.3 * i))
    settle(sim, 360)
    for i, body in enumerate(bodies):
        pos, _ = p.getBasePositionAndOrientation(body, physicsClientId=sim)
        assert pos[2] == pytest.approx(0.01, abs=5e-4), assets.KIT_SHAPE_NAMES[i]
        assert tilt_deg(sim, body) < 1
        lin, ang = p.getBaseVelocity(body, physicsClientId=sim)
        assert np.linalg.norm(lin) < 1e-3 and np.linalg.norm(ang) < 1e-2
        assert dynamics(sim, body) == pytest.approx((0.1, 1.0))


def test_concave_kitting_collision_keeps_holes(sim):
    """The ring's hole and the letter notches are real: a small cube falls through."""
    load(sim, assets.kit_shape_urdf(16), (0, 0, 0.1), fixed=True)
    cube = load(sim, assets.asset_path("block/small.urdf"), (0, 0, 0.2))
    # The notch of the letter E (between its bars, right of the stem).
    load(sim, assets.kit_shape_urdf(14), (0.5, 0, 0.1), fixed=True)
    cube2 = load(sim, assets.asset_path("block/small.urdf"), (0.5 + 0.01, 0.0143, 0.2))
    settle(sim, 240)
    assert p.getBasePositionAndOrientation(cube, physicsClientId=sim)[0][2] < 0.02
    assert p.getBasePositionAndOrientation(cube2, physicsClientId=sim)[0][2] < 0.02


def test_shapes_sit_on_kit_and_holes_are_visual_outlines(sim):
    load(sim, assets.asset_path("kitting/kit.urdf"), (0.5, 0, 0.0025), fixed=True)
    hole = load(sim, assets.kit_hole_urdf(3), (0.5, 0, 0.0025 + assets.KIT_HOLE_Z), fixed=True)
    assert p.getCollisionShapeData(hole, -1, physicsClientId=sim) == ()
    visual = p.getVisualShapeData(hole, physicsClientId=sim)[0]
    assert visual[7] == pytest.approx(assets.KIT_HOLE_COLOR)
    shape = load(sim, assets.kit_shape_urdf(3), (0.5, 0, 0.02))
    settle(sim, 240)
    assert p.getBasePositionAndOrientation(shape, physicsClientId=sim)[0][2] == pytest.approx(
        0.005 + 0.01, abs=5e-4)
    # Each hole outline is its shape's outline grown by the clearance, on the kit's top.
    for i in range(20):
        shape_pts = _top_vertices(assets.asset_path(f"kitting/{i:02d}.obj"))
        hole_obj = assets.asset_path(f"kitting/{i:02d}-hole.obj")
        hole_pts = _top_vertices(hole_obj)
        assert np.all(hole_pts.max(axis=0) > shape_pts.max(axis=0) + 0.001)
        assert np.all(hole_pts.min(axis=0) < shape_pts.min(axis=0) - 0.001)
        z = [float(line.split()[3]) for line in hole_obj.read_text().splitlines()
             if line.startswith("v ")]
        assert min(z) == 0.0 and max(z) < 0.0005


def test_kit_helpers_reject_bad_indices():
    with pytest.raises(ValueError, match="0..19"):
        assets.kit_shape_urdf(20)
    with pytest.raises(ValueError, match="0..19"):
        assets.kit_hole_urdf(-1)


# --------------------------------------------------------------------------- templates
def test_fill_template_makes_absolute_valid_urdfs(sim, tmp_path):
    path = assets.fill_template("kitting/object-template.urdf",
                                {"SHAPE": "05", "COLOR": (0.1, 0.2, 0.3)}, out_dir=tmp_path)
    assert path.parent == tmp_path and path.suffix == ".urdf"
    root = ET.parse(path).getroot()
    for mesh in root.iter("mesh"):
        assert Path(mesh.get("filename")).is_absolute()
        assert Path(mesh.get("filename")).is_file()
    assert root.find(".//color").get("rgba") == "0.1 0.2 0.3 1"
    assert load(sim, path) >= 0


def test_fill_template_honours_reference_style_keys(sim):
    # The reference passes HALF too; it is accepted and recomputed from DIM.
    path = assets.fill_template("container/container-template.urdf",
                                {"DIM": np.array([0.2, 0.1, 0.05]), "HALF": (9, 9, 9)})
    square = assets.fill_template("square/square-template.urdf",
                                  {"DIM": (np.float32(0.2),), "HALF": (np.float32(0.095),)})
    assert load(sim, square, (1, 0, 1)) >= 0
    body = load(sim, path, (0, 0, 1))
    np.testing.assert_allclose(extent(sim, body), (0.2, 0.1, 0.05), atol=TOL)


@pytest.mark.parametrize(("template", "values", "match"), [
    ("box/box-template.urdf", {"DIM": (0.1, 0.1, 0.1), "COLOUR": (1, 0, 0)}, "no placeholder"),
    ("box/box-template.urdf", {"COLOR": (1, 0, 0)}, "needs DIM"),
    ("box/box-template.urdf", {"DIM": (0.1, float("nan"), 0.1)}, "positive and finite"),
    ("box/box-template.urdf", {"DIM": (0.1, -0.1, 0.1)}, "positive and finite"),
    ("box/box-template.urdf", {"DIM": (0.1, 0.1, 0.1), "COLOR": (255, 0, 0)}, r"in \[0, 1\]"),
    ("box/box-template.urdf", {"DIM": ("a", 1, 1)}, "must be numbers"),
    ("kitting/object-template.urdf", {}, "not filled"),
    ("kitting/object-template.urdf", {"SHAPE": "99"}, "does not exist"),
    ("kitting/object-template.urdf", {"SHAPE": "05", "lower": 1}, "upper-case"),
])
def test_fill_template_rejects_bad_input(template, values, match):
    with pytest.raises(ValueError, match=match):
        assets.fill_template(template, values)


def test_fill_template_unknown_template():
    with pytest.raises(FileNotFoundError, match="no asset"):
        assets.fill_template("box/nothing.urdf", {})


def _fill_many(n: int) -> tuple[int, list[str]]:
    paths = [str(assets.box_urdf((0.01 * (i + 1), 0.02, 0.03))) for i in range(n)]
    for path in paths:
        ET.parse(path)
    return os.getpid(), paths


def test_fill_template_is_safe_in_parallel_threads_and_processes():
    with ThreadPoolExecutor(8) as pool:
        thread_paths = [p for _, ps in pool.map(_fill_many, [10] * 8) for p in ps]
    assert len(set(thread_paths)) == 80
    with ProcessPoolExecutor(3, mp_context=get_context("fork")) as pool:
        results = list(pool.map(_fill_many, [10] * 3))
    process_paths = [p for _, ps in results for p in ps]
    assert len(set(process_paths)) == 30
    folders = {Path(p).parent for p in process_paths}
    assert len(folders) == len({pid for pid, _ in results})  # one private folder per process
    assert not folders & {Path(p).parent for p in thread_paths}


def test_private_temp_folder_is_removed_at_exit():
    code = ("from cliport_sim import assets; "
            "print(assets.box_urdf((0.1, 0.1, 0.1)).parent)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    folder = Path(out.stdout.strip())
    assert folder.name.startswith("cliport_assets_") and not folder.exists()
