"""Mirror a config dataclass as ROS parameters.

Each node loads its package's YAML defaults into a typed dataclass, declares one ROS
parameter per (flattened, dotted) field with that default, and rebuilds the dataclass
from the parameter values, so ``--params-file`` and ``-p`` overrides go through the same
strict checks as the YAML file.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rclpy.node import Node

from cliport_perception.config import from_dict, to_dict

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


def declare_config(node: Node, defaults: T) -> T:
    """Declare every field of ``defaults`` as a parameter; return the resulting config."""
    flat = flatten(to_dict(defaults))
    values = {}
    for name, default in flat.items():
        param = node.declare_parameter(name, default)
        values[name] = param.value
    return from_dict(type(defaults), unflatten(values), where=node.get_name())
