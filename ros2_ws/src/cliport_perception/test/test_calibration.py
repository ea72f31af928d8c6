import math

import numpy as np
import pytest

from cliport_common.config import ConfigError
from cliport_perception.calibration import load_calibration, pose_matrix, quaternion_matrix

GOOD = """
base_frame: base
extrinsics:
  front_color_optical_frame:
    position: [1.0, 0.0, 0.75]
    orientation_xyzw: [0.0, 0.0, 0.7071068, 0.7071068]
"""


def test_quaternion_matrix_is_a_rotation():
    R = quaternion_matrix([0.1, -0.2, 0.3, math.sqrt(1 - 0.14)])
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    # 90 degrees about z maps x to y.
    np.testing.assert_allclose(quaternion_matrix([0, 0, math.sin(math.pi / 4),
                                                  math.cos(math.pi / 4)]) @ [1, 0, 0],
                               [0, 1, 0], atol=1e-12)


def test_load_good_file(tmp_path):
    path = tmp_path / "cal.yaml"
    path.write_text(GOOD)
    cal = load_calibration(path)
    T = cal.extrinsic("front_color_optical_frame")
    np.testing.assert_allclose(T[:3, 3], [1.0, 0.0, 0.75])
    np.testing.assert_allclose(T[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-6)
    with pytest.raises(KeyError, match="no extrinsic calibration for camera frame 'left'"):
        cal.extrinsic("left")


@pytest.mark.parametrize("text, needle", [
    (GOOD.replace("0.7071068, 0.7071068", "0.5, 0.5"), "not a unit quaternion"),
    (GOOD.replace("[1.0, 0.0, 0.75]", "[.nan, 0.0, 0.75]"), "non-finite"),
    (GOOD.replace("position", "pos"), "exactly 'position'"),
    ("base_frame: base\nextrinsics: {}\n", "must map camera"),
    (GOOD + "extra: 1\n", "unknown keys"),
])
def test_bad_files(tmp_path, text, needle):
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_calibration(path)


def test_pose_matrix_shape_errors():
    with pytest.raises(ConfigError, match="3 position and 4 quaternion"):
        pose_matrix([0, 0], [0, 0, 0, 1])
