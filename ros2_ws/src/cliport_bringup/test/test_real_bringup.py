"""real_bringup: the real graph, the arguments and their overrides, the plan (which includes,
which nodes, which parameter files) per robot type; no ROS install needed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from cliport_bringup import real_bringup as rb
from cliport_bringup.graph import load_graph
from cliport_bringup.moveit_params import deep_merge
from cliport_calibration.config import load_handeye_config
from cliport_common.config import ConfigError, from_dict, load_yaml, to_dict
from cliport_executor.config import ExecutorConfig
from cliport_perception.perception_config import PerceptionConfig
from cliport_policy.node_config import MODES, PolicyNodeConfig

SIM_CALIBRATION = Path(__file__).resolve().parents[4] / "calibration" / "sim_eye_to_hand_front.yaml"
CONFIGS = {"perception": PerceptionConfig, "policy_node": PolicyNodeConfig,
           "pick_place_server": ExecutorConfig}


def options(**kw) -> rb.RealOptions:
    return rb.RealOptions(**{"robot_ip": "172.16.0.2", **kw})


def nested(flat: dict) -> dict:
    from cliport_common.ros.params import unflatten

    return unflatten(flat)


def node_config(node):
    """The node's config dataclass as its ROS parameters would build it (files, then inline)."""
    cls = CONFIGS[node.name]
    data = to_dict(cls())
    for path in node.parameter_files():
        data = deep_merge(data, nested(load_yaml(path)["/**"]["ros__parameters"]))
    return from_dict(cls, deep_merge(data, nested(node.inline_parameters())),
                     where=node.name)


# --------------------------------------------------------------------------- the graph


def test_real_graph_nodes_and_parameter_files_load_into_their_configs():
    graph = load_graph("real")
    assert [n.name for n in graph.nodes] == ["perception", "policy_node", "pick_place_server"]
    for node in graph.nodes:
        node.entry_point()
        assert all(path.is_file() for path in node.parameter_files())
        node_config(node)
    perception, policy, executor = (node_config(n) for n in graph.nodes)
    assert perception.cameras == ["camera/camera"]
    assert policy.mode == "publish"
    assert executor.backend == "moveit" and executor.moveit.planning_group == "fr3_arm"
    assert perception.base_frame == policy.base_frame == executor.base_frame == "fr3_link0"


def test_real_graph_matches_the_hand_eye_setup():
    """Perception refuses a calibration in another frame; the default file is the one the
    FR3 hand-eye sampler writes (calibration/<setup>.yaml, parent robot_base_frame)."""
    handeye = load_handeye_config()
    params = load_graph("real").node("perception").inline_parameters()
    assert params["calibration_file"] == f"calibration/{handeye.setup}.yaml"
    assert params["base_frame"] == handeye.robot_base_frame
    defaults = rb.argument_defaults()
    assert handeye.tracking_base_frame == f"{defaults['camera_name']}_link"


def test_argument_defaults_come_from_the_graph_and_the_options():
    d = rb.argument_defaults()
    assert {f.name for f in dataclasses.fields(rb.RealOptions)} - set(d) == {"robot_ip"}
    assert (d["camera_namespace"], d["camera_name"]) == ("camera", "camera")
    assert (d["policy_mode"], d["device"], d["checkpoint"]) == ("publish", "cuda", "")
    assert (d["robot_type"], d["use_fake_hardware"], d["launch_camera"], d["rviz"]) == \
        ("fr3", "false", "true", "false")
    # the defaults parse back into the same options
    assert rb.RealOptions.from_launch({**d, "robot_ip": "x"}).launch_policy is True


# --------------------------------------------------------------------------- options


def test_options_from_launch_text():
    o = rb.RealOptions.from_launch({"robot_ip": "10.0.0.2", "launch_camera": "False",
                                    "rviz": "1", "unrelated": "ignored",
                                    "camera_namespace": "/cams/", "camera_name": "top"})
    assert (o.launch_camera, o.rviz, o.camera) == (False, True, "cams/top")
    assert options(camera_namespace="").camera == "camera"


def test_policy_modes_are_the_policy_nodes():
    assert tuple(rb.POLICY_MODES) == tuple(MODES)


@pytest.mark.parametrize("kw, needle", [
    ({"robot_ip": ""}, "robot_ip is required"),
    ({"robot_type": "ur5"}, "robot_type"),
    ({"policy_mode": "go"}, "policy_mode"),
    ({"executor_backend": "sim"}, "executor_backend"),
    ({"robot_type": "panda_libfranka", "executor_backend": "moveit"}, "executor_backend"),
    ({"robot_type": "panda_libfranka", "use_fake_hardware": True}, "dryrun"),
    ({"camera_profile": "640x480"}, "camera_profile"),
])
def test_bad_options_are_refused_with_the_argument_named(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        options(**kw)


def test_bad_boolean_text_is_refused():
    with pytest.raises(ConfigError, match="launch_camera: expected true or false"):
        rb.RealOptions.from_launch({"robot_ip": "x", "launch_camera": "maybe"})


# --------------------------------------------------------------------------- the override helper


def test_configure_graph_applies_the_arguments_and_keeps_the_graph():
    graph = load_graph("real")
    before = [list(n.parameters) for n in graph.nodes]
    o = options(camera_namespace="rs", camera_name="top", checkpoint="/m/last.ckpt",
                policy_mode="execute", device="cuda:1", calibration_file="/c.yaml")
    configured = rb.configure_graph(graph, o, base_frame="fr3_link0",
                                    moveit_params_file="/tmp/m.yaml")
    assert [list(n.parameters) for n in graph.nodes] == before
    perception = configured.node("perception").inline_parameters()
    assert perception["cameras"] == ["rs/top"] and perception["calibration_file"] == "/c.yaml"
    policy = configured.node("policy_node").inline_parameters()
    assert (policy["checkpoint"], policy["mode"], policy["device"]) == \
        ("/m/last.ckpt", "execute", "cuda:1")
    executor = node_config(configured.node("pick_place_server"))
    assert executor.backend == "moveit" and executor.moveit.params_file == "/tmp/m.yaml"
    for node in configured.nodes:
        assert node_config(node).base_frame == "fr3_link0"


def test_empty_arguments_leave_the_graph_values():
    graph = load_graph("real")
    configured = rb.configure_graph(graph, options())
    policy = configured.node("policy_node").inline_parameters()
    assert policy["device"] == "cuda" and "checkpoint" not in policy
    assert "moveit.params_file" not in configured.node("pick_place_server").inline_parameters()


@pytest.mark.parametrize("robot_type, backend, params_file", [
    ("fr3", "moveit", "moveit_fr3.params.yaml"),
    ("panda", "moveit", "moveit_panda.params.yaml"),
    ("panda_libfranka", "libfranka", "libfranka_fer.params.yaml"),
])
def test_robot_types_pick_the_executor_parameters(robot_type, backend, params_file):
    o = options(robot_type=robot_type, robot_ip="172.16.0.9")
    configured = rb.configure_graph(load_graph("real"), o, moveit_params_file="/m.yaml")
    node = configured.node("pick_place_server")
    assert [p.name for p in node.parameter_files()] == [params_file]
    cfg = node_config(node)
    assert cfg.backend == backend
    if backend == "libfranka":
        assert cfg.libfranka.hostname == "172.16.0.9" and cfg.moveit.params_file == ""
    else:
        assert cfg.moveit.params_file == "/m.yaml"
    if robot_type == "panda":
        assert cfg.moveit.planning_group == "panda_arm"


def test_dry_run_backend_and_no_policy():
    o = options(executor_backend="dryrun", launch_policy=False)
    configured = rb.configure_graph(load_graph("real"), o)
    assert [n.name for n in configured.nodes] == ["perception", "pick_place_server"]
    assert node_config(configured.node("pick_place_server")).backend == "dryrun"
    assert not rb.needs_built_moveit_params(o)
    assert rb.needs_built_moveit_params(options())
    assert not rb.needs_built_moveit_params(options(moveit_params_file="/m.yaml"))
    assert not rb.needs_built_moveit_params(options(robot_type="panda"))


# --------------------------------------------------------------------------- the plan


def test_fr3_plan(fr3_calibration, moveit_file):
    plan = rb.real_plan(options(calibration_file=str(fr3_calibration),
                                moveit_params_file=str(moveit_file)))
    assert plan.notes == () and plan.base_frame == "fr3_link0"
    driver, camera = plan.includes
    assert (driver.package, driver.launch_file) == ("franka_fr3_moveit_config",
                                                    "launch/moveit.launch.py")
    assert driver.arguments == {"robot_ip": "172.16.0.2", "use_fake_hardware": "false",
                                "load_gripper": "true", "ee_id": "franka_hand",
                                "use_rviz": "false"}
    assert (camera.package, camera.launch_file) == ("realsense2_camera", "launch/rs_launch.py")
    assert camera.arguments["align_depth.enable"] == camera.arguments["enable_sync"] == "true"
    assert camera.arguments["rgb_camera.color_profile"] == "640x480x30"
    assert camera.arguments["depth_module.depth_profile"] == "640x480x30"
    assert (camera.arguments["camera_namespace"], camera.arguments["camera_name"]) == \
        ("camera", "camera")
    (tf,) = plan.extra_nodes
    args = dict(zip(tf.arguments[::2], tf.arguments[1::2], strict=True))
    assert (args["--frame-id"], args["--child-frame-id"]) == ("fr3_link0", "camera_link")
    perception = node_config(plan.graph.node("perception"))
    assert Path(perception.calibration_file) == fr3_calibration.resolve()
    assert node_config(plan.graph.node("pick_place_server")).moveit.params_file == \
        str(moveit_file)


def test_panda_libfranka_plan_has_no_ros_driver(fr3_calibration):
    o = options(robot_type="panda_libfranka", calibration_file=str(fr3_calibration),
                launch_camera=False, rviz=True)
    plan = rb.real_plan(o)
    assert plan.includes == ()
    tf, rviz = plan.extra_nodes
    assert (rviz.executable, rviz.arguments[0]) == ("rviz2", "-d")
    assert Path(rviz.arguments[1]).is_file()
    assert node_config(plan.graph.node("pick_place_server")).libfranka.hostname == "172.16.0.2"


def test_panda_on_franka_ros2_needs_its_moveit_parameters(fr3_calibration, moveit_file):
    o = options(robot_type="panda", calibration_file=str(fr3_calibration))
    with pytest.raises(ConfigError, match="moveit_params_file"):
        rb.real_plan(o)
    plan = rb.real_plan(dataclasses.replace(o, moveit_params_file=str(moveit_file)))
    assert plan.includes[0].package == "franka_moveit_config"
    assert set(plan.includes[0].arguments) == {"robot_ip", "use_fake_hardware"}


def test_missing_files_are_named(tmp_path, fr3_calibration):
    with pytest.raises(ConfigError, match="Calibrate the camera first"):
        rb.real_plan(options(calibration_file=str(tmp_path / "nope.yaml"),
                             moveit_params_file=str(fr3_calibration)))
    with pytest.raises(ConfigError, match="does not exist"):
        rb.real_plan(options(calibration_file=str(fr3_calibration),
                             moveit_params_file=str(tmp_path / "nope.yaml")))


def test_notes_for_risky_settings(moveit_file):
    """The sim calibration ends at another frame than camera_link; fake hardware, a missing
    hand and execute mode are announced."""
    plan = rb.real_plan(options(calibration_file=str(SIM_CALIBRATION),
                                moveit_params_file=str(moveit_file), use_fake_hardware=True,
                                load_gripper=False, policy_mode="execute"))
    text = "\n".join(plan.notes)
    for needle in ("TF tree will not connect", "Franka Hand", "use_fake_hardware",
                   "PickPlace goal"):
        assert needle in text
    assert plan.base_frame == "base"


def test_a_multi_camera_calibration_gets_no_static_transform():
    multi = "package://cliport_perception/config/calibration_sim_reference.yaml"
    plan = rb.real_plan(options(robot_type="panda_libfranka", calibration_file=multi))
    assert plan.extra_nodes == () and "no static transform" in plan.notes[0]


@pytest.mark.parametrize("module", ["cliport_bringup.real_bringup",
                                    "cliport_bringup.moveit_params"])
def test_the_modules_import_no_ros_or_moveit(module):
    code = (f"import sys; import {module}; "
            "bad = [m for m in ('rclpy', 'launch', 'launch_ros', 'moveit_configs_utils') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
