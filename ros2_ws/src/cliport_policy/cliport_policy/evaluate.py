"""``cliport-eval``: rollouts in the simulator, checkpoint selection and test scores.

    cliport-eval --run runs/pbib-tiny --task put-block-in-bowl-seen-colors \
        --val-episodes 100 --test-episodes 100 --seeds 3 --workers 2
    cliport-eval --run runs/multi          # the run's own evaluation tasks (config.json)

The paper's protocol (docs/design.md#eval-protocol) with its weak points fixed
(docs/design.md#eval-seeds):

1. every numbered checkpoint of the run is rolled out on the val episodes of every
   evaluation task (resumable: a checkpoint already in ``<task>-results-val.json`` is not
   run again);
2. the best val checkpoint (highest mean reward, averaged over the tasks; ties -> the later
   step; each task's own best is recorded too) is rolled out on the test episodes of each
   task for ``--seeds`` evaluation seeds (the reference: one seed, and a multi-task model's
   checkpoint picked per task);
3. ``<task>-results-test.json`` holds per-seed means, the mean and a 95 % confidence
   interval (Student t over the per-seed means), every episode's reward, and the budget;
   heatmap PNG overlays of the first test episodes go to ``eval/heatmaps/``;
4. ``results.json`` sums the run up (method, demo count, selection, every task's test and
   val summary, the mean over tasks) and ``table.{md,json,png}`` shows it in the paper's
   Table 1 layout with the paper's numbers (:mod:`cliport_policy.results_table`, which
   also combines several runs).

Evaluation seed ``s`` of ``n`` episodes uses the task's seeds in the demos' convention
(val: odd from 1, test: odd from 10001, never the even training seeds) starting at block
``s``: episode ``i`` is env seed ``start + 2 (s n + i)``. An episode is the partial-credit
sum of the task's rewards until ``done`` or the task's ``max_steps``; the agent acts on the
same fused heightmaps the demos stored (``cliport_sim`` ``views`` observation by default).
"""

from __future__ import annotations

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

from cliport_policy.run_dir import read_json, write_json

log = logging.getLogger("cliport_policy.evaluate")

SEED_START = {"val": 1, "test": 10001}
SEED_STRIDE = 2
RESULTS_FORMAT = "cliport_policy.results/1"
SUMMARY_KEYS = ("mean", "ci95", "per_seed", "n_seeds", "n_episodes", "success_rate", "errors",
                "action_failures")


class EvaluationError(RuntimeError):
    """A run that cannot be evaluated as asked (no checkpoints, no tasks)."""


@dataclass
class EpisodeResult:
    seed: int
    reward: float
    steps: int
    done: bool
    instructions: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    # steps whose action failed: the motion (a blocked descent) or the grasp (held nothing)
    action_failures: list[str] = field(default_factory=list)


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


def run_episode(agent, env, seed: int, heatmap_dir: Path | None = None,
                video_dir: Path | None = None) -> EpisodeResult:
    """One rollout of ``agent`` in ``env`` from ``seed``; with ``video_dir`` its video, step
    panels and report entry are written there after the episode (cliport_policy.eval_video)."""
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
    total, done, steps, said, failures = 0.0, False, 0, [], []
    video = None
    if video_dir is not None:
        from cliport_policy.eval_video import EpisodeVideo

        video = EpisodeVideo(video_dir, env, seed).start()
    for t in range(task.max_steps):
        instruction = env.lang_goal
        said.append(instruction)
        decision = agent.act(obs.colormap, obs.heightmap, instruction)
        panel = (decision_panel(obs.colormap, decision)
                 if heatmap_dir is not None or video is not None else None)
        if heatmap_dir is not None:
            save_png(heatmap_dir / f"{seed}-step{t}.png", panel)
        pose0, pose1 = decision_poses(env.workspace, obs.heightmap, decision.pick,
                                      decision.place, cfg.pick_rotations, cfg.place_rotations)
        obs, reward, done, info = env.step(Action(pose0, pose1, task.primitive))
        total += float(reward)
        steps += 1
        primitive = info.get("primitive") or {}
        if primitive and not primitive.get("ok", True):
            failures.append(f"step {t}: {primitive.get('reason', '')}")
        elif primitive.get("grasped") is False:
            failures.append(f"step {t}: the grasp held nothing")
        if video is not None:
            video.step(panel, float(reward), info)
        if done:
            break
    if video is not None:
        video.finish(total)  # rendered after the episode: the rollout ran at full speed
    return EpisodeResult(seed, total, steps, bool(done), said,
                         seconds=time.perf_counter() - t0, action_failures=failures)


# --------------------------------------------------------------------------- workers
_worker: dict[str, Any] = {}


def _init_worker(checkpoint: str, task: str, mode: str, clip_pretrained: str | None,
                 observation: str, robot: str = "ur5") -> None:
    import torch

    torch.set_num_threads(1)
    from cliport_policy.checkpoint import load_agent

    _worker["agent"] = load_agent(checkpoint, clip_pretrained=clip_pretrained)
    _worker["env"] = make_env(task, mode, observation, robot)


def make_env(task: str, mode: str, observation: str = "views", robot: str = "ur5"):
    """The task's world; ``robot``: ``ur5`` (suction) or ``panda`` (the Franka twin)."""
    from dataclasses import replace

    from cliport_sim.environment import Environment, load_sim_config
    from cliport_sim.tasks import make_task

    cfg = replace(load_sim_config(), observation=observation, robot=robot)
    return Environment(make_task(task, mode), cfg)


def _run_in_worker(args: tuple[int, str | None, str | None]) -> EpisodeResult:
    seed, heatmaps, videos = args
    try:
        return run_episode(_worker["agent"], _worker["env"], seed,
                           Path(heatmaps) if heatmaps else None,
                           Path(videos) if videos else None)
    except Exception as exc:  # noqa: BLE001 - one broken episode must not end the evaluation
        log.exception("episode %d failed", seed)
        return EpisodeResult(seed, 0.0, 0, False, error=f"{type(exc).__name__}: {exc}")


def evaluate_checkpoint(checkpoint: str | os.PathLike, task: str, mode: str,
                        seeds: list[int], workers: int = 1, clip_pretrained: str | None = None,
                        observation: str = "views", heatmap_dir: Path | None = None,
                        heatmap_episodes: int = 0, progress: bool = True,
                        video_dir: Path | None = None, video_episodes: int = 0,
                        robot: str = "ur5") -> list[EpisodeResult]:
    """Roll out one checkpoint on ``seeds`` with ``workers`` simulator processes."""
    jobs = [(s, str(heatmap_dir) if heatmap_dir and i < heatmap_episodes else None,
             str(video_dir) if video_dir and i < video_episodes else None)
            for i, s in enumerate(seeds)]
    init = (str(checkpoint), task, mode, clip_pretrained, observation, robot)
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
            "errors": sum(bool(r.error) for r in episodes),
            "action_failures": sum(bool(r.action_failures) for r in episodes)}


def run_info(run: Path, checkpoint: Path) -> dict[str, Any]:
    """What the run was trained on: ``config.json`` (cliport-train), else the checkpoint."""
    from cliport_policy.checkpoint import read_checkpoint
    from cliport_policy.run_dir import task_name

    cfg = read_json(run / "config.json")
    state = read_checkpoint(checkpoint)
    extra = state.get("extra") or {}
    train_tasks = (cfg.get("train_tasks") or extra.get("train_tasks")
                   or [task_name(d) for d in extra.get("train_dirs", [])])
    kind = cfg.get("kind") or ("single" if len(train_tasks) <= 1 else "multi")
    task_set = cfg.get("task_set") or extra.get("task_set")
    if task_set and str(task_set).startswith("multi-attr-"):
        kind = "multi-attr"
    n_demos = cfg["n_demos"] if "n_demos" in cfg else extra.get("n_demos")
    return {"agent": state["model"].get("agent", "cliport"), "kind": kind,
            "task_set": task_set, "train_tasks": list(train_tasks), "n_demos": n_demos,
            "eval_tasks": cfg.get("eval_tasks") or extra.get("train_tasks") or []}


def select_checkpoint(val: dict[str, dict[str, dict[str, Any]]], names: list[str]
                      ) -> dict[str, Any]:
    """The checkpoint with the highest val mean reward averaged over tasks (each task counts
    once; ties -> the later checkpoint); each task's own best is recorded too."""
    tasks = list(val)
    table = {n: {"mean": float(np.mean([val[t][n]["mean"] for t in tasks])),
                 "tasks": {t: val[t][n]["mean"] for t in tasks}} for n in names}
    best = max(names, key=lambda n: (table[n]["mean"], n))
    per_task = {t: max(names, key=lambda n, t=t: (val[t][n]["mean"], n)) for t in tasks}
    return {"by": "val mean reward, averaged over tasks", "best": best,
            "best_per_task": per_task, "checkpoints": table}


def _seed_means(summary: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in summary.get("per_seed", {}).items()}


def evaluate_run(run: Path, task: str | list[str] | None, val_episodes: int,
                 test_episodes: int, seeds: int, workers: int = 1,
                 clip_pretrained: str | None = None, observation: str = "views",
                 heatmap_episodes: int = 2, checkpoints: list[Path] | None = None,
                 progress: bool = True, method: str | None = None, table: bool = True,
                 video_episodes: int = 0, validate_one: bool = False, robot: str = "ur5"
                 ) -> dict[str, Any]:
    """Val every checkpoint on every task -> the best on their mean -> test each task over
    ``seeds`` evaluation seeds; writes per-task JSONs, ``results.json`` and the run's table.

    ``task``: task names or one task set (their evaluation tasks); None: the run's own.
    Resumable: val checkpoints and test seeds already in the JSONs are not run again.
    ``results.json`` keeps the entries of tasks evaluated earlier and not now; its mean over
    tasks is over this evaluation's (``evaluated``).
    """
    from cliport_policy.results_cells import method_label
    from cliport_policy.results_table import write_table
    from cliport_policy.run_dir import list_checkpoints
    from cliport_policy.task_sets import resolve

    run = Path(run)
    out = run / "eval"
    out.mkdir(parents=True, exist_ok=True)
    ckpts = checkpoints if checkpoints is not None else list_checkpoints(run)
    if not ckpts:
        raise EvaluationError(f"no checkpoints in {run / 'checkpoints'}")
    info = run_info(run, ckpts[-1])
    names = [task] if isinstance(task, str) else list(task or info["eval_tasks"])
    if not names:
        raise EvaluationError(f"{run} does not say what it was trained on; give --task")
    tasks = list(resolve(names).eval)
    from cliport_policy.off_task import task_warning

    for t in tasks:
        if (warning := task_warning(t, info["train_tasks"])) is not None:
            log.warning("%s", warning)
    val: dict[str, dict[str, Any]] = {t: read_json(out / f"{t}-results-val.json")
                                      for t in tasks}
    selection: dict[str, Any] = {}
    if len(ckpts) == 1 and val_episodes > 0 and not validate_one:
        log.info("one checkpoint (%s): nothing to select, no validation (pass "
                 "--val-episodes N to validate it anyway)", ckpts[0].name)
    if val_episodes > 0 and (len(ckpts) > 1 or validate_one):
        seeds_val = episode_seeds("val", 0, val_episodes)
        for t in tasks:
            for ck in ckpts:
                key = ck.name
                if key in val[t] and val[t][key].get("n_episodes") == val_episodes:
                    continue
                res = evaluate_checkpoint(ck, t, "val", seeds_val, workers, clip_pretrained,
                                          observation, progress=progress, robot=robot)
                val[t][key] = {**summarise({0: res}), "episodes": [asdict(r) for r in res]}
                write_json(out / f"{t}-results-val.json", val[t])
        selection = select_checkpoint(val, [c.name for c in ckpts])
        best = next(c for c in ckpts if c.name == selection["best"])
        for n, row in selection["checkpoints"].items():
            log.info("val %s: mean over tasks %.3f (%s)", n, row["mean"], ", ".join(
                f"{t} {m:.3f}" for t, m in row["tasks"].items()))
    else:
        best = ckpts[-1]
    t0 = time.perf_counter()
    per_task: dict[str, dict[str, Any]] = {}
    for t in tasks:
        per_task[t] = _test_task(out, t, best, test_episodes, seeds, workers, clip_pretrained,
                                 observation, heatmap_episodes, val[t], progress,
                                 video_episodes, robot)
    overall = _over_tasks(per_task)
    kind = info["kind"]
    if not info["train_tasks"]:
        log.warning("%s does not say what it was trained on: labelled %s", run, kind)
    derived = method_label(info["agent"], kind)
    results = {
        "format": RESULTS_FORMAT, "run": str(run), "method": method or derived,
        "paper_method": derived, "agent": info["agent"], "kind": kind,
        "task_set": info["task_set"], "train_tasks": info["train_tasks"],
        "n_demos": info["n_demos"], "checkpoint": str(best), "observation": observation,
        "val_episodes": val_episodes, "test_episodes": test_episodes,
        "selection": selection, "evaluated": tasks,
        "tasks": {**_earlier_tasks(out / "results.json", tasks),
                  **{t: {"checkpoint": str(best),
                         "test": {k: v for k, v in r.items() if k in SUMMARY_KEYS},
                         "val": ({k: v for k, v in val[t][best.name].items()
                                  if k != "episodes"} if best.name in val[t] else None)}
                     for t, r in per_task.items()}},
        **overall, "seconds": time.perf_counter() - t0}
    write_json(out / "results.json", results)
    if table:
        write_table([results], out)
    return results


def _earlier_tasks(path: Path, tasks: list[str]) -> dict[str, Any]:
    """Task entries of an earlier ``results.json`` of this run that this evaluation does not
    redo (a single-task model evaluated on its seen, then its unseen split: both stay in
    the run's table, each with the checkpoint selected for it)."""
    return {t: e for t, e in read_json(path).get("tasks", {}).items() if t not in tasks}


def _test_task(out: Path, task: str, best: Path, test_episodes: int, seeds: int, workers: int,
               clip_pretrained: str | None, observation: str, heatmap_episodes: int,
               val: dict[str, Any], progress: bool, video_episodes: int = 0,
               robot: str = "ur5") -> dict[str, Any]:
    """The test seeds of one task with the selected checkpoint (seeds already in its JSON
    for this checkpoint and episode count are kept); the first ``video_episodes`` of seed 0
    as videos in ``eval/videos/<task>/`` (``index.html``)."""
    path = out / f"{task}-results-test.json"
    old = read_json(path)
    # by file name, as the val results: the same run reached through another path (a
    # relative --run from another folder) is the same checkpoint
    same = Path(old.get("checkpoint", "")).name == best.name
    done = old.get("episodes", {}) if (same and old.get("test_episodes") == test_episodes
                                       ) else {}
    per_seed: dict[int, list[EpisodeResult]] = {}
    t0 = time.perf_counter()
    for s in range(seeds):
        if str(s) in done and len(done[str(s)]) == test_episodes:
            per_seed[s] = [EpisodeResult(**e) for e in done[str(s)]]
            continue
        per_seed[s] = evaluate_checkpoint(
            best, task, "test", episode_seeds("test", s, test_episodes), workers,
            clip_pretrained, observation, out / "heatmaps" / task if s == 0 else None,
            heatmap_episodes if s == 0 else 0, progress=progress,
            video_dir=out / "videos" / task if s == 0 else None,
            video_episodes=video_episodes if s == 0 else 0, robot=robot)
        if s == 0 and video_episodes > 0:
            from cliport_policy.eval_video import write_video_report

            write_video_report(out / "videos" / task, f"{task}: {best.name}")
        test = _test_json(task, best, observation, test_episodes, val, per_seed, t0)
        write_json(path, test)
    test = _test_json(task, best, observation, test_episodes, val, per_seed, t0)
    write_json(path, test)
    return test


def _test_json(task: str, best: Path, observation: str, test_episodes: int,
               val: dict[str, Any], per_seed: dict[int, list[EpisodeResult]], t0: float
               ) -> dict[str, Any]:
    return {"task": task, "checkpoint": str(best), "observation": observation,
            "test_episodes": test_episodes,
            "val": {k: {kk: vv for kk, vv in v.items() if kk != "episodes"}
                    for k, v in val.items()},
            **summarise(per_seed), "seconds": time.perf_counter() - t0,
            "episodes": {str(s): [asdict(r) for r in rs] for s, rs in per_seed.items()}}


def _over_tasks(per_task: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean over tasks per evaluation seed, then mean and CI over the seeds."""
    seeds = sorted(set.intersection(*(set(_seed_means(r)) for r in per_task.values())),
                   key=int)
    per_seed = {s: float(np.mean([_seed_means(r)[s] for r in per_task.values()]))
                for s in seeds}
    mean, half = confidence_interval(list(per_seed.values()))
    return {"mean": mean, "ci95": half, "per_seed": per_seed, "n_seeds": len(per_seed),
            "n_episodes": sum(int(r["n_episodes"]) for r in per_task.values()),
            "success_rate": float(np.mean([r["success_rate"] for r in per_task.values()])),
            "errors": sum(int(r["errors"]) for r in per_task.values()),
            "action_failures": sum(int(r.get("action_failures", 0))
                                   for r in per_task.values())}


def main(argv: list[str] | None = None) -> int:
    """``cliport-eval`` (:mod:`cliport_policy.eval_cli`)."""
    from cliport_policy.eval_cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
