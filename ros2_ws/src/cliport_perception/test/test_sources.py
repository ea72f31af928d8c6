"""The RGBDSource interface, the source registry (names and entry points), and the
calibration files a source is pointed at."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from cliport_common.config import ConfigError
from cliport_common.testing import installed_distribution
from cliport_perception.fusion import Fuser
from cliport_perception.sources import (
    RGBDSource,
    SourceError,
    available_sources,
    make_source,
    register_source,
)
from cliport_perception.sources import base as source_base
from cliport_perception.sources.calibration_file import load_source_calibration, resolve_file
from cliport_perception.synthetic import Box, reference_cameras, render
from cliport_perception.workspace import Workspace

BOX = Box((0.5, 0.0), (0.06, 0.06, 0.05), (30, 200, 30))


@dataclass(frozen=True)
class SceneConfig:
    cameras: list[str] = field(default_factory=lambda: ["front", "left", "right"])
    extra_frames: int = 0


class SceneSource(RGBDSource):
    """A real source over the exact synthetic renderer: the reference cameras, one box."""

    config_class = SceneConfig

    def __init__(self, config: SceneConfig) -> None:
        super().__init__(config.cameras)
        self.config = config
        self.opened = 0

    def _connect(self):
        models = {c.frame_id.split("_")[0]: c for c in reference_cameras()}
        self._frames = [render(models[name], [BOX]) for name in self.camera_names]
        self.opened += 1

    def _read(self):
        return self._frames + self._frames[:self.config.extra_frames]

    def _disconnect(self):
        self._frames = []


@pytest.fixture
def registered():
    names = []

    def register(name, cls):
        names.append(name)
        return register_source(name)(cls)

    yield register
    for name in names:
        source_base._REGISTRY.pop(name, None)


def test_lifecycle_order_and_fusion():
    source = SceneSource(SceneConfig(cameras=["right", "front"]))
    with pytest.raises(SourceError, match="not connected"):
        source.get_frames()
    with source:
        assert source.is_connected
        with pytest.raises(SourceError, match="already connected"):
            source.connect()
        frames = source.get_frames()
        assert [f.camera.frame_id for f in frames] == ["right_color_optical_frame",
                                                       "front_color_optical_frame"]
        maps = Fuser(Workspace()).fuse(frames)
        u, v = Workspace().xy_to_pixel(*BOX.center_xy)
        np.testing.assert_allclose(maps.heightmap[u - 2:u + 3, v - 2:v + 3], 0.05, atol=1e-4)
    assert not source.is_connected
    source.disconnect()  # twice is fine


def test_a_source_returning_the_wrong_frames_is_an_error():
    with SceneSource(SceneConfig(cameras=["front"], extra_frames=1)) as source, \
            pytest.raises(SourceError, match="2 frames for 1 cameras"):
        source.get_frames()


@pytest.mark.parametrize("cameras, needle", [([], "at least one"), (["a", "a"], "unique")])
def test_bad_camera_lists(cameras, needle):
    with pytest.raises(ConfigError, match=needle):
        SceneSource(SceneConfig(cameras=cameras))


def test_registry_builds_from_a_dataclass_or_a_strict_mapping(registered):
    registered("scene_test", SceneSource)
    assert "scene_test" in available_sources() and "realsense" in available_sources()
    assert make_source("scene_test", SceneConfig(cameras=["left"])).camera_names == ["left"]
    source = make_source("scene_test", {"cameras": ["front", "left"]})
    assert source.name == "scene_test" and source.camera_names == ["front", "left"]
    with pytest.raises(ConfigError, match=r"unknown keys \['camras'\]"):
        make_source("scene_test", {"camras": ["front"]})
    with pytest.raises(ConfigError, match="needs a SceneConfig or a mapping"):
        make_source("scene_test", ["front"])
    with pytest.raises(SourceError, match="unknown RGB-D source 'nope'.*realsense"):
        make_source("nope", {})


def test_registry_refuses_clashes_and_non_sources(registered):
    registered("scene_test", SceneSource)

    class Other(SceneSource):
        pass

    with pytest.raises(ValueError, match="already taken"):
        register_source("scene_test")(Other)
    with pytest.raises(TypeError, match="RGBDSource subclass"):
        register_source("not_a_source")(dict)


def test_a_source_declared_as_an_entry_point_is_found(tmp_path):
    """A package (the simulator) can provide a source without perception importing it."""
    module = """
        from dataclasses import dataclass
        from cliport_perception.sources import RGBDSource

        @dataclass(frozen=True)
        class Config:
            cameras: tuple = ("top",)

        class EpSource(RGBDSource):
            config_class = Config
            def __init__(self, config):
                super().__init__(list(config.cameras))
            def _connect(self): pass
            def _read(self): return []
            def _disconnect(self): pass

        NOT_A_SOURCE = 42
    """
    entries = {"ep_scene": "ep_scene_source:EpSource",
               "ep_broken": "ep_scene_source:NOT_A_SOURCE", "ep_missing": "no_such_module:X"}
    with installed_distribution(tmp_path, "ep-scene-source", {"ep_scene_source": module},
                                {"cliport_perception.sources": entries}):
        assert {"ep_scene", "ep_broken"} <= set(available_sources())
        source = make_source("ep_scene", {"cameras": ["top", "side"]})
        assert type(source).__name__ == "EpSource" and source.camera_names == ["top", "side"]
        with pytest.raises(SourceError, match="not an RGBDSource subclass"):
            make_source("ep_broken", {})
        with pytest.raises(SourceError, match="cannot load entry point no_such_module:X"):
            make_source("ep_missing", {})
    source_base._REGISTRY.pop("ep_scene", None)


def test_the_sim_reference_calibration_matches_the_reference_cameras():
    cal = load_source_calibration(
        "package://cliport_perception/config/calibration_sim_reference.yaml", "base",
        ["front_color_optical_frame", "left_color_optical_frame", "right_color_optical_frame"])
    for cam in reference_cameras():
        np.testing.assert_allclose(cal.extrinsic(cam.frame_id), cam.extrinsic, atol=1e-9)


def test_calibration_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="calibration_file is empty"):
        load_source_calibration("", "base")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_file(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"expected package://<package>/<path>"):
        resolve_file("package://cliport_perception")
    with pytest.raises(ConfigError, match="resolved to"):
        resolve_file("package://cliport_perception/config/missing.yaml")
    path = tmp_path / "cal.yaml"
    path.write_text("base_frame: world\nextrinsics:\n  cam_optical:\n"
                    "    position: [0, 0, 1]\n    orientation_xyzw: [1, 0, 0, 0]\n")
    with pytest.raises(ConfigError, match="in frame 'world', expected 'base'"):
        load_source_calibration(str(path), "base")
    with pytest.raises(ConfigError, match=r"no extrinsics for camera frames \['other'\]"):
        load_source_calibration(str(path), "world", ["cam_optical", "other"])
