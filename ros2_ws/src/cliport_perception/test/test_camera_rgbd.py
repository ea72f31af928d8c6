import numpy as np
import pytest

from cliport_perception.camera import CameraError, CameraModel
from cliport_perception.rgbd import FrameError, RGBDFrame, depth_to_uint16
from cliport_perception.synthetic import REFERENCE_K, reference_cameras

K = REFERENCE_K


def test_reference_cameras_look_where_the_spec_says():
    front, left, right = reference_cameras()
    np.testing.assert_allclose(front.extrinsic[:3, :3] @ [0, 0, 1], [-0.7071, 0, -0.7071],
                               atol=1e-4)
    np.testing.assert_allclose(left.extrinsic[:3, :3] @ [0, 0, 1], [0.455, -0.455, -0.766],
                               atol=1e-3)
    np.testing.assert_allclose(right.extrinsic[:3, :3] @ [0, 0, 1], [0.455, 0.455, -0.766],
                               atol=1e-3)
    assert (front.width, front.height, front.fx, front.cx) == (640, 480, 450.0, 320.0)


@pytest.mark.parametrize("T, needle", [
    (np.full((4, 4), np.nan), "non-finite"),
    (np.diag([2.0, 1.0, 1.0, 1.0]), "not a rigid"),
    (np.diag([-1.0, 1.0, 1.0, 1.0]), "not a rigid"),  # a reflection
    (np.eye(3), "4x4"),
])
def test_bad_extrinsics(T, needle):
    with pytest.raises(CameraError, match=needle):
        CameraModel.from_intrinsics_matrix(K, 640, 480, T)


@pytest.mark.parametrize("kw, needle", [
    ({"width": 0}, "size"), ({"fx": -1.0}, "focal"), ({"cy": float("nan")}, "finite"),
    ({"depth_scale": 0.0}, "depth_scale"),
])
def test_bad_intrinsics(kw, needle):
    args = dict(width=640, height=480, fx=450.0, fy=450.0, cx=320.0, cy=240.0)
    args.update(kw)
    with pytest.raises(CameraError, match=needle):
        CameraModel(**args)


def small_camera():
    return CameraModel(4, 3, 2.0, 2.0, 2.0, 1.5)


def test_depth_units_and_missing_values():
    cam = small_camera()
    color = np.zeros((3, 4, 3), np.uint8)
    mm = np.array([[0, 1000, 1500, 65535]] * 3, dtype=np.uint16)
    d, valid = RGBDFrame(color, mm, cam).depth_metres()
    np.testing.assert_allclose(d[0], [0.0, 1.0, 1.5, 65.535], rtol=1e-6)
    assert valid[0].tolist() == [False, True, True, True]
    m = np.array([[np.nan, np.inf, -1.0, 0.75]] * 3, dtype=np.float32)
    d, valid = RGBDFrame(color, m, cam).depth_metres()
    assert valid[0].tolist() == [False, False, False, True]
    assert d[0].tolist() == [0.0, 0.0, 0.0, 0.75]


def test_depth_to_millimetres_marks_what_it_cannot_hold_as_no_reading():
    d = np.array([0.0, 0.4996, 1.2344, 65.535, np.nan, np.inf, -np.inf, -1.0, 0.0004, 65.5356,
                  70.0])
    mm = depth_to_uint16(d)
    assert mm.dtype == np.uint16
    assert mm.tolist() == [0, 500, 1234, 65535, 0, 0, 0, 0, 0, 0, 0]
    # and back: what was kept reads as itself within half a millimetre, the rest as missing
    back, valid = RGBDFrame(np.zeros((1, 11, 3), np.uint8), mm[None],
                            CameraModel(11, 1, 2.0, 2.0, 5.0, 0.0)).depth_metres()
    assert valid[0].tolist() == [m > 0 for m in mm.tolist()]
    np.testing.assert_allclose(back[0][valid[0]], d[valid[0]], atol=5e-4)
    assert depth_to_uint16(np.array([0.5]), depth_scale=0.0001).tolist() == [5000]


@pytest.mark.parametrize("color, depth, needle", [
    (np.zeros((3, 4, 3), np.uint8), np.zeros((4, 3), np.uint16), "depth must have shape"),
    (np.zeros((480, 640, 3), np.uint8), np.zeros((3, 4), np.uint16), "color must be uint8"),
    (np.zeros((3, 4, 3), np.float32), np.zeros((3, 4), np.uint16), "color must be uint8"),
    (np.zeros((3, 4, 3), np.uint8), np.zeros((3, 4), np.int32), "depth must be uint16"),
])
def test_mismatched_frames(color, depth, needle):
    with pytest.raises(FrameError, match=needle):
        RGBDFrame(color, depth, small_camera())
