"""``cliport-demos``: oracle demonstrations into the episode store, in parallel, resumable.

``cliport-demos --task T --mode train|val|test --n N --workers K --out DIR`` runs the task's
scripted oracle on seeds in the reference convention (docs/design.md#dataset-seeds: train even from
0, val odd from 1, test odd from 10001, one seed per attempt) and keeps an episode when its
total reward exceeds 0.99. Why it is built this way:

* **K spawn workers, one writer.** Each worker owns one PyBullet ``Environment``; the
  parent alone writes, and it commits results *in seed order*, so the stored episodes are
  the first N successful seeds whatever K is, and the index never has gaps to repair.
* **Resumable at any instant.** Every file is written atomically and recorded by one
  fsync'd index line (:class:`cliport_sim.dataset.EpisodeWriter`); failed seeds go to
  ``attempts.jsonl``. After ``kill -9`` the same command continues after the last recorded
  seed and stops at exactly N episodes, never repeating a seed.
* **What is stored** is what training reads (fused 320x160 maps, poses, labels,
  instructions), not 6.45 MB of raw views per step; ``--save-views`` adds those when wanted.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from cliport_perception.rgbd import depth_to_uint16
from cliport_sim.dataset import EpisodeWriter, episode_dir, new_meta
from cliport_sim.episode import DatasetError, Episode, Views, load_episode
from cliport_sim.labels import action_labels, pose_to_array

SEED_START = {"train": 0, "val": 1, "test": 10001}
SEED_STRIDE = 2
VAL_SEED_MAX = 9999  # val seeds must stay below the test range (reference guard)
SUCCESS = 0.99


@dataclass
class DemoResult:
    """One attempt: a kept episode, or why the seed failed."""

    seed: int
    reward: float
    episode: Episode | None = None
    views: Views | None = None
    reason: str = ""
    first_frames: list[np.ndarray] | None = None  # colour views of step 0, for --render
    seconds: float = 0.0


def seeds(mode: str, first: int | None = None) -> Iterator[int]:
    """Seeds of ``mode`` from ``first`` (default: the mode's start), with the val guard."""
    if mode not in SEED_START:
        raise ValueError(f"unknown mode {mode!r}; expected train, val or test")
    seed = SEED_START[mode] if first is None else first
    if seed % SEED_STRIDE != SEED_START[mode] % SEED_STRIDE:
        raise ValueError(f"seed {seed} has the wrong parity for mode {mode}")
    while True:
        if mode == "val" and seed > VAL_SEED_MAX:
            raise RuntimeError(f"val seed {seed} would reach the test seeds (> {VAL_SEED_MAX})")
        yield seed
        seed += SEED_STRIDE


def run_demo(env: Any, seed: int, *, save_views: bool = False,
             keep_first_frames: bool = False) -> DemoResult:
    """Reset ``env`` to ``seed`` and let the oracle act until done or ``max_steps``."""
    from cliport_sim.tasks import TaskSetupError

    t0 = time.perf_counter()
    task, ws = env.task, env.workspace
    try:
        obs = env.reset(seed)
    except TaskSetupError as exc:
        return DemoResult(seed, 0.0, reason=f"setup: {exc}")
    observations, rewards, instructions = [obs], [0.0], []
    pose0, pose1, labels = [], [], []
    reason = ""
    for _ in range(task.max_steps):
        instructions.append(env.lang_goal)
        action = task.oracle(env)
        if action is None:
            reason = "oracle found nothing to do"
            break
        try:
            labels.append(action_labels(action.pose0, action.pose1, ws))
        except ValueError as exc:
            reason = f"label: {exc}"
            break
        pose0.append(pose_to_array(action.pose0))
        pose1.append(pose_to_array(action.pose1))
        obs, reward, done, info = env.step(action)
        observations.append(obs)
        rewards.append(float(reward))
        if info.get("timeout"):
            reason = f"motion timed out: {info.get('primitive', {}).get('reason', '')}"
            break
        if done:
            break
    total = float(sum(rewards))
    seconds = time.perf_counter() - t0
    if reason or total <= SUCCESS:
        return DemoResult(seed, total, reason=reason or f"oracle reward {total:.3f}",
                          seconds=seconds)
    instructions.append(env.lang_goal)
    n = len(pose0)
    episode = Episode(
        colormap=np.stack([o.colormap for o in observations]),
        heightmap=np.stack([o.heightmap for o in observations]),
        valid=np.stack([o.valid for o in observations]),
        pose0=np.asarray(pose0).reshape(n, 7), pose1=np.asarray(pose1).reshape(n, 7),
        pick_pix=np.asarray([lb.pick_pix for lb in labels], np.int32).reshape(n, 2),
        place_pix=np.asarray([lb.place_pix for lb in labels], np.int32).reshape(n, 2),
        pick_rot=np.asarray([lb.pick_rot for lb in labels], np.int32),
        place_rot=np.asarray([lb.place_rot for lb in labels], np.int32),
        reward=np.asarray(rewards), instruction=np.asarray(instructions, dtype=str),
        meta=new_meta(task.name, task.mode, seed, ws, hz=env.config.hz,
                      split=getattr(task, "split", None),
                      observation=env.config.observation, robot=env.config.robot))
    views = None
    if save_views:
        views = Views(np.stack([[f.color for f in o.frames] for o in observations]),
                      np.stack([[depth_to_uint16(f.depth) for f in o.frames]
                                for o in observations]))
    first = [f.color for f in observations[0].frames] if keep_first_frames else None
    return DemoResult(seed, total, episode, views, first_frames=first,
                      seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- workers

def _exit_with_parent(parent: int) -> None:
    """A worker orphaned by ``kill -9`` of the parent ends itself instead of idling."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _exit_on_terminate(signum: int, _frame: Any) -> None:
    """SIGTERM ends a worker through normal exit, so its simulator and temp files go too."""
    raise SystemExit(128 + signum)


def make_environment(task: str, mode: str, hz: int, frames: bool,
                     observation: str = "views", robot: str = "ur5") -> Any:
    from cliport_sim.environment import Environment, load_sim_config
    from cliport_sim.tasks import make_task

    config = replace(load_sim_config(), hz=hz, observe=True, keep_frames=frames,
                     observation=observation, robot=robot)
    return Environment(make_task(task, mode), config)


def _worker_main(tasks: Any, results: Any, env_args: tuple, opts: dict[str, bool],
                 parent: int) -> None:
    """Worker process: one Environment, seeds in, results out, until a ``None`` seed."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    # exit never waits to flush results the parent no longer reads (it reads all it asked for)
    results.cancel_join_thread()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    env = make_environment(*env_args)
    try:
        while (seed := tasks.get()) is not None:
            try:
                result = run_demo(env, seed, **opts)
            except Exception as exc:  # noqa: BLE001 - one bad seed must not stop the others
                result = DemoResult(seed, 0.0, reason=f"error: {type(exc).__name__}: {exc}")
            results.put(result)
    finally:
        env.close()


class _Workers:
    """K spawn processes fed through queues; a worker that dies is reported, not waited on."""

    def __init__(self, k: int, env_args: tuple, opts: dict[str, bool]) -> None:
        ctx = get_context("spawn")
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_worker_main, daemon=True,
                                  args=(self.tasks, self.results, env_args, opts, os.getpid()))
                      for _ in range(k)]
        for proc in self.procs:
            proc.start()

    def submit(self, seed: int) -> None:
        self.tasks.put(seed)

    def get(self) -> DemoResult:
        while True:
            try:
                return self.results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"demo worker {dead[0].pid} died (exit code "
                                       f"{dead[0].exitcode}); rerun to resume") from None

    def close(self, grace_s: float = 5.0) -> None:
        """A ``None`` seed each, so idle workers exit normally (removing their temp files);
        one still busy after ``grace_s`` is terminated, and killed if that takes as long."""
        for _ in self.procs:
            self.tasks.put(None)
        deadline = time.monotonic() + grace_s
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(grace_s)
            if proc.is_alive():
                proc.kill()
            proc.join()
        self.tasks.cancel_join_thread()
        self.tasks.close()
        self.results.close()


# ------------------------------------------------------------------------------ render


def write_render(out: Path, stem: str, result: DemoResult, camera_names: list[str]) -> None:
    """PNG of each camera view and of the fused maps of an episode's first observation."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    ep = result.episode
    assert ep is not None
    for name, color in zip(camera_names, result.first_frames or [], strict=False):
        Image.fromarray(color).save(out / f"{stem}-{name}.png")
    Image.fromarray(ep.colormap[0]).save(out / f"{stem}-colormap.png")
    # Contrast-stretched to the tallest object (at least 5 cm), so 4 cm blocks show.
    top = max(float(ep.heightmap[0].max()), 0.05)
    gray = np.clip(ep.heightmap[0] / top * 255.0, 0, 255).astype(np.uint8)
    gray[~ep.valid[0]] = 0
    Image.fromarray(gray).save(out / f"{stem}-heightmap.png")


# ---------------------------------------------------------------------------- generate


@dataclass
class Summary:
    root: Path
    episodes: int
    new: int
    failed: int
    seconds: float


def generate(task: str, mode: str, n: int, out: str | os.PathLike, *, workers: int = 1,
             save_views: bool = False, render: str | os.PathLike | None = None,
             hz: int = 480, progress: bool = True, max_attempts: int | None = None,
             observation: str = "views", robot: str = "ur5") -> Summary:
    """Make ``{out}/{task}-{mode}`` hold exactly ``n`` episodes (resuming what is there).

    ``observation`` is the simulator's observation mode (``views``: the world's cameras
    fused as perception does; ``orthographic``: one exact top-down render, ~1.6x cheaper per demo).
    ``robot`` is the world's arm (``ur5``, or ``panda``: the Franka twin, whose oracle
    gives a grasp yaw). A store keeps one mode and one robot: resuming with another is an
    error, not a silent mix.
    """
    from tqdm import tqdm

    if n < 0 or workers < 1:
        raise ValueError(f"need n >= 0 and workers >= 1, got n={n} workers={workers}")
    t0 = time.perf_counter()
    render_dir = Path(render) if render is not None else None
    with EpisodeWriter(episode_dir(out, task, mode)) as writer:
        have = writer.n_episodes
        _check_store(writer, observation, robot)
        if have > n:
            raise DatasetError(f"{writer.root} already holds {have} episodes, more than "
                               f"--n {n}")
        next_seeds = seeds(mode, writer.next_seed(SEED_START[mode], SEED_STRIDE))
        max_attempts = max_attempts if max_attempts is not None else 10 * (n - have) + 20
        bar = tqdm(total=n, initial=have, disable=not progress, unit="demo",
                   desc=f"{task}-{mode}", dynamic_ncols=True)
        state = {"new": 0, "failed": 0}
        names: list[str] = []

        def commit(result: DemoResult) -> None:
            if result.episode is None:
                writer.record_failure(result.seed, result.reward, result.reason)
                state["failed"] += 1
                bar.set_postfix(failed=state["failed"], last=result.reason[:40])
                return
            path = writer.write(result.episode, result.views)
            state["new"] += 1
            if render_dir is not None:
                write_render(render_dir / writer.root.name, path.stem, result, names)
            bar.update(1)

        def needed() -> int:
            return n - writer.n_episodes

        attempts = 0
        try:
            if workers == 1 and needed() > 0:
                env = make_environment(task, mode, hz, save_views or render_dir is not None,
                                       observation, robot)
                names.extend(c.name for c in env.camera_configs)
                try:
                    while needed() > 0:
                        attempts = _count_attempt(attempts, max_attempts)
                        commit(run_demo(env, next(next_seeds), save_views=save_views,
                                        keep_first_frames=render_dir is not None))
                finally:
                    env.close()
            elif needed() > 0:
                names.extend(_camera_names(robot))
                env_args = (task, mode, hz, save_views or render_dir is not None, observation,
                            robot)
                opts = {"save_views": save_views, "keep_first_frames": render_dir is not None}
                pool = _Workers(workers, env_args, opts)
                try:
                    done: dict[int, DemoResult] = {}
                    order: list[int] = []  # submitted seeds not yet committed, ascending
                    while needed() > 0:
                        # Keep every worker busy, but never ask for more than still needed.
                        while len(order) < min(2 * workers, needed()):
                            attempts = _count_attempt(attempts, max_attempts)
                            order.append(next(next_seeds))
                            pool.submit(order[-1])
                        while order[0] not in done:
                            result = pool.get()
                            done[result.seed] = result
                        commit(done.pop(order.pop(0)))
                finally:
                    pool.close()
        finally:
            bar.close()
        return Summary(writer.root, writer.n_episodes, state["new"], state["failed"],
                       time.perf_counter() - t0)


def _check_store(writer: EpisodeWriter, observation: str, robot: str) -> None:
    """Refuse to add episodes of another observation mode or robot to an existing store."""
    if not writer.good:
        return
    first = writer.root / str(writer.good[0]["file"])
    meta = load_episode(first).meta
    for key, flag, want in (("observation", "--observation", observation),
                            ("robot", "--robot", robot)):
        stored = meta.get(key, "views" if key == "observation" else "ur5")
        if stored != want:
            raise DatasetError(f"{writer.root} holds {stored!r} {key} episodes; rerun with "
                               f"{flag} {stored} or use another --out")


def _count_attempt(attempts: int, max_attempts: int) -> int:
    if attempts >= max_attempts:
        raise RuntimeError(f"gave up after {max_attempts} attempts in this run (is the "
                           f"task's oracle failing?); rerun to continue")
    return attempts + 1


def _camera_names(robot: str = "ur5") -> list[str]:
    from cliport_sim.cameras import REALSENSE_D415

    if robot == "panda":
        from cliport_sim.twin import rig_camera_names

        return rig_camera_names()
    return [c.name for c in REALSENSE_D415]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-demos", description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, help="task name, e.g. put-block-in-bowl-seen-colors")
    ap.add_argument("--mode", required=True, choices=tuple(SEED_START))
    ap.add_argument("--n", type=int, required=True, help="episodes the directory should hold")
    ap.add_argument("--workers", type=int, default=1, help="simulator processes")
    ap.add_argument("--out", required=True, help="data root; episodes go to OUT/TASK-MODE")
    ap.add_argument("--save-views", action="store_true",
                    help="also store the raw camera views (colour + uint16 mm depth)")
    ap.add_argument("--render", metavar="DIR", help="PNGs of each episode's first observation")
    ap.add_argument("--hz", type=int, default=480, help="physics rate (reference: 480)")
    ap.add_argument("--observation", choices=("views", "orthographic"), default="views",
                    help="views: the world's cameras fused as the perception node does "
                         "(default); orthographic: one exact top-down render, ~1.6x cheaper per "
                         "demo")
    ap.add_argument("--robot", choices=("ur5", "panda"), default="ur5",
                    help="ur5: the paper's UR5 + suction (default); panda: the Franka twin "
                         "(Panda + Franka Hand, Franka workspace, grasp yaw in the pick pose)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    from cliport_sim.tasks import task_names

    if args.task not in task_names():
        from cliport_common.cli import did_you_mean

        ap.error(f"unknown task {args.task!r}{did_you_mean(args.task, task_names()) or '.'} "
                 f"Known: {', '.join(task_names())}")
    if args.n < 0 or args.workers < 1 or args.hz < 1:
        ap.error("--n must be >= 0, --workers and --hz >= 1")
    try:
        s = generate(args.task, args.mode, args.n, args.out, workers=args.workers,
                     save_views=args.save_views, render=args.render, hz=args.hz,
                     progress=not args.quiet, observation=args.observation,
                     robot=args.robot)
    except (DatasetError, RuntimeError) as exc:
        print(f"cliport-demos: error: {exc}", file=sys.stderr)
        return 1
    print(f"{s.root}: {s.episodes} episodes ({s.new} new, {s.failed} failed attempts) "
          f"in {s.seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
