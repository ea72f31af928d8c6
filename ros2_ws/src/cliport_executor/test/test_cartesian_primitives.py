"""The Cartesian (MoveIt) pick_place / push sequences over a recording fake arm."""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import MotionError, Tool
from cliport_executor.config import MotionConfig
from cliport_executor.primitives import pick_place, push, push_stroke, scalings, travel_height
from cliport_executor.request import PICK_PLACE_PHASES, PUSH_PHASES, ErrorCode, Phase
from cliport_executor.supervision import Supervisor
from cliport_executor.testing import RecordingArm

CFG = MotionConfig()
PICK = SE2Pose(0.45, 0.10, 0.04, 0.3)
PLACE = SE2Pose(0.60, -0.20, 0.05, -1.0)


def run_pick_place(arm, cfg=CFG, speed=0.0, pick=PICK, place=PLACE):
    feedback = []
    sup = Supervisor(lambda ph, f: feedback.append(ph))
    return pick_place(arm, arm, pick, place, cfg, sup, speed), feedback, sup


def moves(arm):
    return [(c[0], round(c[1].x, 4), round(c[1].y, 4), round(c[1].z, 4)) for c in
            arm.calls("free", "lin")]


def test_gripper_pick_place_sequence_heights_and_planners():
    arm = RecordingArm()
    out, feedback, _ = run_pick_place(arm)
    assert out.success
    assert feedback[:7] == list(PICK_PLACE_PHASES)
    travel = 0.25
    grasp_z = PICK.z - CFG.grasp_depth
    release_z = PLACE.z - CFG.grasp_depth + CFG.release_height
    assert moves(arm) == [
        ("free", 0.45, 0.10, travel),  # approach: OMPL to pre-grasp at the travel height
        ("lin", 0.45, 0.10, grasp_z),  # descend: Pilz LIN straight down
        ("lin", 0.45, 0.10, travel),  # lift: straight up
        ("free", 0.60, -0.20, travel),  # transfer: OMPL at the travel height
        ("lin", 0.60, -0.20, round(release_z, 4)),  # place: straight down
        ("lin", 0.60, -0.20, travel),  # retreat: straight up
    ]
    tool = [c[0] for c in arm.log if c[0] in ("open", "grasp", "release")]
    assert tool == ["open", "grasp", "release"]  # let go at the place: release, not open
    # the grasp happens at the bottom of the descent, the release at the bottom of the place
    order = [c[0] for c in arm.log]
    assert order.index("grasp") == 3 and order[7] == "release"
    yaws = [c[1].yaw for c in arm.calls("free", "lin")]
    assert yaws[:3] == [PICK.yaw] * 3 and yaws[3:] == [PLACE.yaw] * 3


def test_scalings_default_to_at_most_0_3_and_goals_only_slow_down():
    arm = RecordingArm()
    run_pick_place(arm, speed=0.5)
    for _kind, _, scaling, *_ in arm.calls("free", "lin"):
        assert scaling.velocity <= 0.3 and scaling.acceleration <= 0.3
    free, lin = scalings(CFG, 0.5)
    assert free.velocity == pytest.approx(0.15) and lin.velocity == pytest.approx(0.05)
    assert scalings(CFG, 0.0) == scalings(CFG, 1.0)
    assert arm.calls("free")[0][2] == free and arm.calls("lin")[0][2] == lin


def test_travel_height_clears_tall_targets_and_no_target_reaches_the_table():
    tall = SE2Pose(0.5, 0.0, 0.28, 0.0)
    assert travel_height(CFG, PICK, tall) == pytest.approx(0.33)
    arm = RecordingArm()
    low = SE2Pose(0.5, 0.0, 0.0, 0.0)  # the heightmap says "table": grasp would be at -15 mm
    run_pick_place(arm, pick=low, place=low)
    assert min(c[1].z for c in arm.calls("free", "lin")) == CFG.min_tcp_z


def test_suction_descends_with_contact_sensing_to_a_bounded_floor():
    arm = RecordingArm(kind="suction", supports_contact=True)
    suction = dataclasses.replace(CFG, min_tcp_z=0.0)  # a suction cup's tip is its TCP
    out, _, _ = run_pick_place(arm, cfg=suction)
    assert out.success
    descents = [c for c in arm.calls("lin") if c[3]]
    assert [round(c[1].z, 4) for c in descents] == [round(PICK.z - CFG.max_below, 4),
                                                   round(PLACE.z - CFG.max_below, 4)]
    no_contact = RecordingArm(kind="suction", supports_contact=False)
    out, _, _ = run_pick_place(no_contact)
    assert out.error_code == ErrorCode.PLANNING_FAILED and "contact" in out.message


class SuctionCup(Tool):
    """A tool with only open and grasp: suction off / on."""

    kind = "suction"

    def __init__(self) -> None:
        self.log: list[str] = []

    def open(self) -> None:
        self.log.append("off")

    def grasp(self) -> bool:
        self.log.append("on")
        return True


def test_a_suction_cup_lets_go_at_the_place_by_switching_off():
    cup, arm = SuctionCup(), RecordingArm(kind="suction", supports_contact=True)
    sup = Supervisor()
    out = pick_place(arm, cup, PICK, PLACE, dataclasses.replace(CFG, min_tcp_z=0.0), sup)
    assert out.success and cup.log == ["off", "on", "off"]


def test_an_empty_grasp_opens_and_backs_straight_up():
    arm = RecordingArm(grasp_ok=False)
    out, feedback, _ = run_pick_place(arm)
    assert out.error_code == ErrorCode.GRASP_FAILED
    assert feedback == [Phase.APPROACH, Phase.DESCEND, Phase.GRASP, Phase.RETREAT,
                        Phase.RETREAT]
    assert moves(arm)[-1] == ("lin", 0.45, 0.10, 0.25)
    assert [c[0] for c in arm.log][-2:] == ["open", "lin"]


def test_a_planning_failure_stops_the_arm_and_names_the_phase():
    arm = RecordingArm()
    arm.fail_at[3] = MotionError(ErrorCode.PLANNING_FAILED, "OMPL found no plan")
    out, _, _ = run_pick_place(arm)
    assert out.error_code == ErrorCode.PLANNING_FAILED
    assert out.message == "transfer: OMPL found no plan"
    assert arm.log[-1] == ("stop",)
    assert arm.calls("open", "release") == [("open",)]  # still holding


def test_cancel_during_a_blocking_motion_stops_it_and_nothing_moves_after():
    arm = RecordingArm()
    arm.block_at = 3  # the transfer trajectory
    feedback = []
    sup = Supervisor(lambda ph, f: feedback.append(ph))
    result = {}

    def worker():
        with sup.on_stop(arm.stop):  # as the MoveIt backend registers stop_execution
            result["out"] = pick_place(arm, arm, PICK, PLACE, CFG, sup)

    t = threading.Thread(target=worker)
    t.start()
    assert arm.blocking.wait(5.0)
    sup.cancel()
    t.join(5.0)
    out = result["out"]
    assert out.error_code == ErrorCode.CANCELED and "transfer" in out.message
    assert arm.motions == 4  # the cut transfer was the last motion
    assert arm.stops >= 1 and arm.calls("open", "release") == [("open",)]  # object kept


def test_push_sequence_geometry_and_closed_tool():
    arm = RecordingArm()
    feedback = []
    sup = Supervisor(lambda ph, f: feedback.append(ph))
    start, end = SE2Pose(0.4, 0.0, 0.02, 0.0), SE2Pose(0.6, 0.0, 0.02, 1.0)
    out = push(arm, arm, start, end, CFG, sup)
    assert out.success and feedback[:4] == list(PUSH_PHASES)
    assert arm.log[0] == ("close",)
    first, last = push_stroke(start, end, CFG)
    assert first.x == pytest.approx(0.38) and last.x == pytest.approx(0.55)
    assert first.z == last.z == CFG.push_z and first.yaw == 0.0
    assert moves(arm) == [("free", 0.38, 0.0, 0.25), ("lin", 0.38, 0.0, CFG.push_z),
                          ("lin", 0.55, 0.0, CFG.push_z), ("lin", 0.55, 0.0, 0.25)]
    diagonal = push_stroke(SE2Pose(0.4, 0.0, 0, 0), SE2Pose(0.5, 0.1, 0, 0), CFG)[0]
    assert diagonal.yaw == pytest.approx(math.pi / 4)


def test_push_with_coincident_ends_is_refused_before_moving():
    arm = RecordingArm()
    out = push(arm, arm, PICK, PICK, CFG, Supervisor())
    assert out.error_code == ErrorCode.INVALID_GOAL and arm.motions == 0
