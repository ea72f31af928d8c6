"""Build a ``launch`` description from a graph YAML (needs ``launch_ros``: a ROS install).

The launch files call :func:`generate_from_graph`, so ``ros2 launch`` starts exactly the
nodes, parameters and remappings the runner starts on machines without ``launch``.
"""

from __future__ import annotations

from cliport_bringup.graph import GraphSpec, load_graph


def node_actions(graph: GraphSpec) -> list:
    from launch_ros.actions import Node

    actions = []
    for spec in graph.nodes:
        params: list = [str(p) for p in spec.parameter_files()]
        if spec.inline_parameters():
            params.append(spec.inline_parameters())
        actions.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            namespace=spec.namespace or None, parameters=params,
            remappings=list(spec.remappings.items()), arguments=list(spec.arguments),
            output="screen",
        ))
    return actions


def generate_from_graph(name: str, extra_actions: list | None = None):
    from launch import LaunchDescription

    return LaunchDescription(node_actions(load_graph(name)) + list(extra_actions or []))
