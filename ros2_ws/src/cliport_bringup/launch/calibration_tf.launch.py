"""``ros2 launch cliport_bringup calibration_tf.launch.py calibration_file:=calibration/x.yaml``

Publishes the hand-eye result as a static transform (parent_frame -> child_frame).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from cliport_bringup.calibration_tf import static_transform_spec
from cliport_bringup.graph import GraphSpec
from cliport_bringup.launch_description import node_actions
from launch import LaunchDescription


def _publisher(context):
    path = LaunchConfiguration("calibration_file").perform(context)
    spec = static_transform_spec(path)
    return node_actions(GraphSpec(name="calibration_tf", description="", nodes=[spec]))


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("calibration_file",
                              description="calibration/<setup>.yaml written by cliport-handeye"),
        OpaqueFunction(function=_publisher),
    ])
