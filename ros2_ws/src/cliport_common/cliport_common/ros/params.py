"""Mirror a config dataclass as ROS parameters.

Each node loads its package's YAML defaults into a typed dataclass, declares one ROS
parameter per (flattened, dotted) field with that default, and rebuilds the dataclass
from the parameter values, so ``--params-file`` and ``-p`` overrides go through the same
strict checks as the YAML file.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from rclpy.node import Node
from rclpy.parameter import Parameter

from cliport_common.config import from_dict, to_dict

T = TypeVar("T")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


_ARRAY_TYPES = {str: Parameter.Type.STRING_ARRAY, int: Parameter.Type.INTEGER_ARRAY,
                float: Parameter.Type.DOUBLE_ARRAY, bool: Parameter.Type.BOOL_ARRAY}


def _item_type(cls: type, dotted: str) -> type | None:
    """Element type of the list/tuple field ``dotted`` of dataclass ``cls`` (or None)."""
    hint: Any = cls
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(hint):
            return None
        hint = typing.get_type_hints(hint).get(part)
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return args[0] if typing.get_origin(hint) in (list, tuple) and args else None


def declare_config(node: Node, defaults: T) -> T:
    """Declare every field of ``defaults`` as a parameter; return the resulting config.

    An empty list default carries no ROS type, so it is declared with the array type of its
    field (``tuple[str, ...]`` -> STRING_ARRAY) and reads back as [] when not overridden.
    """
    cls = type(defaults)
    flat = flatten(to_dict(defaults))
    values = {}
    for name, default in flat.items():
        if isinstance(default, list) and not default:
            kind = _ARRAY_TYPES.get(_item_type(cls, name))
            if kind is None:
                raise TypeError(f"{cls.__name__}.{name}: an empty list default needs a "
                                f"list[str|int|float|bool] type hint to become a parameter")
            param = node.declare_parameter(name, kind)
            # Not overridden: typed but uninitialised (reading .value then raises on Jazzy).
            values[name] = (list(param.value) if param.type_ != Parameter.Type.NOT_SET
                            else [])
            continue
        param = node.declare_parameter(name, default)
        values[name] = param.value
    return from_dict(cls, unflatten(values), where=node.get_name())
