"""Fixtures shared by the cliport_policy tests: a tiny random agent and five real demos."""

from __future__ import annotations

import numpy as np
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


def _overfit(agent, grad_clip: float, samples, max_steps: int, log: bool = False
             ) -> tuple[float, int]:
    """Train ``agent`` on ``samples`` (img, text, pick, place, pick_rot, place_rot) in batches
    of 4 until it decides every one right (pick and place within 2 cells, both bins exact)
    or ``max_steps``; (train accuracy, steps)."""
    from cliport_policy.train import clip_gradients

    img, text, pick, place, pick_rot, place_rot = samples
    optimizers = {"attention": torch.optim.Adam(agent.attention.parameters(), lr=5e-4),
                  "transport": torch.optim.Adam(agent.transport.parameters(), lr=3e-4)}
    rng = np.random.default_rng(0)
    accuracy, step = 0.0, 0
    while accuracy < 1.0 and step < max_steps:
        agent.train()
        for _ in range(10):
            i = torch.as_tensor(rng.choice(len(text), size=min(4, len(text)), replace=False))
            lp, lq = agent.losses(img[i], [text[j] for j in i], pick[i], place[i],
                                  pick_rot[i], place_rot[i])
            for opt in optimizers.values():
                opt.zero_grad()
            (lp + lq).backward()
            clip_gradients(optimizers, grad_clip)
            for opt in optimizers.values():
                opt.step()
            step += 1
        decisions = agent.eval().act_batch(img, text)
        good = [np.hypot(*np.subtract(d.pick[:2], pick[k].tolist())) <= 2
                and d.pick[2] == int(pick_rot[k])
                and np.hypot(*np.subtract(d.place[:2], place[k].tolist())) <= 2
                and d.place[2] == int(place_rot[k]) for k, d in enumerate(decisions)]
        accuracy = float(np.mean(good))
        if log:
            print(f"step {step}: train accuracy {accuracy:.2f}", flush=True)
    return accuracy, step


def _half_resolution(demos):
    """Every action of ``demos`` at half resolution: (steps, images, instructions, pick and
    place cells), the overfit tests' data."""
    from cliport_policy.agents import image_tensor
    from cliport_policy.data import all_samples

    steps = [demos.sample(e, s) for _, e, s in all_samples([demos])]
    cmap = np.stack([s["colormap"][::2, ::2] for s in steps])
    rows, cols = cmap.shape[1:3]
    hmap = np.stack([s["heightmap"].reshape(rows, 2, cols, 2).max(axis=(1, 3)) for s in steps])
    pick = torch.tensor(np.stack([s["pick_pix"] // 2 for s in steps]), dtype=torch.long)
    place = torch.tensor(np.stack([s["place_pix"] // 2 for s in steps]), dtype=torch.long)
    return steps, image_tensor(cmap, hmap), [s["instruction"] for s in steps], pick, place


@pytest.fixture(scope="session")
def half_resolution():
    """:func:`_half_resolution`."""
    return _half_resolution


@pytest.fixture(scope="session")
def overfit():
    """The overfit loop the training tests share (see :func:`_overfit`)."""
    return _overfit
