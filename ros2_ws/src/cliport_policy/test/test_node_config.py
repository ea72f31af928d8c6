"""The policy node's config and refusal rules (plain Python, no ROS)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from cliport_common.config import ConfigError, from_dict, load_config, to_dict
from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_perception.workspace import Workspace
from cliport_policy.node_config import (
    PolicyNodeConfig,
    Refusal,
    check_heightmap,
    check_heightmap_header,
    check_poses,
    checkpoint_file,
    checkpoint_problem,
    clean_instruction,
    default_config_file,
    load_node_config,
    preview,
    status_text,
)

NOW = 1_700_000_000 * 10**9
CFG = PolicyNodeConfig()
WS = Workspace()


def test_the_shipped_yaml_is_the_dataclass_default():
    assert load_node_config() == PolicyNodeConfig()
    assert default_config_file().name == "policy_node.yaml"


def test_flattened_parameters_rebuild_the_config():
    """What declare_config does with the ROS parameters, minus rclpy."""
    from cliport_common.ros.params import flatten, unflatten

    flat = flatten(to_dict(CFG))
    assert flat["topics.instruction"] == "instruction" and flat["grid_shape"] == [320, 160]
    flat.update({"mode": "execute", "topics.heightmap": "/perception/heightmap"})
    cfg = from_dict(PolicyNodeConfig, unflatten(flat))
    assert cfg.mode == "execute" and cfg.topics.heightmap == "/perception/heightmap"
    assert cfg.grid_shape == (320, 160)


@pytest.mark.parametrize("key, value, needle", [
    ("mode", "fly", "mode must be one of"),
    ("busy_policy", "drop", "busy_policy must be one of"),
    ("speed_scaling", 1.5, "speed_scaling must be in [0, 1]"),
    ("max_heightmap_age", -1.0, "max_heightmap_age must be"),
    ("max_instruction_length", 0, "max_instruction_length must be >= 1"),
    ("goal_timeout", 0.0, "goal_timeout must be > 0"),
    ("grid_shape", [320, 0], "grid_shape must be"),
    ("device", " ", "device must not be empty"),
    ("threads", -1, "threads must be >= 0"),
    ("precision", "fp16", "precision must be one of ('auto', 'fp32', 'bf16')"),
    ("topics", {"status": ""}, "topics.status must not be empty"),
    ("chekpoint", "x.ckpt", "unknown keys ['chekpoint']"),
    ("max_heightmap_age", "2", "expected a number"),
])
def test_bad_values_are_config_errors(tmp_path, key, value, needle):
    data = {"policy_node": {key: value}}
    path = tmp_path / "policy_node.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    with pytest.raises(ConfigError) as info:
        load_config(PolicyNodeConfig, path, section="policy_node")
    assert needle in str(info.value)


def test_checkpoint_problems_name_the_parameter(tmp_path):
    assert "no checkpoint configured" in checkpoint_problem(CFG)
    assert "-p checkpoint:=" in checkpoint_problem(CFG)
    missing = dataclasses.replace(CFG, checkpoint=str(tmp_path / "nope.ckpt"))
    assert "nope.ckpt' does not exist" in checkpoint_problem(missing)
    (tmp_path / "ok.ckpt").write_bytes(b"x")
    assert checkpoint_problem(dataclasses.replace(CFG, checkpoint=str(tmp_path / "ok.ckpt"))) \
        is None


def test_a_checkpoint_may_be_a_package_url():
    shipped = dataclasses.replace(CFG, checkpoint="package://cliport_policy/config/tiny.yaml")
    assert checkpoint_file(shipped).name == "tiny.yaml" and checkpoint_problem(shipped) is None
    gone = dataclasses.replace(CFG, checkpoint="package://cliport_policy/models/nope.ckpt")
    assert "does not exist" in checkpoint_problem(gone)


# --------------------------------------------------------------------------- instructions


@pytest.mark.parametrize("raw, cleaned", [
    ("put the red block in the blue bowl", "put the red block in the blue bowl"),
    ("  put the red block in the blue bowl\n", "put the red block in the blue bowl"),
    ("pack the  yellow ring", "pack the  yellow ring"),  # inner spaces are kept
    ("mets le bloc rouge dans le bol bleu, s'il te plaît", None),
    ("x" * 256, None),
])
def test_good_instructions(raw, cleaned):
    assert clean_instruction(raw, 256) == (cleaned or raw.strip())


@pytest.mark.parametrize("raw, needle", [
    ("", "instruction is empty"),
    (" \t\r\n ", "instruction is empty"),
    ("x" * 257, "has 257 characters; at most 256"),
    ("x" * 10_000, "has 10000 characters"),
    ("put the red\tblock", "U+0009"),
    ("put the red\nblock", "U+000A"),
    ("put\x00 it", "U+0000"),
    ("put \x07it", "U+0007"),
    ("\x1b[31mred\x1b[0m", "U+001B"),
    ("put\x7f it", "U+007F"),
    ("put\u200b it", "U+200B (ZERO WIDTH SPACE)"),
    ("put\u202e it", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("put\u2028 it", "U+2028"),
    ("put\ue000 it", "U+E000"),
    ("put\ud800 it", "U+D800"),
])
def test_bad_instructions_are_refused(raw, needle):
    with pytest.raises(Refusal) as info:
        clean_instruction(raw, 256)
    assert needle in str(info.value)


def test_refusing_a_non_string():
    with pytest.raises(Refusal, match="must be a string"):
        clean_instruction(b"bytes", 256)


def test_preview_shortens_long_text():
    assert preview("short") == "short"
    text = preview("x" * 10_000)
    assert len(text) < 100 and text.endswith("(10000 characters)")


# --------------------------------------------------------------------------- heightmaps


def frame(heights=None, valid=True, frame_id="base", stamp_ns=NOW, workspace=WS):
    shape = workspace.shape
    hm = np.full(shape, 0.01, np.float32) if heights is None else heights
    mask = None if valid is None else np.full(shape, valid)
    return HeightmapFrame(np.zeros(shape + (3,), np.uint8), hm, workspace, valid=mask,
                          frame_id=frame_id, stamp_ns=stamp_ns)


def test_header_checks():
    check_heightmap_header("base", NOW - 10**9, NOW, CFG)  # 1 s old, limit 2 s
    with pytest.raises(Refusal, match="no heightmap received yet on 'heightmap'"):
        check_heightmap_header(None, None, NOW, CFG)
    with pytest.raises(Refusal, match="frame 'world', not the base frame 'base'"):
        check_heightmap_header("world", NOW, NOW, CFG)
    with pytest.raises(Refusal, match=r"stale: 2\.50 s old \(max_heightmap_age 2 s\)"):
        check_heightmap_header("base", NOW - 2_500_000_000, NOW, CFG)
    with pytest.raises(Refusal, match="3.00 s in the future"):
        check_heightmap_header("base", NOW + 3 * 10**9, NOW, CFG)
    off = dataclasses.replace(CFG, max_heightmap_age=0.0)
    check_heightmap_header("base", 0, NOW, off)  # 0 disables the age check
    check_heightmap_header("base", NOW + 10**12, NOW, off)


def test_content_checks():
    check_heightmap(frame(), NOW, CFG)
    check_heightmap(frame(valid=None), NOW, CFG)  # no mask: fine
    partial = np.full(WS.shape, np.nan, np.float32)
    partial[5, 5] = 0.0
    check_heightmap(frame(heights=partial), NOW, CFG)
    with pytest.raises(Refusal, match="no finite height"):
        check_heightmap(frame(heights=np.full(WS.shape, np.nan, np.float32)), NOW, CFG)
    with pytest.raises(Refusal, match="no finite height"):
        check_heightmap(frame(heights=np.full(WS.shape, np.inf, np.float32)), NOW, CFG)
    with pytest.raises(Refusal, match="no camera saw any cell"):
        check_heightmap(frame(valid=False), NOW, CFG)
    small = Workspace(pixel_size=0.00625)
    with pytest.raises(Refusal, match="grid is 160x80; the policy expects 320x160"):
        check_heightmap(frame(workspace=small), NOW, CFG)
    check_heightmap(frame(workspace=small), NOW, dataclasses.replace(CFG, grid_shape=(0, 0)))
    with pytest.raises(Refusal, match="stale"):
        check_heightmap(frame(stamp_ns=NOW - 5 * 10**9), NOW, CFG)
    with pytest.raises(Refusal, match="frame 'camera'"):
        check_heightmap(frame(frame_id="camera"), NOW, CFG)


# --------------------------------------------------------------------------- poses

Q = (0.0, 0.0, 0.0, 1.0)


def test_poses_inside_the_workspace_pass():
    check_poses(WS, ((0.5, 0.0, 0.02), Q), ((0.75, -0.5, 0.28), Q))  # edges included


@pytest.mark.parametrize("pick, place, needle", [
    ((0.2, 0.0, 0.02), (0.5, 0.0, 0.0), "pick pose (0.200, 0.000, 0.020) lies outside"),
    ((0.5, 0.0, 0.02), (0.5, 0.6, 0.0), "place pose"),
    ((0.5, 0.0, 0.5), (0.5, 0.0, 0.0), "z [0.0, 0.28]"),
    ((0.5, 0.0, -0.01), (0.5, 0.0, 0.0), "pick pose"),
    ((math.nan, 0.0, 0.0), (0.5, 0.0, 0.0), "pick pose is not finite"),
])
def test_poses_outside_the_workspace_are_refused(pick, place, needle):
    with pytest.raises(Refusal) as info:
        check_poses(WS, (pick, Q), (place, Q))
    assert needle in str(info.value)


def test_non_finite_orientation_is_refused():
    with pytest.raises(Refusal, match="place pose is not finite"):
        check_poses(WS, ((0.5, 0.0, 0.0), Q), ((0.5, 0.0, 0.0), (0.0, 0.0, math.inf, 1.0)))


# --------------------------------------------------------------------------- status


def test_status_is_one_json_line():
    text = status_text("refused", 7, "put\x07 it" + "x" * 500, reason="bad")
    assert "\n" not in text
    data = json.loads(text)
    assert list(data) == ["event", "job", "instruction", "reason"]
    assert data["event"] == "refused" and data["job"] == 7 and data["reason"] == "bad"
    assert data["instruction"].startswith("put\x07 it") and len(data["instruction"]) < 100
    assert json.loads(status_text("ready", 0, checkpoint="a.ckpt")) == \
        {"event": "ready", "job": 0, "checkpoint": "a.ckpt"}
    with pytest.raises(ValueError, match="unknown status event"):
        status_text("exploded")


def test_core_modules_load_without_rclpy():
    """Project rule: plain-Python cores, thin nodes. The source check for every package is
    tests/test_package_graph.py; this one checks at run time."""
    import subprocess
    import sys

    code = ("import sys; import cliport_policy.node_config, cliport_policy.ros.messages; "
            "assert 'rclpy' not in sys.modules, 'rclpy loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
