"""The rehearsal graph (``twin``) is real.yaml on the twin: the same nodes, parameters and
topics, apart from the differences the twin needs, each named here."""

from __future__ import annotations

import pytest
import yaml

from cliport_bringup.graph import load_graph, resolve_package_url

# (node, parameter) -> why the twin differs from the real graph
ALLOWED = {
    ("perception", "calibration_file"): "the hand-eye result on the twin",
    ("policy_node", "device"): "the twin runs where no GPU may be",
}
# (node, parameter) only the twin sets -> why
TWIN_ONLY = {
    ("policy_node", "checkpoint"): "the real rig's model is a launch argument; the rehearsal "
                                   "loads the gripper model shipped for the twin",
}


def test_the_twin_graph_is_the_real_graph_on_the_twin():
    real, twin = load_graph("real"), load_graph("twin")
    for node in real.nodes:
        if node.name == "pick_place_server":
            # in the twin's process (it holds the arm), with real.yaml's files and frame
            host = twin.node("twin").inline_parameters()
            files = [p for p in node.parameters if isinstance(p, str)]
            assert host["executor_params"] == files
            assert host["base_frame"] == node.inline_parameters()["base_frame"]
            continue
        mirror = twin.node(node.name)
        assert (mirror.package, mirror.executable) == (node.package, node.executable)
        assert _files(mirror) == _files(node), node.name
        assert mirror.remappings == node.remappings and mirror.namespace == node.namespace
        real_params, twin_params = node.inline_parameters(), mirror.inline_parameters()
        for key, value in real_params.items():
            if (node.name, key) not in ALLOWED:
                assert twin_params[key] == value, (node.name, key)
        extra = {(node.name, k) for k in set(twin_params) - set(real_params)}
        assert extra <= set(TWIN_ONLY), extra
    # every node's base frame is fr3_link0, as in real.yaml
    frames = {n.name: n.inline_parameters().get("base_frame") for n in twin.nodes}
    assert set(frames.values()) == {"fr3_link0"}, frames


def _files(node) -> list[str]:
    return [p for p in node.parameters if isinstance(p, str)]


def _file_parameters(url: str) -> dict:
    data = yaml.safe_load(resolve_package_url(url).read_text())
    return data["/**"]["ros__parameters"]


@pytest.mark.parametrize("graph", ["real", "twin"])
def test_perception_runs_on_the_franka_workspace(graph):
    from cliport_sim.franka.config import load_franka_config

    ws = load_franka_config().workspace
    params: dict = {}
    for url in _files(load_graph(graph).node("perception")):
        params.update(_file_parameters(url))
    params.update(load_graph(graph).node("perception").inline_parameters())
    assert {k: params[f"workspace.{k}"] for k in vars(ws)} == vars(ws)


@pytest.mark.parametrize("arm", ["moveit_fr3", "moveit_panda", "libfranka_fer"])
def test_the_franka_executors_refuse_goals_outside_the_franka_workspace(arm):
    """Same x-y grid as perception's; z up to the task bounds' 0.3 m."""
    from cliport_sim.franka.config import load_franka_config

    ws = load_franka_config().workspace
    params = _file_parameters(f"package://cliport_executor/config/ros/{arm}.params.yaml")
    for key in ("x_min", "x_max", "y_min", "y_max", "z_min", "pixel_size"):
        assert params[f"workspace.{key}"] == getattr(ws, key), key
