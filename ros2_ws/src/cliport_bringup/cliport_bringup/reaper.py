"""The runner's watchdog: stops its nodes and removes its folder when the runner dies.

A SIGKILLed (or crashed) runner runs no clean-up code, and a parent-death signal reaches
only its direct children, once. So :class:`cliport_bringup.runner.GraphRunner` starts this
small process (stdlib only, its own session, deaf to SIGINT and SIGHUP) with a pipe on its
stdin, and tells it, one line each:

* ``group <pgid>``: a node's process group was started;
* ``forget <pgid>``: the runner stopped that group itself;
* ``dir <path>``: the runner's temporary folder; ``keep``: leave that folder in place;
* ``done``: the runner stopped everything itself; exit.

End of file without ``done`` means the runner is gone: every group still registered gets
SIGTERM, then SIGKILL after ``terminate_timeout`` seconds, and the folder is removed
unless it was to be kept. ``python -m cliport_bringup.reaper TERMINATE_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time

POLL_S = 0.05  # s between checks whether a process group has ended


def group_alive(pgid: int) -> bool:
    """Whether a live process (not a zombie waiting for its new parent) is in the group."""
    try:
        pids = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:  # no /proc: any member, zombies included
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def stop_groups(groups: set[int], terminate_timeout: float) -> None:
    """SIGTERM to every group, SIGKILL to those still there after ``terminate_timeout``."""
    for sig, wait in ((signal.SIGTERM, terminate_timeout), (signal.SIGKILL, 0.0)):
        live = {g for g in groups if group_alive(g)}
        for pgid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while live and time.monotonic() < deadline:
            time.sleep(POLL_S)
            live = {g for g in live if group_alive(g)}
        if not live:
            return


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # nobody may be reading any more
        print(f"cliport-run watchdog: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    terminate_timeout = float(argv[0]) if argv else 2.0
    for sig in (signal.SIGINT, signal.SIGHUP):  # the runner's terminal going away is not ours
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    folder: str | None = None
    keep = False
    for raw in sys.stdin.buffer:
        cmd, _, arg = os.fsdecode(raw.rstrip(b"\n")).partition(" ")
        if cmd == "group":
            groups.add(int(arg))
        elif cmd == "forget":
            groups.discard(int(arg))
        elif cmd == "dir":
            folder = arg
        elif cmd == "keep":
            keep = True
        elif cmd == "done":
            return 0
    live = {g for g in groups if group_alive(g)}
    if live:
        _say(f"the runner ended without stopping its nodes; stopping process groups "
             f"{sorted(live)}")
        stop_groups(live, terminate_timeout)
    if folder and os.path.isdir(folder):
        if keep:
            _say(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
