"""``cliport-scenes``: captioned top-down renders of coloured blocks and bowls, no actions.

    cliport-scenes --out runs/scenes --n 400 --robot panda
    cliport-scenes --out /tmp/scenes --n 4 --robot ur5 --observation orthographic

Why: the small CLIP that stands in for CLIPort's web-trained one learns colours and shapes
from whatever it is pre-trained on (``cliport-pretrain-clip``). From 10 demos that is the
handful of colours their instructions happen to name; a real CLIP knew every colour before
it saw a demo. These scenes are that prior knowledge, rendered instead of crawled: random
blocks and bowls in all 11 colours, each object labelled with its caption ("red block")
and its cell. No task, no goal, no oracle, no demonstration (docs/design.md#scene-captions).

A scene is one ``NNNNNN.npz`` (colormap, heightmap, captions, pixels, seed) written
atomically, so a run stops and resumes anywhere; scene ``i`` is seed
``SCENE_SEED_START + 2 i``, a range no task's train, val or test seeds reach.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cliport_sim import assets
from cliport_sim.colors import FULL_COLORS
from cliport_sim.tasks.base import Task, TaskSetupError

SCENE_SEED_START = 2_000_000  # far above train (even from 0) and test (odd from 10001) seeds
SCENE_SEED_STRIDE = 2
SHAPES = {  # caption noun -> (asset, size x, y, z)
    "block": ("stacking/block.urdf", (0.04, 0.04, 0.04)),
    "bowl": ("bowl/bowl.urdf", (0.12, 0.12, 0.0)),
}
MIN_OBJECTS, MAX_OBJECTS = 4, 9  # per scene, before the table runs out of room
FORMAT = "cliport_sim.scene_captions/1"


class CaptionedScene(Task):
    """Random blocks and bowls in random colours; remembers each object's caption.

    Not a registered task: it has no goal and no oracle, only a scene to look at.
    """

    family = "captioned-scene"
    max_steps = 0

    def __init__(self, colors: tuple[str, ...] = FULL_COLORS) -> None:
        super().__init__("train")
        self.palette = tuple(colors)
        self.objects: list[tuple[int, str]] = []  # (body, caption)

    def reset(self, env) -> None:
        self.goals, self.progress, self._rewards = [], 0.0, 0.0
        self.objects = []
        self.build(env)
        if not self.objects:
            raise TaskSetupError(f"{self.name}: no object fitted on the table")

    def build(self, env) -> None:
        rng = env.rng
        want = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
        for _ in range(want):
            shape = ("block", "bowl")[int(rng.integers(2))]
            urdf, size = SHAPES[shape]
            pose = self.random_pose(env, size)
            if pose is None:
                break  # the table is full: a smaller scene, not a failed one
            color = self.palette[int(rng.integers(len(self.palette)))]
            body = env.add_object(assets.asset_path(urdf), pose, "rigid", color=color)
            self.objects.append((body, f"{color} {shape}"))


@dataclass
class Scene:
    """One captioned render: every object's caption and its (row, col) cell."""

    colormap: np.ndarray  # uint8 rows x cols x 3
    heightmap: np.ndarray  # float32 rows x cols, metres above the table
    captions: list[str]
    pixels: np.ndarray  # int32 [n, 2] (row, col), one per caption
    seed: int


def render_scene(env, task: CaptionedScene, seed: int) -> Scene:
    """Reset ``env`` (whose task is ``task``) to ``seed``; caption the settled scene."""
    obs = env.reset(seed)
    captions, pixels = [], []
    for body, caption in task.objects:
        (x, y, _), _ = env.pose(body)
        u, v = env.workspace.xy_to_pixel(float(x), float(y))
        if env.workspace.in_grid(u, v):  # an object pushed off the grid is not in the image
            captions.append(caption)
            pixels.append((u, v))
    return Scene(obs.colormap, obs.heightmap, captions,
                 np.asarray(pixels, np.int32).reshape(-1, 2), seed)


def save_scene(path: Path, scene: Scene, meta: dict) -> None:
    """Write one scene atomically (a temp file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, colormap=scene.colormap, heightmap=scene.heightmap,
                                captions=np.asarray(scene.captions, dtype=str),
                                pixels=scene.pixels, seed=np.int64(scene.seed),
                                meta=np.asarray(json.dumps(meta)))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def scene_files(root: str | os.PathLike) -> list[Path]:
    """The store's scenes in order."""
    return sorted(Path(root).glob("[0-9]" * 6 + ".npz"))


def load_scene(path: str | os.PathLike) -> Scene:
    with np.load(path, allow_pickle=False) as z:
        return Scene(z["colormap"], z["heightmap"], [str(c) for c in z["captions"]],
                     z["pixels"].astype(np.int32), int(z["seed"]))


def generate_scenes(out: str | os.PathLike, n: int, *, robot: str = "panda",
                    observation: str = "views", progress: bool = True) -> int:
    """Make ``out`` hold ``n`` scenes (resuming what is there); returns how many were new."""
    from tqdm import tqdm

    from cliport_sim.environment import Environment, load_sim_config

    if n < 0:
        raise ValueError(f"need n >= 0, got {n}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "robot": robot, "observation": observation}
    meta_path = root / "meta.json"
    if meta_path.is_file():
        stored = json.loads(meta_path.read_text())
        if {k: stored.get(k) for k in meta} != meta:
            raise ValueError(f"{root} holds scenes of {stored}, not {meta}: use another --out")
    else:
        meta_path.write_text(json.dumps(meta) + "\n")
    files = scene_files(root)
    have = len(files)
    if have >= n:
        return 0
    task = CaptionedScene()
    config = replace(load_sim_config(), observe=True, keep_frames=False,
                     observation=observation, robot=robot)
    index = int(files[-1].stem) + 1 if files else 0  # after a gap, never a repeated seed
    made, failed = 0, 0
    with Environment(task, config) as env, tqdm(total=n, initial=have, unit="scene",
                                                disable=not progress, desc="scenes") as bar:
        while have + made < n:
            seed = SCENE_SEED_START + SCENE_SEED_STRIDE * index
            index += 1
            try:
                scene = render_scene(env, task, seed)
            except TaskSetupError:
                failed += 1
                if failed > n:
                    raise ValueError(f"{failed} scenes could not be built: the table is "
                                     "too small for one object") from None
                continue
            save_scene(root / f"{index - 1:06d}.npz", scene, meta)
            made += 1
            bar.update(1)
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-scenes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="scene store folder (resumes)")
    ap.add_argument("--n", type=int, required=True, help="scenes the store should hold")
    ap.add_argument("--robot", choices=("ur5", "panda"), default="panda",
                    help="whose world renders them (panda: the twin's camera and table)")
    ap.add_argument("--observation", choices=("views", "orthographic"), default="views")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        made = generate_scenes(args.out, args.n, robot=args.robot,
                               observation=args.observation, progress=not args.quiet)
    except ValueError as exc:
        print(f"cliport-scenes: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(scene_files(args.out))} scenes ({made} new)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
