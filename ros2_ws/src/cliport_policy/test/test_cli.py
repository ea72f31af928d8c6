"""cliport_policy.cli: the OpenMP wait policy is chosen by the console scripts, not on import."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

PROBE = """
import os, sys
import cliport_policy, cliport_policy.poses
print(os.environ.get("OMP_WAIT_POLICY", "unset"))
from cliport_policy.cli import passive_wait
print(passive_wait(), os.environ["OMP_WAIT_POLICY"], "torch" in sys.modules)
"""


def _probe(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return out.split("\n")[:2]


def test_import_leaves_the_environment_and_the_launcher_sets_passive_before_torch():
    assert _probe() == ["unset", "PASSIVE PASSIVE False"]


def test_a_policy_the_user_set_wins():
    assert _probe(OMP_WAIT_POLICY="ACTIVE") == ["ACTIVE", "ACTIVE ACTIVE False"]


def test_too_late_once_torch_is_loaded(monkeypatch):
    import torch  # noqa: F401

    from cliport_policy.cli import passive_wait

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert passive_wait() == "PASSIVE (too late: torch already loaded)"


def test_the_torch_commands_start_through_the_launcher():
    scripts = {ep.name: ep.value
               for ep in importlib.metadata.entry_points(group="console_scripts")
               if ep.value.startswith("cliport_policy.")}
    for name in ("cliport-train", "cliport-eval", "cliport-pretrain-clip", "policy_node"):
        assert scripts[name].startswith("cliport_policy.cli:"), name
