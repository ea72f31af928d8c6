"""The libfranka (panda-py) backend for a Panda/FER: the same sequences over stand-ins with
panda-py's call signatures (no Franka or panda-py here), and a clear error without panda-py."""

from __future__ import annotations

import dataclasses
import math
import sys
import threading

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cliport_common.poses import SE2Pose
from cliport_executor.backend import BackendUnavailable, make_backend
from cliport_executor.config import ExecutorConfig, LibfrankaConfig
from cliport_executor.request import ErrorCode, PickPlaceRequest
from cliport_executor.supervision import Supervisor

CFG = ExecutorConfig(backend="libfranka")


class StandInPanda:
    """Records calls with panda_py.Panda's signatures: move_to_pose(position, orientation
    xyzw, speed_factor=...) -> bool, stop_controller(), recover()."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.moves: list[tuple[list[float], list[float], float]] = []
        self.log: list[str] = []
        self.fail_at = fail_at
        self.on_move = None

    def move_to_pose(self, position, orientation, speed_factor=0.2):
        self.moves.append((list(position), list(orientation), speed_factor))
        self.log.append("move")
        if self.on_move is not None:
            self.on_move(len(self.moves))
        if self.fail_at is not None and len(self.moves) == self.fail_at:
            raise RuntimeError("libfranka: Move command aborted: cartesian_reflex")
        return True

    def stop_controller(self):
        self.log.append("stop_controller")

    def recover(self):
        self.log.append("recover")


class StandInGripper:
    """libfranka's Gripper as panda-py binds it: move(width, speed), grasp(width, speed,
    force, epsilon_inner, epsilon_outer), homing(), stop(), each -> bool."""

    def __init__(self, holds: bool = True) -> None:
        self.log: list[tuple] = []
        self.holds = holds

    def move(self, width, speed):
        self.log.append(("move", width))
        return True

    def grasp(self, width, speed, force, epsilon_inner, epsilon_outer):
        self.log.append(("grasp", width, force))
        return self.holds

    def homing(self):
        self.log.append(("homing",))
        return True

    def stop(self):
        self.log.append(("stop",))
        return True


def backend(panda=None, gripper=None, **libfranka):
    cfg = dataclasses.replace(CFG, libfranka=LibfrankaConfig(**libfranka))
    b = make_backend("libfranka", cfg, panda=panda or StandInPanda(),
                     gripper=gripper or StandInGripper())
    b.connect()
    return b


def request(**kw) -> PickPlaceRequest:
    base = dict(instruction="pack the blue block", pick=SE2Pose(0.45, 0.1, 0.04, 0.3),
                place=SE2Pose(0.6, -0.2, 0.04, -0.2))
    base.update(kw)
    return PickPlaceRequest(**base)


def test_pick_place_runs_top_down_cartesian_moves_and_the_gripper():
    panda, gripper = StandInPanda(), StandInGripper()
    b = backend(panda, gripper, goal_to_robot=(0.1, 0.0, 0.02, 0.0), max_speed_factor=0.2)
    out = b.execute(request(), Supervisor())
    assert out.success, out.message
    assert gripper.log[0] == ("homing",)
    # open only to the pre-grasp width, grasp, then let go opening only to the release width
    assert [e[:2] for e in gripper.log[1:]] == [("move", CFG.gripper.pregrasp_width),
                                                ("grasp", CFG.gripper.grasp_width),
                                                ("move", CFG.gripper.release_width)]
    for _position, orientation, speed in panda.moves:
        tool_z = Rotation.from_quat(orientation).apply([0.0, 0.0, 1.0])
        assert np.allclose(tool_z, [0.0, 0.0, -1.0], atol=1e-9)  # always pointing down
        assert 0.0 < speed <= 0.2
    lowest = min(panda.moves, key=lambda m: m[0][2])[0]
    # the pick cell, shifted into panda_link0 by goal_to_robot
    assert lowest[0] == pytest.approx(0.55) and lowest[1] == pytest.approx(0.1)
    assert lowest[2] < 0.04 + 0.02


def test_a_reflex_fails_the_goal_and_runs_libfrankas_recovery():
    panda = StandInPanda(fail_at=3)
    b = backend(panda)
    out = b.execute(request(), Supervisor())
    assert out.error_code == ErrorCode.HARDWARE
    assert "cartesian_reflex" in out.message and "recovered: libfranka" in out.message
    assert panda.log.count("move") == 3  # nothing moved after the fault
    assert panda.log[-1] == "recover" and panda.log.count("recover") == 1


def test_an_empty_grasp_is_a_grasp_failure_not_a_hardware_fault():
    b = backend(gripper=StandInGripper(holds=False))
    out = b.execute(request(), Supervisor())
    assert out.error_code == ErrorCode.GRASP_FAILED


def test_a_stop_mid_motion_stops_the_controller_and_no_further_move_starts():
    panda = StandInPanda()
    b = backend(panda)
    supervisor = Supervisor()
    panda.on_move = lambda n: supervisor.cancel() if n == 2 else None
    worker = threading.Thread(target=lambda: b.execute(request(), supervisor))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert "stop_controller" in panda.log
    assert len(panda.moves) == 2


def test_without_panda_py_connect_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "panda_py", None)
    b = make_backend("libfranka", CFG)
    with pytest.raises(BackendUnavailable, match="pip install panda-python"):
        b.connect()


def test_the_speed_cap_is_bounded():
    with pytest.raises(ValueError, match="max_speed_factor"):
        LibfrankaConfig(max_speed_factor=0.9)
    assert math.isclose(LibfrankaConfig().max_speed_factor, 0.2)
