"""The console scripts that run the networks: each sets the OpenMP wait policy, then runs its
command (``cliport-train``, ``cliport-eval``, ``cliport-pretrain-clip``, ``policy_node``).

Why here: libgomp reads ``OMP_WAIT_POLICY`` once, when torch loads it, and the commands'
modules import torch, so it is set before they are imported (docs/notes/omp-wait-policy.md).
"""

from __future__ import annotations

import importlib
import os
import sys

WAIT_POLICY = "PASSIVE"


def passive_wait() -> str:
    """Let idle OpenMP threads sleep instead of spin, unless the user chose a policy.

    Returns the policy in force, noting when torch was already loaded (then it changes
    nothing in this process, only in its children)."""
    policy = os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return f"{policy} (too late: torch already loaded)" if "torch" in sys.modules else policy


def _run(module: str, argv: list[str] | None) -> int:
    passive_wait()
    return importlib.import_module(module).main(argv)


def train(argv: list[str] | None = None) -> int:
    """``cliport-train``."""
    return _run("cliport_policy.train", argv)


def evaluate(argv: list[str] | None = None) -> int:
    """``cliport-eval``."""
    return _run("cliport_policy.evaluate", argv)


def pretrain_clip(argv: list[str] | None = None) -> int:
    """``cliport-pretrain-clip``."""
    return _run("cliport_policy.clip_pretrain", argv)


def policy_node(argv: list[str] | None = None) -> int:
    """``policy_node``."""
    return _run("cliport_policy.nodes.policy_node", argv)
