"""Benchmark runner: ``python bench/run.py NAME [--quick]`` or ``python bench/run.py --list``.

Each benchmark is a module ``bench/bench_<name>.py`` exposing ``run(quick: bool) -> dict``
returning ``{"name", "ours", "baseline", "unit", "ratio"}`` where ``ratio > 1`` means ours is
better (for times, ``ratio = baseline / ours``).  Discovery is by file name so adding a
benchmark needs no registration step.

Human-readable progress goes to stdout while the benchmark runs; the LAST stdout line is always
exactly one JSON object (the result dict), so scripts can ``tail -n 1 | jq`` without parsing the
prose above it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PREFIX = "bench_"
REQUIRED_KEYS = ("name", "ours", "baseline", "unit", "ratio")


def available() -> list[str]:
    """Names of all benchmarks found next to this file, sorted."""
    return sorted(p.stem[len(PREFIX) :] for p in BENCH_DIR.glob(f"{PREFIX}*.py"))


def load(name: str) -> ModuleType:
    """Import ``bench_<name>.py`` by path, with this directory importable for ``_timing``."""
    path = BENCH_DIR / f"{PREFIX}{name}.py"
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(f"{PREFIX}{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load benchmark module {path}")
    module = importlib.util.module_from_spec(spec)
    # registered under its own name, so a benchmark's functions pickle by reference (a
    # multiprocessing child imports the module from the same directory)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def validate(name: str, result: Any) -> dict[str, Any]:
    """Check a benchmark's return value so a malformed result fails loudly, not downstream."""
    if not isinstance(result, dict):
        raise TypeError(f"benchmark {name!r} returned {type(result).__name__}, expected dict")
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ValueError(f"benchmark {name!r} result is missing keys {missing}")
    for key in ("ours", "baseline", "ratio"):
        value = result[key]
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"benchmark {name!r} result {key}={value!r} is not a finite number")
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (2 for usage errors)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="benchmark name (bench/bench_<name>.py)")
    parser.add_argument("--quick", action="store_true", help="short run for CI / smoke tests")
    parser.add_argument("--list", action="store_true", help="list available benchmarks")
    args = parser.parse_args(argv)

    names = available()
    if args.list:
        for n in names:
            print(n)
        return 0
    if args.name is None:
        parser.print_usage(sys.stderr)
        print(f"error: give a benchmark name; available: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.name not in names:
        print(
            f"error: unknown benchmark {args.name!r}; available: {', '.join(names) or '(none)'}",
            file=sys.stderr,
        )
        return 2

    try:
        module = load(args.name)
    except ImportError as exc:
        print(
            f"error: benchmark {args.name!r} could not import {exc.name or exc}; is the "
            "workspace installed (pip install -e the ros2_ws packages) in this environment?",
            file=sys.stderr,
        )
        return 1
    run = getattr(module, "run", None)
    if not callable(run):
        print(f"error: bench/{PREFIX}{args.name}.py has no run(quick) function", file=sys.stderr)
        return 2
    print(f"running benchmark {args.name!r} (quick={args.quick})", flush=True)
    result = validate(args.name, run(args.quick))
    print(
        f"{result['name']}: ours={result['ours']:.4g} {result['unit']} "
        f"baseline={result['baseline']:.4g} {result['unit']} ratio={result['ratio']:.3g}",
        flush=True,
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
