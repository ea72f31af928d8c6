"""Run a node graph as real processes, for machines without ``ros2 launch``.

Reads the same :mod:`cliport_bringup.graph` description as the launch files. No node
outlives its runner:

* every node runs in its own process group (a stop reaches the node's own children); a
  stop sends SIGINT, then SIGTERM, then SIGKILL to the groups still running, with the
  waits of ``config/runner.yaml``;
* ``cliport-run`` stops the graph on SIGINT, SIGTERM (``docker stop``, systemd, CI
  time-outs) and SIGHUP, with its handlers installed explicitly: a background job starts
  with SIGINT ignored, which children would inherit;
* a node started from the main thread gets SIGTERM when the runner dies, even by SIGKILL
  (Linux ``PR_SET_PDEATHSIG``), and a watchdog process (:mod:`cliport_bringup.reaper`)
  stops the groups left behind and removes the temporary folder.

Without ``log_dir`` the node logs (and generated parameter files) go to a temporary
``cliport_run_*`` folder that is removed when the graph stops, unless ``keep_logs`` is set
or a node failed: then it stays and :attr:`GraphRunner.kept` names it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from cliport_bringup.graph import GraphSpec, NodeSpec, available_graphs, load_graph
from cliport_bringup.ros_env import local_ros_env, undecodable_argument
from cliport_common.config import Check, ConfigError, config_path, load_config

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class RunnerConfig:
    interrupt_timeout: float = 5.0  # s after SIGINT before SIGTERM
    terminate_timeout: float = 2.0  # s after SIGTERM before SIGKILL
    kill_timeout: float = 2.0  # s after SIGKILL to collect the exit status
    poll_interval: float = 0.2  # s between cliport-run's checks that every node runs

    def __post_init__(self) -> None:
        check = Check(self, "runner")
        check.non_negative("interrupt_timeout", "terminate_timeout", "kill_timeout")
        check.positive("poll_interval")


def load_runner_config(path: str | Path | None = None) -> RunnerConfig:
    """``config/runner.yaml`` of this package, or ``path``."""
    return load_config(RunnerConfig, path or config_path("cliport_bringup", "runner.yaml"),
                       "runner")


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


def _libc_function(name: str):
    """A libc function through ctypes, looked up in the parent (never after a fork)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_function("prctl")
_SIGNAL = _libc_function("signal")
if _SIGNAL is not None:
    _SIGNAL.argtypes, _SIGNAL.restype = (ctypes.c_int, ctypes.c_void_p), ctypes.c_void_p


def child_setup(parent_pid: int, death_signal: bool) -> Callable[[], None]:
    """``preexec_fn`` for a node: default SIGINT/SIGTERM/SIGHUP (an ignored signal is
    inherited across exec: a background job's SIGINT would not stop its nodes) and, where
    ``death_signal``, SIGTERM when the parent dies. Only async-signal-safe libc calls."""
    def setup() -> None:
        if _SIGNAL is not None:
            for sig in STOP_SIGNALS:
                _SIGNAL(int(sig), None)  # NULL is SIG_DFL
        if death_signal and _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)
    return setup


class NodeProcess:
    """One running node process with its own process group and log file."""

    def __init__(self, spec: NodeSpec, cmd: list[str], env: dict[str, str], log_path: Path):
        self.spec = spec
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # PR_SET_PDEATHSIG fires when the forking *thread* ends: only from the main thread.
        on_main = threading.current_thread() is threading.main_thread()
        self.popen = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=child_setup(os.getpid(), on_main))

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:  # a temporary folder removed after the stop
            return ""

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, config: RunnerConfig | None = None) -> int | None:
        """SIGINT, then SIGTERM, then SIGKILL to the whole process group."""
        stop_processes([self], config or RunnerConfig())
        return self.popen.returncode


def stop_processes(procs: list[NodeProcess], config: RunnerConfig) -> None:
    """Escalate SIGINT -> SIGTERM -> SIGKILL over all groups at once (the slowest node
    sets the time, not the sum), in the given order within each step."""
    pending = [p for p in procs if p.alive()]
    for sig, wait in ((signal.SIGINT, config.interrupt_timeout),
                      (signal.SIGTERM, config.terminate_timeout),
                      (signal.SIGKILL, config.kill_timeout)):
        if not pending:
            break
        for proc in pending:
            proc.signal_group(sig)
        deadline = time.monotonic() + wait
        while pending and time.monotonic() < deadline:
            time.sleep(0.02)
            pending = [p for p in pending if p.alive()]
    for proc in procs:
        proc.signal_group(signal.SIGKILL)  # children the node left in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(config.kill_timeout)
        proc._log.close()


class GraphRunner:
    """Start nodes (a whole graph or single specs) and always stop them.

    Use as a context manager; ``stop()`` is idempotent, and the runner may start nodes
    again after it (with a new temporary folder where there is no ``log_dir``).
    """

    def __init__(self, env: dict[str, str] | None = None, log_dir: str | Path | None = None,
                 keep_logs: bool = False, config: RunnerConfig | None = None):
        self.env = env if env is not None else local_ros_env()
        self.config = config or load_runner_config()
        self.keep_logs = keep_logs
        self._own_dir = log_dir is None
        self.log_dir: Path | None = None if log_dir is None else Path(log_dir)
        self.processes: dict[str, NodeProcess] = {}
        self.failed = False  # a node exited by itself with an error
        self.kept: Path | None = None  # the temporary folder left in place by the last stop
        self._reaper: subprocess.Popen | None = None
        self._reaper_pipe = None

    # ------------------------------------------------------------------ starting
    def _folder(self) -> Path:
        """The logs and parameter files' folder; a temporary one is made on first use."""
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="cliport_run_"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._reaper is None:
            self._start_reaper()
        return self.log_dir

    def _start_reaper(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self._reaper = subprocess.Popen(
                [sys.executable, "-c", "import sys; from cliport_bringup.reaper import main; "
                 "sys.exit(main())", str(self.config.terminate_timeout)],
                stdin=read_fd, stdout=subprocess.DEVNULL, env=self.env,
                start_new_session=True)
        finally:
            os.close(read_fd)
        self._reaper_pipe = os.fdopen(write_fd, "wb", buffering=0)
        if self._own_dir:
            self._tell(f"dir {self.log_dir}")

    def _tell(self, line: str) -> None:
        if self._reaper_pipe is not None:
            with contextlib.suppress(OSError):  # a dead watchdog must not stop the graph
                self._reaper_pipe.write(os.fsencode(line) + b"\n")

    def _launch(self, name: str, spec: NodeSpec, cmd_for: Callable[[Path], list[str]]):
        if name in self.processes:
            raise ValueError(f"a node named {name!r} is already running")
        folder = self._folder()
        proc = NodeProcess(spec, cmd_for(folder), self.env, folder / f"{name}.log")
        self.processes[name] = proc
        self._tell(f"group {proc.pid}")
        return proc

    def start_node(self, spec: NodeSpec) -> NodeProcess:
        return self._launch(spec.name, spec, lambda folder: node_command(spec, folder))

    def start_command(self, name: str, cmd: list[str]) -> NodeProcess:
        """Start an arbitrary command (a test's helper node) under the same supervision."""
        spec = NodeSpec(name=name, package="", executable=cmd[0])
        return self._launch(name, spec, lambda _folder: cmd)

    def start(self, graph: GraphSpec | str, only: Iterable[str] | None = None) -> list[NodeProcess]:
        graph = load_graph(graph) if isinstance(graph, str) else graph
        wanted = set(only) if only is not None else None
        return [self.start_node(n) for n in graph.nodes if wanted is None or n.name in wanted]

    # ------------------------------------------------------------------ watching, stopping
    def check_alive(self) -> None:
        """Raise with the node's log if any node has exited."""
        for name, proc in self.processes.items():
            if not proc.alive():
                self.failed = True
                raise RuntimeError(f"node {name} exited with code {proc.popen.returncode}:\n"
                                   f"{proc.log()[-4000:]}")

    def stop(self) -> dict[str, int | None]:
        """Stop every node; remove the temporary folder unless it is to be kept."""
        procs = list(reversed(self.processes.values()))
        self.failed |= any(not p.alive() and p.popen.returncode != 0 for p in procs)
        stop_processes(procs, self.config)
        codes = {p.spec.name: p.popen.returncode for p in procs}
        for proc in procs:
            self._tell(f"forget {proc.pid}")
        self.processes.clear()
        if self._own_dir and self.log_dir is not None:
            if self.keep_logs or self.failed:
                self.kept = self.log_dir
                self._tell("keep")
            else:
                shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
        self._stop_reaper()
        return codes

    def _stop_reaper(self) -> None:
        if self._reaper is None:
            return
        self._tell("done")
        with contextlib.suppress(OSError):
            self._reaper_pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._reaper.wait(5.0)
        self._reaper, self._reaper_pipe = None, None

    def __enter__(self) -> GraphRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cliport-run", description="Run a cliport node graph without ros2 launch.")
    parser.add_argument("graph", nargs="?", help=f"graph name or YAML path ({available_graphs()})")
    parser.add_argument("--only", nargs="*", help="start only these nodes")
    parser.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: keep or derive)")
    parser.add_argument("--log-dir", help="where node logs go (default: a temporary folder, "
                                          "removed at exit)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the temporary log folder (it is kept anyway when a node fails)")
    parser.add_argument("--config", help="runner config YAML (default: the package's "
                                         "config/runner.yaml)")
    parser.add_argument("--list", action="store_true", help="list the graphs and exit")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NODE.PARAM:=VALUE",
                        help="override a node parameter (repeatable), e.g. "
                             "-p policy_node.checkpoint:=runs/x/checkpoints/last.ckpt; "
                             "a bare PARAM:=VALUE sets the one node that has it")
    parser.add_argument("--task", help="the simulated world's task, e.g. "
                                       "stack-block-pyramid-seq-seen-colors (sim graphs)")
    args = parser.parse_args(argv)
    if args.list or not args.graph:
        print("\n".join(available_graphs()))
        return 0
    # Installed before anything starts: explicit handlers replace an inherited SIG_IGN.
    requested: list[int] = []
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: requested.append(signum))
    problem = undecodable_argument(sys.argv[1:] if argv is None else argv)
    try:
        if problem:
            raise ConfigError(problem)
        graph = load_graph(args.graph)
        if args.param or args.task:
            from cliport_bringup.overrides import apply_overrides

            try:
                graph, notes = apply_overrides(graph, args.param, args.task)
            except ValueError as exc:  # a misspelt task: UnknownTaskError, with suggestions
                raise ConfigError(str(exc).split(" Known tasks:")[0]) from None
            for note in notes:
                print(f"cliport-run: note: {note}", file=sys.stderr)
        names = [n.name for n in graph.nodes]
        unknown = sorted(set(args.only or ()) - set(names))
        if unknown:
            raise ConfigError(f"graph {graph.name} has no nodes {unknown}; it has {names}")
        specs = [n for n in graph.nodes if args.only is None or n.name in args.only]
        if not specs:
            raise ConfigError(f"nothing to start: --only names none of {names}")
        for spec in specs:
            spec.entry_point()
        config = load_runner_config(args.config)
    except ConfigError as exc:
        print(f"cliport-run: error: {exc}", file=sys.stderr)
        return 2
    env = local_ros_env(domain_id=args.domain_id)
    runner = GraphRunner(env=env, log_dir=args.log_dir, keep_logs=args.keep_logs, config=config)
    code = 0
    try:
        print(f"starting graph {graph.name} (ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}):", flush=True)
        for spec in specs:
            if requested:
                break
            p = runner.start_node(spec)
            print(f"  {p.spec.name:24s} pid {p.pid}  log {p.log_path}", flush=True)
        if not args.log_dir and not requested:
            print(f"logs in {runner.log_dir} (removed at exit; --keep-logs keeps them)",
                  flush=True)
        while not requested and all(p.alive() for p in runner.processes.values()):
            time.sleep(config.poll_interval)
        if not requested:
            runner.check_alive()
    except RuntimeError as exc:
        print(f"cliport-run: {exc}", file=sys.stderr)
        code = 1
    finally:
        if requested:
            print(f"stopping on {signal.Signals(requested[0]).name}...", flush=True)
        runner.stop()
    if runner.kept is not None:
        print(f"logs kept in {runner.kept}", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
