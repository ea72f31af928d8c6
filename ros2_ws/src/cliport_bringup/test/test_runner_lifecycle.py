"""cliport-run's process lifecycle: every stop signal, a SIGKILLed runner, its log folder.

Each test runs the real ``cliport-run`` (or a real GraphRunner in a process of its own)
with ``TMPDIR`` set to the test's folder: its ``cliport_run_*`` folder lands there, and the
processes it leaves behind are found by that variable in their environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cliport_bringup.runner import GraphRunner

GRAPH = "executor_dryrun"  # one real node: the PickPlace server, dry-run backend
READY = "ready: backend=dryrun"  # the server's log line once it serves
GONE_WITHIN = 10.0  # s for the nodes to go after the runner was told to stop or died


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("cliport-run")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cliport_bringup.runner"]


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _leftovers(tmp_path: Path) -> list[int]:
    """Live processes started with this test's TMPDIR (nodes, their children, watchdogs)."""
    tag = f"TMPDIR={tmp_path}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if tag in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, TMPDIR=str(tmp_path))


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_runner(tmp_path: Path, *args: str, ignore_sigint: bool = False):
    out = tmp_path / "runner.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen([*_cli(), *args], stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=_env(tmp_path),
                                preexec_fn=_ignore_sigint if ignore_sigint else None)
    return proc, out


def _running_graph(tmp_path: Path, *args: str, ignore_sigint: bool = False):
    """cliport-run GRAPH, once its node serves: (runner, output file, node pids, folder)."""
    proc, out = _start_runner(tmp_path, GRAPH, *args, ignore_sigint=ignore_sigint)
    try:
        _wait_for(lambda: "logs in" in out.read_text() or proc.poll() is not None, 60,
                  "cliport-run to start its nodes")
        text = out.read_text()
        assert proc.poll() is None, text
        pids = [int(p) for p in re.findall(r" pid (\d+) ", text)]
        folder = Path(re.search(r"logs in (\S+)", text).group(1))
        logs = list(folder.glob("*.log"))
        _wait_for(lambda: all(READY in log.read_text() for log in logs), 60, "the node")
    except BaseException:
        proc.kill()
        raise
    return proc, out, pids, folder


def _assert_all_gone(tmp_path: Path, pids: list[int]) -> None:
    _wait_for(lambda: not any(_alive(p) for p in pids), GONE_WITHIN, f"nodes {pids} to end")
    _wait_for(lambda: not _leftovers(tmp_path), GONE_WITHIN, "the run's processes to end")
    assert not list(tmp_path.glob("cliport_run_*"))


@pytest.mark.parametrize("sig, ignore_sigint", [
    (signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGINT, False),
    (signal.SIGINT, True)], ids=["SIGTERM", "SIGHUP", "SIGINT", "SIGINT-ignored-at-start"])
def test_a_stop_signal_stops_every_node_and_removes_the_logs(tmp_path, sig, ignore_sigint):
    proc, out, pids, folder = _running_graph(tmp_path, ignore_sigint=ignore_sigint)
    assert pids and folder.parent == tmp_path
    proc.send_signal(sig)
    assert proc.wait(30) == 0, out.read_text()
    assert f"stopping on {sig.name}" in out.read_text()
    _assert_all_gone(tmp_path, pids)


def test_a_sigkilled_runner_takes_its_nodes_and_folder_along(tmp_path):
    proc, out, pids, folder = _running_graph(tmp_path)
    proc.kill()
    proc.wait(10)
    _assert_all_gone(tmp_path, pids)


def test_keep_logs_keeps_the_folder_and_says_where(tmp_path):
    proc, out, pids, folder = _running_graph(tmp_path, "--keep-logs")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    _wait_for(lambda: not _leftovers(tmp_path), GONE_WITHIN, "the run's processes to end")
    assert f"logs kept in {folder}" in out.read_text()
    assert READY in (folder / "pick_place_server.log").read_text()


def test_a_failed_node_keeps_the_logs_and_says_where(tmp_path):
    graph = tmp_path / "bad.yaml"
    graph.write_text(textwrap.dedent("""\
        name: bad
        nodes:
          - {name: server, package: cliport_executor, executable: pick_place_server,
             parameters: [{backend: no_such_backend}]}
        """))
    proc, out = _start_runner(tmp_path, str(graph))
    assert proc.wait(60) == 1
    text = out.read_text()
    assert "node server exited with code" in text and "no_such_backend" in text
    kept = Path(re.search(r"logs kept in (\S+)", text).group(1))
    assert kept.parent == tmp_path and "no_such_backend" in (kept / "server.log").read_text()
    assert not _leftovers(tmp_path)
    shutil.rmtree(kept)


@pytest.mark.parametrize("args, needle", [
    ([os.fsdecode(b"sim\xff")], "argument 1 (\"sim\\xff\") is not valid UTF-8"),
    (["no_such_graph"], "no_such_graph.yaml does not exist"),
    ([GRAPH, "--only", "nobody"], "has no nodes ['nobody']"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, args, needle):
    r = subprocess.run([*_cli(), *args], capture_output=True, env=_env(tmp_path), timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 2 and needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("cliport_run_*"))


def test_the_watchdog_escalates_to_sigkill_and_reaches_a_nodes_children(tmp_path):
    """A runner process (here: a script using GraphRunner) SIGKILLed while its node ignores
    SIGTERM and has a child of its own: the watchdog kills the whole group."""
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")
    host = tmp_path / "host.py"
    host.write_text(
        "import sys, time\n"
        "from cliport_bringup.runner import GraphRunner, RunnerConfig\n"
        "runner = GraphRunner(config=RunnerConfig(terminate_timeout=0.5))\n"
        f"proc = runner.start_command('stubborn', [sys.executable, {str(stubborn)!r}])\n"
        "while not proc.log().strip():\n"
        "    time.sleep(0.05)\n"
        "print(proc.pid, proc.log().split()[0], runner.log_dir, flush=True)\n"
        "time.sleep(600)\n")
    host_proc = subprocess.Popen([sys.executable, str(host)], stdout=subprocess.PIPE,
                                 env=_env(tmp_path))
    try:
        node_pid, child_pid, folder = host_proc.stdout.readline().decode().split()
    finally:
        host_proc.kill()
        host_proc.wait(10)
    assert Path(folder).parent == tmp_path
    _assert_all_gone(tmp_path, [int(node_pid), int(child_pid)])


def test_nodes_do_not_inherit_an_ignored_sigint(tmp_path):
    """Started from a process that ignores SIGINT (a background job), a node still stops
    on the runner's SIGINT, without waiting for SIGTERM."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        runner = GraphRunner(log_dir=tmp_path / "logs")
        proc = runner.start_command("sleeper", ["sleep", "600"])
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        ignored = int(re.search(r"SigIgn:\s*([0-9a-f]+)", status).group(1), 16)
        assert not ignored & (1 << (signal.SIGINT - 1))
    finally:
        codes = runner.stop()
    assert codes == {"sleeper": -signal.SIGINT}
    assert (tmp_path / "logs").is_dir()  # a folder the caller gave is the caller's


def test_a_graph_runner_without_a_log_dir_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with GraphRunner() as runner:
        runner.start_command("sleeper", ["sleep", "600"])
        folder = runner.log_dir
        assert folder.parent == tmp_path and (folder / "sleeper.log").is_file()
    assert not folder.exists() and runner.kept is None
    _wait_for(lambda: not _leftovers(tmp_path), GONE_WITHIN, "the watchdog to end")
