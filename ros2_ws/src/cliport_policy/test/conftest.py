"""Fixtures shared by the cliport_policy tests: a tiny random agent and five real demos."""

from __future__ import annotations

import pytest
import torch

from cliport_policy.agents import make_agent
from cliport_policy.config import load_policy_config

TASK = "put-block-in-bowl-seen-colors"


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_policy_config("tiny")


@pytest.fixture(scope="session")
def tiny_agent(tiny_cfg):
    torch.manual_seed(0)
    return make_agent(tiny_cfg.model).eval()


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """Five oracle demos of put-block-in-bowl (train) and two val demos, generated once."""
    from cliport_sim.demos import generate

    root = tmp_path_factory.mktemp("demos")
    generate(TASK, "train", 5, root, progress=False)
    generate(TASK, "val", 2, root, progress=False)
    return root


@pytest.fixture(scope="session")
def demos(demo_root):
    from cliport_sim.dataset import Dataset, episode_dir

    return Dataset(episode_dir(demo_root, TASK, "train"), cache_episodes=8)
