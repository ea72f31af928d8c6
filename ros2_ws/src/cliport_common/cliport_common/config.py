"""Typed configuration: YAML files in each package's ``config/`` loaded into dataclasses.

Every package keeps its defaults in ``<package>/config/*.yaml``; nodes declare ROS
parameters that mirror the dataclass fields. Loading is strict: an unknown key or a
value of the wrong type is an error naming the file and the key, because a typo in a
robot's configuration must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or value is missing, malformed or of the wrong type."""


def config_dir(package: str) -> Path:
    """Return the ``config/`` folder of a package in any install layout.

    Source tree, ``pip install -e`` and ``colcon build --symlink-install`` keep the folder
    next to the Python package; a plain colcon install has it under ``share/<package>``.
    """
    module = importlib.import_module(package)
    candidates = [Path(module.__file__).resolve().parent.parent / "config"]
    try:  # a real ROS install
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(package)) / "config")
    except Exception:  # noqa: BLE001 - not a ROS install, or the package is not indexed
        pass
    candidates.append(Path(sys.prefix) / "share" / package / "config")
    for path in candidates:
        if path.is_dir():
            return path
    raise ConfigError(f"no config/ folder found for package {package!r} (looked in {candidates})")


def config_path(package: str, filename: str) -> Path:
    """Path of ``filename`` in ``package``'s config folder; must exist."""
    path = config_dir(package) / filename
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    return path


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; empty files give ``{}``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping, not {type(data).__name__}")
    return data


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        from cliport_common.cli import did_you_mean

        hint = "".join(f"; {k!r}: {did_you_mean(str(k), fields, n=1)[2:]}" for k in unknown
                       if did_you_mean(str(k), fields, n=1))
        raise ConfigError(f"{where or cls.__name__}: unknown keys {unknown}{hint}; "
                          f"known: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


def load_config(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file, optionally from one top-level ``section``."""
    data = load_yaml(path)
    if section is not None:
        if section not in data:
            raise ConfigError(f"config {path} has no section {section!r}")
        data = data[section]
    return from_dict(cls, data, where=f"{Path(path).name}:{section or ''}".rstrip(":"))


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain-data view of a config dataclass (tuples become lists, for YAML and ROS params)."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        return v
    return plain(obj)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError("; ".join(errors))
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where=where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_coerce(a, v, f"{where}[{i}]") for i, (a, v) in pairs]
        else:
            item = args[0] if args else Any
            items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


class Check:
    """The value checks of a config dataclass's ``__post_init__``, for the fields it names.

    Each failure is one :class:`ConfigError` line, ``<where>.<field> must be ..., got ...``
    (``where`` is the field's YAML section; empty for a file's top level), with an optional
    ``note`` in brackets. Open-ended bounds need a finite number, and NaN fails every check.
    Why: every package states its limits the same way, so every refusal reads alike.
    """

    def __init__(self, obj: Any, where: str = "") -> None:
        self.obj = obj
        self.where = where

    def label(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, name: str, rule: str, note: str = "") -> ConfigError:
        """The error for field ``name``, which must be ``rule``."""
        extra = f" ({note})" if note else ""
        return ConfigError(f"{self.label(name)} must be {rule}{extra}, "
                           f"got {getattr(self.obj, name)!r}")

    def _each(self, names: tuple[str, ...], ok: typing.Callable[[Any], bool], rule: str,
              note: str) -> None:
        for name in names:
            if not ok(getattr(self.obj, name)):
                raise self.fail(name, rule, note)

    def positive(self, *names: str, note: str = "") -> None:
        """Each field is a finite number > 0."""
        self._each(names, lambda v: math.isfinite(v) and v > 0, "> 0", note)

    def non_negative(self, *names: str, note: str = "") -> None:
        """Each field is a finite number >= 0."""
        self._each(names, lambda v: math.isfinite(v) and v >= 0, ">= 0", note)

    def at_least(self, minimum: int, *names: str, note: str = "") -> None:
        """Each field is >= ``minimum``."""
        self._each(names, lambda v: v >= minimum, f">= {minimum}", note)

    def even(self, minimum: int, *names: str) -> None:
        """Each field is an even integer >= ``minimum``."""
        self._each(names, lambda v: v >= minimum and v % 2 == 0,
                   f"an even number >= {minimum}", "")

    def within(self, name: str, low: float, high: float, *, open_low: bool = False,
               open_high: bool = False, unit: str = "", note: str = "") -> None:
        """The field lies between ``low`` and ``high``, each end included unless open."""
        value = getattr(self.obj, name)
        if not ((low < value if open_low else low <= value)
                and (value < high if open_high else value <= high)):
            span = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
            raise self.fail(name, f"in {span}{' ' + unit if unit else ''}", note)

    def one_of(self, name: str, choices: typing.Iterable[str]) -> None:
        """The field is one of ``choices``."""
        choices = tuple(choices)
        if getattr(self.obj, name) not in choices:
            raise self.fail(name, f"one of {choices}")

    def not_empty(self, *names: str, note: str = "") -> None:
        """Each string field holds more than white space."""
        for name in names:
            if not getattr(self.obj, name).strip():
                extra = f" ({note})" if note else ""
                raise ConfigError(f"{self.label(name)} must not be empty{extra}")

    def length(self, name: str, n: int, what: str) -> None:
        """The field holds ``n`` numbers, ``what`` naming them."""
        if len(getattr(self.obj, name)) != n:
            raise self.fail(name, f"{n} numbers", what)
