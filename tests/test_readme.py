"""Every command block of README.md works as written, as far as it can run here.

The README's fenced ``bash`` blocks are read; a block after a ``<!-- hardware -->`` comment
(a real arm, a ROS install, or the CI's own two commands: ``<!-- hardware: why -->``) is
skipped. In the others, every command must be one this checkout has: a ``make`` target
(its recipe checked the same way, from ``make -n``), an installed ``cliport-*`` program or
a script in the repository. Every option a command uses must be one the program's
``--help`` lists, and a graph named to ``cliport-run`` one that ``cliport-run --list``
knows. Commands that finish at once (``--list``, ``--help``) are run for real.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
MARKER = re.compile(r"<!--\s*hardware\b[^>]*-->\s*$")
SEPARATORS = {"&&", "||", ";", "&", "|"}


def readme_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line number, body, skipped) of every ``bash`` block."""
    blocks = []
    for m in FENCE.finditer(text):
        if m.group(1) != "bash":
            continue
        before = text[:m.start()].rstrip("\n").splitlines()
        skipped = bool(before) and bool(MARKER.search(before[-1]))
        blocks.append((text.count("\n", 0, m.start()) + 1, m.group(2), skipped))
    return blocks


def commands(body: str) -> list[list[str]]:
    """The block's commands as argument lists (comments and line continuations removed)."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():
        tokens = shlex.split(line, comments=True)
        cmd: list[str] = []
        for tok in [*tokens, ";"]:
            if tok in SEPARATORS:
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(tok)
    return out


@functools.cache
def help_text(program: str, *sub: str) -> str:
    """``program [sub] --help`` of an installed console script, run in this process (its
    entry point's main with that argv: no interpreter start and torch import per program)."""
    import contextlib
    import importlib
    import io
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == program]
    module, _, attr = ep.value.partition(":")
    main = getattr(importlib.import_module(module), attr)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([*sub, "--help"])
    assert done.value.code in (0, None), f"{program} {' '.join(sub)} --help failed"
    return out.getvalue()


@functools.cache
def graphs() -> list[str]:
    r = subprocess.run([str(BIN / "cliport-run"), "--list"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def options(cmd: list[str]) -> list[str]:
    return [t.split("=", 1)[0] for t in cmd[1:] if t.startswith("-") and t != "-"]


def check_command(cmd: list[str], where: str) -> None:
    program = cmd[0].removeprefix(".venv/bin/")
    if program == "make":
        for target in cmd[1:]:
            r = subprocess.run(["make", "-n", target], capture_output=True, text=True,
                               cwd=ROOT, timeout=30)
            assert r.returncode == 0, f"{where}: make {target}: {r.stderr}"
            for line in r.stdout.splitlines():
                if "-m cliport_" in line or "bin/cliport-" in line:
                    check_command(_module_command(shlex.split(line)), f"{where} (make {target})")
        return
    if program.startswith(".venv/bin/python") or program == "python":
        script = ROOT / cmd[1]
        assert script.is_file(), f"{where}: no script {cmd[1]}"
        return
    assert (BIN / program).is_file(), f"{where}: {program} is not installed"
    sub = []
    if program == "cliport-topic":
        sub = [cmd[1]]
    text = help_text(program, *sub)
    for opt in options(cmd):
        assert re.search(rf"(^|[\s\[,]){re.escape(opt)}([\s\]=,]|$)", text, re.M), (
            f"{where}: `{' '.join(cmd)}`: {program} {' '.join(sub)} has no option {opt}")
    if program == "cliport-run":
        names = [t for t in cmd[1:] if not t.startswith("-")]
        values = _option_values(cmd)
        graph = next((t for t in names if t not in values), None)
        if graph is not None:
            assert graph in graphs(), f"{where}: cliport-run knows no graph {graph!r}"
    if set(cmd[1:]) & {"--list", "--help"}:
        r = subprocess.run([str(BIN / program), *cmd[1:]], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
        assert r.returncode == 0, f"{where}: `{' '.join(cmd)}` failed: {r.stderr}"


def _option_values(cmd: list[str]) -> set[str]:
    """Tokens that are the values of options (``--domain-id 42``, ``-p a:=b``)."""
    values = set()
    for a, b in zip(cmd[1:], cmd[2:], strict=False):
        if a.startswith("-") and "=" not in a and not b.startswith("-"):
            values.add(b)
    return values


def _module_command(tokens: list[str]) -> list[str]:
    """``.venv/bin/python -m cliport_x.y.z ARGS`` -> ``<its console script> ARGS``."""
    i = tokens.index("-m") if "-m" in tokens else None
    if i is None:
        return [Path(tokens[0]).name, *tokens[1:]]
    module = tokens[i + 1]
    scripts = {"cliport_bringup.nodes.demo": "cliport-demo"}
    return [scripts.get(module, module), *tokens[i + 2:]]


README = (ROOT / "README.md").read_text()
BLOCKS = readme_blocks(README)
# The training recipes a newcomer follows next, checked the same way.
RECIPES = [ROOT / "ros2_ws/src/cliport_policy/README.md",
           ROOT / "ros2_ws/src/cliport_policy/models/README.md"]


def test_the_readme_has_command_blocks_and_marks_the_hardware_ones():
    assert len(BLOCKS) >= 4
    assert any(skipped for *_, skipped in BLOCKS) and any(not s for *_, s in BLOCKS)


@pytest.mark.parametrize("line, body", [(n, b) for n, b, skipped in BLOCKS if not skipped],
                         ids=lambda v: f"line{v}" if isinstance(v, int) else "")
def test_readme_block_works_as_written(line, body):
    for cmd in commands(body):
        check_command(cmd, f"README.md line {line}")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.parent.name)
def test_the_training_recipes_work_as_written(path):
    for line, body, skipped in readme_blocks(path.read_text()):
        for cmd in commands(body) if not skipped else []:
            if cmd[0] in ("torchrun", "cp"):  # a GPU cluster's launcher; a plain copy
                continue
            check_command([c for c in cmd if not c.startswith("[")],  # [optional] args
                          f"{path.relative_to(ROOT)} line {line}")


def test_a_wrong_option_is_caught():
    with pytest.raises(AssertionError, match="has no option --no-such-option"):
        check_command(["cliport-run", "sim", "--no-such-option"], "here")
    with pytest.raises(AssertionError, match="knows no graph"):
        check_command(["cliport-run", "no_such_graph"], "here")


def test_the_run_folders_are_ignored():
    r = subprocess.run(["git", "check-ignore", "data/x", "runs/x", "demo/x"],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode == 128:
        pytest.skip("not a git checkout")
    assert r.stdout.split() == ["data/x", "runs/x", "demo/x"]
