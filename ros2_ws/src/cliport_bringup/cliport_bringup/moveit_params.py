"""MoveIt's parameters for the executor's in-process MoveItPy on an FR3, and ROS parameter
files.

:func:`fr3_moveit_params` builds them with moveit_configs_utils, imported only there (it needs
a ROS install), from franka's MoveIt config and our pieces in ``config/moveit/``;
:func:`write_ros_params` writes them as a ``/**:`` parameters file for ``moveit.params_file``.
Why not a shipped YAML: the robot description depends on the launch arguments (gripper,
robot_ip, fake hardware).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cliport_bringup.real_bringup import RealOptions, launch_text
from cliport_common.config import config_path, load_yaml


@dataclass(frozen=True)
class MoveItLayout:
    """Where a franka_ros2 MoveIt config keeps its files: not the Setup-Assistant layout
    (URDF in franka_bringup, SRDF in franka_description), so every path is explicit."""

    robot_name: str
    config_package: str
    urdf: tuple[str, str]  # (package, path in its share folder)
    srdf: tuple[str, str]
    kinematics: str  # in config_package
    joint_limits: str
    planning_group: str
    controllers: str  # ours, in cliport_bringup/config/moveit/


FR3_MOVEIT = MoveItLayout(
    robot_name="fr3", config_package="franka_fr3_moveit_config",
    urdf=("franka_bringup", "urdf/franka_arm.urdf.xacro"),
    srdf=("franka_description", "robots/fr3/fr3.srdf.xacro"),
    kinematics="config/kinematics.yaml", joint_limits="config/fr3_joint_limits.yaml",
    planning_group="fr3_arm", controllers="fr3_moveit_controllers.yaml")
PIPELINES = ("ompl", "pilz_industrial_motion_planner")
MOVEIT_CPP = "moveit_cpp.yaml"
PILZ_LIMITS = "pilz_cartesian_limits.yaml"


def shipped_moveit_file(name: str) -> Path:
    """One of our MoveIt pieces in ``cliport_bringup/config/moveit/``."""
    return config_path("cliport_bringup", f"moveit/{name}")


def xacro_mappings(options: RealOptions) -> tuple[dict[str, str], dict[str, str]]:
    """(URDF, SRDF) xacro arguments, the ones franka_fr3_moveit_config's launch uses, so
    MoveItPy gets the same robot as move_group and ros2_control."""
    hand = launch_text(options.load_gripper)
    urdf = {"robot_type": "fr3", "hand": hand, "ee_id": options.ee_id,
            "robot_ip": options.robot_ip,
            "use_fake_hardware": launch_text(options.use_fake_hardware),
            "fake_sensor_commands": "false"}
    return urdf, {"hand": hand, "ee_id": options.ee_id}


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def planning_limits(joint_limits: Mapping[str, Any], cartesian: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """``robot_description_planning`` with both the joint and the Cartesian limits: the
    builder stores both under that one key and a plain dict update keeps only the last
    (moveit2 issue #1691), but Pilz needs the joints' acceleration limits *and* these."""
    return deep_merge(joint_limits, cartesian)


def complete_ompl(ompl: Mapping[str, Any], defaults: Mapping[str, Any], group: str,
                  planner_ids: tuple[str, ...]) -> dict[str, Any]:
    """franka's ompl_planning.yaml holds planner configs only (and stale panda_* groups):
    add the plugin and adapters of moveit_configs_utils' default (the installed MoveIt's
    own schema) and a group entry for ``group`` with the planners the executor asks for."""
    out = deep_merge(defaults, ompl)
    if group not in out:
        known = out.get("planner_configs") or {}
        configs = [p for p in planner_ids if p in known]
        if configs:
            out[group] = {"planner_configs": configs}
    return out


def fr3_moveit_params(options: RealOptions, layout: MoveItLayout = FR3_MOVEIT) -> dict[str, Any]:
    """MoveIt's parameters for MoveItPy on an FR3 (needs moveit_configs_utils: a ROS install)."""
    from ament_index_python.packages import get_package_share_directory
    from moveit_configs_utils import MoveItConfigsBuilder

    from cliport_executor.config import MoveItConfig

    def share(package: str) -> Path:
        return Path(get_package_share_directory(package))

    urdf_map, srdf_map = xacro_mappings(options)
    configs = (
        MoveItConfigsBuilder(layout.robot_name, package_name=layout.config_package)
        .robot_description(file_path=str(share(layout.urdf[0]) / layout.urdf[1]),
                           mappings=urdf_map)
        .robot_description_semantic(file_path=str(share(layout.srdf[0]) / layout.srdf[1]),
                                    mappings=srdf_map)
        .robot_description_kinematics(file_path=layout.kinematics)
        .joint_limits(file_path=layout.joint_limits)
        .trajectory_execution(file_path=str(shipped_moveit_file(layout.controllers)))
        .planning_pipelines(default_planning_pipeline="ompl", pipelines=list(PIPELINES))
        .pilz_cartesian_limits(file_path=str(shipped_moveit_file(PILZ_LIMITS)))
        .moveit_cpp(file_path=str(shipped_moveit_file(MOVEIT_CPP)))
        .to_moveit_configs())
    params = configs.to_dict()
    key = "robot_description_planning"
    params[key] = planning_limits(configs.joint_limits.get(key, {}),
                                  configs.pilz_cartesian_limits.get(key, {}))
    defaults = load_yaml(share("moveit_configs_utils") / "default_configs" / "ompl_planning.yaml")
    params["ompl"] = complete_ompl(params.get("ompl") or {}, defaults, layout.planning_group,
                                   (MoveItConfig().ompl_planner_id,))
    return params


# --------------------------------------------------------------------------- parameter files


def _param_value(key: str, value: Any, dropped: list[str]) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise TypeError(f"parameter {key}: key {k!r} is not a name")
            name = f"{key}.{k}" if key else k
            v = _param_value(name, v, dropped)
            if v is not None:
                out[k] = v
        return out
    if value is None:
        dropped.append(key)
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        items = list(value)
        if not items:  # untyped in a parameters file: rcl cannot give it a type
            dropped.append(key)
            return None
        if all(isinstance(v, bool) for v in items) or all(isinstance(v, str) for v in items):
            return items
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return [float(v) for v in items] if any(isinstance(v, float) for v in items) \
                else items
        raise TypeError(f"parameter {key}: a list must hold one type, got {items!r}")
    raise TypeError(f"parameter {key}: {type(value).__name__} cannot be a ROS parameter")


def ros_params_document(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``{"/**": {"ros__parameters": ...}}`` for any node, and the keys left out: None values
    and empty lists, which a parameters file cannot type. Mixed lists are an error."""
    dropped: list[str] = []
    cleaned = _param_value("", params, dropped)
    return {"/**": {"ros__parameters": cleaned}}, dropped


def write_ros_params(params: Mapping[str, Any], path: str | Path) -> list[str]:
    document, dropped = ros_params_document(params)
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return dropped


def write_fr3_moveit_params(options: RealOptions, directory: str | Path | None = None
                            ) -> tuple[Path, list[str]]:
    """Build and write MoveItPy's parameters; (the file, the keys left out)."""
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="cliport_real_"))
    path = folder / "moveit_py.params.yaml"
    return path, write_ros_params(fr3_moveit_params(options), path)
