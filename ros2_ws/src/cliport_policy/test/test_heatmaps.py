"""Episode pictures: the action marks and the GIF writer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cliport_policy.heatmaps import mark_action, save_gif


def test_mark_action_rings_the_pick_and_the_place_cells():
    colormap = np.zeros((320, 160, 3), np.uint8)
    img = mark_action(colormap, (100, 40), (200, 120))
    assert img.shape == (640, 320, 3)
    cyan = np.all(img == (0, 255, 255), axis=-1)
    magenta = np.all(img == (255, 0, 255), axis=-1)
    assert cyan.any() and magenta.any()
    uu, vv = np.nonzero(cyan)
    assert abs(uu.mean() - 201) < 2 and abs(vv.mean() - 81) < 2  # centred on the pick cell
    assert not mark_action(colormap, None, None).any()


def test_save_gif_round_trip(tmp_path):
    frames = [np.full((20, 10, 3), v, np.uint8) for v in (0, 128, 255)]
    path = save_gif(tmp_path / "a" / "ep.gif", frames)
    gif = Image.open(path)
    assert gif.n_frames == 3 and gif.size == (10, 20)
    with pytest.raises(ValueError):
        save_gif(tmp_path / "none.gif", [])
