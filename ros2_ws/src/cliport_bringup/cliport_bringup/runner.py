"""Run a node graph as real processes, for machines without ``ros2 launch``.

Reads the same :mod:`cliport_bringup.graph` description as the launch files. Every node
runs in its own process group with the local ROS environment; stopping (Ctrl-C, an
exception in a test, the end of a ``with`` block) sends SIGINT, then SIGTERM, then
SIGKILL to each group, so no node outlives its runner.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import yaml

from cliport_bringup.graph import GraphSpec, NodeSpec, available_graphs, load_graph
from cliport_bringup.ros_env import local_ros_env


def node_command(spec: NodeSpec, params_dir: Path) -> list[str]:
    """The command line that runs one node, as ``ros2 run`` plus ``--ros-args`` would."""
    module, func = spec.entry_point()
    cmd = [sys.executable, "-c",
           f"import sys; from {module} import {func} as m; sys.exit(m())",
           *spec.arguments, "--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        cmd += ["-r", f"__ns:={spec.namespace}"]
    for src, dst in spec.remappings.items():
        cmd += ["-r", f"{src}:={dst}"]
    for path in spec.parameter_files():
        cmd += ["--params-file", str(path)]
    inline = spec.inline_parameters()
    if inline:
        path = params_dir / f"{spec.name}.params.yaml"
        path.write_text(yaml.safe_dump({"/**": {"ros__parameters": inline}}))
        cmd += ["--params-file", str(path)]
    return cmd


class NodeProcess:
    """One running node process with its own process group and log file."""

    def __init__(self, spec: NodeSpec, cmd: list[str], env: dict[str, str], log_path: Path):
        self.spec = spec
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGINT, then SIGTERM, then SIGKILL to the whole process group."""
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            if self.popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)
        # Children the node may have started share its group: make sure they are gone too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()
        return self.popen.returncode


class GraphRunner:
    """Start nodes (a whole graph or single specs) and always stop them.

    Use as a context manager; ``stop()`` is idempotent.
    """

    def __init__(self, env: dict[str, str] | None = None, log_dir: str | Path | None = None):
        self.env = env if env is not None else local_ros_env()
        self._tmp = tempfile.TemporaryDirectory(prefix="cliport_run_")
        self.log_dir = Path(log_dir) if log_dir else Path(self._tmp.name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, NodeProcess] = {}

    def start_node(self, spec: NodeSpec) -> NodeProcess:
        if spec.name in self.processes:
            raise ValueError(f"a node named {spec.name!r} is already running")
        cmd = node_command(spec, Path(self._tmp.name))
        proc = NodeProcess(spec, cmd, self.env, self.log_dir / f"{spec.name}.log")
        self.processes[spec.name] = proc
        return proc

    def start_command(self, name: str, cmd: list[str]) -> NodeProcess:
        """Start an arbitrary command (a test's helper node) under the same supervision."""
        if name in self.processes:
            raise ValueError(f"a node named {name!r} is already running")
        spec = NodeSpec(name=name, package="", executable=cmd[0])
        proc = NodeProcess(spec, cmd, self.env, self.log_dir / f"{name}.log")
        self.processes[name] = proc
        return proc

    def start(self, graph: GraphSpec | str, only: Iterable[str] | None = None) -> list[NodeProcess]:
        graph = load_graph(graph) if isinstance(graph, str) else graph
        wanted = set(only) if only is not None else None
        return [self.start_node(n) for n in graph.nodes if wanted is None or n.name in wanted]

    def check_alive(self) -> None:
        """Raise with the node's log if any node has exited."""
        for name, proc in self.processes.items():
            if not proc.alive():
                raise RuntimeError(f"node {name} exited with code {proc.popen.returncode}:\n"
                                   f"{proc.log()[-4000:]}")

    def stop(self) -> dict[str, int | None]:
        codes = {name: proc.stop() for name, proc in reversed(list(self.processes.items()))}
        self.processes.clear()
        return codes

    def __enter__(self) -> GraphRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self._tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cliport-run", description="Run a cliport node graph without ros2 launch.")
    parser.add_argument("graph", nargs="?", help=f"graph name or YAML path ({available_graphs()})")
    parser.add_argument("--only", nargs="*", help="start only these nodes")
    parser.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: keep or derive)")
    parser.add_argument("--log-dir", help="where node logs go (default: a temporary folder)")
    parser.add_argument("--list", action="store_true", help="list the graphs and exit")
    args = parser.parse_args(argv)
    if args.list or not args.graph:
        print("\n".join(available_graphs()))
        return 0
    graph = load_graph(args.graph)
    env = local_ros_env(domain_id=args.domain_id)
    with GraphRunner(env=env, log_dir=args.log_dir) as runner:
        procs = runner.start(graph, args.only)
        print(f"started graph {graph.name} (ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}):")
        for p in procs:
            print(f"  {p.spec.name:24s} pid {p.pid}  log {p.log_path}")
        try:
            while all(p.alive() for p in procs):
                time.sleep(0.5)
            runner.check_alive()
        except KeyboardInterrupt:
            print("stopping...")
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
