"""real.launch.py: the launch file compiles, declares every option, and its own code turns the
plan into launch actions (against recording stand-ins of ``launch``, ``launch_ros`` and
``moveit_configs_utils``; built for real only where ``launch_ros`` imports).
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

from cliport_bringup import moveit_params as mp
from cliport_bringup import real_bringup as rb

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parents[2]
LAUNCH = PACKAGE / "launch" / "real.launch.py"


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
    assert calls["planning_pipelines"]["pipelines"] == list(mp.PIPELINES)
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
