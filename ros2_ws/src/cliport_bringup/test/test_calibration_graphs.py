"""The calibration graphs and the calibration's static transform."""

import importlib.util
from pathlib import Path

import pytest

from cliport_bringup.calibration_tf import static_transform_spec
from cliport_bringup.graph import load_graph

REPO = Path(__file__).resolve().parents[4]


def test_the_shipped_sim_calibration_becomes_a_static_transform():
    spec = static_transform_spec(REPO / "calibration" / "sim_eye_to_hand_front.yaml")
    assert (spec.package, spec.executable) == ("tf2_ros", "static_transform_publisher")
    args = dict(zip(spec.arguments[::2], spec.arguments[1::2], strict=True))
    assert args["--frame-id"] == "base" and args["--child-frame-id"] == "front_color_optical_frame"
    # the reference front camera sits at (1.0, 0, 0.75); the calibration is within 5 mm
    assert abs(float(args["--x"]) - 1.0) < 5e-3 and abs(float(args["--z"]) - 0.75) < 5e-3


def test_calibration_graphs_name_installed_executables():
    for name in ("handeye_sim", "handeye_fr3"):
        for node in load_graph(name).nodes:
            assert node.entry_point()[0].startswith("cliport_calibration.nodes.")
            for path in node.parameter_files():
                assert path.is_file()


@pytest.mark.parametrize("name", ["handeye_sim", "calibration_tf", "calibrate_fr3", "sim",
                                  "sim_policy", "teleop_sim"])
def test_calibration_launch_files_build(name):
    """Where launch_ros exists (a ROS install) the launch files build a description."""
    pytest.importorskip("launch_ros")
    path = Path(__file__).resolve().parent.parent / "launch" / f"{name}.launch.py"
    spec = importlib.util.spec_from_file_location(f"{name}_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description().entities
