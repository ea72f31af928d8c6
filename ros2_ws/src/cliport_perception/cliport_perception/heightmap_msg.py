"""Conversion between fused heightmaps (numpy) and ``cliport_msgs/Heightmap``.

Message packages are plain generated Python; this module imports no rclpy, so it can be
used to read recorded bags or datasets as well as inside nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cliport_common.frames import BASE_FRAME
from cliport_common.stamps import ns_to_stamp, stamp_to_ns
from cliport_perception.image_conversion import array_to_image, image_to_array
from cliport_perception.workspace import Workspace

# cells by which the bounds may miss a whole grid (float32 round trips of the bounds); a
# pixel_size that does not divide them would put every pose off by a growing fraction
GRID_TOLERANCE = 1e-3


@dataclass
class HeightmapFrame:
    """One fused top-down view: colormap (HxWx3 uint8), heightmap (HxW float32, metres
    above ``workspace.z_min``) and the mask of cells that any camera saw."""

    colormap: np.ndarray
    heightmap: np.ndarray
    workspace: Workspace
    valid: np.ndarray | None = None
    frame_id: str = BASE_FRAME
    stamp_ns: int = 0
    camera_frames: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        shape = self.workspace.shape
        if self.heightmap.shape != shape:
            raise ValueError(f"heightmap shape {self.heightmap.shape} != workspace grid {shape}")
        if self.colormap.shape != shape + (3,):
            raise ValueError(f"colormap shape {self.colormap.shape} != {shape + (3,)}")
        if self.valid is not None and self.valid.shape != shape:
            raise ValueError(f"valid mask shape {self.valid.shape} != {shape}")


def to_msg(frame: HeightmapFrame):
    """Build a ``cliport_msgs/Heightmap`` from a :class:`HeightmapFrame`."""
    from cliport_msgs.msg import Heightmap

    ws = frame.workspace
    stamp = ns_to_stamp(frame.stamp_ns)
    msg = Heightmap()
    msg.header.frame_id = frame.frame_id
    msg.header.stamp = stamp
    msg.pixel_size = float(ws.pixel_size)
    msg.bounds_x_min, msg.bounds_x_max = float(ws.x_min), float(ws.x_max)
    msg.bounds_y_min, msg.bounds_y_max = float(ws.y_min), float(ws.y_max)
    msg.bounds_z_min, msg.bounds_z_max = float(ws.z_min), float(ws.z_max)
    msg.colormap = array_to_image(np.ascontiguousarray(frame.colormap, dtype=np.uint8), "rgb8",
                                  frame_id=frame.frame_id, stamp=stamp)
    msg.heightmap = array_to_image(np.ascontiguousarray(frame.heightmap, dtype=np.float32),
                                   "32FC1", frame_id=frame.frame_id, stamp=stamp)
    if frame.valid is not None:
        mask = np.where(frame.valid, 255, 0).astype(np.uint8)
        msg.valid_mask = array_to_image(mask, "mono8", frame_id=frame.frame_id, stamp=stamp)
    msg.camera_frames = list(frame.camera_frames)
    return msg


def _has_image(image) -> bool:
    """False for the empty ``Image`` that stands for "no valid mask"."""
    return bool(image.height or image.width or image.encoding or len(image.data))


def from_msg(msg) -> HeightmapFrame:
    """Decode a ``cliport_msgs/Heightmap``; raises ValueError on inconsistent content.

    The bounds must span a whole number of ``pixel_size`` cells, and every image must have
    its own encoding, exactly ``step * height`` bytes and that grid's size: a field that
    disagrees is refused, never read as something else.
    """
    ws = Workspace(x_min=msg.bounds_x_min, x_max=msg.bounds_x_max,
                   y_min=msg.bounds_y_min, y_max=msg.bounds_y_max,
                   z_min=msg.bounds_z_min, z_max=msg.bounds_z_max,
                   pixel_size=msg.pixel_size)
    spans = ((ws.y_max - ws.y_min) / ws.pixel_size, (ws.x_max - ws.x_min) / ws.pixel_size)
    if any(abs(span - cells) > GRID_TOLERANCE for span, cells in zip(spans, ws.shape,
                                                                      strict=True)):
        raise ValueError(f"Heightmap bounds span {spans[0]:.6g} x {spans[1]:.6g} cells of "
                         f"pixel_size {ws.pixel_size:g}, not a whole grid")
    if not 0 <= msg.header.stamp.nanosec < 1_000_000_000:
        raise ValueError(f"Heightmap stamp nanosec {msg.header.stamp.nanosec} is not in "
                         f"[0, 1e9)")
    images = [("colormap", msg.colormap, "rgb8"), ("heightmap", msg.heightmap, "32FC1")]
    if _has_image(msg.valid_mask):
        images.append(("valid_mask", msg.valid_mask, "mono8"))
    arrays = {}
    for what, image, want in images:
        if image.encoding != want:
            raise ValueError(f"Heightmap.{what} must be {want}, got {image.encoding[:40]!r}")
        try:
            arrays[what] = image_to_array(image, exact=True)
        except ValueError as exc:
            raise ValueError(f"Heightmap.{what}: {exc}") from None
    valid = arrays["valid_mask"] > 0 if "valid_mask" in arrays else None
    return HeightmapFrame(
        colormap=arrays["colormap"],
        heightmap=arrays["heightmap"],
        workspace=ws,
        valid=valid,
        frame_id=msg.header.frame_id,
        stamp_ns=stamp_to_ns(msg.header.stamp),
        camera_frames=list(msg.camera_frames),
    )
