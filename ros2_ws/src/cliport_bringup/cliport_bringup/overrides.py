"""Parameter overrides on a graph from the command line (``cliport-run -p``, ``--task``).

``node.param:=value`` sets ``param`` of node ``node``; a bare ``param:=value`` sets it on
the one node whose graph entry names that parameter. Values are YAML (``3``, ``true``,
``[a, b]``, a path). ``--task NAME`` is ``task:=NAME`` on the graph's simulated world,
checked against the registered tasks (with suggestions for a misspelt name).
"""

from __future__ import annotations

import dataclasses

import yaml

from cliport_bringup.graph import GraphSpec, NodeSpec
from cliport_common.config import ConfigError, load_yaml


def _known_parameters(node: NodeSpec) -> set[str]:
    keys = set(node.inline_parameters())
    for path in node.parameter_files():
        data = load_yaml(path) or {}
        for section in data.values() if isinstance(data, dict) else ():
            if isinstance(section, dict):
                keys.update(section.get("ros__parameters", {}) or {})
    return keys


def parse_override(text: str, graph: GraphSpec) -> tuple[str, str, object]:
    """``node.param:=value`` or ``param:=value`` -> (node, param, value)."""
    target, sep, raw = text.partition(":=")
    if not sep or not target:
        raise ConfigError(f"-p {text!r}: expected node.param:=value or param:=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"-p {text!r}: the value is not YAML: {exc}") from None
    names = [n.name for n in graph.nodes]
    head, dot, rest = target.partition(".")
    if dot and head in names:
        return head, rest, value
    having = [n.name for n in graph.nodes if target in _known_parameters(n)]
    if len(having) == 1:
        return having[0], target, value
    if not having:
        raise ConfigError(f"-p {text!r}: no node of graph {graph.name} names {target!r}; "
                          f"give it as <node>.{target}:=... (nodes: {', '.join(names)})")
    raise ConfigError(f"-p {text!r}: several nodes have {target!r} ({', '.join(having)}); "
                      f"give it as <node>.{target}:=...")


def apply_overrides(graph: GraphSpec, overrides: list[str], task: str | None = None
                    ) -> tuple[GraphSpec, list[str]]:
    """The graph with the overrides appended to its nodes' parameters, and notes for the
    user (a parameter the graph entry does not name, which the node may not declare)."""
    sets: list[tuple[str, str, object]] = [parse_override(o, graph) for o in overrides]
    if task is not None:
        from cliport_sim.tasks import make_task

        worlds = [n.name for n in graph.nodes if "task" in n.inline_parameters()]
        if not worlds:
            raise ConfigError(f"--task: graph {graph.name} has no simulated world to set "
                              f"the task of")
        make_task(task, "test")  # an unknown name is an error with suggestions
        sets += [(w, "task", task) for w in worlds]
    notes = []
    by_node: dict[str, dict[str, object]] = {}
    for node, param, value in sets:
        spec = graph.node(node)
        if param not in _known_parameters(spec):
            notes.append(f"{node}.{param} is not in the graph's entry for {node}; the node "
                         f"ignores it unless it declares that parameter")
        by_node.setdefault(node, {})[param] = value
    nodes = [dataclasses.replace(n, parameters=[*n.parameters, by_node[n.name]])
             if n.name in by_node else n for n in graph.nodes]
    return dataclasses.replace(graph, nodes=nodes), notes
