"""Core (rclpy-free) parts of the executor: requests, validation, conversions, screening,
configuration, dry run."""

import dataclasses
import math
import threading

import pytest

from cliport_common.config import ConfigError
from cliport_common.poses import SE2Pose, quat_from_yaw
from cliport_common.testing import installed_distribution
from cliport_executor import backend as backend_module
from cliport_executor.backend import BackendUnavailable, available_backends, make_backend
from cliport_executor.config import ExecutorConfig, load_executor_config
from cliport_executor.conversions import (
    goal_from_request,
    request_from_goal,
    result_from_outcome,
    yaw_from_quaternion,
)
from cliport_executor.request import ErrorCode, Outcome, Phase, PickPlaceRequest, Primitive
from cliport_executor.screening import ScreeningVerdict, screen_goal
from cliport_executor.supervision import Supervisor
from cliport_executor.validation import GoalError, check_goal, check_workspace
from cliport_msgs.action import PickPlace

CFG = load_executor_config()


def req(**kw):
    base = dict(instruction="pack the blue box", pick=SE2Pose(0.5, 0.1, 0.02, 0.3),
                place=SE2Pose(0.4, -0.2, 0.05, -1.0))
    base.update(kw)
    return PickPlaceRequest(**base)


def test_enums_match_message_constants():
    for code in ErrorCode:
        assert getattr(PickPlace.Result, f"ERROR_{code.name}") == code
    for phase in Phase:
        assert getattr(PickPlace.Feedback, f"PHASE_{phase.name}") == phase
    for prim in Primitive:
        assert getattr(PickPlace.Goal, f"PRIMITIVE_{prim.name}") == prim


def test_shipped_config_loads():
    assert CFG.base_frame == "base" and CFG.backend == "dryrun"
    assert CFG.workspace.z_max == 0.3


def test_shipped_yaml_equals_the_dataclass_defaults():
    """One set of defaults: the YAML documents exactly what the dataclasses hold."""
    assert dataclasses.replace(ExecutorConfig(), workspace=CFG.workspace) == CFG
    assert CFG.moveit.planning_group == "fr3_arm" and CFG.moveit.tcp_link == "fr3_hand_tcp"
    assert CFG.moveit.planning_frame == "fr3_link0"
    assert CFG.motion.velocity_scaling <= 0.3 and CFG.motion.acceleration_scaling <= 0.3


@pytest.mark.parametrize("section, values, needle", [
    ("motion", {"velocity_scaling": 1.5}, "velocity_scaling"),
    ("timeouts", {"grasp": 0.0}, "grasp"),
    (None, {"busy_policy": "queue"}, "busy_policy"),
    ("gripper", {"force": -1.0}, "force"),
    ("gripper", {"release_width": 0.09}, "release_width"),  # wider than the hand opens
    ("gripper", {"release_width": 0.04}, "release_width"),  # would not let go of grasp_width
    ("gripper", {"pregrasp_width": 0.09}, "pregrasp_width"),  # wider than the hand opens
])
def test_unsafe_config_values_are_errors(section, values, needle):
    with pytest.raises(ConfigError, match=needle):
        if section is None:
            dataclasses.replace(ExecutorConfig(), **values)
        else:
            dataclasses.replace(getattr(ExecutorConfig(), section), **values)


def test_screening_decisions():
    good = goal_from_request(req())
    assert screen_goal(good, CFG).verdict == ScreeningVerdict.ACCEPT
    far = goal_from_request(req(place=SE2Pose(1.5, 0.0, 0.02, 0.0)))
    screened = screen_goal(far, CFG)
    assert screened.verdict == ScreeningVerdict.ABORT
    assert screened.code == ErrorCode.OUT_OF_WORKSPACE
    strict = dataclasses.replace(CFG, reject_out_of_workspace=True)
    assert screen_goal(far, strict).verdict == ScreeningVerdict.REJECT
    nan = goal_from_request(req())
    nan.place.pose.position.z = math.nan
    screened = screen_goal(nan, CFG)
    assert screened.verdict == ScreeningVerdict.REJECT and "non-finite" in screened.message
    same = goal_from_request(req(primitive=Primitive.PUSH, place=SE2Pose(0.5, 0.1, 0.0, 0.0)))
    assert screen_goal(same, CFG).verdict == ScreeningVerdict.REJECT  # push direction undefined
    assert screen_goal(object(), CFG).verdict == ScreeningVerdict.REJECT  # not even a goal


@pytest.mark.parametrize("yaw", [0.0, 0.5, -2.0, math.pi - 1e-6])
def test_yaw_round_trip(yaw):
    assert yaw_from_quaternion(*quat_from_yaw(yaw), max_tilt=0.01) == pytest.approx(yaw)


def test_goal_round_trip():
    r = req(primitive=Primitive.PUSH, speed_scaling=0.5)
    back = request_from_goal(goal_from_request(r), CFG.max_tilt)
    assert back.instruction == r.instruction and back.primitive == Primitive.PUSH
    assert back.pick.yaw == pytest.approx(0.3) and back.place.z == pytest.approx(0.05)


@pytest.mark.parametrize("quat, needle", [
    ((0.0, 0.0, 0.0, 2.0), "unit quaternion"),
    ((0.3827, 0.0, 0.0, 0.9239), "tilted"),
    ((math.nan, 0.0, 0.0, 1.0), "non-finite"),
])
def test_bad_orientations(quat, needle):
    with pytest.raises(GoalError, match=needle) as err:
        yaw_from_quaternion(*quat, max_tilt=0.01)
    assert err.value.code == ErrorCode.INVALID_GOAL


@pytest.mark.parametrize("kw, needle", [
    ({"instruction": ""}, "empty"),
    ({"instruction": "x" * 10_000}, "at most"),
    ({"pick": SE2Pose(math.inf, 0, 0, 0)}, "non-finite"),
    ({"frame_id": "world"}, "frame"),
    ({"primitive": 7}, "unknown primitive"),
    ({"speed_scaling": 2.0}, "speed_scaling"),
])
def test_malformed_goals(kw, needle):
    with pytest.raises(GoalError, match=needle) as err:
        check_goal(req(**kw), CFG)
    assert err.value.code == ErrorCode.INVALID_GOAL


def test_workspace_check():
    check_workspace(req(), CFG)
    with pytest.raises(GoalError, match="pick pose") as err:
        check_workspace(req(pick=SE2Pose(0.1, 0, 0, 0)), CFG)
    assert err.value.code == ErrorCode.OUT_OF_WORKSPACE
    lenient = ExecutorConfig(workspace_margin=0.2)
    check_workspace(req(pick=SE2Pose(0.1, 0, 0, 0)), lenient)


def test_result_from_outcome():
    res = result_from_outcome(Outcome.ok(reward=0.5))
    assert res.success and res.has_reward and res.reward == 0.5
    res = result_from_outcome(Outcome.fail(ErrorCode.GRASP_FAILED, "nothing attached"))
    assert not res.success and not res.has_reward and res.error_code == ErrorCode.GRASP_FAILED


def test_dryrun_phases_and_cancel():
    backend = make_backend("dryrun", ExecutorConfig())
    seen = []
    assert backend.execute(req(), Supervisor(lambda p, f: seen.append(p))).error_code \
        == ErrorCode.HARDWARE  # not connected yet
    backend.connect()
    assert backend.execute(req(), Supervisor(lambda p, f: seen.append((p, f)))).success
    assert [p for p, _ in seen][0] == Phase.APPROACH and seen[-1] == (Phase.RETREAT, 1.0)
    sup = Supervisor()
    threading.Timer(0.02, sup.cancel).start()
    out = backend.execute(req(), sup)
    assert not out.success and out.error_code == ErrorCode.CANCELED
    backend.disconnect()


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown executor backend 'ur10'.*'dryrun'.*"
                                         "'cliport_executor.backends' entry point group"):
        make_backend("ur10", ExecutorConfig())
    assert {"dryrun", "moveit", "libfranka"} <= set(available_backends())


def test_a_backend_declared_as_an_entry_point_is_found(tmp_path):
    """A package (the simulator) provides a backend without the executor importing it."""
    module = """
        from cliport_executor.backends.dryrun import DryRunBackend

        class EpArm(DryRunBackend):
            pass

        NOT_A_BACKEND = 42
    """
    entries = {"ep_arm": "ep_arm_backend:EpArm", "ep_broken": "ep_arm_backend:NOT_A_BACKEND",
               "ep_missing": "no_such_module:X"}
    with installed_distribution(tmp_path, "ep-arm-backend", {"ep_arm_backend": module},
                                {"cliport_executor.backends": entries}):
        assert {"ep_arm", "ep_broken", "ep_missing"} <= set(available_backends())
        arm = make_backend("ep_arm", ExecutorConfig())
        assert type(arm).__name__ == "EpArm" and arm.name == "ep_arm"
        arm.connect()
        assert arm.execute(req(), Supervisor()).success
        with pytest.raises(BackendUnavailable, match="not an ArmBackend subclass"):
            make_backend("ep_broken", ExecutorConfig())
        with pytest.raises(BackendUnavailable, match="cannot load entry point no_such_module:X"):
            make_backend("ep_missing", ExecutorConfig())
    backend_module._REGISTRY.pop("ep_arm", None)
    assert "ep_arm" not in available_backends()


@pytest.mark.parametrize("name", ["moveit_fr3", "moveit_panda", "sim", "libfranka_fer"])
def test_shipped_ros_params_files_are_valid_overrides(name):
    """config/ros/*.params.yaml: every key is a real (dotted) config key of the right type."""
    from cliport_common.config import config_dir, from_dict, load_yaml, to_dict
    from cliport_common.ros.params import flatten, unflatten

    params = load_yaml(config_dir("cliport_executor") / "ros" / f"{name}.params.yaml")
    overrides = params["/**"]["ros__parameters"]
    flat = flatten(to_dict(CFG))
    assert set(overrides) <= set(flat), set(overrides) - set(flat)
    cfg = from_dict(ExecutorConfig, unflatten({**flat, **overrides}))
    if name == "moveit_panda":
        assert (cfg.moveit.planning_group, cfg.moveit.tcp_link, cfg.moveit.planning_frame) == \
            ("panda_arm", "panda_hand_tcp", "panda_link0")
        assert cfg.recovery.controllers == ("panda_arm_controller",)
    assert cfg.backend in ("moveit", "sim", "libfranka")


def test_core_modules_load_without_rclpy():
    """Project rule: plain-Python cores, thin nodes. The source check for every package is
    tests/test_package_graph.py; this one checks at run time."""
    import subprocess
    import sys

    code = ("import sys; import cliport_executor.backends.moveit, cliport_executor.primitives, "
            "cliport_executor.screening, cliport_executor.gate; "
            "assert 'rclpy' not in sys.modules, 'rclpy loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
