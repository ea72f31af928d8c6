"""The recording session and its web API without ROS: validation, the step flow, what lands
on disk, and crash clean-up."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import numpy as np
import pytest

from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_perception.workspace import Workspace
from cliport_sim.dataset import Dataset
from cliport_teleop.config import RecorderConfig
from cliport_teleop.security import TOKEN_HEADER
from cliport_teleop.session import StepError, TeleopSession
from cliport_teleop.web import WebServer

WS = Workspace()


def frame(block_at=(100, 50)) -> HeightmapFrame:
    h = np.zeros(WS.shape, np.float32)
    c = np.full((*WS.shape, 3), 60, np.uint8)
    u, v = block_at
    h[u - 6:u + 7, v - 6:v + 7] = 0.04
    c[u - 6:u + 7, v - 6:v + 7] = (200, 30, 30)
    return HeightmapFrame(c, h, WS)


def session(tmp_path, **kw) -> TeleopSession:
    return TeleopSession(RecorderConfig(dataset_dir=str(tmp_path), **kw))


STEP = {"instruction": "put the red block in the blue bowl",
        "pick": {"u": 100, "v": 50, "theta": 0.3}, "place": {"u": 200, "v": 120, "theta": 1.0}}


def run_step(s: TeleopSession, data=STEP, success=True, reward=1.0):
    s.request_step(data)
    step = s.take_goal()
    assert step is not None and s.take_goal() is None  # sent once
    s.on_feedback("transfer", 0.5)
    s.on_result(success, "" if success else "grasp failed", reward, True)
    return step


def test_refusals_say_why(tmp_path):
    s = session(tmp_path)
    with pytest.raises(StepError, match="no heightmap yet"):
        s.request_step(STEP)
    s.on_heightmap(frame(), 1)
    for data, match in (({**STEP, "instruction": "  "}, "type the instruction"),
                        ({**STEP, "instruction": "x" * 600}, "longer than 512"),
                        ({**STEP, "instruction": "put\x07 it"}, "non-printable"),
                        ({**STEP, "pick": {"u": -1, "v": 5}}, "pick click .* outside the map"),
                        ({**STEP, "place": {"u": 5, "v": 999}}, "place click .* outside"),
                        ({**STEP, "place": None}, "click the place point"),
                        ({**STEP, "pick": {"u": "a", "v": 1}}, "malformed"),
                        ({**STEP, "pick": {"u": 1, "v": 1, "theta": "nan"}}, "not a number")):
        with pytest.raises(StepError, match=match):
            s.request_step(data)
    with pytest.raises(StepError, match="no executed step"):
        s.accept()
    with pytest.raises(StepError, match="no accepted steps"):
        s.end_episode()
    assert s.take_goal() is None and s.writer.n_episodes == 0


def test_a_step_flow_records_the_right_labels_and_poses(tmp_path):
    s = session(tmp_path, calibration_id="lab-2026-12-01")
    s.on_heightmap(frame(), 5)
    step = run_step(s)
    # z from the heightmap: the block's top at the pick; the place gets the block's height
    assert step.pose0[0][2] == pytest.approx(WS.z_min + 0.04)
    assert step.pose1[0][2] == pytest.approx(WS.z_min + 0.04)
    with pytest.raises(StepError, match="accept or discard"):
        s.request_step(STEP)
    s.accept()
    s.on_heightmap(frame(block_at=(200, 120)), 9)
    s.end_episode()
    data = Dataset(s.root)
    assert len(data) == 1
    ep = data.episode(0)
    assert ep.n_steps == 1 and ep.colormap.shape[0] == 2
    assert ep.pick_pix.tolist() == [[100, 50]] and ep.place_pix.tolist() == [[200, 120]]
    assert ep.instruction.tolist() == [STEP["instruction"]] * 2
    assert ep.reward.tolist() == [0.0, 1.0]
    x, y = WS.pixel_to_xy(100, 50)
    assert ep.pose0[0, :2] == pytest.approx([x, y])
    # place bin = the place yaw relative to the pick's (the sim labels' convention)
    assert ep.place_rot[0] == round(-(1.0 - 0.3) / (2 * math.pi / 36)) % 36
    assert ep.meta["calibration_id"] == "lab-2026-12-01" and ep.meta["source"] == "teleop"
    assert ep.meta["steps"][0]["success"] is True


def test_discard_and_a_failed_goal_record_nothing(tmp_path):
    s = session(tmp_path)
    s.on_heightmap(frame(), 1)
    run_step(s, success=False, reward=0.0)
    s.discard()
    s.request_step(STEP)
    assert s.take_goal() is not None
    s.on_goal_failed("the executor is not available")
    assert s.active is None and s.pending is None and s.steps == []
    assert "nothing was recorded" in s.state()["messages"][-1]["text"]
    with pytest.raises(StepError, match="no accepted steps"):
        s.end_episode()


def test_a_new_session_cleans_up_a_killed_run_and_continues(tmp_path):
    s = session(tmp_path)
    s.on_heightmap(frame(), 1)
    for _ in range(2):
        run_step(s)
        s.accept()
        s.end_episode()
    root = s.root
    s.close()
    (root / ".tmp-000002-2.npz").write_bytes(b"half an episode")  # a kill mid-write
    again = session(tmp_path)
    assert again.writer.n_episodes == 2 and not list(root.glob(".tmp*"))
    again.on_heightmap(frame(), 2)
    run_step(again)
    again.accept()
    again.end_episode()
    assert len(Dataset(root)) == 3


def _call(web, path, body=None, method="POST", ctype="application/json"):
    req = urllib.request.Request(
        web.url + path.lstrip("/"), method=method,
        data=None if method == "GET" else (json.dumps(body).encode() if body is not None
                                           else b""),
        headers={"Content-Type": ctype, TOKEN_HEADER: web.token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, (r.read() if method == "GET" else json.loads(r.read()))
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_web_api(tmp_path):
    s = session(tmp_path, port=0)
    web = WebServer(s)
    try:
        with urllib.request.urlopen(web.page_url, timeout=10) as r:
            assert b"<canvas" in r.read()
        assert _call(web, "/api/step", STEP) == (400, {"ok": False, "message":
                                                       "no heightmap yet (is perception "
                                                       "publishing /heightmap?)"})
        s.on_heightmap(frame(), 1)
        code, png = _call(web, "api/colormap.png", method="GET")
        assert code == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
        code, body = _call(web, "/api/step", {**STEP, "instruction": ""})
        assert code == 400 and "instruction" in body["message"]
        req = urllib.request.Request(web.url + "api/step", method="POST", data=b"{not json",
                                     headers={"Content-Type": "application/json",
                                              TOKEN_HEADER: web.token})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 400
        assert _call(web, "/api/step", STEP)[0] == 200
        code, state = _call(web, "api/state", method="GET")
        state = json.loads(state)
        assert state["running"] and state["grid"] == [320, 160]
    finally:
        web.close()
        s.close()


def test_a_parallel_grippers_grasp_yaw_is_recorded_and_loads_as_the_pick_label(tmp_path):
    from cliport_common.poses import yaw_of
    from cliport_policy.data import collate
    from cliport_policy.labels import grasp_difference, loaded_picks
    from cliport_sim.labels import rotation_bin

    s = session(tmp_path, gripper="parallel")
    s.on_heightmap(frame(), 1)
    state = s.state()
    assert state["gripper"] == "parallel"
    assert state["finger_cells"] == pytest.approx(0.08 / WS.pixel_size)
    # dragged at 120 deg: the grasp at -60 deg (a half turn is the same grasp, and the twin's
    # oracle labels grasps in [-90, 90)); the place turns with it, keeping the object's turn
    run_step(s, {**STEP, "pick": {"u": 100, "v": 50, "theta": math.radians(120)},
                 "place": {"u": 200, "v": 120, "theta": math.radians(150)}})
    s.accept()
    s.on_heightmap(frame(block_at=(200, 120)), 2)
    s.end_episode()
    data = Dataset(s.root)
    ep = data.episode(0)
    assert math.degrees(yaw_of(ep.pose0[0, 3:])) == pytest.approx(-60)
    assert math.degrees(yaw_of(ep.pose1[0, 3:])) == pytest.approx(-30)
    assert ep.meta["gripper"] == "parallel" and ep.meta["pixel_size"] == WS.pixel_size
    assert math.degrees(ep.meta["steps"][0]["pick"][2]) == pytest.approx(-60)
    assert ep.place_rot[0] == rotation_bin(math.radians(120 - 150), 36)  # the object's turn
    for bins in (36, 8):  # training's loader, for a model with that many pick rotations
        (loaded,) = loaded_picks(data, bins)
        assert loaded.label == int(collate([(0, data.sample(0, 0))],
                                           pick_rotations=bins).pick_rot[0])
        # the label stands for the dragged grasp, to within half a bin (of at most a turn /
        # bins); a half turn is the same grasp
        assert grasp_difference(loaded.yaw, math.radians(-60)) <= math.pi / bins, (bins, loaded)


def test_the_place_height_rests_the_footprint_on_its_support(tmp_path):
    s = session(tmp_path, place_support_radius=0.02, place_clearance=0.01)
    f = frame()
    f.heightmap[200, 120] = np.nan  # unseen at the place cell itself
    f.heightmap[200, 125] = 0.015  # 5 cells (1.6 cm) away: under the object
    f.heightmap[200, 128] = 0.05  # 8 cells (2.5 cm) away: beyond it
    s.on_heightmap(f, 1)
    step = run_step(s)
    assert step.pose1[0][2] == pytest.approx(WS.z_min + 0.015 + 0.04 + 0.01)


def test_an_unseen_clicked_cell_takes_the_height_around_it_or_is_refused(tmp_path):
    s = session(tmp_path)
    f = frame()  # the block's top (4 cm) at (100, 50) +- 6 cells
    f.valid = np.ones(WS.shape, bool)
    f.valid[99:102, 49:52] = False  # a depth hole on the block's top, reading 0
    f.heightmap[99:102, 49:52] = 0.0
    f.valid[250:290, 100:140] = False  # a hole wider than unseen_radius
    s.on_heightmap(f, 1)
    step = run_step(s)
    assert step.pose0[0][2] == pytest.approx(WS.z_min + 0.04)  # not the table
    s.discard()
    with pytest.raises(StepError, match=r"did not see the place cell \(270, 120\)"):
        s.request_step({**STEP, "place": {"u": 270, "v": 120}})
    assert s.take_goal() is None


@pytest.mark.parametrize("field, value", [("gripper", "vacuum"), ("finger_opening", 0.0),
                                          ("place_support_radius", -0.01),
                                          ("place_clearance", 0.5), ("unseen_radius", 1.0)])
def test_tool_settings_out_of_range_are_refused(field, value):
    from cliport_common.config import ConfigError

    with pytest.raises(ConfigError, match=field):
        RecorderConfig(**{field: value})
