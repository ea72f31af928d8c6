"""Episode storage: exact round trips, damage handling, resumable writer, labels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_perception.workspace import Workspace
from cliport_sim import dataset as ds
from cliport_sim.geometry import wrap_angle

WS = Workspace()


def random_episode(rng: np.random.Generator, n_steps: int = 3, seed: int = 0,
                   shape: tuple[int, int] = (320, 160)) -> ds.Episode:
    n = n_steps + 1
    bits = rng.integers(0, 2**32, size=(n, *shape), dtype=np.uint32)
    height = bits.view(np.float32)
    nan = ~np.isfinite(height)
    height[nan] = rng.uniform(0, 0.3, nan.sum()).astype(np.float32)
    height[1:, :40] = height[0, :40]  # unchanged cells, as between real steps
    pose = rng.normal(size=(n_steps, 7))
    return ds.Episode(
        colormap=rng.integers(0, 256, (n, *shape, 3), dtype=np.uint8),
        heightmap=height, valid=rng.random((n, *shape)) < 0.8,
        pose0=pose, pose1=pose[::-1].copy(),
        pick_pix=rng.integers(0, 160, (n_steps, 2)), place_pix=rng.integers(0, 160, (n_steps, 2)),
        pick_rot=np.zeros(n_steps, int), place_rot=rng.integers(0, 36, n_steps),
        reward=np.r_[0.0, rng.random(n_steps)],
        instruction=np.array([f"put the blöck {i} in the bowl" for i in range(n_steps)]
                             + ["done putting blocks in bowls."]),
        meta=ds.new_meta("put-block-in-bowl-seen-colors", "train", seed, WS))


def assert_same(a: ds.Episode, b: ds.Episode) -> None:
    assert np.array_equal(a.heightmap.view(np.uint32), b.heightmap.view(np.uint32))
    for name in ("colormap", "valid", "pose0", "pose1", "pick_pix", "place_pix", "pick_rot",
                 "place_rot", "reward", "instruction"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


@pytest.mark.parametrize("codecs", [None, {}])  # default encodings, and plain arrays
def test_exact_round_trip(tmp_path, codecs):
    ep = random_episode(np.random.default_rng(1))
    size = ds.save_episode(tmp_path / "e.npz", ep, codecs)
    back = ds.load_episode(tmp_path / "e.npz")
    assert_same(ep, back)
    assert size == (tmp_path / "e.npz").stat().st_size
    assert back.meta["seed"] == 0 and back.meta["n_steps"] == 3
    assert back.meta["total_reward"] == pytest.approx(ep.reward.sum())
    assert back.meta["version"] == ds.__version__
    assert back.meta["bounds"] == WS.bounds.tolist()
    for t in range(4):
        step = ds.load_step(tmp_path / "e.npz", t)
        assert np.array_equal(step["heightmap"].view(np.uint32), ep.heightmap[t].view(np.uint32))
        assert np.array_equal(step["colormap"], ep.colormap[t])
        assert np.array_equal(step["valid"], ep.valid[t])
        assert step["instruction"] == ep.instruction[t]
        assert ("pose0" in step) == (t < 3)
        if t < 3:
            assert np.array_equal(step["place_pix"], ep.place_pix[t])
    with pytest.raises(IndexError):
        ds.load_step(tmp_path / "e.npz", 4)


def test_numpy_alone_reads_the_documented_encodings(tmp_path):
    ep = random_episode(np.random.default_rng(2), shape=(32, 20))
    ds.save_episode(tmp_path / "e.npz", ep)
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
    views = ds.Views(rng.integers(0, 256, (2, 3, 48, 64, 3), dtype=np.uint8),
                     rng.integers(0, 4000, (2, 3, 48, 64), dtype=np.uint16))
    ds.save_views(tmp_path / "v.npz", views)
    back = ds.load_views(tmp_path / "v.npz")
    assert np.array_equal(back.color, views.color)
    assert np.array_equal(back.depth_mm, views.depth_mm)


def test_episode_rejects_bad_input():
    ep = random_episode(np.random.default_rng(4), shape=(8, 4))
    with pytest.raises(ValueError, match="heightmap must have shape"):
        ds.Episode(**{**vars(ep), "heightmap": ep.heightmap[:, :4]})
    with pytest.raises(ValueError, match="pick_pix must be int32"):
        ds.Episode(**{**vars(ep), "pick_pix": ep.pick_pix + 0.5})
    with pytest.raises(ValueError, match="instruction"):
        ds.Episode(**{**vars(ep), "instruction": ep.instruction[:-1]})
    with pytest.raises(ValueError, match="a pose needs 7 finite numbers"):
        ds.action_labels((0.5, 0.0, 0.0), ((0.5, 0, 0), (0, 0, 0, 1)), WS)


def make_store(tmp_path, n: int = 3, shape=(16, 8)):
    rng = np.random.default_rng(5)
    root = ds.episode_dir(tmp_path, "task", "train")
    eps = []
    with ds.EpisodeWriter(root) as w:
        for i in range(n):
            ep = random_episode(rng, n_steps=2, seed=2 * i, shape=shape)
            w.write(ep)
            eps.append(ep)
    return root, eps


def test_writer_and_reader_agree(tmp_path):
    root, eps = make_store(tmp_path)
    data = ds.Dataset(root)
    assert len(data) == 3 and data.seeds == [0, 2, 4] and not data.problems
    assert data.path(1).name == "000001-2.npz"
    for i, ep in enumerate(eps):
        assert_same(ep, data.episode(i))
        assert data.episode(i).meta["episode"] == i
    assert data.sample(2, 1)["instruction"] == eps[2].instruction[1]
    cached = ds.Dataset(root, cache_episodes=2)
    for i, t in ((0, 0), (1, 2), (2, 1), (0, 1)):
        a, b = data.sample(i, t), cached.sample(i, t)
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(cached._cache) == 2 and cached.episode(0) is cached.episode(0)
    lines = (root / ds.INDEX_NAME).read_text().splitlines()
    assert [json.loads(x)["seed"] for x in lines] == [0, 2, 4]


def test_truncated_file_is_reported_and_others_stay_readable(tmp_path):
    root, eps = make_store(tmp_path)
    path = root / "000001-2.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ds.DatasetError, match="000001-2.npz"):
        ds.load_episode(path)
    data = ds.Dataset(root)
    assert data.seeds == [0, 4]
    assert any("000001-2.npz" in p and "truncated" in p for p in data.problems)
    assert_same(eps[2], data.episode(1))


def test_corrupt_and_missing_files(tmp_path):
    root, eps = make_store(tmp_path)
    path = root / "000000-0.npz"
    raw = bytearray(path.read_bytes())
    start = raw.index(b"colormap.sub_t.npy") + 200  # inside that member's deflate stream
    raw[start:start + 64] = bytes(64)
    path.write_bytes(bytes(raw))  # same size: only the CRC check can notice
    (root / "000002-4.npz").unlink()
    data = ds.Dataset(root)
    assert data.seeds == [0, 2]
    assert any("000002-4.npz" in p and "missing" in p for p in data.problems)
    with pytest.raises(ds.DatasetError, match="000000-0.npz"):
        data.episode(0)
    verified = ds.Dataset(root, verify=True)
    assert verified.seeds == [2]
    assert_same(eps[1], verified.episode(0))


def test_writer_cleans_after_a_kill(tmp_path):
    root, _ = make_store(tmp_path)
    (root / f"{ds.TMP_PREFIX}123-000003-6.npz").write_bytes(b"PK partial")
    (root / "000003-6.npz").write_bytes(b"renamed but never indexed")
    with open(root / ds.INDEX_NAME, "a") as fh:
        fh.write('{"index": 3, "seed": 6, "fi')  # killed mid-line
    with ds.EpisodeWriter(root) as w:
        assert sorted(w.removed) == [f"{ds.TMP_PREFIX}123-000003-6.npz", "000003-6.npz"]
        assert w.n_episodes == 3 and w.next_seed(0) == 6
        w.record_failure(6, 0.5, "oracle reward 0.5")
        assert w.next_seed(0) == 8
        with pytest.raises(ds.DatasetError, match="seed 6 is already recorded"):
            w.record_failure(6, 0.5, "again")
        with pytest.raises(ds.DatasetError, match="another writer"):
            ds.EpisodeWriter(root)
        w.write(random_episode(np.random.default_rng(0), 1, seed=8, shape=(16, 8)))
    assert sorted(p.name for p in root.iterdir()) == [
        ".lock", "000000-0.npz", "000001-2.npz", "000002-4.npz", "000003-8.npz",
        ds.ATTEMPTS_NAME, ds.INDEX_NAME]
    data = ds.Dataset(root)
    assert data.seeds == [0, 2, 4, 8] and not data.problems
    assert ds.EpisodeWriter(root).next_seed(0) == 10  # lock released on close


def test_writer_stores_views_next_to_the_episode(tmp_path):
    rng = np.random.default_rng(6)
    ep = random_episode(rng, 1, seed=1, shape=(16, 8))
    views = ds.Views(rng.integers(0, 256, (2, 3, 12, 16, 3), dtype=np.uint8),
                     rng.integers(0, 4000, (2, 3, 12, 16), dtype=np.uint16))
    with ds.EpisodeWriter(tmp_path) as w:
        w.write(ep, views)
    assert (tmp_path / "000000-1-views.npz").exists()
    assert np.array_equal(ds.Dataset(tmp_path).views(0).depth_mm, views.depth_mm)
    with ds.EpisodeWriter(tmp_path):  # a listed episode's views are not orphans
        pass
    assert (tmp_path / "000000-1-views.npz").exists()


def test_n_demos_subsets(tmp_path):
    root, _ = make_store(tmp_path, n=5, shape=(4, 4))
    assert ds.Dataset(root, n_demos=2).seeds == [0, 2]
    a = ds.Dataset(root, n_demos=3, rng=np.random.default_rng(7)).seeds
    b = ds.Dataset(root, n_demos=3, rng=np.random.default_rng(7)).seeds
    assert a == b and len(set(a)) == 3 and a == sorted(a)
    with pytest.raises(ds.DatasetError, match="n_demos=6"):
        ds.Dataset(root, n_demos=6)
    with pytest.raises(ds.DatasetError, match="not a dataset directory"):
        ds.Dataset(tmp_path / "nope")


# ----------------------------------------------------------------------------- labels


def test_labels_reference_example():
    pose0 = ((0.25 + 10.5 * 0.003125, -0.5 + 20.5 * 0.003125, 0.02), (0, 0, 0, 1))
    pose1 = ((0.6, 0.1, 0.05), quat_from_yaw(math.radians(30)))
    labels = ds.action_labels(pose0, pose1, WS)
    assert labels.pick_pix == (20, 10) and labels.pick_rot == 0
    assert labels.place_rot == 33  # theta1 = -30 deg -> bin -3 mod 36
    p0, p1 = ds.labels_to_poses(labels.pick_pix, labels.place_pix, labels.place_rot, WS)
    assert p0[0][:2] == pytest.approx(pose0[0][:2])
    assert math.degrees(yaw_of(p1[1])) == pytest.approx(30.0)


def test_labels_z_and_bounds():
    hmap = np.zeros(WS.shape, np.float32)
    hmap[5, 7] = 0.04
    p0, _ = ds.labels_to_poses((5, 7), (0, 0), 0, WS, heightmap=hmap)
    assert p0[0][2] == pytest.approx(0.04)
    with pytest.raises(ValueError, match="outside the workspace grid"):
        ds.action_labels(((0.8, 0, 0), (0, 0, 0, 1)), ((0.5, 0, 0), (0, 0, 0, 1)), WS)
    with pytest.raises(ValueError, match="place_rot"):
        ds.labels_to_poses((0, 0), (0, 0), 36, WS)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.25, 0.7499), st.floats(-0.5, 0.4999), st.floats(0.25, 0.7499),
       st.floats(-0.5, 0.4999), st.floats(-math.pi, math.pi), st.floats(-math.pi, math.pi))
def test_labels_round_trip(x0, y0, x1, y1, yaw0, yaw1):
    pose0 = ((x0, y0, 0.0), quat_from_yaw(yaw0))
    pose1 = ((x1, y1, 0.0), quat_from_yaw(yaw1))
    labels = ds.action_labels(pose0, pose1, WS)
    back0, back1 = ds.labels_to_poses(labels.pick_pix, labels.place_pix, labels.place_rot, WS)
    half = WS.pixel_size / 2 + 1e-9
    for (x, y), back in (((x0, y0), back0), ((x1, y1), back1)):
        assert abs(back[0][0] - x) <= half and abs(back[0][1] - y) <= half  # same cell
    # The place yaw comes back relative to the pick yaw, within half a 10-degree bin.
    err = wrap_angle(yaw_of(back1[1]) - (yaw1 - yaw0))
    assert abs(err) <= math.radians(5) + 1e-9
