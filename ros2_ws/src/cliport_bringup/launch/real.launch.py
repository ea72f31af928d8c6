"""``ros2 launch cliport_bringup real.launch.py robot_ip:=<fci-ip>``: the stack on a real arm.

Starts the arm's driver (FR3: franka_fr3_moveit_config's moveit.launch.py, i.e. ros2_control,
fr3_arm_controller, move_group and the gripper), the RealSense driver with depth aligned to
colour, the static transform from the calibration file, and our perception, policy and
executor nodes from ``config/graphs/real.yaml`` (the graph ``cliport-run real`` runs too).
The decisions (which includes, which parameters per argument, the MoveIt parameters the
executor's MoveItPy needs) are made in :mod:`cliport_bringup.real_bringup` and
:mod:`cliport_bringup.moveit_params`; this file only turns them into launch actions. The
arguments are documented in docs/real-launch.md.
NOT HARDWARE-VERIFIED and not yet run under ``ros2 launch``.
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, LogInfo, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from cliport_bringup import moveit_params, real_bringup
from cliport_bringup.graph import GraphSpec
from cliport_bringup.launch_description import node_actions
from launch import LaunchDescription


def _include(include):
    source = PythonLaunchDescriptionSource(PathJoinSubstitution(
        [FindPackageShare(include.package), *include.launch_file.split("/")]))
    return IncludeLaunchDescription(source, launch_arguments=include.arguments.items())


def _setup(context):
    options = real_bringup.RealOptions.from_launch(context.launch_configurations)
    actions = []
    params_file = ""
    if real_bringup.needs_built_moveit_params(options):
        path, dropped = moveit_params.write_fr3_moveit_params(options)
        params_file = str(path)
        actions.append(LogInfo(msg=f"real.launch.py: MoveIt parameters for the executor: {path}"
                               + (f" (left out, untyped: {dropped})" if dropped else "")))
    plan = real_bringup.real_plan(options, moveit_params_file=params_file)
    actions.append(LogInfo(msg=f"real.launch.py: {plan.options.robot.summary}; executor "
                               f"backend {plan.options.backend}; base frame {plan.base_frame}; "
                               f"calibration {plan.calibration_file}"))
    actions += [LogInfo(msg=f"real.launch.py: WARNING: {note}") for note in plan.notes]
    actions += [_include(include) for include in plan.includes]
    actions += node_actions(plan.graph)
    actions += node_actions(GraphSpec(name="real_extra", nodes=list(plan.extra_nodes)))
    return actions


def generate_launch_description():
    d = real_bringup.argument_defaults()
    return LaunchDescription([
        DeclareLaunchArgument("robot_ip", description="FCI address of the arm's control box"),
        DeclareLaunchArgument("robot_type", default_value=d["robot_type"],
                              description="fr3 (franka_ros2 + MoveIt) | panda (franka_ros2 "
                                          "Humble v0.1.x + MoveIt) | panda_libfranka (panda-py)"),
        DeclareLaunchArgument("use_fake_hardware", default_value=d["use_fake_hardware"],
                              description="franka_ros2 mock hardware (the arm does not move)"),
        DeclareLaunchArgument("load_gripper", default_value=d["load_gripper"],
                              description="FR3: load the Franka Hand"),
        DeclareLaunchArgument("ee_id", default_value=d["ee_id"],
                              description="FR3 end effector (the executor needs franka_hand)"),
        DeclareLaunchArgument("launch_camera", default_value=d["launch_camera"],
                              description="start realsense2_camera (false: it runs elsewhere)"),
        DeclareLaunchArgument("camera_namespace", default_value=d["camera_namespace"],
                              description="realsense2_camera camera_namespace"),
        DeclareLaunchArgument("camera_name", default_value=d["camera_name"],
                              description="realsense2_camera camera_name (TF root <name>_link)"),
        DeclareLaunchArgument("camera_profile", default_value=d["camera_profile"],
                              description="colour and depth WIDTHxHEIGHTxFPS"),
        DeclareLaunchArgument("camera_serial", default_value=d["camera_serial"],
                              description="RealSense serial number (empty: the only one)"),
        DeclareLaunchArgument("calibration_file", default_value=d["calibration_file"],
                              description="cliport-handeye result (calibration/<setup>.yaml)"),
        DeclareLaunchArgument("launch_policy", default_value=d["launch_policy"],
                              description="start policy_node (false: it runs elsewhere)"),
        DeclareLaunchArgument("checkpoint", default_value=d["checkpoint"],
                              description="policy checkpoint (.ckpt)"),
        DeclareLaunchArgument("policy_mode", default_value=d["policy_mode"],
                              description="publish (decisions only) | execute (moves the arm)"),
        DeclareLaunchArgument("device", default_value=d["device"],
                              description="policy torch device (cuda, cuda:0, cpu)"),
        DeclareLaunchArgument("executor_backend", default_value=d["executor_backend"],
                              description="empty: the robot type's | dryrun (no motion)"),
        DeclareLaunchArgument("moveit_params_file", default_value=d["moveit_params_file"],
                              description="MoveItPy parameters (empty: built for an FR3)"),
        DeclareLaunchArgument("rviz", default_value=d["rviz"],
                              description="RViz with cliport_bringup/rviz/cliport.rviz"),
        OpaqueFunction(function=_setup),
    ])
