"""The shared graph description, the runner's command lines and its teardown."""

import os
import signal
import sys
import time

import pytest
import yaml

from cliport_bringup.graph import NodeSpec, available_graphs, load_graph
from cliport_bringup.ros_env import local_ros_env
from cliport_bringup.runner import GraphRunner, node_command
from cliport_common.config import ConfigError


def test_every_shipped_graph_loads_and_resolves():
    assert "executor_dryrun" in available_graphs()
    for name in available_graphs():
        graph = load_graph(name)
        assert graph.nodes, name
        for node in graph.nodes:
            node.entry_point()  # the executable is installed
            for path in node.parameter_files():
                assert path.is_file()


def test_node_command_carries_name_remaps_and_parameters(tmp_path):
    spec = NodeSpec(name="arm", package="cliport_executor", executable="pick_place_server",
                    parameters=[{"backend": "dryrun", "dryrun.phase_duration": 0.2}],
                    remappings={"pick_place": "/ur5/pick_place"}, namespace="robot")
    cmd = node_command(spec, tmp_path)
    i = cmd.index("--ros-args")
    assert cmd[i:i + 7] == ["--ros-args", "-r", "__node:=arm", "-r", "__ns:=robot", "-r",
                            "pick_place:=/ur5/pick_place"]
    params = yaml.safe_load((tmp_path / "arm.params.yaml").read_text())
    assert params == {"/**": {"ros__parameters": {"backend": "dryrun",
                                                  "dryrun.phase_duration": 0.2}}}


@pytest.mark.parametrize("text, needle", [
    ("name: g\nnodes:\n  - {name: a, package: cliport_executor, executable: nope}\n",
     "no executable 'nope'"),
    ("name: g\nnodes:\n  - {name: a, pkg: x, executable: y}\n", "unknown keys"),
    ("name: g\nnodes:\n  - {name: a, package: cliport_executor, executable: pick_place_server}\n"
     "  - {name: a, package: cliport_executor, executable: pick_place_server}\n", "unique"),
])
def test_bad_graphs_give_clear_errors(tmp_path, text, needle):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        graph = load_graph(str(path))
        for node in graph.nodes:
            node.entry_point()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_teardown_kills_process_groups_even_when_the_test_fails(tmp_path):
    # A node that ignores SIGINT and SIGTERM and has a child of its own.
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")
    with pytest.raises(RuntimeError, match="boom"), GraphRunner(log_dir=tmp_path) as runner:
        proc = runner.start_command("stubborn", [sys.executable, str(script)])
        end = time.monotonic() + 20
        while not proc.log().strip() and time.monotonic() < end:
            time.sleep(0.05)
        child_pid = int(proc.log().split()[0])
        raise RuntimeError("boom")
    assert not _alive(proc.pid)
    end = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(child_pid)
    assert proc.popen.returncode == -signal.SIGKILL


def test_check_alive_reports_a_crashed_node(tmp_path):
    with GraphRunner(log_dir=tmp_path) as runner:
        proc = runner.start_command("crash", [sys.executable, "-c",
                                              "import sys; print('bad param'); sys.exit(3)"])
        proc.popen.wait(20)
        with pytest.raises(RuntimeError, match="crash exited with code 3:\nbad param"):
            runner.check_alive()


def test_local_env_is_localhost_only():
    env = local_ros_env({"ROS_LOCALHOST_ONLY": "1", "PATH": "/bin"}, domain_id=42)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert "ROS_LOCALHOST_ONLY" not in env
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_PYTHON_CHECK_FIELDS"] == "1"
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"].endswith("fastdds_shm.xml")
    humble = local_ros_env({"ROS_DISTRO": "humble"}, domain_id=3)
    assert humble["ROS_LOCALHOST_ONLY"] == "1"


def test_launch_files_describe_the_runner_graph():
    """Where ``launch_ros`` exists (a ROS install), the launch file starts the same nodes."""
    pytest.importorskip("launch_ros")
    import importlib.util
    from pathlib import Path

    from launch_ros.actions import Node

    path = Path(__file__).resolve().parent.parent / "launch" / "dryrun.launch.py"
    spec = importlib.util.spec_from_file_location("dryrun_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nodes = [a for a in module.generate_launch_description().entities if isinstance(a, Node)]
    graph = load_graph("executor_dryrun")
    assert [n.node_executable for n in nodes] == [n.executable for n in graph.nodes]
