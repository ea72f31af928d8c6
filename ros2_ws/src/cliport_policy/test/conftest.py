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


@pytest.fixture(scope="session")
def twin_demos(tmp_path_factory):
    """``twin_demos(n)``: the first ``n`` oracle demos of put-block-in-bowl on the Franka
    twin (grasp yaws in the pick poses; orthographic observation, the twin's exact top-down
    map, ~5x cheaper than its camera's), generated on demand into one store (resumable)."""
    from cliport_sim.dataset import Dataset, episode_dir
    from cliport_sim.demos import generate

    root = tmp_path_factory.mktemp("twin-demos")

    def get(n: int):
        generate(TASK, "train", n, root, progress=False, robot="panda",
                 observation="orthographic")
        return Dataset(episode_dir(root, TASK, "train"), n_demos=n, cache_episodes=8)
    return get
