"""The real-arm bringup decided in plain Python: ``launch/real.launch.py`` only translates it.

What ``ros2 launch cliport_bringup real.launch.py`` starts depends on its arguments: which
driver launch for which robot, the RealSense driver, the calibration's static transform, and
how the ``real`` graph's nodes (``config/graphs/real.yaml``, shared with ``cliport-run``) are
changed by the arguments. :func:`real_plan` makes all of those choices, so they are tested on
machines without ``launch``, franka_ros2 or MoveIt.

The executor's in-process MoveItPy also needs MoveIt's parameters; ``moveit_params.py``
builds them when :func:`needs_built_moveit_params` says so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cliport_bringup.calibration_tf import static_transform_spec
from cliport_bringup.graph import GraphSpec, NodeSpec, load_graph
from cliport_common.config import ConfigError, config_dir

GRAPH = "real"
EXECUTOR_PARAMS = "package://cliport_executor/config/ros/"
POLICY_MODES = ("publish", "execute")  # cliport_policy.node_config.MODES (a test keeps them equal)
CAMERA_PROFILE = re.compile(r"^\d+[x,]\d+[x,]\d+$")  # realsense2_camera: 640x480x30 or 640,480,30
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True)
class RobotProfile:
    """One ``robot_type``: the executor's backend and parameters, and the ROS driver launch."""

    name: str
    backend: str  # the executor backend this robot is driven by
    executor_params: str  # package:// URL of the executor's ROS parameters file
    driver_package: str = ""  # "" = no ROS driver (the executor talks to the arm itself)
    driver_launch: str = ""
    builds_moveit_params: bool = False  # real_bringup can build MoveItPy's parameters for it
    summary: str = ""


ROBOTS = {
    "fr3": RobotProfile(
        "fr3", "moveit", EXECUTOR_PARAMS + "moveit_fr3.params.yaml",
        "franka_fr3_moveit_config", "launch/moveit.launch.py", builds_moveit_params=True,
        summary="FR3 on franka_ros2 Jazzy: ros2_control + fr3_arm_controller + move_group"),
    "panda": RobotProfile(
        "panda", "moveit", EXECUTOR_PARAMS + "moveit_panda.params.yaml",
        "franka_moveit_config", "launch/moveit.launch.py",
        summary="Panda/FER on franka_ros2 Humble v0.1.x (path A; pass moveit_params_file)"),
    "panda_libfranka": RobotProfile(
        "panda_libfranka", "libfranka", EXECUTOR_PARAMS + "libfranka_fer.params.yaml",
        summary="Panda/FER through panda-py (path B): no franka_ros2, no MoveIt"),
}


def parse_bool(name: str, text: str) -> bool:
    value = str(text).strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"argument {name}: expected true or false, got {text!r}")


def _one_of(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"argument {name}: {value!r} is not one of {list(allowed)}")


@dataclass(frozen=True)
class RealOptions:
    """real.launch.py's arguments, typed and checked (the launch file declares these names)."""

    robot_ip: str
    robot_type: str = "fr3"
    use_fake_hardware: bool = False
    load_gripper: bool = True
    ee_id: str = "franka_hand"
    launch_camera: bool = True
    camera_namespace: str = "camera"
    camera_name: str = "camera"
    camera_profile: str = "640x480x30"
    camera_serial: str = ""
    calibration_file: str = ""  # "" = the graph's
    launch_policy: bool = True
    checkpoint: str = ""  # "" = the graph's (none: the policy node refuses with the reason)
    policy_mode: str = "publish"
    device: str = ""  # "" = the graph's
    executor_backend: str = ""  # "" = the robot type's; "dryrun" = the whole loop, no motion
    moveit_params_file: str = ""  # "" = built by fr3_moveit_params (fr3 only)
    rviz: bool = False

    def __post_init__(self) -> None:
        if not self.robot_ip.strip():
            raise ConfigError("argument robot_ip is required: the FCI address of the arm's "
                              "control box (e.g. robot_ip:=172.16.0.2)")
        _one_of("robot_type", self.robot_type, sorted(ROBOTS))
        _one_of("policy_mode", self.policy_mode, POLICY_MODES)
        allowed = ("", "dryrun", self.robot.backend)
        if self.executor_backend not in allowed:
            raise ConfigError(f"argument executor_backend: {self.executor_backend!r} does not "
                              f"fit robot_type {self.robot_type}; use one of {allowed}")
        if self.use_fake_hardware and not self.robot.driver_package:
            raise ConfigError(f"use_fake_hardware is franka_ros2's mock hardware; robot_type "
                              f"{self.robot_type} has no ROS driver. For a run without motion "
                              f"use executor_backend:=dryrun")
        if not CAMERA_PROFILE.match(self.camera_profile):
            raise ConfigError(f"argument camera_profile: expected WIDTHxHEIGHTxFPS (e.g. "
                              f"640x480x30), got {self.camera_profile!r}")
        if not self.camera_name.strip("/"):
            raise ConfigError("argument camera_name must not be empty")

    @classmethod
    def from_launch(cls, values: Mapping[str, Any]) -> RealOptions:
        """From launch configurations (all strings); names this class lacks are ignored."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            text = str(values[f.name])
            kwargs[f.name] = parse_bool(f.name, text) if f.type in ("bool", bool) else text
        kwargs.setdefault("robot_ip", "")
        return cls(**kwargs)

    @property
    def robot(self) -> RobotProfile:
        return ROBOTS[self.robot_type]

    @property
    def backend(self) -> str:
        return self.executor_backend or self.robot.backend

    @property
    def camera(self) -> str:
        """Perception's camera: realsense2_camera's ``<namespace>/<name>`` topic prefix."""
        parts = [p.strip("/") for p in (self.camera_namespace, self.camera_name)]
        return "/".join(p for p in parts if p)


def launch_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def argument_defaults(graph: GraphSpec | None = None) -> dict[str, str]:
    """Every argument's default as launch text; node settings come from the graph, so
    ``ros2 launch ... --show-args`` shows what the nodes will really get."""
    graph = graph or load_graph(GRAPH)
    out = {f.name: launch_text(f.default) for f in fields(RealOptions)
           if f.default is not dataclasses.MISSING}
    perception = graph.node("perception").inline_parameters()
    policy = graph.node("policy_node").inline_parameters()
    cameras = perception.get("cameras") or [out["camera_namespace"] + "/" + out["camera_name"]]
    namespace, _, name = str(cameras[0]).rpartition("/")
    out.update(camera_namespace=namespace, camera_name=name,
               calibration_file=str(perception.get("calibration_file", "")),
               checkpoint=str(policy.get("checkpoint", "")),
               policy_mode=str(policy.get("mode", out["policy_mode"])),
               device=str(policy.get("device", "")))
    return out


# --------------------------------------------------------------------------- the graph


def configure_graph(graph: GraphSpec, options: RealOptions, *, base_frame: str = "",
                    moveit_params_file: str = "") -> GraphSpec:
    """The graph with the arguments applied: the one place that maps arguments to parameters.

    Overrides are appended as inline parameters, which win over the nodes' files in both
    the launch files and the runner. ``base_frame`` (the calibration's frame) goes to all
    three nodes, because perception refuses a calibration in another frame and the policy
    and the executor refuse heightmaps and goals in another frame than theirs.
    """
    robot = options.robot
    overrides: dict[str, dict[str, Any]] = {
        "perception": {"cameras": [options.camera],
                       "calibration_file": options.calibration_file},
        "policy_node": {"mode": options.policy_mode, "device": options.device,
                        "checkpoint": options.checkpoint},
        "pick_place_server": {},
    }
    executor = overrides["pick_place_server"]
    if options.executor_backend:
        executor["backend"] = options.executor_backend
    if options.backend == "moveit":
        executor["moveit.params_file"] = moveit_params_file or options.moveit_params_file
    if options.backend == "libfranka":
        executor["libfranka.hostname"] = options.robot_ip
    for values in overrides.values():
        values["base_frame"] = base_frame

    nodes = []
    for node in graph.nodes:
        if node.name == "policy_node" and not options.launch_policy:
            continue
        params = list(node.parameters)
        if node.name == "pick_place_server":
            params = [robot.executor_params if isinstance(p, str) and p.startswith(EXECUTOR_PARAMS)
                      else p for p in params]
        extra = {k: v for k, v in overrides.get(node.name, {}).items() if v not in ("", None)}
        if extra:
            params.append(extra)
        nodes.append(dataclasses.replace(node, parameters=params))
    return dataclasses.replace(graph, nodes=nodes)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Include:
    """Another package's launch file and the arguments it is included with."""

    package: str
    launch_file: str  # relative to the package's share folder
    arguments: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RealPlan:
    options: RealOptions
    calibration_file: Path
    base_frame: str
    includes: tuple[Include, ...]
    graph: GraphSpec  # our nodes, configured
    extra_nodes: tuple[NodeSpec, ...]  # the static transform, RViz
    notes: tuple[str, ...]  # logged by the launch file


def needs_built_moveit_params(options: RealOptions) -> bool:
    return (options.backend == "moveit" and not options.moveit_params_file
            and options.robot.builds_moveit_params)


def driver_include(options: RealOptions) -> Include | None:
    robot = options.robot
    if not robot.driver_package:
        return None
    args = {"robot_ip": options.robot_ip,
            "use_fake_hardware": launch_text(options.use_fake_hardware)}
    if robot.name == "fr3":
        # use_rviz exists in newer franka_ros2 only; older ones always open MoveIt's RViz.
        args.update(load_gripper=launch_text(options.load_gripper), ee_id=options.ee_id,
                    use_rviz="false")
    return Include(robot.driver_package, robot.driver_launch, args)


def camera_include(options: RealOptions) -> Include | None:
    if not options.launch_camera:
        return None
    args = {"camera_namespace": options.camera_namespace.strip("/"),
            "camera_name": options.camera_name.strip("/"),
            "align_depth.enable": "true", "enable_sync": "true",
            "rgb_camera.color_profile": options.camera_profile,
            "depth_module.depth_profile": options.camera_profile}
    if options.camera_serial:
        args["serial_no"] = options.camera_serial
    return Include("realsense2_camera", "launch/rs_launch.py", args)


def rviz_file() -> Path:
    return config_dir("cliport_bringup").parent / "rviz" / "cliport.rviz"


def real_plan(options: RealOptions, *, moveit_params_file: str = "",
              graph: GraphSpec | None = None) -> RealPlan:
    """Everything real.launch.py starts, or a ConfigError saying what is missing."""
    from cliport_calibration.result_file import CalibrationFileError
    from cliport_calibration.result_file import read as read_handeye
    from cliport_perception.calibration import load_calibration
    from cliport_perception.sources.calibration_file import resolve_file

    graph = graph or load_graph(GRAPH)
    notes: list[str] = []
    url = options.calibration_file or str(
        graph.node("perception").inline_parameters().get("calibration_file", ""))
    try:
        calibration_file = resolve_file(url).resolve()
        base_frame = load_calibration(calibration_file).base_frame
    except ConfigError as exc:
        raise ConfigError(f"calibration_file {url!r}: {exc}. Calibrate the camera first "
                          f"(calibration/README.md) or pass calibration_file:=<file>") from exc
    options = dataclasses.replace(options, calibration_file=str(calibration_file))

    extra_nodes: list[NodeSpec] = []
    try:
        handeye = read_handeye(calibration_file)
        extra_nodes.append(static_transform_spec(calibration_file))
        link = f"{options.camera_name.strip('/')}_link"
        if options.launch_camera and handeye.child_frame != link:
            notes.append(f"the calibration ends at {handeye.child_frame!r} but the camera "
                         f"driver's root frame is {link!r}: the TF tree will not connect")
    except CalibrationFileError as exc:
        notes.append(f"no static transform published ({exc}); publish the cameras' "
                     f"transforms yourself")

    params_file = moveit_params_file or options.moveit_params_file
    if options.backend == "moveit":
        if not params_file:
            raise ConfigError(f"robot_type {options.robot_type}: the executor's MoveItPy needs "
                              f"MoveIt parameters; pass moveit_params_file:=<params.yaml>")
        if not Path(params_file).is_file():
            raise ConfigError(f"moveit_params_file {params_file} does not exist")
        if not options.load_gripper or options.ee_id != "franka_hand":
            notes.append("the moveit backend expects the Franka Hand (TCP "
                         "<arm>_hand_tcp, franka_gripper actions): keep load_gripper:=true "
                         "ee_id:=franka_hand")
        if options.use_fake_hardware:
            notes.append("use_fake_hardware: MoveIt plans but the arm does not move and there "
                         "is no gripper action server (docs/design.md#franka-fake-hardware); "
                         "executor_backend:=dryrun runs the loop without them")
    if options.policy_mode == "execute" and options.launch_policy:
        notes.append("policy_mode execute: every decision is sent to the arm as a PickPlace "
                     "goal")
    if options.rviz:
        extra_nodes.append(NodeSpec(name="rviz2", package="rviz2", executable="rviz2",
                                    arguments=["-d", str(rviz_file())]))

    includes = tuple(i for i in (driver_include(options), camera_include(options)) if i)
    configured = configure_graph(graph, options, base_frame=base_frame,
                                 moveit_params_file=params_file)
    return RealPlan(options, calibration_file, base_frame, includes, configured,
                    tuple(extra_nodes), tuple(notes))
