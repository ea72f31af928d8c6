"""The teleop recorder on the Franka twin (graph ``teleop_twin``), as real processes over real
DDS, driven in headless Chromium: the page opened with its token, the instruction typed, a
pick clicked on the block and dragged along the grasp yaw, a place clicked in the bowl and
dragged; the twin's PickPlace server runs the moveit backend's sequence and the block lands
in the bowl; the step is accepted and the episode ended. The episode on disk loads in
training (``cliport_policy.data``) with the dragged grasp yaw as its pick rotation label.

The operator is scripted from the twin's oracle (``cliport_teleop.ros.oracle_operator``,
what ``scripts/record_teleop_episodes.py`` runs). The twin renders 3 frames per simulated
second and runs unpaced, as in test_twin_stack."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cliport_bringup.graph import load_graph
from cliport_common.ros.spin import spin_until
from cliport_teleop.testing import TEST_TOKEN, Page, free_port

pytestmark = pytest.mark.timeout(240)
FAST = {"seed": 10005, "camera_fps": 3.0, "idle_camera_rate": 5.0, "real_time_factor": 0.0}
N_ROTATIONS = 36


def test_the_teleop_graph_runs_the_rehearsals_twin_and_perception():
    rehearsal, teleop = load_graph("twin"), load_graph("teleop_twin")
    for name in ("twin", "perception"):
        assert teleop.node(name) == rehearsal.node(name), name
    recorder = teleop.node("teleop_recorder").inline_parameters()
    assert recorder["gripper"] == "parallel"


def test_a_dragged_grasp_yaw_is_executed_on_the_twin_and_loads_in_training(
        node_runner, ros_node, tmp_path):
    from cliport_common.poses import yaw_of
    from cliport_policy.data import collate
    from cliport_policy.labels import grasp_difference, loaded_picks
    from cliport_sim.dataset import Dataset
    from cliport_teleop.browser import BrowserUnavailable, TeleopPage, chromium
    from cliport_teleop.ros.oracle_operator import (
        SimWatcher,
        graph_with,
        record_episodes,
        yaw_of_pose,
    )

    try:
        driver = chromium()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    port = free_port()
    graph = graph_with(load_graph("teleop_twin"), {
        "twin": FAST,
        "teleop_recorder": {"dataset_dir": str(tmp_path / "data"), "port": port,
                            "token": TEST_TOKEN}})
    try:
        node_runner.start(graph)
        sim = SimWatcher(ros_node)

        def wait(predicate, timeout: float) -> bool:
            return spin_until(ros_node, predicate, timeout, node_runner)

        api = Page(port)
        assert wait(lambda: sim.current_oracle() is not None and (s := api.state())
                    and s["grid"] and not s["views_missing"], 120)
        page = TeleopPage(driver, api.page_url, wait)
        page.until(lambda: page.status() == "ready", 30, "the page is not ready")
        assert "grasp yaw" in page.text("help")  # the parallel gripper's instructions
        oracle = sim.current_oracle()
        grasp_yaw = yaw_of_pose(oracle.pick)
        assert abs(math.degrees(grasp_yaw)) > 5, "a seed whose block needs a turned grasp"

        records = record_episodes(page, sim, 1, wait, log=lambda _line: None)
    finally:
        driver.quit()

    (episode,) = records
    assert episode.saved and episode.total_reward > 0.99, [s.status for s in episode.steps]
    step = episode.steps[0]
    assert step.success, step.status
    (pu, pv, shown_yaw), (qu, qv, _) = step.shown
    # the page shows the dragged grasp yaw (degrees, rounded), folded into [-90, 90)
    assert (pu, pv, qu, qv) == (oracle.pick_u, oracle.pick_v, oracle.place_u, oracle.place_v)
    assert abs(math.degrees(shown_yaw - grasp_yaw)) <= 1.0

    data = Dataset(tmp_path / "data" / "teleop-twin-pick-place-train")
    assert len(data) == 1
    ep = data.episode(0)
    assert ep.meta["gripper"] == "parallel" and ep.meta["calibration_id"] == "franka_twin_handeye"
    assert ep.meta["pixel_size"] == pytest.approx(0.002) and ep.colormap.shape[1:3] == (320, 160)
    assert ep.pick_pix.tolist() == [[pu, pv]] and ep.reward[1] > 0.99
    assert abs(math.degrees(yaw_of(ep.pose0[0, 3:]) - shown_yaw)) <= 1.0
    assert data.views(0).depth_mm.shape[:2] == (2, 1)  # the one camera, raw, per observation
    # training's loader: a parallel-gripper model's pick label stands for the dragged yaw
    (loaded,) = loaded_picks(data, N_ROTATIONS)
    assert grasp_difference(loaded.yaw, grasp_yaw) <= math.radians(360 / N_ROTATIONS), loaded
    batch = collate([(0, data.sample(0, 0))], pick_rotations=N_ROTATIONS)
    assert int(batch.pick_rot[0]) == loaded.label and batch.pick.tolist() == [[pu, pv]]
    assert np.isfinite(batch.img.numpy()).all()
