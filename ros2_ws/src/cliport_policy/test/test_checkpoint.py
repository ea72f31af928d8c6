"""Checkpoints: bit-exact round trip, clear errors for corrupt or mismatched files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cliport_policy.agents import make_agent
from cliport_policy.checkpoint import CheckpointError, load_agent, load_into, save_checkpoint

INSTRUCTION = "put the red blocks in a blue bowl"


@pytest.fixture(scope="module")
def saved(tiny_cfg, tmp_path_factory):
    torch.manual_seed(3)
    agent = make_agent(tiny_cfg.model)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "a.ckpt", agent, 7,
                           extra={"note": "test"})
    return agent, path


def test_round_trip_is_bit_exact(saved):
    agent, path = saved
    loaded = load_agent(path)
    for mod in ("attention", "transport"):
        a, b = getattr(agent, mod).state_dict(), getattr(loaded, mod).state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
    rng = np.random.default_rng(0)
    cmap = rng.integers(0, 255, (320, 160, 3), dtype=np.uint8)
    hmap = (rng.random((320, 160)) * 0.05).astype(np.float32)
    d1, d2 = agent.act(cmap, hmap, INSTRUCTION), loaded.act(cmap, hmap, INSTRUCTION)
    assert (d1.pick, d1.place) == (d2.pick, d2.place)
    assert np.array_equal(d1.place_heatmap, d2.place_heatmap)


def test_checkpoint_holds_no_clip_weights(saved):
    _, path = saved
    state = torch.load(path, weights_only=True)
    keys = list(state["attention"]) + list(state["transport"])
    assert keys and not any("visual" in k or "token_embedding" in k for k in keys)
    assert state["clip_fingerprint"] and state["step"] == 7


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_give_a_clear_error(saved, tmp_path, damage):
    _, path = saved
    bad = tmp_path / "bad.ckpt"
    data = path.read_bytes()
    bad.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00not a zip" * 100,
                     "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="bad.ckpt.*not a readable checkpoint"):
        load_agent(bad)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_agent(tmp_path / "nope.ckpt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a cliport_policy checkpoint"):
        load_agent(tmp_path / "other.ckpt")


def test_mismatched_architecture_and_clip(saved, tiny_cfg):
    _, path = saved
    wider = make_agent(dataclasses.replace(tiny_cfg.model, spatial_width=16))
    with pytest.raises(CheckpointError, match="model config"):
        load_into(wider, path)
    other_clip = dataclasses.replace(tiny_cfg.model, clip=dataclasses.replace(
        tiny_cfg.model.clip, seed=1))
    with pytest.raises(CheckpointError, match="CLIP weights"):
        load_agent(path, clip_pretrained=None, clip=make_agent(other_clip).clip)
    state = torch.load(path, weights_only=True)
    state["transport"].pop(next(iter(state["transport"])))
    torch.save(state, path.with_name("pruned.ckpt"))
    with pytest.raises(CheckpointError, match="missing"):
        load_agent(path.with_name("pruned.ckpt"))


def test_export_drops_training_state_and_halves_the_weights(saved, tmp_path):
    from cliport_policy.checkpoint import main as export_main
    from cliport_policy.checkpoint import read_checkpoint

    agent, path = saved
    full = tmp_path / "full.ckpt"
    assert export_main([str(path), str(full)]) == 0
    half = tmp_path / "half.ckpt"
    assert export_main([str(path), str(half), "--half"]) == 0
    assert half.stat().st_size < 0.55 * full.stat().st_size
    state = read_checkpoint(half)
    assert state["optimizers"] == {} and state["extra"]["exported_from"]["step"] == 7
    exact = load_agent(full)
    assert all(torch.equal(a, b) for a, b in zip(agent.attention.state_dict().values(),
                                                 exact.attention.state_dict().values(),
                                                 strict=True))
    small = load_agent(half)  # float16 on disk, float32 in the model
    w = next(iter(small.transport.parameters()))
    assert w.dtype == torch.float32
    ref = next(iter(agent.transport.parameters()))
    assert torch.allclose(w, ref, rtol=1e-3, atol=1e-4)
    assert export_main([str(tmp_path / "nope.ckpt"), str(tmp_path / "x.ckpt")]) == 2


def test_export_points_the_clip_at_its_shipped_file_and_checks_it(saved, tmp_path, capsys):
    """A run trains against a local CLIP file; the shipped model names the installed copy."""
    from cliport_policy.checkpoint import main as export_main
    from cliport_policy.clip_encoder import create_clip, save_clip_weights

    agent, path = saved
    same = save_clip_weights(create_clip(agent.config.clip), tmp_path / "clip.safetensors")
    out = tmp_path / "shipped.ckpt"
    assert export_main([str(path), str(out), "--clip-pretrained", str(same)]) == 0
    loaded = load_agent(out)
    assert loaded.config.clip.pretrained == str(same)
    assert loaded.clip.fingerprint == agent.clip.fingerprint
    other_cfg = dataclasses.replace(agent.config.clip, seed=agent.config.clip.seed + 1)
    other = save_clip_weights(create_clip(other_cfg), tmp_path / "other.safetensors")
    assert export_main([str(path), str(tmp_path / "x.ckpt"), "--clip-pretrained",
                        str(other)]) == 2
    assert "holds" in capsys.readouterr().out
    assert export_main([str(path), str(tmp_path / "x.ckpt"), "--clip-pretrained",
                        "package://cliport_policy/models/none.safetensors"]) == 2
    assert "does not exist" in capsys.readouterr().out
