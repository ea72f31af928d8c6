"""Episode files: exact round trips, the documented encodings, views, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cliport_perception.workspace import Workspace
from cliport_sim import episode as ef
from cliport_sim.dataset import __version__

WS = Workspace()


@pytest.mark.parametrize("codecs", [None, {}])  # default encodings, and plain arrays
def test_exact_round_trip(tmp_path, codecs, make_episode, same_episode):
    ep = make_episode(np.random.default_rng(1))
    size = ef.save_episode(tmp_path / "e.npz", ep, codecs)
    back = ef.load_episode(tmp_path / "e.npz")
    same_episode(ep, back)
    assert size == (tmp_path / "e.npz").stat().st_size
    assert back.meta["seed"] == 0 and back.meta["n_steps"] == 3
    assert back.meta["total_reward"] == pytest.approx(ep.reward.sum())
    assert back.meta["version"] == __version__
    assert back.meta["bounds"] == WS.bounds.tolist()
    for t in range(4):
        step = ef.load_step(tmp_path / "e.npz", t)
        assert np.array_equal(step["heightmap"].view(np.uint32), ep.heightmap[t].view(np.uint32))
        assert np.array_equal(step["colormap"], ep.colormap[t])
        assert np.array_equal(step["valid"], ep.valid[t])
        assert step["instruction"] == ep.instruction[t]
        assert ("pose0" in step) == (t < 3)
        if t < 3:
            assert np.array_equal(step["place_pix"], ep.place_pix[t])
    with pytest.raises(IndexError):
        ef.load_step(tmp_path / "e.npz", 4)


def test_numpy_alone_reads_the_documented_encodings(tmp_path, make_episode):
    ep = make_episode(np.random.default_rng(2), shape=(32, 20))
    ef.save_episode(tmp_path / "e.npz", ep)
    with np.load(tmp_path / "e.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert meta["encoding"] == {"colormap": "sub_t", "heightmap": "xor_t",
                                    "valid": "packbits"}
        h = np.bitwise_xor.accumulate(z["heightmap.xor_t"], 0).view(np.float32)
        c = np.cumsum(z["colormap.sub_t"], 0, dtype=np.uint8)
        v = np.unpackbits(z["valid.packbits"], -1, count=20).astype(bool)
        assert np.array_equal(h.view(np.uint32), ep.heightmap.view(np.uint32))
        assert np.array_equal(c, ep.colormap) and np.array_equal(v, ep.valid)
        assert list(z["instruction"]) == list(ep.instruction)


def test_views_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    views = ef.Views(rng.integers(0, 256, (2, 3, 48, 64, 3), dtype=np.uint8),
                     rng.integers(0, 4000, (2, 3, 48, 64), dtype=np.uint16))
    ef.save_views(tmp_path / "v.npz", views)
    back = ef.load_views(tmp_path / "v.npz")
    assert np.array_equal(back.color, views.color)
    assert np.array_equal(back.depth_mm, views.depth_mm)


def test_episode_rejects_bad_input(make_episode):
    ep = make_episode(np.random.default_rng(4), shape=(8, 4))
    with pytest.raises(ValueError, match="heightmap must have shape"):
        ef.Episode(**{**vars(ep), "heightmap": ep.heightmap[:, :4]})
    with pytest.raises(ValueError, match="pick_pix must be int32"):
        ef.Episode(**{**vars(ep), "pick_pix": ep.pick_pix + 0.5})
    with pytest.raises(ValueError, match="instruction"):
        ef.Episode(**{**vars(ep), "instruction": ep.instruction[:-1]})
