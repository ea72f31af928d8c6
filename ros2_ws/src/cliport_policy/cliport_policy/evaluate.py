"""``cliport-eval``: rollouts in the simulator, checkpoint selection and test scores.

    cliport-eval --run runs/pbib-tiny --task put-block-in-bowl-seen-colors \
        --val-episodes 100 --test-episodes 100 --seeds 3 --workers 2

The paper's protocol (spec 6.1) with its weak points fixed (spec 9.17):

1. every numbered checkpoint of the run is rolled out on the val episodes (resumable: a
   checkpoint already in ``results-val.json`` is not run again);
2. the best val checkpoint (highest mean reward; ties -> the later step) is rolled out on
   the test episodes for ``--seeds`` evaluation seeds (the reference: one);
3. ``results-test.json`` holds per-seed means, the mean and a 95 % confidence interval
   (Student t over the per-seed means), every episode's reward, and the budget; heatmap PNG
   overlays of the first test episodes go to ``eval/heatmaps/``.

Evaluation seed ``s`` of ``n`` episodes uses the task's seeds in the demos' convention
(val: odd from 1, test: odd from 10001, never the even training seeds) starting at block
``s``: episode ``i`` is env seed ``start + 2 (s n + i)``. An episode is the partial-credit
sum of the task's rewards until ``done`` or the task's ``max_steps``; the agent acts on the
same fused heightmaps the demos stored (``cliport_sim`` ``views`` observation by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("cliport_policy.evaluate")

SEED_START = {"val": 1, "test": 10001}
SEED_STRIDE = 2


@dataclass
class EpisodeResult:
    seed: int
    reward: float
    steps: int
    done: bool
    instructions: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def episode_seeds(mode: str, eval_seed: int, n: int) -> list[int]:
    """Env seeds of evaluation seed ``eval_seed`` (see the module docstring)."""
    if mode not in SEED_START:
        raise ValueError(f"evaluation mode must be val or test, got {mode!r}")
    start = SEED_START[mode] + SEED_STRIDE * eval_seed * n
    seeds = [start + SEED_STRIDE * i for i in range(n)]
    if mode == "val" and seeds and seeds[-1] >= SEED_START["test"]:
        raise ValueError(f"val seeds would reach the test range ({seeds[-1]})")
    return seeds


def confidence_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of a Student-t interval; half-width 0 for fewer than 2 values."""
    x = np.asarray(values, np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), 0.0
    from scipy import stats

    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def run_episode(agent, env, seed: int, heatmap_dir: Path | None = None) -> EpisodeResult:
    """One rollout of ``agent`` in ``env`` from ``seed``."""
    from cliport_policy.heatmaps import decision_panel, save_png
    from cliport_policy.poses import decision_poses
    from cliport_sim.action import Action
    from cliport_sim.tasks import TaskSetupError

    t0 = time.perf_counter()
    try:
        obs = env.reset(seed)
    except TaskSetupError as exc:
        return EpisodeResult(seed, 0.0, 0, False, error=f"setup: {exc}")
    task, cfg = env.task, agent.config
    total, done, steps, said = 0.0, False, 0, []
    for t in range(task.max_steps):
        instruction = env.lang_goal
        said.append(instruction)
        decision = agent.act(obs.colormap, obs.heightmap, instruction)
        if heatmap_dir is not None:
            save_png(heatmap_dir / f"{seed}-step{t}.png", decision_panel(obs.colormap, decision))
        pose0, pose1 = decision_poses(env.workspace, obs.heightmap, decision.pick,
                                      decision.place, cfg.pick_rotations, cfg.place_rotations)
        obs, reward, done, info = env.step(Action(pose0, pose1, task.primitive))
        total += float(reward)
        steps += 1
        if done:
            break
    return EpisodeResult(seed, total, steps, bool(done), said,
                         seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- workers
_worker: dict[str, Any] = {}


def _init_worker(checkpoint: str, task: str, mode: str, clip_pretrained: str | None,
                 observation: str) -> None:
    import torch

    torch.set_num_threads(1)
    from cliport_policy.checkpoint import load_agent

    _worker["agent"] = load_agent(checkpoint, clip_pretrained=clip_pretrained)
    _worker["env"] = make_env(task, mode, observation)


def make_env(task: str, mode: str, observation: str = "views"):
    from dataclasses import replace

    from cliport_sim.environment import Environment, load_sim_config
    from cliport_sim.tasks import make_task

    cfg = replace(load_sim_config(), observation=observation)
    return Environment(make_task(task, mode), cfg)


def _run_in_worker(args: tuple[int, str | None]) -> EpisodeResult:
    seed, heatmaps = args
    try:
        return run_episode(_worker["agent"], _worker["env"], seed,
                           Path(heatmaps) if heatmaps else None)
    except Exception as exc:  # noqa: BLE001 - one broken episode must not end the evaluation
        log.exception("episode %d failed", seed)
        return EpisodeResult(seed, 0.0, 0, False, error=f"{type(exc).__name__}: {exc}")


def evaluate_checkpoint(checkpoint: str | os.PathLike, task: str, mode: str,
                        seeds: list[int], workers: int = 1, clip_pretrained: str | None = None,
                        observation: str = "views", heatmap_dir: Path | None = None,
                        heatmap_episodes: int = 0, progress: bool = True
                        ) -> list[EpisodeResult]:
    """Roll out one checkpoint on ``seeds`` with ``workers`` simulator processes."""
    jobs = [(s, str(heatmap_dir) if heatmap_dir and i < heatmap_episodes else None)
            for i, s in enumerate(seeds)]
    init = (str(checkpoint), task, mode, clip_pretrained, observation)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"{Path(checkpoint).name} {mode}", unit="ep",
                   dynamic_ncols=True)
    results: list[EpisodeResult] = []
    if workers <= 1:
        _init_worker(*init)
        it = map(_run_in_worker, jobs)
        pool = None
    else:
        pool = get_context("spawn").Pool(workers, _init_worker, init)
        it = pool.imap(_run_in_worker, jobs)
    try:
        for r in it:
            results.append(r)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(mean=f"{np.mean([x.reward for x in results]):.3f}")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
        if workers <= 1:
            _worker.pop("env").close()
    return results


def summarise(per_seed: dict[int, list[EpisodeResult]]) -> dict[str, Any]:
    means = {s: float(np.mean([r.reward for r in rs])) for s, rs in per_seed.items() if rs}
    mean, half = confidence_interval(list(means.values()))
    episodes = [r for rs in per_seed.values() for r in rs]
    return {"mean": mean, "ci95": half, "per_seed": {str(k): v for k, v in means.items()},
            "n_seeds": len(means), "n_episodes": len(episodes),
            "success_rate": float(np.mean([r.reward > 0.99 for r in episodes]))
            if episodes else float("nan"),
            "errors": sum(bool(r.error) for r in episodes)}


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; starting it again", path)
        return {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def evaluate_run(run: Path, task: str, val_episodes: int, test_episodes: int, seeds: int,
                 workers: int = 1, clip_pretrained: str | None = None,
                 observation: str = "views", heatmap_episodes: int = 2,
                 checkpoints: list[Path] | None = None, progress: bool = True
                 ) -> dict[str, Any]:
    """Val every checkpoint -> best -> test over ``seeds`` evaluation seeds."""
    from cliport_policy.train import list_checkpoints

    out = run / "eval"
    out.mkdir(parents=True, exist_ok=True)
    ckpts = checkpoints if checkpoints is not None else list_checkpoints(run)
    if not ckpts:
        raise SystemExit(f"cliport-eval: no checkpoints in {run / 'checkpoints'}")
    val_path = out / f"{task}-results-val.json"
    val = _load_json(val_path)
    if len(ckpts) > 1 and val_episodes > 0:
        seeds_val = episode_seeds("val", 0, val_episodes)
        for ck in ckpts:
            key = ck.name
            if key in val and val[key].get("n_episodes") == val_episodes:
                continue
            res = evaluate_checkpoint(ck, task, "val", seeds_val, workers, clip_pretrained,
                                      observation, progress=progress)
            val[key] = {**summarise({0: res}), "episodes": [asdict(r) for r in res]}
            _write_json(val_path, val)
        best = max(ckpts, key=lambda c: (val[c.name]["mean"], c.name))
    else:
        best = ckpts[-1]
    per_seed: dict[int, list[EpisodeResult]] = {}
    t0 = time.perf_counter()
    for s in range(seeds):
        per_seed[s] = evaluate_checkpoint(
            best, task, "test", episode_seeds("test", s, test_episodes), workers,
            clip_pretrained, observation, out / "heatmaps" / task if s == 0 else None,
            heatmap_episodes if s == 0 else 0, progress=progress)
    test = {"task": task, "checkpoint": str(best), "observation": observation,
            "val": {k: {kk: vv for kk, vv in v.items() if kk != "episodes"}
                    for k, v in val.items()},
            **summarise(per_seed), "seconds": time.perf_counter() - t0,
            "episodes": {str(s): [asdict(r) for r in rs] for s, rs in per_seed.items()}}
    _write_json(out / f"{task}-results-test.json", test)
    return test


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, type=Path, help="a cliport-train run directory")
    ap.add_argument("--task", required=True, help="task to evaluate, e.g. "
                    "put-block-in-bowl-seen-colors (or -unseen-colors)")
    ap.add_argument("--checkpoint", type=Path, action="append",
                    help="evaluate only these checkpoints (default: all of the run)")
    ap.add_argument("--val-episodes", type=int, default=100)
    ap.add_argument("--test-episodes", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3, help="evaluation seeds for the test")
    ap.add_argument("--workers", type=int, default=1, help="simulator processes")
    ap.add_argument("--clip-pretrained", help="where the frozen CLIP weights are here")
    ap.add_argument("--observation", default="views", choices=("views", "orthographic"))
    ap.add_argument("--heatmaps", type=int, default=2, help="test episodes drawn as PNGs")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = evaluate_run(args.run, args.task, args.val_episodes, args.test_episodes,
                          args.seeds, args.workers, args.clip_pretrained, args.observation,
                          args.heatmaps, args.checkpoint, progress=not args.quiet)
    print(f"{args.task}: {100 * result['mean']:.1f} ± {100 * result['ci95']:.1f} "
          f"(95 % CI over {result['n_seeds']} seeds x {args.test_episodes} episodes; "
          f"success rate {100 * result['success_rate']:.1f} %) with {result['checkpoint']}")
    print(json.dumps({k: v for k, v in result.items() if k not in ("episodes", "val")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
