"""One PickPlace goal by hand (cliport-goal): cells -> base-frame poses, the printed
``ros2 action send_goal`` line parses back into the goal that was meant, and bad input gets
one clear line."""

from __future__ import annotations

import math
import shlex
import subprocess
import sys

import numpy as np
import pytest
import yaml

from cliport_bringup.hand_goal import (
    GoalPose,
    cell_height,
    cell_xy,
    fill_message,
    goal_fields,
    load_workspace,
    pick_place_heights,
    send_goal_command,
)
from cliport_common.config import ConfigError
from cliport_perception.workspace import Workspace

WS = Workspace(0.3, 0.7, -0.4, 0.4, 0.0, 0.3, 0.0025)  # 320 x 160 cells


def test_a_cell_is_its_centre_in_the_base_frame():
    assert WS.shape == (320, 160)
    x, y = cell_xy(WS, 0, 0)
    assert (x, y) == pytest.approx((0.3 + 0.00125, -0.4 + 0.00125))
    x, y = cell_xy(WS, 160, 80)  # rows run along y, columns along x
    assert (x, y) == pytest.approx((0.5 + 0.00125, 0.0 + 0.00125))
    with pytest.raises(ValueError, match="outside the 320x160 grid"):
        cell_xy(WS, 320, 0)


def test_heights_follow_the_policy():
    hm = np.zeros(WS.shape, np.float32)
    hm[100, 50] = 0.04  # a block's top
    hm[200, 90] = 0.005  # a bowl's floor
    hm[10, 10] = np.nan  # unseen: reads as the table
    assert cell_height(WS, hm, 100, 50) == pytest.approx(0.04)
    assert cell_height(WS, hm, 10, 10) == 0.0
    pick_z, place_z = pick_place_heights(WS, hm, (100, 50), (200, 90))
    assert pick_z == pytest.approx(0.04) and place_z == pytest.approx(0.045)


def test_workspace_from_any_config_layout(tmp_path):
    bounds = {"x_min": 0.3, "x_max": 0.7, "y_min": -0.4, "y_max": 0.4, "z_min": 0.0,
              "z_max": 0.3, "pixel_size": 0.0025}
    layouts = {"top": {"workspace": bounds},
               "section": {"perception": {"rate": 30.0, "workspace": bounds}},
               "ros": {"/**": {"ros__parameters": {"backend": "moveit",
                                                   **{f"workspace.{k}": v
                                                      for k, v in bounds.items()}}}}}
    for name, data in layouts.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        assert load_workspace(path) == WS, name
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"a": {"b": 1}}))
    with pytest.raises(ConfigError, match="no single 'workspace'"):
        load_workspace(bad)


def _goal_class():
    from cliport_msgs.action import PickPlace

    return PickPlace.Goal


def test_the_send_goal_line_parses_back_into_the_goal():
    pick = GoalPose(0.45, -0.1, 0.04, yaw=math.radians(30))
    place = GoalPose(0.5, 0.2, 0.045, yaw=-math.pi / 2)
    fields = goal_fields(pick, place, "fr3_link0", "put the red block in the blue bowl",
                         speed_scaling=0.1)
    line = send_goal_command(fields)
    words = shlex.split(line)
    assert words[:6] == ["ros2", "action", "send_goal", "--feedback", "/pick_place",
                         "cliport_msgs/action/PickPlace"]
    # ros2 action send_goal reads its argument with yaml.safe_load and sets the fields
    goal = fill_message(_goal_class()(), yaml.safe_load(words[6]))
    assert goal.pick.header.frame_id == goal.place.header.frame_id == "fr3_link0"
    assert goal.instruction == "put the red block in the blue bowl"
    assert goal.speed_scaling == pytest.approx(0.1) and goal.primitive == 0
    p, q = goal.pick.pose.position, goal.pick.pose.orientation
    assert (p.x, p.y, p.z) == pytest.approx((0.45, -0.1, 0.04))
    assert 2 * math.atan2(q.z, q.w) == pytest.approx(math.radians(30), abs=1e-5)
    q = goal.place.pose.orientation
    assert 2 * math.atan2(q.z, q.w) == pytest.approx(-math.pi / 2, abs=1e-5)
    # a tiny number keeps its point (PyYAML reads "1e-05" as a string)
    tiny = goal_fields(GoalPose(1e-5, 0, 0), place, "b")
    tiny_goal = yaml.safe_load(shlex.split(send_goal_command(tiny))[6])
    assert tiny_goal["pick"]["pose"]["position"]["x"] == pytest.approx(1e-5)
    assert line.endswith('"') and "'put the red block in the blue bowl'" in line
    odd = goal_fields(pick, place, "b", instruction='say "hi" for $5')
    assert yaml.safe_load(shlex.split(send_goal_command(odd))[6])["instruction"] == \
        'say "hi" for $5'
    with pytest.raises(ValueError, match="speed_scaling"):
        goal_fields(pick, place, "b", speed_scaling=2.0)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cliport_bringup.nodes.goal_cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_cli_prints_the_cell_and_the_goal(tmp_path):
    path = tmp_path / "ws.yaml"
    path.write_text(yaml.safe_dump({"workspace": {**vars(WS)}}))
    r = run_cli("cell", "160", "80", "--workspace", str(path), "--z", "0.02")
    assert r.returncode == 0, r.stderr
    assert "x 0.50125 y 0.00125 z 0.02000 m (fr3_link0)" in r.stdout
    r = run_cli("line", "--pick-cell", "160", "80", "--pick-z", "0.04", "--place-xyz", "0.5",
                "0.2", "0.045", "--place-yaw", "90", "--workspace", str(path))
    assert r.returncode == 0, r.stderr
    assert "pick : x 0.50125 y 0.00125 z 0.04000 m, yaw 0.0 deg (fr3_link0)" in r.stdout
    line = r.stdout.strip().splitlines()[-1]
    goal = fill_message(_goal_class()(), yaml.safe_load(shlex.split(line)[6]))
    assert goal.place.pose.position.y == pytest.approx(0.2)
    r = run_cli("line", "--pick-cell", "160", "80", "--place-xyz", "0.5", "0.2", "0.045",
                "--workspace", str(path))
    assert r.returncode == 2 and "--pick-cell needs a z" in r.stderr
    r = run_cli("cell", "0", "159")  # default: the Franka workspace, 2 mm cells
    assert r.returncode == 0 and "x 0.61900 y -0.31900 m (fr3_link0)" in r.stdout, r.stderr
    r = run_cli("cell", "999", "0", "--workspace", str(path))
    assert r.returncode == 2 and "outside the 320x160 grid" in r.stderr
