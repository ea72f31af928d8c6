"""A policy decision as ROS messages: ``PickPlaceDecision``, heatmap images, RViz markers and
the ``PickPlace`` goal.

Only message packages are imported (no rclpy), so these are usable on recorded data too.
Poses are ``((x, y, z), (qx, qy, qz, qw))`` as :func:`cliport_policy.poses.decision_poses`
returns them; stamps are ``builtin_interfaces/Time``.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from cliport_common.poses import Pose, pose_stamped
from cliport_common.stamps import copy_stamp
from cliport_msgs.action import PickPlace
from cliport_msgs.msg import PickPlaceDecision
from cliport_perception.image_conversion import array_to_image
from cliport_policy.heatmaps import overlay

MARKER_NS = "cliport_policy"
PICK_COLOR = (0.1, 0.9, 0.2, 1.0)
PLACE_COLOR = (0.2, 0.4, 1.0, 1.0)
ARROW_SCALE = (0.06, 0.008, 0.014)  # length, shaft and head diameter (m)


def decision_msg(decision, pick: Pose, place: Pose, *, instruction: str, policy: str,
                 n_rotations: int, frame_id: str, stamp: Time, heightmap_stamp: Time,
                 inference_time: float) -> PickPlaceDecision:
    """``cliport_msgs/PickPlaceDecision`` of an agent's ``AgentOutput`` and its poses.

    The poses carry the heightmap's stamp (when the scene looked like that); the header
    carries ``stamp`` (when the decision was made).
    """
    msg = PickPlaceDecision()
    msg.header.frame_id = frame_id
    msg.header.stamp = copy_stamp(stamp)
    msg.heightmap_stamp = copy_stamp(heightmap_stamp)
    msg.instruction = instruction
    msg.policy = policy
    msg.pick = pose_stamped(pick, frame_id, heightmap_stamp)
    msg.place = pose_stamped(place, frame_id, heightmap_stamp)
    msg.pick_u, msg.pick_v, msg.pick_rotation_bin = (int(c) for c in decision.pick)
    msg.place_u, msg.place_v, msg.place_rotation_bin = (int(c) for c in decision.place)
    msg.n_rotations = int(n_rotations)
    msg.pick_score = float(decision.pick_score)
    msg.place_score = float(decision.place_score)
    msg.inference_time = float(inference_time)
    return msg


def heatmap_image(colormap: np.ndarray, heat: np.ndarray, cell: tuple[int, int],
                  header: Header):
    """rgb8 ``sensor_msgs/Image``: ``heat`` over the colormap, ``cell`` marked (2x upscaled)."""
    picture = overlay(colormap, heat, (int(cell[0]), int(cell[1])))
    out = Header(frame_id=header.frame_id, stamp=copy_stamp(header.stamp))
    return array_to_image(np.ascontiguousarray(picture), "rgb8", header=out)


def _marker(kind: int, ident: int, header: Header, pose: Pose, scale, color) -> Marker:
    (x, y, z), (qx, qy, qz, qw) = pose
    m = Marker()
    m.header.frame_id = header.frame_id
    m.header.stamp = copy_stamp(header.stamp)
    m.ns = MARKER_NS
    m.id = ident
    m.type = kind
    m.action = Marker.ADD
    p, o = m.pose.position, m.pose.orientation
    p.x, p.y, p.z = float(x), float(y), float(z)
    o.x, o.y, o.z, o.w = float(qx), float(qy), float(qz), float(qw)
    m.scale = Vector3(x=float(scale[0]), y=float(scale[1]), z=float(scale[2]))
    m.color = ColorRGBA(r=float(color[0]), g=float(color[1]), b=float(color[2]),
                        a=float(color[3]))
    m.lifetime = Duration(sec=0, nanosec=0)  # until replaced
    return m


def decision_markers(pick: Pose, place: Pose, instruction: str, header: Header) -> MarkerArray:
    """Pick arrow (id 0, green), place arrow (id 1, blue, along the place yaw), a line from
    pick to place (id 2) and the instruction above the place (id 3). Fixed ids: each
    decision replaces the previous one in RViz."""
    arrows = [_marker(Marker.ARROW, 0, header, pick, ARROW_SCALE, PICK_COLOR),
              _marker(Marker.ARROW, 1, header, place, ARROW_SCALE, PLACE_COLOR)]
    identity = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    line = _marker(Marker.LINE_STRIP, 2, header, identity, (0.003, 0.0, 0.0),
                   (1.0, 1.0, 1.0, 0.8))
    line.points = [Point(x=float(p[0][0]), y=float(p[0][1]), z=float(p[0][2]))
                   for p in (pick, place)]
    (x, y, z), _ = place
    text = _marker(Marker.TEXT_VIEW_FACING, 3, header, ((x, y, z + 0.08), identity[1]),
                   (0.0, 0.0, 0.03), (1.0, 1.0, 1.0, 1.0))
    text.text = instruction
    return MarkerArray(markers=[*arrows, line, text])


def pick_place_goal(instruction: str, pick: Pose, place: Pose, frame_id: str, stamp: Time,
                    speed_scaling: float):
    """``PickPlace.Goal`` (primitive pick_place) for the executor."""
    goal = PickPlace.Goal()
    goal.instruction = instruction
    goal.pick = pose_stamped(pick, frame_id, stamp)
    goal.place = pose_stamped(place, frame_id, stamp)
    goal.primitive = PickPlace.Goal.PRIMITIVE_PICK_PLACE
    goal.speed_scaling = float(speed_scaling)
    return goal
