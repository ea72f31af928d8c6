"""declare_config over a real rclpy node: defaults, overrides, and empty list defaults
(which carry no ROS type of their own)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Inner:
    names: tuple[str, ...] = ()
    gains: tuple[float, ...] = (1.0, 2.0)


@dataclass(frozen=True)
class Cfg:
    rate: float = 2.0
    inner: Inner = field(default_factory=Inner)


def node_with(overrides):
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    return ctx, rclpy.create_node("params_test", context=ctx, parameter_overrides=overrides)


@pytest.mark.parametrize("override, expected", [
    (None, ()), (["front", "left"], ("front", "left"))])
def test_empty_list_defaults_declare_a_typed_array(override, expected):
    from rclpy.parameter import Parameter

    from cliport_common.ros.params import declare_config

    overrides = [] if override is None else [Parameter("inner.names", value=override)]
    ctx, node = node_with(overrides)
    try:
        cfg = declare_config(node, Cfg())
        assert cfg.inner.names == expected and cfg.inner.gains == (1.0, 2.0)
        if override is not None:
            assert node.get_parameter("inner.names").type_ == Parameter.Type.STRING_ARRAY
    finally:
        node.destroy_node()
        ctx.try_shutdown()
