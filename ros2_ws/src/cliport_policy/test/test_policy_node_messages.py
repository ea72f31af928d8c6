"""The policy node's message conversions (cliport_policy.ros.messages), without a ROS graph."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from cliport_msgs.action import PickPlace
from cliport_perception.image_conversion import image_to_array
from cliport_perception.workspace import Workspace
from cliport_policy.agents import AgentOutput
from cliport_policy.poses import decision_poses
from cliport_policy.ros.messages import (
    decision_markers,
    decision_msg,
    heatmap_image,
    pick_place_goal,
)

WS = Workspace()
STAMP = Time(sec=1_700_000_000, nanosec=123)
HM_STAMP = Time(sec=1_699_999_999, nanosec=999_000_000)


@pytest.fixture
def example():
    rows, cols = WS.shape
    heat = np.zeros((rows, cols), np.float32)
    heat[100, 50] = 1.0
    output = AgentOutput(pick=(100, 50, 0), place=(200, 120, 9), pick_score=0.25,
                         place_score=0.125, pick_heatmap=heat, place_heatmap=heat)
    heightmap = np.full((rows, cols), 0.01, np.float32)
    heightmap[100, 50] = 0.04
    pick, place = decision_poses(WS, heightmap, output.pick, output.place, 1, 36)
    return output, pick, place


def test_decision_message_carries_every_field(example):
    decision, pick, place = example
    msg = decision_msg(decision, pick, place, instruction="put the red block in the bowl",
                       policy="cliport", n_rotations=36, frame_id="base", stamp=STAMP,
                       heightmap_stamp=HM_STAMP, inference_time=0.42)
    assert msg.header.frame_id == "base" and msg.header.stamp == STAMP
    assert msg.heightmap_stamp == HM_STAMP
    assert (msg.instruction, msg.policy) == ("put the red block in the bowl", "cliport")
    assert (msg.pick_u, msg.pick_v, msg.pick_rotation_bin) == (100, 50, 0)
    assert (msg.place_u, msg.place_v, msg.place_rotation_bin) == (200, 120, 9)
    assert msg.n_rotations == 36
    assert msg.pick_score == pytest.approx(0.25) and msg.place_score == pytest.approx(0.125)
    assert msg.inference_time == pytest.approx(0.42)
    x, y = WS.pixel_to_xy(100, 50)
    p = msg.pick.pose.position
    assert (p.x, p.y, p.z) == pytest.approx((x, y, 0.04))
    assert msg.pick.header.frame_id == "base" and msg.pick.header.stamp == HM_STAMP
    o = msg.place.pose.orientation
    yaw = 2 * math.atan2(o.z, o.w)
    assert yaw == pytest.approx(-9 * 2 * math.pi / 36)  # bin 9 of 36: -90 degrees


def test_heatmap_image_is_the_overlay(example):
    decision, _, _ = example
    colormap = np.full(WS.shape + (3,), 80, np.uint8)
    header = Header(frame_id="base", stamp=STAMP)
    img = heatmap_image(colormap, decision.pick_heatmap, decision.pick[:2], header)
    assert img.encoding == "rgb8" and (img.height, img.width) == (640, 320)
    assert img.header.frame_id == "base" and img.header.stamp == STAMP
    pixels = image_to_array(img)
    assert pixels[200, 100].tolist() == [0, 255, 255]  # the cyan cross at 2x (100, 50)
    assert pixels[0, 0].tolist() == [80, 80, 80]  # no heat: the colormap


def test_markers_show_pick_place_and_the_instruction(example):
    _, pick, place = example
    header = Header(frame_id="base", stamp=STAMP)
    markers = decision_markers(pick, place, "put it there", header).markers
    assert [m.type for m in markers] == [Marker.ARROW, Marker.ARROW, Marker.LINE_STRIP,
                                         Marker.TEXT_VIEW_FACING]
    assert [m.id for m in markers] == [0, 1, 2, 3]
    assert all(m.header.frame_id == "base" and m.action == Marker.ADD for m in markers)
    assert markers[0].pose.position.x == pytest.approx(pick[0][0])
    assert markers[1].pose.orientation.z == pytest.approx(place[1][2])
    np.testing.assert_allclose([(q.x, q.y, q.z) for q in markers[2].points],
                               [pick[0], place[0]])
    assert markers[3].text == "put it there"


def test_goal_is_a_pick_place_in_the_base_frame(example):
    _, pick, place = example
    goal = pick_place_goal("put it there", pick, place, "base", HM_STAMP, 0.5)
    assert isinstance(goal, PickPlace.Goal)
    assert goal.primitive == PickPlace.Goal.PRIMITIVE_PICK_PLACE
    assert goal.speed_scaling == pytest.approx(0.5)
    assert goal.pick.header.frame_id == goal.place.header.frame_id == "base"
    assert goal.pick.pose.position.x == pytest.approx(pick[0][0])
    assert goal.place.pose.orientation.w == pytest.approx(place[1][3])


def test_the_executor_accepts_the_goal(example):
    """The goal passes the executor's own screening (same frame, unit SE(2) quaternions)."""
    from cliport_executor.config import load_executor_config
    from cliport_executor.screening import ScreeningVerdict, screen_goal

    _, pick, place = example
    goal = pick_place_goal("put it there", pick, place, "base", HM_STAMP, 0.0)
    screened = screen_goal(goal, load_executor_config())
    assert screened.verdict == ScreeningVerdict.ACCEPT, screened.message
