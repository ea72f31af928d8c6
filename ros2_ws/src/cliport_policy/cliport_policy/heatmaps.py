"""Affordance heatmap pictures: a probability map blended over the colormap.

Used for the evaluation PNGs, the ``make demo`` output and the policy node's RViz images.
Rows run along world y and columns along x, as in the heightmap, so the pictures are the
grid as stored (320 x 160), scaled up for viewing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def colorize(heat: np.ndarray) -> np.ndarray:
    """[H, W] float -> [H, W, 3] uint8, black -> red -> yellow -> white by relative value."""
    h = np.asarray(heat, np.float64)
    h = np.nan_to_num(h, nan=0.0)
    peak = h.max()
    t = h / peak if peak > 0 else np.zeros_like(h)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)],
                   axis=-1)
    return (rgb * 255).astype(np.uint8)


def overlay(colormap: np.ndarray, heat: np.ndarray, cell: tuple[int, int] | None = None,
            alpha: float = 0.6, scale: int = 2) -> np.ndarray:
    """Blend ``heat`` over ``colormap`` and mark ``cell`` (u, v) with a cyan cross."""
    base = np.asarray(colormap, np.float64)
    heat_rgb = colorize(heat).astype(np.float64)
    t = np.nan_to_num(np.asarray(heat, np.float64), nan=0.0)
    t = (t / t.max()) if t.max() > 0 else t
    a = alpha * np.sqrt(t)[..., None]
    img = (base * (1 - a) + heat_rgb * a).astype(np.uint8)
    if cell is not None:
        u, v = int(cell[0]), int(cell[1])
        img[max(u - 4, 0):u + 5, v] = (0, 255, 255)
        img[u, max(v - 4, 0):v + 5] = (0, 255, 255)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    return img


def decision_panel(colormap: np.ndarray, decision) -> np.ndarray:
    """[colormap | pick heatmap | place heatmap] side by side for one decision."""
    parts = [overlay(colormap, np.zeros(colormap.shape[:2])),
             overlay(colormap, decision.pick_heatmap, decision.pick[:2]),
             overlay(colormap, decision.place_heatmap, decision.place[:2])]
    gap = np.full((parts[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


def mark_action(colormap: np.ndarray, pick: tuple[int, int] | None,
                place: tuple[int, int] | None, scale: int = 2) -> np.ndarray:
    """The colormap scaled up, the pick cell ringed in cyan and the place cell in magenta
    (an episode GIF's frame: where the arm is about to go)."""
    img = np.asarray(colormap, np.uint8).repeat(scale, axis=0).repeat(scale, axis=1).copy()
    h, w = img.shape[:2]
    uu, vv = np.mgrid[0:h, 0:w]
    for cell, color in ((pick, (0, 255, 255)), (place, (255, 0, 255))):
        if cell is None:
            continue
        cu, cv = (int(cell[0]) + 0.5) * scale, (int(cell[1]) + 0.5) * scale
        r = np.hypot(uu - cu, vv - cv)
        img[(r >= 5 * scale) & (r < 6.5 * scale)] = color
    return img


def save_gif(path: str | Path, images: list[np.ndarray], frame_ms: int = 800) -> Path:
    """An animated GIF of same-sized RGB frames (looping), e.g. one frame per episode step."""
    from PIL import Image

    if not images:
        raise ValueError("save_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.fromarray(np.ascontiguousarray(i)) for i in images]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path
