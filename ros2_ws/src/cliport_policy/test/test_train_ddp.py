"""DDP through torchrun: two CPU processes (gloo) train one model; rank 0 saves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from cliport_policy.checkpoint import read_checkpoint
from cliport_policy.config import named_config

TASK = "put-block-in-bowl-seen-colors"


@pytest.mark.timeout(600)
def test_torchrun_two_processes(demo_root, tmp_path):
    cfg = yaml.safe_load(named_config("tiny").read_text())
    cfg["model"]["place_rotations"] = 4  # keep it quick; labels are re-binned
    cfg["train"].update(steps=2, batch_size=2, last_every=1, save_steps=[2], log_every=1,
                        augment=True, threads=1)
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "cliport_policy.train", "--config", str(tmp_path / "ddp.yaml"), "--data",
         str(demo_root), "--task", TASK, "--out", str(run), "--device", "cpu", "--quiet"],
        env=env, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = read_checkpoint(run / "checkpoints" / "step-0000002.ckpt")
    assert state["step"] == 2
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]  # one writer: rank 0
