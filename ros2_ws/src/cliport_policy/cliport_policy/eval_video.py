"""``cliport-eval --save-video N``: the first N test episodes as videos and a report.

During a rollout the world's states are recorded (:class:`cliport_sim.recording.StateRecorder`,
microseconds a frame); when the episode ends they are rendered into an MP4 and a GIF from a
perspective camera (:mod:`cliport_sim.video`). Each step's top-down map with its pick and
place heatmaps is saved beside them, and ``index.html`` in the folder shows every episode.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SUCCESS_REWARD = 0.99


class EpisodeVideo:
    """One evaluation episode's video: ``start()`` after the reset, ``step()`` after each
    action, ``finish()`` at the end (renders and writes ``<seed>.json`` for the report)."""

    def __init__(self, out: str | Path, env, seed: int) -> None:
        from cliport_sim.recording import StateRecorder

        self.out = Path(out)
        self.env = env
        self.seed = int(seed)
        self.recorder = StateRecorder()
        self.panels: list[str] = []
        self.lines: list[str] = []

    def start(self) -> EpisodeVideo:
        self.recorder.start(self.env)
        return self

    def step(self, panel: np.ndarray, reward: float, info: dict) -> None:
        from cliport_policy.heatmaps import save_png

        ok = bool(info.get("primitive", {}).get("ok", True))
        self.recorder.step_ended(reward, ok)
        name = f"{self.seed}-step{len(self.panels) + 1}.png"
        save_png(self.out / name, panel)
        self.panels.append(name)
        self.lines.append(f"step {len(self.panels)}: reward {reward:+.3f}"
                          + ("" if ok else " (the motion failed)"))

    def finish(self, total_reward: float) -> None:
        from cliport_sim.video import save_video

        self.recorder.stop()
        rec = self.recorder.recording()
        success = total_reward >= SUCCESS_REWARD
        mp4, gif = save_video(rec, self.out / f"{self.seed}", success=success)
        entry = {"seed": self.seed, "task": rec.task, "instruction": rec.instruction,
                 "success": success, "total_reward": float(total_reward), "video": mp4.name,
                 "gif": gif.name, "topdown": self.panels, "steps": self.lines}
        (self.out / f"{self.seed}.json").write_text(json.dumps(entry))


def write_video_report(out: str | Path, title: str) -> Path | None:
    """``<out>/index.html`` over the episodes whose ``<seed>.json`` is there (None: none)."""
    import logging

    from cliport_policy.episode_report import ReportEpisode, write_report

    out = Path(out)
    entries = sorted((json.loads(p.read_text()) for p in out.glob("*.json")),
                     key=lambda e: e["seed"])
    if not entries:
        return None
    episodes = [ReportEpisode(i, e["seed"], e["task"], e["instruction"], e["success"],
                              e["total_reward"], video=e["video"], gif=e["gif"],
                              topdown=e["topdown"], steps=e["steps"])
                for i, e in enumerate(entries)]
    path = write_report(out, episodes, title=title)
    logging.getLogger("cliport_policy.evaluate").info("episode videos: %s", path)
    return path
