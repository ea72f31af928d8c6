"""Test support: a throw-away installed distribution with modules and entry points, and a
wait that fails with the state it was waiting on.

Registries that find plugins through entry points (perception's RGB-D sources, the
executor's backends) are tested against real package metadata, not a patched lookup.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path


@contextlib.contextmanager
def installed_distribution(root: Path, name: str, modules: Mapping[str, str],
                           entry_points: Mapping[str, Mapping[str, str]]) -> Iterator[Path]:
    """Write ``modules`` (module name -> source) and a ``<name>-0.1.dist-info`` declaring
    ``entry_points`` (group -> {entry name: ``module:attr``}) under ``root`` and put it on
    ``sys.path``; afterwards take it off again and forget the modules."""
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist = root / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items())
        for group, entries in entry_points.items()))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for module in modules:
            sys.modules.pop(module, None)
        importlib.invalidate_caches()


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 10.0,
               poll: float = 0.005, detail: Callable[[], object] = lambda: "") -> None:
    """Poll ``predicate`` until it holds; after ``timeout`` s fail with what was awaited and
    ``detail()``, the state that says why (a bare timeout tells nothing)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= end:
            raise AssertionError(f"timed out waiting for {what}; {detail()}")
        time.sleep(poll)
