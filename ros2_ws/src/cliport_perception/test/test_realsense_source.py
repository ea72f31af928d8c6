"""The pyrealsense2 source without a camera: config checks, the shipped defaults, and
clear errors when pyrealsense2 is missing or no device is connected.

Streaming itself is not tested here (no RealSense on these machines)."""

import sys

import pytest

from cliport_common.config import ConfigError
from cliport_perception.sources import SourceError, make_source
from cliport_perception.sources.realsense import (
    RealSenseCamera,
    RealSenseConfig,
    RealSenseSource,
    load_realsense_config,
)

SIM_CAL = "package://cliport_perception/config/calibration_sim_reference.yaml"


def config(**kw):
    args = dict(cameras=[RealSenseCamera("front", "111"), RealSenseCamera("left", "222")],
                calibration_file=SIM_CAL)
    args.update(kw)
    return RealSenseConfig(**args)


def test_shipped_defaults_load_and_need_a_calibration():
    cfg = load_realsense_config()
    assert (cfg.width, cfg.height, cfg.fps) == (640, 480, 30)
    assert cfg.cameras[0].optical_frame == "camera_color_optical_frame"
    with pytest.raises(ConfigError, match="calibration_file is empty"):
        RealSenseSource(cfg)


@pytest.mark.parametrize("changes, needle", [
    (dict(cameras=[]), "at least one camera"),
    (dict(width=0), "width must be a positive integer"),
    (dict(fps=29.97), "fps must be a positive integer"),
    (dict(timeout_ms=True), "timeout_ms must be a positive integer"),
    (dict(warn_period=0.0), "warn_period must be > 0"),
    (dict(cameras=[RealSenseCamera("a", "1"), RealSenseCamera("a", "2")]), "names must be unique"),
    (dict(cameras=[RealSenseCamera("a", "1"), RealSenseCamera("b", "")]), "its own serial"),
    (dict(cameras=[RealSenseCamera("a", "1"), RealSenseCamera("b", "1")]), "its own serial"),
    (dict(cameras=[RealSenseCamera("a", "1", "x"), RealSenseCamera("b", "2", "x")]),
     "optical frames must be unique"),
])
def test_bad_configs(changes, needle):
    with pytest.raises(ConfigError, match=needle):
        config(**changes)


def test_calibration_must_cover_every_camera():
    with pytest.raises(ConfigError, match=r"no extrinsics for camera frames \['top_color"):
        RealSenseSource(config(cameras=[RealSenseCamera("top")]))


def test_made_by_name_from_a_mapping():
    source = make_source("realsense", {
        "cameras": [{"name": "front", "serial": "111"}, {"name": "left", "serial": "222"}],
        "calibration_file": SIM_CAL, "fps": 15})
    assert isinstance(source, RealSenseSource)
    assert source.camera_names == ["front", "left"] and source.config.fps == 15
    with pytest.raises(ConfigError, match="expected an integer"):
        make_source("realsense", {"fps": "30", "calibration_file": SIM_CAL})


def test_connect_without_pyrealsense2_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)  # import now fails
    source = RealSenseSource(config())
    with pytest.raises(SourceError, match="needs pyrealsense2.*pip install pyrealsense2"):
        source.connect()
    assert not source.is_connected
    source.disconnect()


def test_connect_with_no_device_connected():
    rs = pytest.importorskip("pyrealsense2")  # not a project requirement
    if len(rs.context().query_devices()) > 0:
        pytest.skip("a RealSense is connected")
    source = RealSenseSource(config())
    with pytest.raises(SourceError, match="no RealSense device is connected"):
        source.connect()
    assert not source.is_connected
