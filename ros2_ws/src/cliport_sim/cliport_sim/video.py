"""Episode videos from recordings: a perspective view of the arm doing the task.

:func:`render_recording` rebuilds the recorded episode's scene (task, mode, seed, and the
arm: the UR5 or the Franka twin) in its own PyBullet client, replays the recorded states
into it and renders each from a camera beside the table, framed for that arm's workspace
(:data:`CAMERAS`); the instruction and each step's result are drawn on. :func:`save_video`
writes an H.264 MP4 (the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships) and a GIF.
Rendering happens after the episode, so it never slows the loop that acted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p

from cliport_sim.recording import Recording

SUCCESS_REWARD = 0.99  # the tasks' rewards sum to 1 for a finished episode
GIF_FPS = 10
# a GIF stores every frame whole (~35 kB each here): a twin episode, ~25 s of arm time a
# step, would be tens of MB at real time; 240 frames keeps it a few MB
GIF_MAX_FRAMES = 240


@dataclass(frozen=True)
class VideoCamera:
    """Where the video looks from: beside the table, the arm at the left."""

    width: int = 480
    height: int = 360
    eye: tuple[float, float, float] = (1.25, -0.85, 0.75)
    target: tuple[float, float, float] = (0.42, 0.0, 0.08)
    fov_deg: float = 50.0
    hold_s: float = 1.0  # the first and the last frame are held this long


# The video's camera per arm (``Recording.robot``): the UR5's table spans x 0.25-0.75 m; the
# Franka workspace (franka.yaml) is nearer the base, and the Panda stands taller above it.
CAMERAS = {
    "ur5": VideoCamera(),
    "panda": VideoCamera(eye=(1.35, -0.95, 0.95), target=(0.36, 0.0, 0.26)),
}


def camera_for(rec: Recording) -> VideoCamera:
    """The video camera framed for the recording's arm."""
    if rec.robot not in CAMERAS:
        raise ValueError(f"no video camera for robot {rec.robot!r}; expected one of "
                         f"{sorted(CAMERAS)}")
    return CAMERAS[rec.robot]


def _camera_matrices(cam: VideoCamera) -> tuple[list[float], list[float]]:
    view = p.computeViewMatrix(list(cam.eye), list(cam.target), [0.0, 0.0, 1.0])
    proj = p.computeProjectionMatrixFOV(cam.fov_deg, cam.width / cam.height, 0.05, 10.0)
    return view, proj


def render_recording(rec: Recording, cam: VideoCamera | None = None) -> list[np.ndarray]:
    """The recording's frames as RGB images (uint8, ``cam.height x cam.width x 3``)."""
    from cliport_sim.cameras import quiet_stdout
    from cliport_sim.environment import Environment, load_sim_config
    from cliport_sim.recording import scene_layout
    from cliport_sim.tasks import make_task

    cam = cam or camera_for(rec)
    cfg = dataclasses.replace(load_sim_config(), robot=rec.robot, observe=False)
    with quiet_stdout():  # the EGL plugin names its device on stdout
        env = Environment(make_task(rec.task, rec.mode), cfg)
    try:
        env.reset(rec.seed)
        bodies, joints = scene_layout(env.client)
        if bodies != rec.bodies or [tuple(j) for j in joints] != rec.joint_index:
            raise ValueError(f"{rec.task} seed {rec.seed}: the rebuilt scene has other bodies "
                             f"than the recorded one; cannot replay it")
        c = env.client
        view, proj = _camera_matrices(cam)
        frames = []
        for t in range(rec.n_frames):
            for b, pose in zip(rec.bodies, rec.poses[t], strict=True):
                p.resetBasePositionAndOrientation(b, pose[:3].tolist(), pose[3:].tolist(),
                                                  physicsClientId=c)
            for (b, j), q in zip(rec.joint_index, rec.joints[t], strict=True):
                p.resetJointState(b, j, float(q), physicsClientId=c)
            with quiet_stdout():
                _, _, rgba, _, _ = p.getCameraImage(
                    cam.width, cam.height, viewMatrix=view, projectionMatrix=proj, shadow=1,
                    flags=p.ER_NO_SEGMENTATION_MASK, renderer=p.ER_BULLET_HARDWARE_OPENGL,
                    physicsClientId=c)
            frames.append(np.asarray(rgba, np.uint8).reshape(cam.height, cam.width, 4)[..., :3]
                          .copy())
        return frames
    finally:
        with quiet_stdout():
            env.close()


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def annotate(frames: list[np.ndarray], rec: Recording, success: bool | None = None,
             title: str | None = None) -> list[np.ndarray]:
    """The instruction on top, each finished step's result below, the outcome at the end."""
    from PIL import Image, ImageDraw

    if success is None:
        success = bool(rec.events) and rec.events[-1].total_reward >= SUCCESS_REWARD
    title = title or rec.instruction
    big, small = _font(16), _font(13)
    out = []
    for t, frame in enumerate(frames):
        img = Image.fromarray(frame)
        d = ImageDraw.Draw(img)
        w, h = img.size
        d.rectangle((0, 0, w, 24), fill=(0, 0, 0))
        d.text((6, 4), f'"{title}"', fill=(255, 255, 255), font=big)
        done = [e for e in rec.events if e.frame <= t]
        lines = [f"step {e.step}: reward {e.reward:+.2f} (total {e.total_reward:.2f})"
                 + ("" if e.ok else f"  FAILED {e.message}"[:60]) for e in done[-3:]]
        if t == len(frames) - 1 and rec.events:
            lines.append("SUCCESS" if success else "FAILURE")
        if lines:
            top = h - 6 - 17 * len(lines)
            d.rectangle((0, top - 4, w, h), fill=(0, 0, 0))
            for i, line in enumerate(lines):
                color = ((120, 255, 120) if line == "SUCCESS" else
                         (255, 120, 120) if "FAIL" in line else (255, 255, 255))
                d.text((6, top + 17 * i), line, fill=color, font=small)
        d.text((w - 92, h - 18), f"seed {rec.seed}", fill=(200, 200, 200), font=small)
        out.append(np.asarray(img))
    return out


def _held(frames: list[np.ndarray], fps: int, hold_s: float) -> list[np.ndarray]:
    n = max(0, int(round(hold_s * fps)) - 1)
    return [frames[0]] * n + frames + [frames[-1]] * n if frames else frames


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: int) -> Path:
    """H.264 (yuv420p, plays in every browser) through imageio-ffmpeg's ffmpeg binary."""
    import imageio_ffmpeg

    if not frames:
        raise ValueError("write_mp4 needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=None,
        bitrate=None, macro_block_size=8, ffmpeg_log_level="error",
        output_params=["-crf", "23", "-preset", "veryfast", "-movflags", "+faststart"])
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path


def write_gif(path: str | Path, frames: list[np.ndarray], fps: int,
              gif_fps: int = GIF_FPS, scale: float = 0.75,
              max_frames: int = GIF_MAX_FRAMES) -> Path:
    """A looping GIF at ``gif_fps`` (frames resampled from ``fps``), scaled down; a long
    episode plays faster so that it keeps at most ``max_frames`` (the MP4 stays real time)."""
    from PIL import Image

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, int(len(frames) * gif_fps / fps))
    stride = fps / gif_fps * max(1.0, n / max_frames)  # source frames per GIF frame
    n = min(n, max_frames)
    picks = [frames[min(len(frames) - 1, int(i * stride))] for i in range(n)]
    h, w = frames[0].shape[:2]
    size = (int(w * scale), int(h * scale))
    images = [Image.fromarray(f).resize(size, Image.BILINEAR) for f in picks]
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=int(round(1000 / gif_fps)), loop=0, optimize=False)
    return path


def save_video(rec: Recording, stem: str | Path, success: bool | None = None,
               cam: VideoCamera | None = None) -> tuple[Path, Path]:
    """Render ``rec`` and write ``<stem>.mp4`` and ``<stem>.gif``; returns both paths."""
    cam = cam or camera_for(rec)
    frames = annotate(render_recording(rec, cam), rec, success)
    frames = _held(frames, rec.fps, cam.hold_s)
    stem = Path(stem)
    return (write_mp4(stem.with_suffix(".mp4"), frames, rec.fps),
            write_gif(stem.with_suffix(".gif"), frames, rec.fps))
