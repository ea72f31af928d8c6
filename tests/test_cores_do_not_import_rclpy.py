"""Project rule: every package is a plain-Python core plus thin nodes.

Only modules under ``nodes/`` or ``ros/`` (or named ``*_node.py``) may import rclpy; the
packages' own tests also check at run time that their cores load without it.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

PACKAGES = ["cliport_perception", "cliport_policy", "cliport_executor", "cliport_sim",
            "cliport_calibration", "cliport_teleop"]


def rclpy_importers(package: str) -> list[str]:
    root = pathlib.Path(importlib.import_module(package).__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in ("nodes", "ros") or path.name.endswith("_node.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "rclpy" for n in names):
                offenders.append(str(rel))
    return offenders


@pytest.mark.parametrize("package", PACKAGES)
def test_only_nodes_and_ros_modules_import_rclpy(package):
    assert rclpy_importers(package) == []
