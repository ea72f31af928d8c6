"""demos: oracle demo generation, demos per minute per core and bytes per step.

Ours: the loop of ``cliport-demos`` with one in-process worker (:func:`run_demo`: fused
320x160 maps, labels; :class:`EpisodeWriter`: one compressed npz per episode, atomic and
indexed), in both observation modes (``views``: the three cameras fused as perception
does, the default; ``orthographic``: one exact top-down render).

Baseline, in the same run on the same simulator, task and seeds: the reference's
generation pipeline (docs/design.md#dataset-storage) rebuilt on our simulator:
* the three 640x480 views rendered at every step and pickled raw, one pickle per field
  per episode (colour uint8 + depth float32, ~6.45 MB per observation);
* its oracle camera: a 640x480 near-orthographic render with segmentation, reconstructed
  into the grid with the reference algorithm (float64, sort by z, assign), after **every
  object placed** (free space for ``get_random_pose``) and before every oracle action;
* its primitive: descents in 1 mm ``movep`` steps;
* its settle loop: the static check after every simulation step.
Both environments are built and warmed up before timing. "Per core" is the CPU time of
this process (renderer threads included), so neither side gains from threads or loses
to other jobs on a shared machine. A "step" is one stored observation (T+1 per episode),
the unit of the reference's 6.45 MB/step. Goal: ratio >= 5 and <= 0.3 MB per step.
"""

from __future__ import annotations

import cProfile
import os
import pickle
import pstats
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

TASK = "put-block-in-bowl-seen-colors"
WARMUP_SEED = 1000


def _ours(env: Any, seeds: list[int], root: Path) -> tuple[int, int, int]:
    """(kept demos, stored observations, bytes) of the cliport-demos loop."""
    from cliport_sim.dataset import EpisodeWriter
    from cliport_sim.demos import run_demo

    kept = obs = size = 0
    with EpisodeWriter(root) as writer:
        for seed in seeds:
            result = run_demo(env, seed)
            if result.episode is None:
                writer.record_failure(seed, result.reward, result.reason)
                continue
            path = writer.write(result.episode)
            kept, obs = kept + 1, obs + result.episode.n_steps + 1
            size += path.stat().st_size
    return kept, obs, size


def _baseline(env: Any, seeds: list[int], out: Path) -> tuple[int, int, int]:
    """Reference-style generation; (kept demos, stored observations, bytes)."""
    kept = obs = size = 0
    fields = ("color", "depth", "action", "reward", "info")
    for name in fields:
        (out / name).mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        env.reset(seed)
        data: dict[str, list] = {name: [] for name in fields}

        def grab(action, reward, data=data) -> None:
            frames = env.camera_frames()
            data["color"].append(np.stack([f.color for f in frames]))
            data["depth"].append(np.stack([f.depth for f in frames]).astype(np.float32))
            data["action"].append(action)
            data["reward"].append(reward)
            data["info"].append({"lang_goal": env.lang_goal})

        total, reward = 0.0, 0.0
        for _ in range(env.task.max_steps):
            action = env.task.oracle(env)
            if action is None:
                break
            grab({"pose0": action.pose0, "pose1": action.pose1}, reward)
            _, reward, done, _ = env.step(action)
            total += reward
            if done:
                break
        grab(None, reward)
        if total > 0.99:
            for name in fields:
                path = out / name / f"{kept:06d}-{seed}.pkl"
                with open(path, "wb") as fh:
                    pickle.dump(data[name], fh)
                size += path.stat().st_size
            kept, obs = kept + 1, obs + len(data["action"])
    return kept, obs, size


def _reference_env(task: str, config: Any) -> Any:
    """An Environment that pays the reference's oracle, placement and primitive costs."""
    import math

    from cliport_perception.rgbd import RGBDFrame
    from cliport_sim import cameras
    from cliport_sim.environment import Environment
    from cliport_sim.tasks import make_task

    ref_oracle = cameras.CameraConfig("oracle", 640, 480, (63e4, 0, 320, 0, 63e4, 240, 0, 0, 1),
                                      (0.5, 0.0, 1000.0), (0.0, math.pi, -math.pi / 2),
                                      znear=999.7, zfar=1001.0)
    ref_model = ref_oracle.model()

    class ReferenceStyleEnvironment(Environment):
        def _true_image(self) -> cameras.OracleMaps:
            """The reference's get_true_image: render, then reconstruct with its algorithm."""
            from cliport_perception.fusion import reference_fuse

            r = cameras.render(self.client, ref_oracle, segmentation=True, shadow=True)
            seg = np.clip(r.segmentation, 0, 255).astype(np.uint8)
            # the reference concatenates the mask as a 4th colour channel; ids < 256 here
            fake = RGBDFrame(np.stack([seg, np.full_like(seg, 255), seg], -1), r.depth,
                             ref_model)
            cmap, hmap = reference_fuse([fake], self.task_workspace)
            ids = np.where(cmap[..., 1] > 0, cmap[..., 0].astype(np.int32), -1)
            return cameras.OracleMaps(np.zeros(cmap.shape, np.uint8), hmap, ids)

        def occupied_cells(self) -> np.ndarray:
            seg = self._true_image().segmentation
            taken = np.zeros(seg.shape, bool)
            for ids in self.obj_ids.values():
                for body in ids:
                    taken |= seg == body
            return taken

        def oracle_maps(self) -> cameras.OracleMaps:
            if self._oracle_cache is None:
                self._oracle_cache = self._true_image()
            return self._oracle_cache

    env = ReferenceStyleEnvironment(make_task(task, "train"),
                                    replace(config, observe=False, settle_check_every=1))
    env.task.primitive_params = {**env.task.primitive_params, "descend_step": 0.001}
    return env


def _cpu(fn, *args) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - w0


def _where_time_goes(env: Any, seeds: list[int], root: Path) -> None:
    """CPU split of our loop by the functions that matter (cumulative, overlapping)."""
    prof = cProfile.Profile(time.process_time)
    prof.runcall(_ours, env, seeds, root)
    stats = pstats.Stats(prof).stats
    total = sum(v[2] for v in stats.values())
    parts = {"render_frame": "3 camera views", "render_oracle": "oracle top-down renders",
             "random_pose": "  of which scene placement (task reset)",
             "fuse": "fusion to 320x160", "stepSimulation": "physics steps",
             "calculateInverseKinematics": "IK", "save_episode": "compress + write npz"}
    print(f"where our CPU goes ({len(seeds)} demos, {total:.2f} s):", flush=True)
    for fn, label in parts.items():
        t = sum(v[3] for k, v in stats.items() if k[2] == fn or k[2].endswith(f".{fn}>"))
        print(f"  {label:40s} {t / total * 100:5.1f} %  ({t / len(seeds) * 1000:.0f} ms/demo)",
              flush=True)


def run(quick: bool) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from cliport_sim.demos import make_environment, seeds

    n = 3 if quick else 12
    seed_list = [s for s, _ in zip(seeds("train"), range(n), strict=False)]
    ours_env = make_environment(TASK, "train", 480, frames=False)
    ortho_env = make_environment(TASK, "train", 480, frames=False, observation="orthographic")
    base_env = _reference_env(TASK, ours_env.config)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _ours(ours_env, [WARMUP_SEED], Path(tmp) / "warm")
            _ours(ortho_env, [WARMUP_SEED], Path(tmp) / "warm-ortho")
            _baseline(base_env, [WARMUP_SEED], Path(tmp) / "warm-base")
            (kept, obs, size), cpu, wall = _cpu(_ours, ours_env, seed_list, Path(tmp) / "o")
            (okept, oobs, osize), ocpu, owall = _cpu(_ours, ortho_env, seed_list,
                                                     Path(tmp) / "t")
            (bkept, bobs, bsize), bcpu, bwall = _cpu(_baseline, base_env, seed_list,
                                                     Path(tmp) / "b")
            if not quick:
                _where_time_goes(ours_env, seed_list, Path(tmp) / "p")
    finally:
        ours_env.close()
        ortho_env.close()
        base_env.close()
    if kept == 0 or bkept == 0:
        raise RuntimeError(f"no demo kept (ours {kept}, baseline {bkept}) from {seed_list}")
    ours, base = kept / (cpu / 60.0), bkept / (bcpu / 60.0)
    ortho = okept / (ocpu / 60.0)
    mb, bmb, omb = size / obs / 1e6, bsize / bobs / 1e6, osize / oobs / 1e6
    print(f"ours (views): {kept} demos, {obs} steps in {wall:.1f} s wall / {cpu:.1f} s CPU; "
          f"{mb:.4f} MB/step", flush=True)
    print(f"ours (orthographic): {okept} demos, {oobs} steps in {owall:.1f} s wall / "
          f"{ocpu:.1f} s CPU; {omb:.4f} MB/step", flush=True)
    print(f"baseline: {bkept} demos, {bobs} steps in {bwall:.1f} s wall / {bcpu:.1f} s CPU; "
          f"{bmb:.3f} MB/step", flush=True)
    print(f"demos per CPU-minute: ours (views) {ours:.1f} = {ours / base:.2f}x, ours "
          f"(orthographic) {ortho:.1f} = {ortho / base:.2f}x, baseline {base:.1f}; storage "
          f"{bmb / mb:.0f}x smaller", flush=True)
    return {"name": "demos", "ours": round(ours, 3), "baseline": round(base, 3),
            "unit": "demos/min/core", "ratio": round(ours / base, 2),
            "ratio_orthographic": round(ortho / base, 2),
            "mb_per_step": round(mb, 4), "baseline_mb_per_step": round(bmb, 3)}
