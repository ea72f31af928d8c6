from dataclasses import dataclass, field, replace

import pytest

from cliport_common.config import (
    Check,
    ConfigError,
    config_dir,
    config_path,
    from_dict,
    load_config,
    to_dict,
)
from cliport_perception.workspace import Workspace


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    count: int = 1
    enabled: bool = False
    inner: Inner = field(default_factory=Inner)
    pair: tuple[float, float] = (0.0, 0.0)
    optional: str | None = None


def test_nested_round_trip():
    cfg = from_dict(Outer, {"name": "a", "count": 3, "enabled": True,
                            "inner": {"rate": 2, "names": ["p", "q"]}, "pair": [1, 2.5]})
    assert cfg == Outer("a", 3, True, Inner(2.0, ("p", "q")), (1.0, 2.5))
    assert from_dict(Outer, to_dict(cfg)) == cfg


@pytest.mark.parametrize("data, needle", [
    ({"nmae": "a"}, "unknown keys ['nmae']"),
    ({"count": "3"}, "count: expected an integer"),
    ({"count": True}, "count: expected an integer"),
    ({"enabled": "yes"}, "enabled: expected true/false"),
    ({"inner": {"rate": "fast"}}, "inner.rate: expected a number"),
    ({"pair": [1.0]}, "pair: expected 2 items"),
    ({"inner": 3}, "expected a mapping"),
])
def test_bad_values_name_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        from_dict(Outer, data)


def test_load_config_sections_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("outer:\n  name: b\n")
    assert load_config(Outer, path, "outer").name == "b"
    with pytest.raises(ConfigError, match="no section 'other'"):
        load_config(Outer, path, "other")
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(Outer, path)
    path.write_text("outer: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(Outer, tmp_path / "missing.yaml")


def test_package_config_files_are_found_and_valid():
    assert config_dir("cliport_perception").name == "config"
    ws = load_config(Workspace, config_path("cliport_perception", "workspace.yaml"), "workspace")
    assert ws == Workspace()
    with pytest.raises(ConfigError, match="does not exist"):
        config_path("cliport_perception", "nope.yaml")


@dataclass(frozen=True)
class Limits:
    speed: float = 0.5
    margin: float = 0.0
    scaling: float = 1.0
    threads: int = 2
    crop: int = 64
    mode: str = "fast"
    frame: str = "base"
    pose: tuple[float, ...] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check = Check(self, "arm")
        check.positive("speed")
        check.non_negative("margin", note="0 = none")
        check.within("scaling", 0.0, 1.0, open_low=True, unit="of the limits")
        check.at_least(2, "threads")
        check.even(8, "crop")
        check.one_of("mode", ("fast", "slow"))
        check.not_empty("frame")
        check.length("pose", 3, "x y z")


@pytest.mark.parametrize("values, message", [
    ({"speed": 0.0}, "arm.speed must be > 0, got 0.0"),
    ({"speed": float("inf")}, "arm.speed must be > 0, got inf"),
    ({"margin": float("nan")}, "arm.margin must be >= 0 (0 = none), got nan"),
    ({"scaling": 0.0}, "arm.scaling must be in (0, 1] of the limits, got 0.0"),
    ({"scaling": 1.5}, "arm.scaling must be in (0, 1] of the limits, got 1.5"),
    ({"threads": 1}, "arm.threads must be >= 2, got 1"),
    ({"crop": 63}, "arm.crop must be an even number >= 8, got 63"),
    ({"crop": 6}, "arm.crop must be an even number >= 8, got 6"),
    ({"mode": "warp"}, "arm.mode must be one of ('fast', 'slow'), got 'warp'"),
    ({"frame": " "}, "arm.frame must not be empty"),
    ({"pose": (1.0, 2.0)}, "arm.pose must be 3 numbers (x y z), got (1.0, 2.0)"),
])
def test_checks_refuse_with_one_line_naming_the_field(values, message):
    with pytest.raises(ConfigError) as info:
        replace(Limits(), **values)
    assert str(info.value) == message


def test_checks_through_the_loader_and_at_the_top_level():
    with pytest.raises(ConfigError, match=r"^arm.threads must be >= 2, got 0$"):
        from_dict(Limits, {"threads": 0})

    @dataclass(frozen=True)
    class Top:
        port: int = 80

        def __post_init__(self) -> None:
            Check(self).within("port", 0, 65535)

    with pytest.raises(ConfigError, match=r"^port must be in \[0, 65535\], got 70000$"):
        Top(70000)
