"""Multi-task training: uniform task -> episode -> action sampling drawn once, per-task
validation and progress, the set names on the command line, and a two-task model that
learns both tasks' demos."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import yaml

from cliport_common.config import ConfigError
from cliport_policy.agents import image_tensor, make_agent
from cliport_policy.config import to_dict
from cliport_policy.data import Sampler, _place_bin, all_samples
from cliport_policy.train import VAL_BEST, main, task_name, train
from cliport_sim.dataset import Dataset, episode_dir

PBIB = "put-block-in-bowl-seen-colors"  # the conftest demo_root's task
PYRAMID = "stack-block-pyramid-seq-seen-colors"


class _Stub:
    """A dataset of ``sizes[e]`` steps per episode that records what is loaded from it."""

    def __init__(self, name: str, steps: list[int]) -> None:
        self.name, self.steps, self.loaded = name, steps, []

    def __len__(self) -> int:
        return len(self.steps)

    def n_steps(self, episode: int) -> int:
        return self.steps[episode]

    def sample(self, episode: int, step: int) -> dict:
        self.loaded.append((episode, step))
        return {"colormap": np.zeros((4, 2, 3), np.uint8), "heightmap": np.zeros((4, 2)),
                "instruction": f"{self.name} {episode} {step}", "pick_pix": (0, 0),
                "place_pix": (1, 1), "pick_rot": 0, "place_rot": 0}


def test_sampling_is_uniform_over_tasks_then_episodes_whatever_the_sizes():
    """Tasks of 1, 4 and 20 episodes get a third of the samples each; within a task every
    episode is equally likely, and every action of an episode too."""
    stubs = [_Stub("a", [3]), _Stub("b", [1, 2, 3, 4]), _Stub("c", [5] * 20)]
    sampler = Sampler(stubs, np.random.default_rng(0))
    n = 30000
    draws = [sampler.draw() for _ in range(n)]
    tasks = np.bincount([t for t, _, _ in draws], minlength=3) / n
    assert np.allclose(tasks, 1 / 3, atol=0.015)  # ~5 standard deviations
    for t, stub in enumerate(stubs):
        episodes = np.bincount([e for tt, e, _ in draws if tt == t], minlength=len(stub))
        assert np.allclose(episodes / episodes.sum(), 1 / len(stub), atol=0.03)
        assert all(0 <= s < stub.n_steps(e) for tt, e, s in draws if tt == t)
    steps = np.bincount([s for t, e, s in draws if t == 1 and e == 3], minlength=4)
    assert np.allclose(steps / steps.sum(), 0.25, atol=0.05)


def test_a_batch_loads_each_drawn_task_episode_and_action_once():
    """Not the reference's second task draw at load time
    (docs/design.md#multitask-sampling-fix): what is drawn is what
    is loaded, from that task's dataset, once."""
    stubs = [_Stub("a", [2] * 3), _Stub("b", [2] * 7)]
    expected = Sampler(stubs, np.random.default_rng(5))
    draws = [expected.draw() for _ in range(64)]
    batch = Sampler(stubs, np.random.default_rng(5)).batch(64)
    assert batch.tasks == [t for t, _, _ in draws]
    assert batch.instructions == [f"{stubs[t].name} {e} {s}" for t, e, s in draws]
    for t, stub in enumerate(stubs):
        assert stub.loaded == [(e, s) for tt, e, s in draws if tt == t]


def test_weighted_sampling_for_multi_attr_sets():
    stubs = [_Stub("seen", [1]), _Stub("b", [1] * 3), _Stub("c", [1] * 9)]
    sampler = Sampler(stubs, np.random.default_rng(1), weights=[0.5, 0.25, 0.25])
    tasks = np.bincount([sampler.draw()[0] for _ in range(20000)], minlength=3) / 20000
    assert np.allclose(tasks, [0.5, 0.25, 0.25], atol=0.015)
    with pytest.raises(ValueError, match="one positive weight per dataset"):
        Sampler(stubs, np.random.default_rng(1), weights=[1.0, 0.0, 1.0])
    # equal weights are the uniform draw itself (same random stream)
    a = Sampler(stubs, np.random.default_rng(2), weights=[1, 1, 1])
    b = Sampler(stubs, np.random.default_rng(2))
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]


@pytest.fixture(scope="module")
def two_task_root(demo_root):
    """The conftest's put-block-in-bowl demos plus 3 stack-block-pyramid train demos and
    1 val demo, in one data root."""
    from cliport_sim.demos import generate

    generate(PYRAMID, "train", 3, demo_root, progress=False)
    generate(PYRAMID, "val", 1, demo_root, progress=False)
    return demo_root


def _small(cfg, **train):
    return dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, place_rotations=4),
        train=dataclasses.replace(cfg.train, **{
            "batch_size": 2, "augment": False, "last_every": 1, "log_every": 1,
            "save_steps": (2,), "val_every": 1, "val_samples": 2, "threads": 0, **train}))


def test_two_task_training_validates_and_logs_each_task(tiny_cfg, two_task_root, tmp_path):
    cfg = _small(tiny_cfg, steps=2)
    tasks = [PBIB, PYRAMID]
    train_dirs = [episode_dir(two_task_root, t, "train") for t in tasks]
    val_dirs = [episode_dir(two_task_root, t, "val") for t in tasks]
    run = tmp_path / "run"
    out = train(cfg, train_dirs, run, val_dirs, n_demos=3, progress=False,
                task_set="pair")
    assert set(out["val_tasks"]) == set(tasks)
    for key in ("pick_loss", "place_loss", "pick_within_3px"):  # the mean over tasks
        assert out[f"val_{key}"] == pytest.approx(
            np.mean([out["val_tasks"][t][key] for t in tasks]))
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert set(log[-1]["tasks"]) == set(tasks)
    assert sum(r["samples"] for r in log[-1]["tasks"].values()) == 2 * 2  # steps x batch
    best = json.loads((run / VAL_BEST).read_text())
    assert set(best["tasks"]) == set(tasks) and best["mean"]["step"] in (1, 2)
    extra = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["extra"]
    assert extra["train_tasks"] == tasks and extra["task_set"] == "pair"
    assert sum(extra["task_samples"].values()) == 4
    # resuming keeps the per-task counts; resuming with other tasks is refused
    train(_small(tiny_cfg, steps=3), train_dirs, run, val_dirs, n_demos=3, progress=False)
    extra = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["extra"]
    assert sum(extra["task_samples"].values()) == 6
    with pytest.raises(ConfigError, match="cannot resume .* trained on"):
        train(_small(tiny_cfg, steps=4), train_dirs[:1], run, val_dirs, n_demos=3,
              progress=False)


def test_cli_takes_task_lists_and_refuses_unknown_sets(tiny_cfg, two_task_root, tmp_path,
                                                      capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(to_dict(_small(tiny_cfg, steps=1, save_steps=(1,)))))
    run = tmp_path / "run"
    assert main(["--config", str(config), "--data", str(two_task_root), "--task", PBIB,
                 "--task", PYRAMID, "--n-demos", "2", "--out", str(run), "--quiet"]) == 0
    meta = json.loads((run / "config.json").read_text())
    assert meta["kind"] == "multi" and meta["train_tasks"] == [PBIB, PYRAMID]
    assert meta["task_weights"] == [0.5, 0.5]
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(config), "--data", str(two_task_root), "--task", "multi-all",
              "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "demo-conditioned Ravens tasks" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="not a dataset directory"):  # a set's missing data
        main(["--config", str(config), "--data", str(two_task_root), "--task",
              "multi-attr-align-rope", "--out", str(tmp_path / "y"), "--quiet"])


def test_task_name_of_a_data_directory(tmp_path):
    assert task_name(tmp_path / f"{PBIB}-train") == PBIB
    assert task_name(f"data/{PYRAMID}-val") == PYRAMID
    assert task_name("data/custom") == "custom"


def _half_res(datasets):
    """Every action of the datasets at half resolution (6.25 mm cells), as the five-demo
    overfitting test in test_train.py."""
    keys = [(t, e, s) for t, e, s in all_samples(datasets)]
    steps = [datasets[t].sample(e, s) for t, e, s in keys]
    cmap = np.stack([s["colormap"][::2, ::2] for s in steps])
    hmap = np.stack([s["heightmap"].reshape(160, 2, 80, 2).max(axis=(1, 3)) for s in steps])
    pick = torch.tensor(np.stack([s["pick_pix"] // 2 for s in steps]), dtype=torch.long)
    place = torch.tensor(np.stack([s["place_pix"] // 2 for s in steps]), dtype=torch.long)
    return keys, image_tensor(cmap, hmap), [s["instruction"] for s in steps], pick, place


@pytest.mark.slow  # minutes of CPU; run by hand with `pytest -m slow`
@pytest.mark.timeout(2400)
def test_two_task_model_learns_both_tasks_demos(tiny_cfg, two_task_root):
    """One tiny CLIPort (12 place rotations, 32 px crops, half resolution) on 3 demos of
    put-block-in-bowl and 3 of stack-block-pyramid-seq, batches drawn by the multi-task
    :class:`Sampler`, reaches 100 % train accuracy on both tasks: pick and place within 2
    cells and the place rotation bin exact, for every action (6 + 18 of them).

    Measured by hand, 1 thread on 2 busy cores (~3 s a step). At a constant lr it was
    chaotic: 1.00 / 0.78 at step 280, 0.00 / 0.06 at 310, 0.83 / 0.67 at the 400-step cap.
    With both lrs halved at 200 and 300 steps it passes: 1.00 / 0.94 (17 of the 18 pyramid
    actions) from step 320, 0.78-0.94 on the pyramid after that, **1.00 / 1.00 at step
    520** (22 min on one thread of the quiet machine). Out of make test for its minutes.
    """
    torch.set_num_threads(1)
    cfg = dataclasses.replace(tiny_cfg.model, place_rotations=12, crop_size=32)
    datasets = [Dataset(episode_dir(two_task_root, t, "train"), n_demos=3, cache_episodes=8)
                for t in (PBIB, PYRAMID)]
    keys, img, text, pick, place = _half_res(datasets)
    index = {k: i for i, k in enumerate(keys)}
    rot = torch.tensor([_place_bin(datasets[t].sample(e, s), cfg.place_rotations)
                        for t, e, s in keys])
    zeros = torch.zeros_like(rot)
    task_of = np.array([t for t, _, _ in keys])
    torch.manual_seed(0)
    agent = make_agent(cfg)
    optimizers = [torch.optim.Adam(agent.attention.parameters(), lr=5e-4),
                  torch.optim.Adam(agent.transport.parameters(), lr=3e-4)]
    # halved at 200 and 300 steps: at a constant lr the run reached 1.00 / 0.78 at step
    # 280, then fell apart (0.00 / 0.06 at 310)
    schedules = [torch.optim.lr_scheduler.MultiStepLR(o, [200, 300], 0.5) for o in optimizers]
    sampler = Sampler(datasets, np.random.default_rng(0))
    per_task, step = [0.0, 0.0], 0
    while min(per_task) < 1.0 and step < 600:
        agent.train()
        for _ in range(10):
            i = torch.tensor([index[sampler.draw()] for _ in range(4)])
            lp, lq = agent.losses(img[i], [text[j] for j in i], pick[i], place[i], zeros[i],
                                  rot[i])
            for opt in optimizers:
                opt.zero_grad()
            (lp + lq).backward()
            for opt, schedule in zip(optimizers, schedules, strict=True):
                opt.step()
                schedule.step()
            step += 1
        decisions = agent.eval().act_batch(img, text)
        good = np.array([np.hypot(*np.subtract(d.pick[:2], pick[k].tolist())) <= 2
                         and np.hypot(*np.subtract(d.place[:2], place[k].tolist())) <= 2
                         and d.place[2] == int(rot[k]) for k, d in enumerate(decisions)])
        per_task = [float(good[task_of == t].mean()) for t in (0, 1)]
        print(f"step {step}: train accuracy {PBIB} {per_task[0]:.2f}, "
              f"{PYRAMID} {per_task[1]:.2f}", flush=True)
    assert per_task == [1.0, 1.0], f"train accuracy {per_task} after {step} steps"
    assert (task_of == 0).sum() >= 3 and (task_of == 1).sum() >= 3 * 6
