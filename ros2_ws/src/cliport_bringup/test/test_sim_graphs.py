"""The sim graphs' perception settings fit the sim cameras: no stale-camera warnings in
normal operation (cameras at a few Hz, a reset pausing them for a scene's build)."""

from __future__ import annotations

import pytest

from cliport_bringup.graph import load_graph

SIM_GRAPHS = ("sim", "sim_policy", "teleop_sim")


def _params(graph, name: str) -> dict:
    node = next(n for n in graph.nodes if n.name == name)
    merged: dict = {}
    for p in node.parameters:
        if isinstance(p, dict):
            merged.update(p)
    return merged


@pytest.mark.parametrize("name", SIM_GRAPHS)
def test_perception_waits_several_camera_periods_before_calling_a_sim_camera_stale(name):
    graph = load_graph(name)
    rate = float(_params(graph, "sim").get("camera_rate", 2.0))
    stale_after = float(_params(graph, "perception")["stale_after"])
    assert stale_after >= 4 / rate  # a render (~0.25 s) or a reset may delay a frame
