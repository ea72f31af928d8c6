"""Domain pre-training of the small CLIP: captions, pixel reads, learning, loadable weights."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from cliport_common.config import ConfigError
from cliport_policy.clip_encoder import FrozenCLIP, create_clip, save_clip_weights, trunk_features
from cliport_policy.clip_pretrain import (
    CaptionedScenes,
    CaptionedSteps,
    CaptionRule,
    ClipPretrainConfig,
    Combined,
    captions_of,
    draw_batch,
    load_pretrain_config,
    main,
    pretrain,
    recalibrate_batchnorm,
    sample_at,
)
from cliport_sim.tasks import make_task

TASK = "put-block-in-bowl-seen-colors"  # as the demo_root fixture


@pytest.mark.parametrize("task, fields, pick, place", [
    ("put-block-in-bowl-seen-colors", {"pick": "red", "place": "blue"}, "red block",
     "blue bowl"),
    ("stack-block-pyramid-seq-seen-colors",
     {"pick": "green", "place": "the lightest brown block"}, "green block",
     "the lightest brown block"),
    ("towers-of-hanoi-seq-seen-colors", {"color": "cyan", "loc": "middle of the stand"},
     "cyan ring", "middle of the stand"),
    ("packing-boxes-pairs-seen-colors", {"colors": "red and blue"}, "red and blue blocks",
     "brown box"),
    ("packing-boxes-pairs-seen-colors", {"colors": "red"}, "red blocks", "brown box"),
    ("assembling-kits-seq-seen-colors", {"color": "red", "obj": "letter R shape",
                                         "loc": "left "},
     "red letter r shape", "left letter r shape hole"),  # lower case, as CLIP tokenises
])
def test_the_shipped_rules_caption_every_template(task, fields, pick, place):
    """The rules are written against the tasks' own templates, not copies of them."""
    rules = load_pretrain_config().captions
    instruction = make_task(task).template.format(**fields)
    assert captions_of(instruction, rules) == (pick, place)
    assert captions_of(instruction.upper() + ".", rules) is not None  # case, full stop
    assert captions_of("stack the blocks", rules) is None


def test_a_caption_using_an_uncaptured_group_is_a_config_error():
    with pytest.raises(ConfigError, match="does not capture"):
        CaptionRule(pattern="put the (?P<pick>\\w+) blocks", pick="{pick}", place="{bowl}")
    with pytest.raises(ConfigError, match="not a regular expression"):
        CaptionRule(pattern="put the (", pick="", place="")
    with pytest.raises(ConfigError, match="caption rule"):
        ClipPretrainConfig(captions=())


def test_sample_at_reads_each_stage_at_the_pixel_centre():
    """A map whose value is each cell centre's pixel row (col) reads back the pixel's row."""
    h, w = 64, 32
    feats = []
    for stride in (4, 8):
        rows = (torch.arange(h // stride).float() + 0.5) * stride - 0.5
        cols = (torch.arange(w // stride).float() + 0.5) * stride - 0.5
        f = torch.stack([rows[:, None].expand(-1, w // stride),
                         cols[None, :].expand(h // stride, -1)])
        feats.append(torch.stack([f, f + 1000]))  # two images
    uv = torch.tensor([[20, 12], [33, 17], [40, 9]])
    index = torch.tensor([0, 1, 1])
    got = sample_at(feats, uv, (h, w), index)
    want = uv.float() + torch.tensor([0.0, 1000.0, 1000.0])[:, None]
    for k in range(2):  # stage k: channels 2k (row), 2k+1 (col)
        assert torch.allclose(got[:, 2 * k:2 * k + 2], want, atol=1e-4)


@pytest.fixture(scope="module")
def captioned(demos):
    return CaptionedSteps([demos], load_pretrain_config().captions)


def test_captioned_steps_label_the_pick_and_place_pixels(captioned, demos):
    assert len(captioned) == sum(demos.n_steps(e) for e in range(len(demos)))
    for i in range(len(captioned)):
        colormap = captioned.colormap(i)
        pick, place = captioned.points[i]
        assert pick.caption.endswith(" block") and place.caption.endswith(" bowl")
        assert pick.caption.split()[0] in captioned.instructions[i]
        # the labelled pixel lies on a coloured object, not the grey table
        assert np.ptp(colormap[pick.u, pick.v].astype(int)) > 20 or \
            pick.caption.startswith("gray")
    assert captioned.vocabulary == sorted(set(captioned.vocabulary))


def test_flips_leave_instructions_with_absolute_words_unflipped(captioned):
    """A flipped scene would make "left" / "top" lie, as in the policy's augmentation."""
    from cliport_policy import clip_pretrain

    data = copy.copy(captioned)
    data.instructions = ["put the red block on the left of the stand"] * len(captioned)
    flipped = []
    real = clip_pretrain._flip
    clip_pretrain._flip = lambda img, uv, rng: flipped.append(1) or real(img, uv, rng)
    try:
        model = create_clip(load_pretrain_config().clip)
        cfg = load_pretrain_config()
        heads = clip_pretrain.PretrainHeads.for_model(model)
        import open_clip

        tok = open_clip.get_tokenizer(cfg.clip.model)
        clip_pretrain.losses(model, heads, tok, data, [0, 1], cfg.clip.context_length,
                             np.random.default_rng(0))
        assert flipped == []
        clip_pretrain.losses(model, heads, tok, captioned, [0, 1], cfg.clip.context_length,
                             np.random.default_rng(0))
        assert flipped == [1, 1]
    finally:
        clip_pretrain._flip = real


def test_no_captionable_step_is_a_clear_error(demos):
    rule = CaptionRule(pattern="^stack the (?P<a>\\w+)$", pick="{a}", place="{a}")
    with pytest.raises(ValueError, match="add a rule"):
        CaptionedSteps([demos], [rule])


def test_recalibrated_batchnorm_holds_the_data_statistics(captioned):
    torch.manual_seed(0)
    model = create_clip(load_pretrain_config().clip)
    recalibrate_batchnorm(model.visual, captioned, batch_size=3)
    assert not model.visual.training
    v = model.visual
    rgb = torch.stack([torch.as_tensor(captioned.colormap(i)).permute(2, 0, 1).float()
                       for i in range(len(captioned))])
    captured = []

    def keep_input(module, args, output) -> None:
        captured.append(args[0])

    hook = v.bn1.register_forward_hook(keep_input)
    with torch.no_grad():
        trunk_features(v, rgb)
    hook.remove()
    x = captured[0]
    assert torch.allclose(v.bn1.running_mean, x.mean((0, 2, 3)), atol=1e-4)
    # the average of per-batch variances: the pooled variance less the batch means' spread
    assert torch.allclose(v.bn1.running_var, x.var((0, 2, 3)), rtol=0.02)


def test_pretraining_learns_the_captions_and_saves_weights_the_policy_loads(captioned,
                                                                           tmp_path):
    cfg = dataclasses.replace(load_pretrain_config(), steps=40, batch_size=4, log_every=20)
    rows = []
    model, metrics = pretrain(cfg, captioned, captioned, log_fn=rows.append)
    assert len(rows) == 2
    # 14 captions: chance is 1/14; the trained trunk + text tower name every object
    assert metrics["train_caption_acc"] >= 0.9, metrics
    assert set(metrics) >= {"train_pick_acc", "train_place_acc", "val_caption_acc"}
    path = tmp_path / "clip.safetensors"
    save_clip_weights(model, path)
    frozen = FrozenCLIP(dataclasses.replace(cfg.clip, pretrained=str(path)))
    assert frozen.fingerprint == FrozenCLIP(cfg.clip, model=copy.deepcopy(model)).fingerprint
    assert frozen.fingerprint != FrozenCLIP(cfg.clip).fingerprint  # not the random init


def test_cli_writes_half_weights_and_refuses_a_missing_task(demo_root, tmp_path, capsys,
                                                           monkeypatch):
    out = tmp_path / "w" / "clip.safetensors"
    assert main(["--data", str(demo_root), "--task", TASK, "--steps", "2", "--out", str(out),
                 "--half"]) == 0
    assert out.is_file()
    from safetensors.torch import load_file

    assert load_file(str(out))["text_projection"].dtype == torch.float16
    assert "model.clip.pretrained" in capsys.readouterr().out
    # the policy trains against it: the run's checkpoint names and fingerprints that file
    from cliport_policy.checkpoint import load_agent, read_checkpoint
    from cliport_policy.train import main as train_main

    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)  # a relative path: the run keeps the file's absolute one
    assert train_main(["--config", "tiny", "--data", str(demo_root), "--task", TASK,
                       "--n-demos", "2", "--steps", "1", "--batch-size", "1", "--out",
                       str(run), "--clip-pretrained", "w/clip.safetensors", "--quiet"]) == 0
    monkeypatch.chdir(demo_root)
    state = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert state["model"]["clip"]["pretrained"] == str(out.resolve())
    frozen = FrozenCLIP(dataclasses.replace(load_pretrain_config().clip, pretrained=str(out)))
    assert load_agent(run / "checkpoints" / "last.ckpt").clip.fingerprint == frozen.fingerprint
    assert main(["--data", str(demo_root), "--task", "align-rope", "--out",
                 str(tmp_path / "x.safetensors")]) == 2  # a task without demos here
    assert "not a dataset directory" in capsys.readouterr().err
    assert main(["--data", str(demo_root), "--task", "put-block-in-bowl-seen-color", "--out",
                 str(tmp_path / "x.safetensors")]) == 2
    assert "did you mean put-block-in-bowl-seen-colors" in capsys.readouterr().err


def _scene(captions, pixels, value=0):
    from cliport_sim.scene_captions import Scene

    return Scene(np.full((8, 4, 3), value, np.uint8), np.zeros((8, 4), np.float32),
                 list(captions), np.asarray(pixels, np.int32), seed=value)


def test_captioned_scenes_name_two_different_objects_in_order():
    scenes = [_scene(["red block", "red block", "blue bowl"], [[1, 1], [2, 2], [5, 3]], 1),
              _scene(["green block"], [[0, 0]], 2),  # one caption: nothing to tell apart
              _scene(["cyan bowl", "gray block"], [[6, 1], [3, 0]], 3)]
    data = CaptionedScenes(scenes, pairs=4)
    assert len(data) == 8 and data.vocabulary == sorted(
        ["red block", "blue bowl", "green block", "cyan bowl", "gray block"])
    for i in range(len(data)):
        first, second = data.points[i]
        assert first.caption != second.caption
        assert data.instructions[i] == f"the {first.caption} and the {second.caption}"
        scene = scenes[0] if i < 4 else scenes[2]
        assert data.colormap(i)[0, 0, 0] == scene.seed
        for p in (first, second):
            assert [p.u, p.v] in [list(x) for x, c in zip(scene.pixels, scene.captions,
                                                          strict=True) if c == p.caption]
    with pytest.raises(ValueError, match="two objects"):
        CaptionedScenes([scenes[1]])


def test_combined_sets_draw_equal_shares_and_read_the_right_images(captioned):
    scenes = CaptionedScenes([_scene(["cyan bowl", "gray block"], [[6, 1], [3, 0]], 7)] * 50)
    both = Combined(captioned, scenes)
    assert len(both) == len(captioned) + len(scenes)
    assert set(both.vocabulary) == set(captioned.vocabulary) | set(scenes.vocabulary)
    assert both.colormap(len(captioned))[0, 0, 0] == 7
    assert np.array_equal(both.colormap(0), captioned.colormap(0))
    assert both.instructions[len(captioned)] == scenes.instructions[0]
    rng = np.random.default_rng(0)
    items = [i for _ in range(50) for i in draw_batch(both, rng, 16)]
    from_demos = sum(i < len(captioned) for i in items)
    assert from_demos == len(items) // 2  # 8 of 16 each time, not 16 x 7 / 107
    assert len(draw_batch(captioned, rng, 4)) == 4


def test_cli_learns_captions_from_scenes_too(demo_root, tmp_path, capsys):
    from cliport_sim.scene_captions import generate_scenes

    scenes = tmp_path / "scenes"
    generate_scenes(scenes, 2, robot="ur5", observation="orthographic", progress=False)
    out = tmp_path / "clip.safetensors"
    assert main(["--data", str(demo_root), "--task", TASK, "--steps", "2", "--out", str(out),
                 "--scenes", str(scenes)]) == 0
    printed = capsys.readouterr().out
    vocabulary = printed.split("captions: ", 1)[1].split("\n", 1)[0].split(", ")
    assert "bowl" in " ".join(vocabulary) and len(vocabulary) > 1
    assert main(["--data", str(demo_root), "--task", TASK, "--out", str(out),
                 "--scenes", str(tmp_path / "none")]) == 2
    assert "no scenes there" in capsys.readouterr().err
