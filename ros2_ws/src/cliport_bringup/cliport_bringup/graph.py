"""One description of the node graph, read by the launch files *and* the runner.

``ros2 launch`` is not installable from PyPI, so machines like CI's run the graph with
:mod:`cliport_bringup.runner`. Both read the same YAML (``config/graphs/<name>.yaml``),
so the launch files and the runner cannot drift apart::

    name: executor_dryrun
    nodes:
      - name: pick_place_server          # ROS node name
        package: cliport_executor
        executable: pick_place_server    # console_scripts entry point
        parameters:                      # files (package://pkg/path) and inline mappings
          - package://cliport_executor/config/ros/executor.params.yaml
          - {dryrun.phase_duration: 0.1}
        remappings: {pick_place: /arm/pick_place}
        namespace: ""
        arguments: []
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cliport_common.config import ConfigError, config_dir, config_path, from_dict, load_yaml


@dataclass(frozen=True)
class NodeSpec:
    name: str
    package: str
    executable: str
    parameters: list[Any] = field(default_factory=list)
    remappings: dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    arguments: list[str] = field(default_factory=list)

    def parameter_files(self) -> list[Path]:
        return [resolve_package_url(p) for p in self.parameters if isinstance(p, str)]

    def inline_parameters(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for p in self.parameters:
            if isinstance(p, dict):
                merged.update(p)
        return merged

    def entry_point(self) -> tuple[str, str]:
        """(module, function) of the node's console_scripts entry point."""
        for ep in importlib.metadata.entry_points(group="console_scripts"):
            if ep.name == self.executable and ep.module.split(".")[0] == self.package:
                module, _, attr = ep.value.partition(":")
                return module, attr
        raise ConfigError(f"node {self.name!r}: package {self.package} has no executable "
                          f"{self.executable!r} (is it installed?)")


@dataclass(frozen=True)
class GraphSpec:
    name: str
    nodes: list[NodeSpec]
    description: str = ""

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"graph {self.name!r} has no node {name!r}")


def resolve_package_url(url: str) -> Path:
    """``package://pkg/rel/path`` -> the file in that package's tree; plain paths as is."""
    if url.startswith("package://"):
        pkg, _, rel = url[len("package://"):].partition("/")
        parts = Path(rel).parts
        if parts and parts[0] == "config":
            return config_path(pkg, str(Path(*parts[1:])))
        return config_dir(pkg).parent / rel
    path = Path(url)
    if not path.is_file():
        raise ConfigError(f"parameter file {url} does not exist")
    return path


def graph_file(name: str) -> Path:
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    return config_path("cliport_bringup", f"graphs/{name}.yaml")


def load_graph(name: str) -> GraphSpec:
    """Load a graph by name (``config/graphs/<name>.yaml``) or by path."""
    path = graph_file(name)
    spec = from_dict(GraphSpec, load_yaml(path), where=path.name)
    names = [n.name for n in spec.nodes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: node names must be unique, got {names}")
    return spec


def available_graphs() -> list[str]:
    return sorted(p.stem for p in (config_dir("cliport_bringup") / "graphs").glob("*.yaml"))
