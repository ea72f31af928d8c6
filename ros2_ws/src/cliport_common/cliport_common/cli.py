"""Shared command-line behaviour for every ``cliport-*`` tool: errors a user can fix are one
line on stderr with exit code 2 (never a traceback), and a misspelt name gets suggestions.

Plain Python, the lowest package, so every CLI uses this one copy.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Iterable

from cliport_common.config import ConfigError


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> str:
    """``"; did you mean a, b?"`` for the closest of ``known`` to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def error_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def one_line_errors(prog: str, *errors: type[BaseException]) -> Callable:
    """Decorate a CLI ``main(argv) -> int``: :class:`ConfigError` (a config typo, a missing
    file) and ``errors`` (e.g. an unreadable checkpoint) print ``<prog>: error: <message>``
    and return 2."""
    caught = (ConfigError, *errors)

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return main(argv)
            except caught as exc:
                print(f"{prog}: error: {error_line(exc)}", file=sys.stderr)
                return 2

        return run

    return wrap
