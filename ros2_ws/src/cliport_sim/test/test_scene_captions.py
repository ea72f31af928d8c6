"""Captioned scenes: labelled cells on their objects, a resumable store, disjoint seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cliport_sim.colors import COLORS
from cliport_sim.demos import SEED_START
from cliport_sim.scene_captions import (
    SCENE_SEED_START,
    generate_scenes,
    load_scene,
    main,
    scene_files,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes") / "s"
    assert generate_scenes(root, 3, robot="panda", observation="orthographic",
                           progress=False) == 3
    return root


def _nearest_colour(rgb: np.ndarray) -> str:
    return min(COLORS, key=lambda c: float(np.sum((np.asarray(COLORS[c]) - rgb) ** 2)))


def test_every_caption_names_the_object_at_its_cell(store):
    """A block's labelled cell shows the block's colour (its top face, seen from above)."""
    checked = 0
    for path in scene_files(store):
        scene = load_scene(path)
        assert len(scene.captions) == len(scene.pixels) >= 1
        rows, cols = scene.colormap.shape[:2]
        for caption, (u, v) in zip(scene.captions, scene.pixels, strict=True):
            color, shape = caption.split()
            assert color in COLORS and shape in ("block", "bowl")
            assert 0 <= u < rows and 0 <= v < cols
            if shape == "block":
                top = scene.colormap[u - 1:u + 2, v - 1:v + 2].reshape(-1, 3).mean(0)
                assert _nearest_colour(top) == color, (caption, top)
                assert scene.heightmap[u, v] > 0.03  # a 4 cm block's top, not the table
                checked += 1
    assert checked >= 1


def test_the_store_resumes_and_never_repeats_a_seed(store, tmp_path):
    before = [load_scene(p).seed for p in scene_files(store)]
    assert generate_scenes(store, 3, robot="panda", observation="orthographic",
                           progress=False) == 0  # already there
    assert generate_scenes(store, 4, robot="panda", observation="orthographic",
                           progress=False) == 1
    seeds = [load_scene(p).seed for p in scene_files(store)]
    assert seeds[:3] == before and len(set(seeds)) == 4
    # far from every task's seeds: train even from 0, val and test odd
    assert min(seeds) >= SCENE_SEED_START > 100 * SEED_START["test"]
    assert all(s % 2 == 0 for s in seeds)
    assert json.loads((store / "meta.json").read_text())["robot"] == "panda"


def test_another_robot_or_observation_is_refused_in_one_line(store, capsys):
    with pytest.raises(ValueError, match="use another --out"):
        generate_scenes(store, 5, robot="ur5", observation="orthographic", progress=False)
    assert main(["--out", str(store), "--n", "5", "--observation", "views", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cliport-scenes: error:") and err.count("\n") == 1
    assert len(scene_files(store)) == 4  # nothing lost, nothing added
