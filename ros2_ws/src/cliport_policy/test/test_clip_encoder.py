"""The shared frozen CLIP: weights from a local file, clear errors, eval mode, text cache."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cliport_policy.clip_encoder import ClipWeightsError, FrozenCLIP, create_clip, save_clip_weights
from cliport_policy.config import ClipConfig

TINY = ClipConfig(model="cliport-tiny-RN", pretrained="random", seed=0)


def test_local_weights_file_loads_exactly(tmp_path):
    model = create_clip(TINY)
    path = save_clip_weights(model, tmp_path / "tiny.safetensors")
    a = FrozenCLIP(TINY)
    b = FrozenCLIP(dataclasses.replace(TINY, pretrained=str(path)))
    assert a.fingerprint == b.fingerprint
    torch.save(model.state_dict(), tmp_path / "tiny.pt")
    c = FrozenCLIP(dataclasses.replace(TINY, pretrained=str(tmp_path / "tiny.pt")))
    assert c.fingerprint == a.fingerprint
    assert FrozenCLIP(dataclasses.replace(TINY, seed=1)).fingerprint != a.fingerprint


@pytest.mark.parametrize("pretrained, message", [
    ("", "no CLIP weights configured.*open_clip tag.*local weights file"),
    ("/nonexistent/clip.pt", "does not exist"),
    ("not-a-tag", "not an open_clip tag"),
])
def test_missing_weights_say_how_to_provide_them(pretrained, message):
    with pytest.raises(ClipWeightsError, match=message):
        create_clip(dataclasses.replace(TINY, pretrained=pretrained))


def test_unknown_model_and_unreachable_download(monkeypatch):
    import huggingface_hub.constants

    with pytest.raises(ClipWeightsError, match="unknown CLIP model"):
        create_clip(dataclasses.replace(TINY, model="RN5000"))
    # the real loading path: an open_clip tag; offline it fails with our explanation. The
    # hub's offline switch skips its ten retries of a host that does not resolve (~45 s).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ClipWeightsError, match="copy the weights file"):
        create_clip(ClipConfig(model="RN50", pretrained="openai"))


def test_frozen_eval_mode_and_cached_text():
    clip = FrozenCLIP(TINY)
    clip.train()
    assert not clip.training and not any(m.training for m in clip.modules())
    assert not any(p.requires_grad for p in clip.parameters())
    a = clip.encode_text(["put the red blocks in a blue bowl"])
    b = clip.encode_text(["put the red blocks in a blue bowl", "stack the blocks"])
    assert torch.equal(a[0], b[0]) and a.shape == (1, clip.text_dim)
    assert not torch.allclose(b[0], b[1])
    feats = clip.image_features(torch.rand(1, 3, 64, 64) * 255)
    assert [f.shape[1] for f in feats] == list(clip.channels)
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]


def test_one_line_says_where_the_weights_came_from(tmp_path, caplog):
    """open_clip's own root-logger lines ('Loaded ... model config', 'Loading pretrained',
    'No pretrained weights loaded') are dropped while it loads; ours says it once."""
    import logging

    path = save_clip_weights(create_clip(TINY), tmp_path / "once.safetensors")
    caplog.set_level(logging.INFO)
    caplog.clear()
    for _ in range(2):
        FrozenCLIP(dataclasses.replace(TINY, pretrained=str(path)))  # model and tokenizer
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"CLIP cliport-tiny-RN: weights from the file {path}"], lines
    caplog.clear()
    logging.getLogger().info("after loading")  # the filter was only for the loading call
    assert [r.getMessage() for r in caplog.records] == ["after loading"]
