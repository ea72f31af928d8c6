"""real.launch.py: the real graph, the argument overrides, the plan and the MoveIt pieces.

``launch``, franka_ros2, MoveIt and realsense2_camera are not installable here, so the
decisions live in :mod:`cliport_bringup.real_bringup` and are tested directly; the launch
file itself is compiled and its arguments read with ``ast``, and built only where
``launch_ros`` imports.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
from glob import glob
from pathlib import Path

import pytest
import yaml

from cliport_bringup import real_bringup as rb
from cliport_bringup.graph import load_graph
from cliport_calibration.config import load_handeye_config
from cliport_common.config import ConfigError, from_dict, load_yaml, to_dict
from cliport_executor.config import ExecutorConfig, MoveItConfig, RecoveryConfig
from cliport_perception.perception_config import PerceptionConfig
from cliport_policy.node_config import MODES, PolicyNodeConfig

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parents[2]
LAUNCH = PACKAGE / "launch" / "real.launch.py"
SIM_CALIBRATION = REPO / "calibration" / "sim_eye_to_hand_front.yaml"
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
        data = rb.deep_merge(data, nested(load_yaml(path)["/**"]["ros__parameters"]))
    return from_dict(cls, rb.deep_merge(data, nested(node.inline_parameters())),
                     where=node.name)


@pytest.fixture
def fr3_calibration(tmp_path):
    """A hand-eye result as cliport-handeye writes it on an FR3 (fr3_link0 -> camera_link)."""
    data = yaml.safe_load(SIM_CALIBRATION.read_text())
    data.update(parent_frame="fr3_link0", child_frame="camera_link",
                optical_frame="camera_color_optical_frame")
    path = tmp_path / "fr3_realsense.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def moveit_file(tmp_path):
    path = tmp_path / "moveit_py.params.yaml"
    path.write_text("/**:\n  ros__parameters:\n    robot_description: x\n")
    return path


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


# --------------------------------------------------------------------------- MoveIt pieces


def test_moveit_cpp_namespaces_are_the_executors():
    cfg = MoveItConfig()
    data = load_yaml(rb.shipped_moveit_file(rb.MOVEIT_CPP))
    assert tuple(data["planning_pipelines"]["pipeline_names"]) == rb.PIPELINES
    assert {cfg.ompl_pipeline, cfg.pilz_pipeline} <= set(rb.PIPELINES)
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
    data = load_yaml(rb.shipped_moveit_file(rb.FR3_MOVEIT.controllers))
    assert data["moveit_controller_manager"] == \
        "moveit_simple_controller_manager/MoveItSimpleControllerManager"
    manager = data["moveit_simple_controller_manager"]
    assert manager["controller_names"] == list(RecoveryConfig().controllers)
    arm = manager["fr3_arm_controller"]
    assert (arm["type"], arm["action_ns"], arm["default"]) == \
        ("FollowJointTrajectory", "follow_joint_trajectory", True)
    assert arm["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert rb.FR3_MOVEIT.planning_group == MoveItConfig().planning_group


def test_pilz_limits_merge_with_the_joint_limits():
    cartesian = load_yaml(rb.shipped_moveit_file(rb.PILZ_LIMITS))
    limits = cartesian["cartesian_limits"]
    assert set(limits) == {"max_trans_vel", "max_trans_acc", "max_trans_dec", "max_rot_vel"}
    assert limits["max_trans_dec"] < 0 < limits["max_trans_vel"]
    joints = {"joint_limits": {"fr3_joint1": {"has_acceleration_limits": True,
                                              "max_acceleration": 15.0}}}
    merged = rb.planning_limits(joints, cartesian)
    assert merged["joint_limits"] == joints["joint_limits"]
    assert merged["cartesian_limits"] == limits


def test_complete_ompl_adds_the_plugin_and_the_group():
    franka = {"planner_configs": {"RRTConnectkConfigDefault": {"type": "geometric::RRTConnect"}},
              "panda_arm": {"planner_configs": ["RRTConnectkConfigDefault"]}}
    defaults = {"planning_plugins": ["ompl_interface/OMPLPlanner"],
                "request_adapters": ["default_planning_request_adapters/ResolveConstraintFrames"]}
    out = rb.complete_ompl(franka, defaults, "fr3_arm", ("RRTConnectkConfigDefault", "Nope"))
    assert out["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert out["fr3_arm"] == {"planner_configs": ["RRTConnectkConfigDefault"]}
    assert out["panda_arm"] == franka["panda_arm"]
    own = {**franka, "planning_plugins": ["custom/Planner"], "fr3_arm": {"x": 1}}
    kept = rb.complete_ompl(own, defaults, "fr3_arm", ("RRTConnectkConfigDefault",))
    assert kept["planning_plugins"] == ["custom/Planner"] and kept["fr3_arm"] == {"x": 1}


def test_xacro_mappings_follow_the_arguments():
    urdf, srdf = rb.xacro_mappings(options(load_gripper=False, use_fake_hardware=True))
    assert urdf == {"robot_type": "fr3", "hand": "false", "ee_id": "franka_hand",
                    "robot_ip": "172.16.0.2", "use_fake_hardware": "true",
                    "fake_sensor_commands": "false"}
    assert srdf == {"hand": "false", "ee_id": "franka_hand"}


def test_ros_params_document(tmp_path):
    params = {"robot_description": "<robot name='fr3'/>", "a": {"b": None, "c": [],
                                                                "d": [1, 2.5], "e": [1, 2]},
              "names": ["ompl", "pilz_industrial_motion_planner"], "flag": True}
    document, dropped = rb.ros_params_document(params)
    assert sorted(dropped) == ["a.b", "a.c"]
    body = document["/**"]["ros__parameters"]
    assert body["a"] == {"d": [1.0, 2.5], "e": [1, 2]} and body["flag"] is True
    with pytest.raises(TypeError, match="one type"):
        rb.ros_params_document({"x": [1, "a"]})
    with pytest.raises(TypeError, match="cannot be a ROS parameter"):
        rb.ros_params_document({"x": object()})
    path = tmp_path / "p.yaml"
    shipped = {}
    for name in (rb.MOVEIT_CPP, rb.PILZ_LIMITS, rb.FR3_MOVEIT.controllers):
        shipped.update(load_yaml(rb.shipped_moveit_file(name)))
    assert rb.write_ros_params(shipped, path) == []
    assert yaml.safe_load(path.read_text())["/**"]["ros__parameters"] == shipped


def test_the_module_imports_no_ros_or_moveit():
    code = ("import sys; import cliport_bringup.real_bringup; "
            "bad = [m for m in ('rclpy', 'launch', 'launch_ros', 'moveit_configs_utils') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_setup_installs_the_launch_file_and_the_moveit_pieces():
    tree = ast.parse((PACKAGE / "setup.py").read_text())
    patterns = [c.args[0].value for c in ast.walk(tree) if isinstance(c, ast.Call)
                and getattr(c.func, "id", "") == "glob"]
    installed = {Path(p) for pattern in patterns for p in glob(str(PACKAGE / pattern))}
    wanted = [LAUNCH, *(PACKAGE / "config" / "moveit").glob("*.yaml"),
              PACKAGE / "config" / "graphs" / "real.yaml", rb.rviz_file()]
    assert [p for p in wanted if p not in installed] == []


# --------------------------------------------------------------------------- the launch file


def declared_arguments() -> dict[str, ast.Call]:
    tree = ast.parse(LAUNCH.read_text())
    return {c.args[0].value: c for c in ast.walk(tree) if isinstance(c, ast.Call)
            and getattr(c.func, "id", "") == "DeclareLaunchArgument"}


def test_launch_file_compiles_and_declares_every_option(tmp_path):
    py_compile.compile(str(LAUNCH), cfile=str(tmp_path / "real.pyc"), doraise=True)
    assert (REPO / "launch" / "real.launch.py").resolve() == LAUNCH.resolve()
    declared = declared_arguments()
    assert set(declared) == {f.name for f in dataclasses.fields(rb.RealOptions)}
    required = [n for n, c in declared.items()
                if not any(k.arg == "default_value" for k in c.keywords)]
    assert required == ["robot_ip"]


def test_launch_file_declares_the_arguments_compose_passes():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    command = compose["services"]["robot"]["command"]
    assert command[:4] == ["ros2", "launch", "cliport_bringup", "real.launch.py"]
    passed = {word.split(":=")[0] for word in command[4:]}
    assert passed == {"robot_ip", "launch_camera", "launch_policy"}
    assert passed <= set(declared_arguments())


def test_launch_file_builds_the_planned_nodes(fr3_calibration, moveit_file):
    """Where launch_ros exists (a ROS install): the launch starts the plan's nodes."""
    pytest.importorskip("launch_ros")
    from launch.actions import IncludeLaunchDescription
    from launch_ros.actions import Node

    from launch import LaunchContext

    spec = importlib.util.spec_from_file_location("real_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description().entities
    values = {**rb.argument_defaults(), "robot_ip": "172.16.0.2",
              "calibration_file": str(fr3_calibration), "moveit_params_file": str(moveit_file)}
    context = LaunchContext()
    context.launch_configurations.update(values)
    actions = module._setup(context)
    plan = rb.real_plan(rb.RealOptions.from_launch(values))
    nodes = [a for a in actions if isinstance(a, Node)]
    assert [n.node_executable for n in nodes] == \
        [n.executable for n in (*plan.graph.nodes, *plan.extra_nodes)]
    assert len([a for a in actions if isinstance(a, IncludeLaunchDescription)]) == 2


# Recording stand-ins for launch, launch_ros, ament_index_python and moveit_configs_utils,
# with the signatures real.launch.py and fr3_moveit_params use (MoveItConfigsBuilder's are
# moveit2 jazzy's). They run the launch file's own code here; they prove nothing about the
# real packages' behaviour.
STUBS = {
    "launch/__init__.py": """
class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
class LaunchDescription(_Recorded):
    @property
    def entities(self):
        return self.args[0]
""",
    "launch/actions.py": """
from launch import _Recorded
class DeclareLaunchArgument(_Recorded): pass
class IncludeLaunchDescription(_Recorded): pass
class LogInfo(_Recorded): pass
class OpaqueFunction(_Recorded): pass
""",
    "launch/launch_description_sources.py": """
from launch import _Recorded
class PythonLaunchDescriptionSource(_Recorded): pass
""",
    "launch/substitutions.py": """
from launch import _Recorded
class PathJoinSubstitution(_Recorded): pass
""",
    "launch_ros/__init__.py": "",
    "launch_ros/actions.py": """
from launch import _Recorded
class Node(_Recorded): pass
""",
    "launch_ros/substitutions.py": """
from launch import _Recorded
class FindPackageShare(_Recorded): pass
""",
    "ament_index_python/__init__.py": "",
    "ament_index_python/packages.py": """
import os
def get_package_share_directory(package):
    if package.startswith("cliport_"):
        raise LookupError(package)
    return os.path.join(os.environ["STUB_SHARE"], package)
""",
    "moveit_configs_utils/__init__.py": """
import json, os
CALLS = []
class _Configs:
    joint_limits = {"robot_description_planning": {"joint_limits": {"fr3_joint1": {
        "has_acceleration_limits": True, "max_acceleration": 15.0}}}}
    pilz_cartesian_limits = {"robot_description_planning": {"cartesian_limits": {
        "max_trans_vel": 1.0}}}
    def to_dict(self):
        return {"robot_description": "<robot name='fr3'/>",
                "ompl": {"planner_configs": {"RRTConnectkConfigDefault": {"type": "x"}}},
                "robot_description_planning": self.pilz_cartesian_limits[
                    "robot_description_planning"], "empty": []}
class MoveItConfigsBuilder:
    def __init__(self, robot_name, robot_description="robot_description", package_name=None):
        CALLS.append(["init", robot_name, package_name])
    def _call(self, name, **kw):
        CALLS.append([name, kw])
        with open(os.environ["STUB_CALLS"], "w") as f:
            json.dump(CALLS, f)
        return self
    def robot_description(self, file_path=None, mappings=None):
        return self._call("robot_description", file_path=file_path, mappings=mappings)
    def robot_description_semantic(self, file_path=None, mappings=None):
        return self._call("robot_description_semantic", file_path=file_path, mappings=mappings)
    def robot_description_kinematics(self, file_path=None):
        return self._call("robot_description_kinematics", file_path=file_path)
    def joint_limits(self, file_path=None):
        return self._call("joint_limits", file_path=file_path)
    def trajectory_execution(self, file_path=None, moveit_manage_controllers=True):
        return self._call("trajectory_execution", file_path=file_path)
    def planning_pipelines(self, default_planning_pipeline=None, pipelines=None,
                           load_all=True):
        return self._call("planning_pipelines", pipelines=pipelines)
    def pilz_cartesian_limits(self, file_path=None):
        return self._call("pilz_cartesian_limits", file_path=file_path)
    def moveit_cpp(self, file_path=None):
        return self._call("moveit_cpp", file_path=file_path)
    def to_moveit_configs(self):
        return _Configs()
""",
}

RUN_LAUNCH = """
import importlib.util, json, sys, types
spec = importlib.util.spec_from_file_location("real_launch", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
entities = module.generate_launch_description().entities
values = {e.args[0]: e.kwargs["default_value"] for e in entities
          if type(e).__name__ == "DeclareLaunchArgument" and "default_value" in e.kwargs}
values.update(json.loads(sys.argv[2]))
(opaque,) = [e for e in entities if type(e).__name__ == "OpaqueFunction"]
actions = opaque.kwargs["function"](types.SimpleNamespace(launch_configurations=values))
out = {"nodes": [], "includes": [], "logs": []}
for a in actions:
    kind = type(a).__name__
    if kind == "Node":
        out["nodes"].append({k: v for k, v in a.kwargs.items() if k != "parameters"}
                            | {"parameters": [p if isinstance(p, dict) else str(p)
                                              for p in a.kwargs["parameters"]]})
    elif kind == "IncludeLaunchDescription":
        parts = a.args[0].args[0].args[0]
        out["includes"].append([parts[0].args[0], *parts[1:], dict(a.kwargs["launch_arguments"])])
    elif kind == "LogInfo":
        out["logs"].append(a.kwargs["msg"])
print(json.dumps(out))
"""


def run_launch_with_stand_ins(tmp_path, values):
    stubs = tmp_path / "stubs"
    for rel, text in STUBS.items():
        (stubs / rel).parent.mkdir(parents=True, exist_ok=True)
        (stubs / rel).write_text(text)
    share = tmp_path / "share" / "moveit_configs_utils" / "default_configs"
    share.mkdir(parents=True)
    (share / "ompl_planning.yaml").write_text(
        "planning_plugins: [ompl_interface/OMPLPlanner]\nstart_state_max_bounds_error: 0.1\n")
    env = {**os.environ, "PYTHONPATH": str(stubs),
           "STUB_SHARE": str(tmp_path / "share"), "STUB_CALLS": str(tmp_path / "calls.json"),
           "TMPDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", RUN_LAUNCH, str(LAUNCH), json.dumps(values)],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_launch_file_code_runs_against_stand_ins(tmp_path, fr3_calibration):
    """FR3 defaults: the driver and camera includes, our three nodes + the static transform,
    and MoveIt parameters built (through the stand-in builder) and handed to the executor."""
    if importlib.util.find_spec("launch_ros") is not None:
        pytest.skip("a real launch_ros is installed: test_launch_file_builds_the_planned_nodes")
    out = run_launch_with_stand_ins(tmp_path, {"robot_ip": "172.16.0.2",
                                               "calibration_file": str(fr3_calibration)})
    assert [n["executable"] for n in out["nodes"]] == \
        ["perception", "policy_node", "pick_place_server", "static_transform_publisher"]
    assert [i[:3] for i in out["includes"]] == [
        ["franka_fr3_moveit_config", "launch", "moveit.launch.py"],
        ["realsense2_camera", "launch", "rs_launch.py"]]
    assert out["includes"][1][3]["align_depth.enable"] == "true"
    executor = out["nodes"][2]
    assert executor["name"] == "pick_place_server"
    assert executor["parameters"][0].endswith("moveit_fr3.params.yaml")
    params_file = Path(executor["parameters"][-1]["moveit.params_file"])
    body = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
    assert body["robot_description_planning"]["joint_limits"]["fr3_joint1"]["max_acceleration"]
    assert body["robot_description_planning"]["cartesian_limits"]["max_trans_vel"] == 1.0
    assert body["ompl"]["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert body["ompl"]["fr3_arm"] == {"planner_configs": ["RRTConnectkConfigDefault"]}
    assert "empty" not in body and "left out, untyped: ['empty']" in out["logs"][0]
    calls = dict((c[0], c[1]) for c in json.loads((tmp_path / "calls.json").read_text()))
    assert calls["robot_description"]["file_path"].endswith(
        "franka_bringup/urdf/franka_arm.urdf.xacro")
    assert calls["robot_description"]["mappings"]["robot_type"] == "fr3"
    assert calls["robot_description_semantic"]["file_path"].endswith(
        "franka_description/robots/fr3/fr3.srdf.xacro")
    assert calls["planning_pipelines"]["pipelines"] == list(rb.PIPELINES)
    for name in ("trajectory_execution", "pilz_cartesian_limits", "moveit_cpp"):
        assert Path(calls[name]["file_path"]).is_file()
    assert not any("WARNING" in line for line in out["logs"])


def test_launch_file_panda_libfranka_against_stand_ins(tmp_path, fr3_calibration):
    if importlib.util.find_spec("launch_ros") is not None:
        pytest.skip("a real launch_ros is installed")
    out = run_launch_with_stand_ins(tmp_path, {
        "robot_ip": "172.16.0.7", "robot_type": "panda_libfranka", "launch_camera": "false",
        "launch_policy": "false", "calibration_file": str(fr3_calibration), "rviz": "true"})
    assert out["includes"] == []
    assert [n["executable"] for n in out["nodes"]] == \
        ["perception", "pick_place_server", "static_transform_publisher", "rviz2"]
    assert out["nodes"][1]["parameters"][-1]["libfranka.hostname"] == "172.16.0.7"
    assert not (tmp_path / "calls.json").exists()
