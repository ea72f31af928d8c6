"""An HTML report of episodes: per episode its video, GIF, top-down maps with the pick and
place heatmaps of every step, and its result (``make demo``, ``cliport-eval --save-video``).

Plain files next to each other (``index.html`` links them relatively), so the folder can be
opened from disk, copied or served as it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ReportEpisode:
    """One episode's entry; paths are relative to the report's folder."""

    index: int
    seed: int
    task: str
    instruction: str
    success: bool
    total_reward: float
    video: str | None = None  # MP4
    gif: str | None = None
    topdown: list[str] = field(default_factory=list)  # one panel per step
    steps: list[str] = field(default_factory=list)  # one line per step


def step_panel(parts: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Images side by side (the top-down map, the pick heatmap, the place heatmap), padded
    to the tallest, white between them."""
    parts = [np.asarray(p, np.uint8) for p in parts if p is not None]
    if not parts:
        raise ValueError("step_panel needs at least one image")
    h = max(p.shape[0] for p in parts)
    padded = []
    for i, p in enumerate(parts):
        if p.shape[0] < h:
            p = np.concatenate([p, np.full((h - p.shape[0], *p.shape[1:]), 255, np.uint8)])
        if i:
            padded.append(np.full((h, gap, 3), 255, np.uint8))
        padded.append(p[..., :3])
    return np.concatenate(padded, axis=1)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
.episode {{ border-top: 1px solid #ccc; padding: 1em 0; }}
.media {{ display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; }}
.ok {{ color: #187a18; }} .fail {{ color: #b01c1c; }}
figure {{ margin: 0; }} figcaption {{ font-size: 85%; color: #555; }}
img.topdown {{ height: 320px; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
{episodes}
</body></html>
"""


def _episode_html(ep: ReportEpisode) -> str:
    e = html.escape
    verdict = ("<span class='ok'>success</span>" if ep.success
               else "<span class='fail'>failure</span>")
    media = []
    if ep.video:
        media.append(f"<figure><video src='{e(ep.video)}' controls muted loop preload='auto' "
                     f"width='480'></video><figcaption>video (MP4)</figcaption></figure>")
    if ep.gif:
        media.append(f"<figure><img class='gif' src='{e(ep.gif)}' alt='episode {ep.index} "
                     f"animation' width='360'><figcaption>GIF</figcaption></figure>")
    for i, panel in enumerate(ep.topdown):
        media.append(f"<figure><img class='topdown' src='{e(panel)}' alt='step {i + 1}: map, "
                     f"pick and place heatmaps'><figcaption>step {i + 1}: top-down map | pick "
                     f"heatmap | place heatmap</figcaption></figure>")
    steps = "".join(f"<li>{e(s)}</li>" for s in ep.steps)
    return (f"<div class='episode' id='episode-{ep.index}'>"
            f"<h2>episode {ep.index}: {verdict}, total reward {ep.total_reward:.2f}</h2>"
            f"<p>{e(ep.task)}, seed {ep.seed}: &ldquo;{e(ep.instruction)}&rdquo;</p>"
            f"<div class='media'>{''.join(media)}</div><ol>{steps}</ol></div>")


def write_report(out: str | Path, episodes: list[ReportEpisode],
                 title: str = "CLIPort episodes") -> Path:
    """``<out>/index.html`` for ``episodes``; returns its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_ok = sum(ep.success for ep in episodes)
    summary = f"success {n_ok}/{len(episodes)}"
    page = PAGE.format(title=html.escape(title), summary=summary,
                       episodes="\n".join(_episode_html(ep) for ep in episodes))
    path = out / "index.html"
    path.write_text(page)
    return path
