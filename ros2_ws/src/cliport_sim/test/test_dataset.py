"""The episode store: the writer and the reader agree, damage is reported, a killed writer
resumes, subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cliport_sim import dataset as ds
from cliport_sim.episode import TMP_PREFIX, DatasetError, Views, load_episode


def make_store(tmp_path, make_episode, n: int = 3, shape=(16, 8)):
    rng = np.random.default_rng(5)
    root = ds.episode_dir(tmp_path, "task", "train")
    eps = []
    with ds.EpisodeWriter(root) as w:
        for i in range(n):
            ep = make_episode(rng, n_steps=2, seed=2 * i, shape=shape)
            w.write(ep)
            eps.append(ep)
    return root, eps


def test_writer_and_reader_agree(tmp_path, make_episode, same_episode):
    root, eps = make_store(tmp_path, make_episode)
    data = ds.Dataset(root)
    assert len(data) == 3 and data.seeds == [0, 2, 4] and not data.problems
    assert data.path(1).name == "000001-2.npz"
    for i, ep in enumerate(eps):
        same_episode(ep, data.episode(i))
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


def test_truncated_file_is_reported_and_others_stay_readable(tmp_path, make_episode, same_episode):
    root, eps = make_store(tmp_path, make_episode)
    path = root / "000001-2.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match="000001-2.npz"):
        load_episode(path)
    data = ds.Dataset(root)
    assert data.seeds == [0, 4]
    assert any("000001-2.npz" in p and "truncated" in p for p in data.problems)
    same_episode(eps[2], data.episode(1))


def test_corrupt_and_missing_files(tmp_path, make_episode, same_episode):
    root, eps = make_store(tmp_path, make_episode)
    path = root / "000000-0.npz"
    raw = bytearray(path.read_bytes())
    start = raw.index(b"colormap.sub_t.npy") + 200  # inside that member's deflate stream
    raw[start:start + 64] = bytes(64)
    path.write_bytes(bytes(raw))  # same size: only the CRC check can notice
    (root / "000002-4.npz").unlink()
    data = ds.Dataset(root)
    assert data.seeds == [0, 2]
    assert any("000002-4.npz" in p and "missing" in p for p in data.problems)
    with pytest.raises(DatasetError, match="000000-0.npz"):
        data.episode(0)
    verified = ds.Dataset(root, verify=True)
    assert verified.seeds == [2]
    same_episode(eps[1], verified.episode(0))


def test_writer_cleans_after_a_kill(tmp_path, make_episode):
    root, _ = make_store(tmp_path, make_episode)
    (root / f"{TMP_PREFIX}123-000003-6.npz").write_bytes(b"PK partial")
    (root / "000003-6.npz").write_bytes(b"renamed but never indexed")
    with open(root / ds.INDEX_NAME, "a") as fh:
        fh.write('{"index": 3, "seed": 6, "fi')  # killed mid-line
    with ds.EpisodeWriter(root) as w:
        assert sorted(w.removed) == [f"{TMP_PREFIX}123-000003-6.npz", "000003-6.npz"]
        assert w.n_episodes == 3 and w.next_seed(0) == 6
        w.record_failure(6, 0.5, "oracle reward 0.5")
        assert w.next_seed(0) == 8
        with pytest.raises(DatasetError, match="seed 6 is already recorded"):
            w.record_failure(6, 0.5, "again")
        with pytest.raises(DatasetError, match="another writer"):
            ds.EpisodeWriter(root)
        w.write(make_episode(np.random.default_rng(0), 1, seed=8, shape=(16, 8)))
    assert sorted(p.name for p in root.iterdir()) == [
        ".lock", "000000-0.npz", "000001-2.npz", "000002-4.npz", "000003-8.npz",
        ds.ATTEMPTS_NAME, ds.INDEX_NAME]
    data = ds.Dataset(root)
    assert data.seeds == [0, 2, 4, 8] and not data.problems
    assert ds.EpisodeWriter(root).next_seed(0) == 10  # lock released on close


def test_writer_stores_views_next_to_the_episode(tmp_path, make_episode):
    rng = np.random.default_rng(6)
    ep = make_episode(rng, 1, seed=1, shape=(16, 8))
    views = Views(rng.integers(0, 256, (2, 3, 12, 16, 3), dtype=np.uint8),
                     rng.integers(0, 4000, (2, 3, 12, 16), dtype=np.uint16))
    with ds.EpisodeWriter(tmp_path) as w:
        w.write(ep, views)
    assert (tmp_path / "000000-1-views.npz").exists()
    assert np.array_equal(ds.Dataset(tmp_path).views(0).depth_mm, views.depth_mm)
    with ds.EpisodeWriter(tmp_path):  # a listed episode's views are not orphans
        pass
    assert (tmp_path / "000000-1-views.npz").exists()


def test_n_demos_subsets(tmp_path, make_episode):
    root, _ = make_store(tmp_path, make_episode, n=5, shape=(4, 4))
    assert ds.Dataset(root, n_demos=2).seeds == [0, 2]
    a = ds.Dataset(root, n_demos=3, rng=np.random.default_rng(7)).seeds
    b = ds.Dataset(root, n_demos=3, rng=np.random.default_rng(7)).seeds
    assert a == b and len(set(a)) == 3 and a == sorted(a)
    with pytest.raises(DatasetError, match="n_demos=6"):
        ds.Dataset(root, n_demos=6)
    with pytest.raises(DatasetError, match="not a dataset directory"):
        ds.Dataset(tmp_path / "nope")
