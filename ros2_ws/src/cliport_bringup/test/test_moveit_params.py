"""moveit_params: our MoveIt pieces against the executor's config, limit merging, OMPL
completion, xacro arguments and ROS parameter files."""

from __future__ import annotations

import pytest
import yaml

from cliport_bringup import moveit_params as mp
from cliport_bringup.real_bringup import RealOptions
from cliport_common.config import load_yaml
from cliport_executor.config import MoveItConfig, RecoveryConfig


def options(**kw) -> RealOptions:
    return RealOptions(**{"robot_ip": "172.16.0.2", **kw})


def test_moveit_cpp_namespaces_are_the_executors():
    cfg = MoveItConfig()
    data = load_yaml(mp.shipped_moveit_file(mp.MOVEIT_CPP))
    assert tuple(data["planning_pipelines"]["pipeline_names"]) == mp.PIPELINES
    assert {cfg.ompl_pipeline, cfg.pilz_pipeline} <= set(mp.PIPELINES)
    ompl = data[cfg.ompl_namespace]["plan_request_params"]
    pilz = data[cfg.pilz_namespace]["plan_request_params"]
    assert (ompl["planning_pipeline"], ompl["planner_id"]) == (cfg.ompl_pipeline,
                                                               cfg.ompl_planner_id)
    assert (pilz["planning_pipeline"], pilz["planner_id"]) == (cfg.pilz_pipeline, "LIN")
    monitor = data["planning_scene_monitor_options"]
    assert monitor["robot_description"] == "robot_description"
    assert monitor["joint_state_topic"] == "/joint_states"
    for block in (data["plan_request_params"], ompl, pilz):
        assert 0 < block["max_velocity_scaling_factor"] <= 0.1


def test_wrapped_controllers_are_the_fr3_arm_controller():
    data = load_yaml(mp.shipped_moveit_file(mp.FR3_MOVEIT.controllers))
    assert data["moveit_controller_manager"] == \
        "moveit_simple_controller_manager/MoveItSimpleControllerManager"
    manager = data["moveit_simple_controller_manager"]
    assert manager["controller_names"] == list(RecoveryConfig().controllers)
    arm = manager["fr3_arm_controller"]
    assert (arm["type"], arm["action_ns"], arm["default"]) == \
        ("FollowJointTrajectory", "follow_joint_trajectory", True)
    assert arm["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert mp.FR3_MOVEIT.planning_group == MoveItConfig().planning_group


def test_pilz_limits_merge_with_the_joint_limits():
    cartesian = load_yaml(mp.shipped_moveit_file(mp.PILZ_LIMITS))
    limits = cartesian["cartesian_limits"]
    assert set(limits) == {"max_trans_vel", "max_trans_acc", "max_trans_dec", "max_rot_vel"}
    assert limits["max_trans_dec"] < 0 < limits["max_trans_vel"]
    joints = {"joint_limits": {"fr3_joint1": {"has_acceleration_limits": True,
                                              "max_acceleration": 15.0}}}
    merged = mp.planning_limits(joints, cartesian)
    assert merged["joint_limits"] == joints["joint_limits"]
    assert merged["cartesian_limits"] == limits


def test_complete_ompl_adds_the_plugin_and_the_group():
    franka = {"planner_configs": {"RRTConnectkConfigDefault": {"type": "geometric::RRTConnect"}},
              "panda_arm": {"planner_configs": ["RRTConnectkConfigDefault"]}}
    defaults = {"planning_plugins": ["ompl_interface/OMPLPlanner"],
                "request_adapters": ["default_planning_request_adapters/ResolveConstraintFrames"]}
    out = mp.complete_ompl(franka, defaults, "fr3_arm", ("RRTConnectkConfigDefault", "Nope"))
    assert out["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert out["fr3_arm"] == {"planner_configs": ["RRTConnectkConfigDefault"]}
    assert out["panda_arm"] == franka["panda_arm"]
    own = {**franka, "planning_plugins": ["custom/Planner"], "fr3_arm": {"x": 1}}
    kept = mp.complete_ompl(own, defaults, "fr3_arm", ("RRTConnectkConfigDefault",))
    assert kept["planning_plugins"] == ["custom/Planner"] and kept["fr3_arm"] == {"x": 1}


def test_xacro_mappings_follow_the_arguments():
    urdf, srdf = mp.xacro_mappings(options(load_gripper=False, use_fake_hardware=True))
    assert urdf == {"robot_type": "fr3", "hand": "false", "ee_id": "franka_hand",
                    "robot_ip": "172.16.0.2", "use_fake_hardware": "true",
                    "fake_sensor_commands": "false"}
    assert srdf == {"hand": "false", "ee_id": "franka_hand"}


def test_ros_params_document(tmp_path):
    params = {"robot_description": "<robot name='fr3'/>", "a": {"b": None, "c": [],
                                                                "d": [1, 2.5], "e": [1, 2]},
              "names": ["ompl", "pilz_industrial_motion_planner"], "flag": True}
    document, dropped = mp.ros_params_document(params)
    assert sorted(dropped) == ["a.b", "a.c"]
    body = document["/**"]["ros__parameters"]
    assert body["a"] == {"d": [1.0, 2.5], "e": [1, 2]} and body["flag"] is True
    with pytest.raises(TypeError, match="one type"):
        mp.ros_params_document({"x": [1, "a"]})
    with pytest.raises(TypeError, match="cannot be a ROS parameter"):
        mp.ros_params_document({"x": object()})
    path = tmp_path / "p.yaml"
    shipped = {}
    for name in (mp.MOVEIT_CPP, mp.PILZ_LIMITS, mp.FR3_MOVEIT.controllers):
        shipped.update(load_yaml(mp.shipped_moveit_file(name)))
    assert mp.write_ros_params(shipped, path) == []
    assert yaml.safe_load(path.read_text())["/**"]["ros__parameters"] == shipped
