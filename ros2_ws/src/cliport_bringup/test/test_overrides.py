"""cliport-run's -p node.param:=value and --task on the graphs."""

from __future__ import annotations

import pytest

from cliport_bringup.graph import load_graph
from cliport_bringup.overrides import apply_overrides
from cliport_bringup.runner import main
from cliport_common.config import ConfigError


def test_node_param_and_bare_param_overrides_come_last():
    graph, notes = apply_overrides(load_graph("sim_policy"),
                                   ["policy_node.checkpoint:=runs/x/last.ckpt",
                                    "camera_rate:=4", "sim.record_fps:=0"])
    policy = graph.node("policy_node").inline_parameters()
    sim = graph.node("sim").inline_parameters()
    assert policy["checkpoint"] == "runs/x/last.ckpt"
    assert sim["camera_rate"] == 4 and sim["record_fps"] == 0
    assert notes == ["sim.record_fps is not in the graph's entry for sim; the node ignores it "
                     "unless it declares that parameter"]
    # the documented short form: the one node with a checkpoint
    graph, _ = apply_overrides(load_graph("sim_policy"), ["checkpoint:=a.ckpt"])
    assert graph.node("policy_node").inline_parameters()["checkpoint"] == "a.ckpt"


def test_task_sets_the_simulated_worlds_task():
    graph, _ = apply_overrides(load_graph("sim_policy"), [],
                               task="stack-block-pyramid-seq-seen-colors")
    assert graph.node("sim").inline_parameters()["task"] == "stack-block-pyramid-seq-seen-colors"


@pytest.mark.parametrize("override, message", [
    ("nothing", "expected node.param:=value"),
    ("no_such_param:=1", "no node of graph sim_policy names 'no_such_param'"),
    ("mode:=test", "several nodes have 'mode'"),
])
def test_bad_overrides_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(load_graph("sim_policy"), [override])


@pytest.mark.parametrize("args, message", [
    (["sim_policy", "--task", "stack-block-pyramid-seq-seen-color"],
     "did you mean stack-block-pyramid-seq-seen-colors"),
    (["executor_dryrun", "--task", "align-rope"], "has no simulated world"),
    (["sim_policy", "-p", "checkpoint"], "expected node.param:=value"),
])
def test_cliport_run_refuses_them_in_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("cliport-run: error: ") and message in err and err.count("\n") == 1
