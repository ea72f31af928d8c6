"""``ros2 launch cliport_bringup calibrate_fr3.launch.py robot_ip:=<ip>``: hand-eye sampling.

franka_bringup (FR3, with the state broadcaster that publishes current_pose), the RealSense
driver with its TF tree, and our handeye_sampler (``config/graphs/handeye_fr3.yaml``). Guide
the arm by hand between samples, or move it with your own tool; call
``ros2 service call /handeye_sampler/capture std_srvs/srv/Trigger`` at each pose and
``.../solve`` at the end. Not hardware-verified (see calibration/README.md).
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from cliport_bringup.graph import load_graph
from cliport_bringup.launch_description import node_actions
from launch import LaunchDescription


def generate_launch_description():
    franka = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare("franka_bringup"), "launch", "franka.launch.py"])),
        launch_arguments={"robot_type": LaunchConfiguration("robot_type"),
                          "robot_ip": LaunchConfiguration("robot_ip"),
                          "load_gripper": "true"}.items())
    camera = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare("realsense2_camera"), "launch", "rs_launch.py"])),
        launch_arguments={"camera_namespace": "camera", "camera_name": "camera",
                          "rgb_camera.color_profile": "1280,720,30",
                          "enable_depth": "false"}.items())
    return LaunchDescription([
        DeclareLaunchArgument("robot_ip", description="the FR3's control-box address"),
        DeclareLaunchArgument("robot_type", default_value="fr3"),
        franka, camera, *node_actions(load_graph("handeye_fr3")),
    ])
