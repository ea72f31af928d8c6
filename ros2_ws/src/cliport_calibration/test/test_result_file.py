"""calibration/<setup>.yaml: written atomically, read back, used by perception and the TF."""

import numpy as np
import pytest
import yaml

from cliport_calibration import result_file, transforms
from cliport_calibration.config import HandEyeConfig
from cliport_calibration.handeye import HandEyeResult, Residual
from cliport_common.config import ConfigError
from cliport_perception.calibration import load_calibration

T_BASE_OPTICAL = transforms.make(np.radians([-120.0, 5.0, 88.0]), (0.9, 0.02, 0.71))
# A RealSense-like camera_link -> camera_color_optical_frame (rotation + 15 mm offset).
T_LINK_OPTICAL = transforms.make(np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]]).T,
                                 (0.0, 0.015, 0.0))


def result(calibration_type="eye_to_hand"):
    residuals = [Residual(0.5, 0.1, False), Residual(9.0, 2.0, True), Residual(0.7, 0.2, False)]
    return HandEyeResult(T_BASE_OPTICAL, calibration_type, "park", residuals, np.eye(4), 60.0,
                         ["rejected sample 1"])


def write(tmp_path, name="lab.yaml", **kw):
    cfg = HandEyeConfig(setup="lab", robot_base_frame="fr3_link0")
    data = result_file.result_to_yaml(result(), cfg, T_child_optical=T_LINK_OPTICAL,
                                      camera_serial="123", robot_type="fr3", **kw)
    return result_file.write(tmp_path / name, data)


def test_the_file_names_every_field_and_reads_back(tmp_path):
    path = write(tmp_path)
    data = yaml.safe_load(path.read_text())
    for key in ("parent_frame", "child_frame", "translation", "rotation_xyzw", "method",
                "n_samples", "residuals", "camera_serial", "intrinsics", "date"):
        assert key in data
    assert data["parent_frame"] == "fr3_link0" and data["child_frame"] == "camera_link"
    assert data["n_samples"] == 3 and data["n_used"] == 2 and data["rejected_samples"] == [1]
    f = result_file.read(path)
    assert transforms.difference(f.T_parent_optical, T_BASE_OPTICAL)[0] < 1e-6
    # What the static TF publishes ends in camera_link, not the optical frame.
    expected_link = T_BASE_OPTICAL @ transforms.invert(T_LINK_OPTICAL)
    assert transforms.difference(f.T_parent_child, expected_link)[0] < 1e-6
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_perception_reads_the_optical_frame_extrinsic(tmp_path):
    cal = load_calibration(write(tmp_path))
    assert cal.base_frame == "fr3_link0"
    T = cal.extrinsic("camera_color_optical_frame")
    assert np.abs(T - T_BASE_OPTICAL).max() < 1e-6


def test_perception_refuses_an_eye_in_hand_file(tmp_path):
    cfg = HandEyeConfig(calibration_type="eye_in_hand")
    data = result_file.result_to_yaml(result("eye_in_hand"), cfg)
    path = result_file.write(tmp_path / "hand.yaml", data)
    with pytest.raises(ConfigError, match="fixed cameras"):
        load_calibration(path)


def test_static_transform_arguments(tmp_path):
    args = result_file.static_transform_arguments(write(tmp_path))
    assert args[-4:] == ["--frame-id", "fr3_link0", "--child-frame-id", "camera_link"]
    values = dict(zip(args[0:14:2], map(float, args[1:14:2]), strict=True))
    T = transforms.from_pose([values["--x"], values["--y"], values["--z"]],
                             [values["--qx"], values["--qy"], values["--qz"], values["--qw"]])
    assert transforms.difference(T @ T_LINK_OPTICAL, T_BASE_OPTICAL)[0] < 1e-6


def test_merge_gives_perceptions_multi_camera_file(tmp_path):
    a = write(tmp_path, "a.yaml")
    data = yaml.safe_load(a.read_text())
    data["optical_frame"] = "left_color_optical_frame"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(data))
    merged = result_file.merge_extrinsics([a, b])
    out = tmp_path / "cameras.yaml"
    out.write_text(yaml.safe_dump(merged))
    cal = load_calibration(out)
    assert sorted(cal.extrinsics) == ["camera_color_optical_frame", "left_color_optical_frame"]
    with pytest.raises(result_file.CalibrationFileError, match="calibrated twice"):
        result_file.merge_extrinsics([a, a])


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.pop("translation"), "missing keys"),
    (lambda d: d.update(rotation_xyzw=[0, 0, 0, 2]), "unit quaternion"),
    (lambda d: d.update(translation=[0, float("nan"), 0]), "finite"),
    (lambda d: d.update(format="other/9"), "format"),
    (lambda d: d.update(optical_in_child="x"), "mapping"),
])
def test_malformed_files_name_the_problem(tmp_path, edit, match):
    data = yaml.safe_load(write(tmp_path).read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(result_file.CalibrationFileError, match=match):
        result_file.read(path)
    (tmp_path / "garbage.yaml").write_text("{not: [yaml")
    with pytest.raises(result_file.CalibrationFileError, match="cannot read"):
        result_file.read(tmp_path / "garbage.yaml")
