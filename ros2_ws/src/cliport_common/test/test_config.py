from dataclasses import dataclass, field

import pytest

from cliport_common.config import (
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
