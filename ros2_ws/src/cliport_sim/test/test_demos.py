"""cliport-demos: seed convention, real generation with PyBullet, kill + resume, damage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cliport_perception.workspace import Workspace
from cliport_sim import dataset as ds
from cliport_sim.demos import seeds
from cliport_sim.episode import TMP_PREFIX, DatasetError
from cliport_sim.labels import action_labels

TASK = "put-block-in-bowl-seen-colors"


def test_seed_convention():
    first = {m: [s for s, _ in zip(seeds(m), range(3), strict=False)] for m in
             ("train", "val", "test")}
    assert first == {"train": [0, 2, 4], "val": [1, 3, 5], "test": [10001, 10003, 10005]}
    assert next(seeds("train", 8)) == 8
    with pytest.raises(ValueError, match="parity"):
        next(seeds("train", 3))
    with pytest.raises(RuntimeError, match="test seeds"):
        next(seeds("val", 10001))
    with pytest.raises(ValueError, match="unknown mode"):
        next(seeds("eval"))


def cli(out: Path, n: int, workers: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cliport_sim.demos", "--task", TASK, "--mode", "train",
            "--n", str(n), "--workers", str(workers), "--out", str(out), "--quiet", *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def recorded_seeds(root: Path) -> list[int]:
    rows = []
    for name in (ds.INDEX_NAME, ds.ATTEMPTS_NAME):
        if (root / name).exists():
            rows += [json.loads(x) for x in (root / name).read_text().splitlines()]
    return [r["seed"] for r in rows]


def check_store(root: Path, n: int) -> ds.Dataset:
    data = ds.Dataset(root)
    assert len(data) == n
    tried = recorded_seeds(root)
    assert len(tried) == len(set(tried))  # no seed twice, kept or failed
    assert all(s % 2 == 0 for s in tried)
    return data


def test_cli_generates_labelled_episodes(tmp_path):
    proc = subprocess.run(cli(tmp_path, 2, 1, "--render", str(tmp_path / "png"),
                              "--save-views"),
                          capture_output=True, text=True, env=ENV, timeout=240)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / f"{TASK}-train"
    data = check_store(root, 2)
    for i in range(2):
        ep = data.episode(i)
        assert ep.meta["task"] == TASK and ep.meta["mode"] == "train"
        assert ep.meta["seed"] == data.seeds[i] and ep.meta["hz"] == 480
        assert ep.reward[0] == 0.0 and ep.reward.sum() > 0.99
        assert ep.colormap.shape == (ep.n_steps + 1, 320, 160, 3)
        assert ep.valid.mean() > 0.9 and ep.heightmap.min() >= 0
        assert ep.instruction[0].startswith("put the") and ep.instruction[-1]
        for t in range(ep.n_steps):
            labels = action_labels(ep.pose0[t], ep.pose1[t], Workspace())
            assert labels == (tuple(ep.pick_pix[t]), tuple(ep.place_pix[t]),
                              int(ep.pick_rot[t]), int(ep.place_rot[t]))
            # The oracle picks on the object: the pick cell is higher than the table.
            u, v = ep.pick_pix[t]
            assert ep.heightmap[t, u, v] > 0.01
        views = data.views(i)
        assert views.color.shape == (ep.n_steps + 1, 3, 480, 640, 3)
        assert views.depth_mm.dtype == np.uint16 and views.depth_mm.max() > 500
    pngs = sorted(p.name for p in (tmp_path / "png" / root.name).iterdir())
    stem = data.path(0).stem
    assert {f"{stem}-{k}.png" for k in ("front", "left", "right", "colormap", "heightmap")} \
        <= set(pngs)


def test_kill_and_resume_gives_exactly_n(tmp_path):
    root = tmp_path / f"{TASK}-train"
    proc = subprocess.Popen(cli(tmp_path, 3, 2), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(2400):  # wait (<= 240 s) for the first committed episode
            index = root / ds.INDEX_NAME
            if index.exists() and index.read_text().count("\n") >= 1:
                break
            if proc.poll() is not None:
                pytest.fail(f"generator ended early: {proc.stderr.read().decode()}")
            time.sleep(0.1)
        else:
            pytest.fail("no episode committed in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first = recorded_seeds(root)
    assert 1 <= len(ds.Dataset(root)) < 3
    done = subprocess.run(cli(tmp_path, 3, 1), capture_output=True, text=True, env=ENV,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    data = check_store(root, 3)
    assert recorded_seeds(root)[: len(first)] == first  # resumed, nothing redone
    assert data.seeds == sorted(data.seeds)
    assert not list(root.glob(f"{TMP_PREFIX}*"))

    # A corrupt episode is reported and skipped; rerunning tops the store back up to N.
    victim = data.path(1)
    victim.write_bytes(victim.read_bytes()[:1000])
    damaged = ds.Dataset(root)
    assert len(damaged) == 2 and any(victim.name in p for p in damaged.problems)
    again = subprocess.run(cli(tmp_path, 3, 1), capture_output=True, text=True, env=ENV,
                           timeout=240)
    assert again.returncode == 0, again.stderr
    healed = check_store(root, 3)
    assert victim.name not in [healed.path(i).name for i in range(3)]
    assert max(healed.seeds) > max(data.seeds)

    # Nothing left to do is a no-op; asking for fewer than stored is an error.
    noop = subprocess.run(cli(tmp_path, 3, 2), capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert noop.returncode == 0 and "(0 new, 0 failed attempts)" in noop.stdout
    fewer = subprocess.run(cli(tmp_path, 2, 1), capture_output=True, text=True, env=ENV,
                           timeout=120)
    assert fewer.returncode == 1 and "more than --n 2" in fewer.stderr


def test_workers_remove_their_temp_files(tmp_path):
    """Demo workers exit normally when the store is full, so the URDFs they filled from
    templates (packing's boxes) do not pile up in the temp folder."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    argv = cli(tmp_path, 1, 2)
    argv[argv.index(TASK)] = "packing-boxes-pairs-seen-colors"
    done = subprocess.run(argv, capture_output=True, text=True,
                          env={**ENV, "TMPDIR": str(private_tmp)}, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "1 episodes (1 new" in done.stdout
    assert not list(private_tmp.iterdir())


def test_cli_rejects_bad_arguments(tmp_path):
    bad = subprocess.run([*cli(tmp_path, 1, 1)[:4], "no-such-task", *cli(tmp_path, 1, 1)[5:]],
                         capture_output=True, text=True, env=ENV, timeout=60)
    assert bad.returncode == 2 and "unknown task" in bad.stderr


def test_orthographic_store_records_its_mode_and_refuses_a_mixed_resume(tmp_path):
    from cliport_sim.demos import generate

    root = tmp_path / f"{TASK}-train"
    generate(TASK, "train", 1, tmp_path, progress=False, observation="orthographic")
    ep = ds.Dataset(root).episode(0)
    assert ep.meta["observation"] == "orthographic" and ep.valid.all()
    with pytest.raises(DatasetError, match="--observation orthographic"):
        generate(TASK, "train", 2, tmp_path, progress=False)  # default: views
    assert len(ds.Dataset(root)) == 1
