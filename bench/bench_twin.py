"""twin: the Franka twin's step rate, simulated seconds per wall second, camera at 30 Hz.

Ours: oracle episodes of put-block-in-bowl on the twin's world as the ``twin`` node runs
them: :class:`~cliport_sim.twin_world.TwinWorld` (its world thread, the RealSense-like
camera rendered every 1/30 s of simulated time with depth noise and holes, each frame
converted to the node's rgb8 + 16UC1 ``sensor_msgs/Image`` pair) and each oracle decision
executed through :class:`~cliport_sim.twin_backend.TwinBackend` (the ``moveit`` backend's
sequencing on the twin's arm and hand, a goal's supervisor on simulated time), unpaced
(``real_time_factor`` 0). Only what runs while goals execute is timed: the simulated time
advanced over the wall time taken.

Baseline: real time, 1 simulated second per wall second: the pace of the real rig, which a
rehearsal at ``real_time_factor`` 1 asks for. Ratio > 1: the twin keeps up with real time.
Also reported: the same episodes with the camera off (physics, IK and motions alone) and
the CPU time of this process per simulated second.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

TASK = "put-block-in-bowl-seen-colors"
SEEDS = (10001, 10003)  # two blocks, then one: three pick-and-place goals
QUICK_SEEDS = (10003,)


def _episodes(camera_fps: float, seeds: tuple[int, ...]) -> dict[str, float]:
    """Run the seeds' oracle episodes; simulated s, wall s, CPU s, frames, goals."""
    from cliport_common.poses import SE2Pose, yaw_of
    from cliport_executor.request import PickPlaceRequest
    from cliport_executor.supervision import Supervisor
    from cliport_perception.image_conversion import array_to_image
    from cliport_sim.nodes.world_messages import executor_config
    from cliport_sim.twin_backend import TwinBackend
    from cliport_sim.twin_world import TwinWorld, load_twin_config

    def publish_like_the_node(frame, stamp_ns: int) -> None:
        array_to_image(frame.color, "rgb8", frame_id="camera_color_optical_frame")
        array_to_image(frame.depth, "16UC1", frame_id="camera_color_optical_frame")

    cfg = dataclasses.replace(load_twin_config(), task=TASK, seed=seeds[0],
                              camera_fps=camera_fps, idle_camera_rate=0.0,
                              real_time_factor=0.0)
    world = TwinWorld(cfg, on_frame=publish_like_the_node if camera_fps > 0 else None)
    totals = {"sim_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "frames": 0, "goals": 0,
              "rewards": 0.0}
    try:
        backend = TwinBackend(executor_config(cfg.executor_params, cfg.base_frame), world=world)
        backend.connect()
        for seed in seeds:
            world.reset(seed)
            while not world.episode.done:
                action = world.oracle()
                if action is None:
                    break
                (x0, y0, z0), q0 = action.pose0
                (x1, y1, z1), q1 = action.pose1
                request = PickPlaceRequest(world.episode.lang_goal,
                                           SE2Pose(x0, y0, z0, yaw_of(q0)),
                                           SE2Pose(x1, y1, z1, yaw_of(q1)))
                sup = Supervisor(None, backend.config.timeouts, clock=lambda: world.sim_time,
                                 watchdog=False)
                sim0, frames0 = world.sim_time, world.frames_rendered
                wall0, cpu0 = time.perf_counter(), time.process_time()
                outcome = backend.execute(request, sup)
                totals["wall_s"] += time.perf_counter() - wall0
                totals["cpu_s"] += time.process_time() - cpu0
                totals["sim_s"] += world.sim_time - sim0
                totals["frames"] += world.frames_rendered - frames0
                totals["goals"] += 1
                totals["rewards"] += float(outcome.reward or 0.0)
                print(f"  seed {seed} goal {world.episode.step}: {outcome.success} "
                      f"{outcome.message[:60]!r} reward {outcome.reward:.2f}", flush=True)
    finally:
        world.close()
    return totals


def run(quick: bool) -> dict[str, Any]:
    seeds = QUICK_SEEDS if quick else SEEDS
    print(f"camera at 30 Hz of simulated time, seeds {seeds}:", flush=True)
    cam = _episodes(30.0, seeds)
    print("camera off:", flush=True)
    bare = _episodes(0.0, seeds)
    rate = cam["sim_s"] / cam["wall_s"]
    bare_rate = bare["sim_s"] / bare["wall_s"]
    frame_cost = (cam["wall_s"] - cam["sim_s"] / bare_rate) / max(cam["frames"], 1)
    print(f"camera at 30 Hz: {cam['sim_s']:.1f} simulated s in {cam['wall_s']:.1f} wall s "
          f"({cam['goals']} goals, {cam['frames']} frames): {rate:.3f} sim s / wall s, "
          f"{cam['cpu_s'] / cam['sim_s']:.2f} CPU s per sim s; ~{frame_cost * 1000:.0f} ms "
          f"a frame", flush=True)
    print(f"camera off: {bare['sim_s']:.1f} simulated s in {bare['wall_s']:.1f} wall s: "
          f"{bare_rate:.2f} sim s / wall s", flush=True)
    return {"name": "twin", "ours": round(rate, 4), "baseline": 1.0,
            "unit": "simulated s per wall s (camera at 30 Hz)", "ratio": round(rate, 4),
            "camera_off": round(bare_rate, 3), "frames": cam["frames"],
            "goals": cam["goals"], "frame_ms": round(frame_cost * 1000, 1),
            "cpu_s_per_sim_s": round(cam["cpu_s"] / cam["sim_s"], 3)}
