"""The named everyday objects of the packing-google-objects tasks.

Two sources behind one shape of API:

* the built-in procedural set (:mod:`cliport_sim.assets.object_catalog`): the reference's
  56 names (37 seen + 19 unseen, docs/design.md#google-objects), each a compound of coloured boxes,
  cylinders and spheres, generated on demand, cached per process and byte-deterministic;
* a user's real Google Scanned Objects folder in the reference layout
  (``meshes_fixed/<name_with_underscores>.obj`` + ``textures/<name>.png``) through
  :func:`load_object_folder`.

Scale convention, shared by both: the reference sizes a mesh with ``scale = 5 x`` the
largest side of the space it must fit. The built-in objects are designed so that at
``scale = 1`` their larger footprint side is :data:`UNIT_SIDE` (0.2 m); the same formula
therefore makes a built-in object's footprint exactly fit that side
(:func:`scale_for_side`).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cliport_sim.assets import _process_tmp_dir, fill_template
from cliport_sim.assets import _urdf as U
from cliport_sim.assets import object_catalog as catalog
from cliport_sim.assets._mesh import HULL_MARGIN

OBJECTS_SEEN: tuple[str, ...] = catalog.SEEN
OBJECTS_UNSEEN: tuple[str, ...] = catalog.UNSEEN
OBJECTS_ALL: tuple[str, ...] = OBJECTS_SEEN + OBJECTS_UNSEEN

UNIT_SIDE = 0.2
"""Larger footprint side (m) of a built-in object at scale 1."""
OBJECT_MASS = 0.1
OBJECT_FRICTION = 1.0

_cache: dict[tuple[str, str, int], Path] = {}


def scale_for_side(side: float) -> float:
    """The scale that makes an object's larger footprint side equal ``side`` (5 x side)."""
    if not (math.isfinite(side) and side > 0):
        raise ValueError(f"side must be a positive finite length, got {side!r}")
    return side / UNIT_SIDE


def object_names(split: str, mode: str) -> tuple[str, ...]:
    """Objects available to ``packing-{split}-google-objects-*`` in ``mode``.

    ``seen``: all 56 in every mode. ``unseen``: the 37 seen ones in train, the 19 unseen
    ones in val and test.
    """
    if split not in ("seen", "unseen"):
        raise ValueError(f"unknown object split {split!r}; expected 'seen' or 'unseen'")
    if mode not in ("train", "val", "test"):
        raise ValueError(f"unknown mode {mode!r}; expected train, val or test")
    if split == "seen":
        return OBJECTS_ALL
    return OBJECTS_SEEN if mode == "train" else OBJECTS_UNSEEN


def _check_scale(scale: float) -> float:
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    return scale


def _half_extents(part: catalog.Part) -> tuple[float, float, float]:
    """Half extents of a part's axis-aligned bounding box (design units)."""
    if part.kind == "sphere":
        r = part.size[0]
        return (r, r, r)
    if part.kind == "cylinder":
        r, length = part.size
        half = {"x": (length / 2, r, r), "y": (r, length / 2, r), "z": (r, r, length / 2)}
        return half[part.axis]
    sx, sy, sz = (s / 2 for s in part.size)
    c, s = abs(math.cos(part.yaw)), abs(math.sin(part.yaw))
    return (sx * c + sy * s, sx * s + sy * c, sz)


def _design_bounds(parts: list[catalog.Part]) -> tuple[list[float], list[float]]:
    lo, hi = [math.inf] * 3, [-math.inf] * 3
    for part in parts:
        half = _half_extents(part)
        for i in range(3):
            lo[i] = min(lo[i], part.center[i] - half[i])
            hi[i] = max(hi[i], part.center[i] + half[i])
    return lo, hi


def object_size(name: str, scale: float = 1.0) -> tuple[float, float, float]:
    """Bounding-box size (m) of built-in object ``name`` at ``scale``."""
    lo, hi = _design_bounds(catalog.parts(name))
    k = UNIT_SIDE * _check_scale(scale) / max(hi[0] - lo[0], hi[1] - lo[1])
    return tuple((hi[i] - lo[i]) * k for i in range(3))  # type: ignore[return-value]


def _object_text(name: str, scale: float) -> str:
    parts = catalog.parts(name)
    lo, hi = _design_bounds(parts)
    k = UNIT_SIDE * scale / max(hi[0] - lo[0], hi[1] - lo[1])
    mid = [(lo[i] + hi[i]) / 2 for i in range(3)]
    size = [(hi[i] - lo[i]) * k for i in range(3)]
    # Centre of mass at the bounding-box centre, like the reference's COM-corrected meshes;
    # PyBullet reports base poses at the inertial frame, so poses stay = URDF origins.
    elements = [U.inertial(OBJECT_MASS, U.box_inertia(OBJECT_MASS, size))]
    rpy_for = {"x": (0, math.pi / 2, 0), "y": (math.pi / 2, 0, 0), "z": (0, 0, 0)}
    for i, part in enumerate(parts):
        xyz = [(part.center[j] - mid[j]) * k for j in range(3)]
        if part.kind == "box":
            geom, rpy = U.box([s * k for s in part.size]), (0, 0, part.yaw)
        elif part.kind == "cylinder":
            geom, rpy = U.cylinder(part.size[0] * k, part.size[1] * k), rpy_for[part.axis]
        else:
            geom, rpy = U.sphere(part.size[0] * k), (0, 0, 0)
        elements.append(U.visual(geom, xyz=xyz, rpy=rpy, rgba=(*part.rgb, 1.0),
                                 material=f"m{i}"))
        if part.kind == "cylinder":  # PyBullet makes it a hull, grown by the margin
            geom = U.cylinder(max(part.size[0] * k - HULL_MARGIN, HULL_MARGIN),
                              max(part.size[1] * k - 2 * HULL_MARGIN, HULL_MARGIN))
        elements.append(U.collision(geom, xyz=xyz, rpy=rpy))
    return U.robot(name.replace(" ", "_"), [U.link("base", elements, OBJECT_FRICTION)],
                   f"procedural stand-in for '{name}', footprint side "
                   f"{max(size[0], size[1]):.4g} m, origin at the bounding-box centre")


def object_urdf(name: str, scale: float = 1.0) -> Path:
    """URDF of built-in object ``name``; larger footprint side = ``UNIT_SIDE * scale``.

    Generated once per process and (name, scale), in a temp folder private to the process.
    The origin is the bounding-box centre, so ``z = height / 2`` rests it on the table.
    """
    scale = _check_scale(scale)
    key = (name, f"{scale:.9g}", os.getpid())
    path = _cache.get(key)
    if path is not None and path.is_file():
        return path
    text = _object_text(name, scale)  # raises KeyError with the known names
    folder = _process_tmp_dir() / "google"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace(' ', '_')}-{key[1]}.urdf"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    _cache[key] = path
    return path


# ------------------------------------------------------------------ real object folders
@dataclass(frozen=True)
class ObjectFolder:
    """A Google Scanned Objects folder in the reference layout.

    ``names`` are the display names (file stems with ``_`` read as spaces), sorted.
    """

    root: Path
    names: tuple[str, ...]

    def mesh(self, name: str) -> Path:
        path = self.root / "meshes_fixed" / f"{name.replace(' ', '_')}.obj"
        if name not in self.names or not path.is_file():
            raise KeyError(f"no object {name!r} in {self.root}")
        return path

    def texture(self, name: str) -> Path | None:
        """``textures/<name>.png`` if present (apply with changeVisualShape)."""
        path = self.root / "textures" / f"{name.replace(' ', '_')}.png"
        return path if path.is_file() else None

    def urdf(self, name: str, scale: float = 1.0) -> Path:
        """A URDF for ``name`` with uniform mesh ``scale`` (collision: its convex hull)."""
        scale = _check_scale(scale)
        return fill_template("google/object-template.urdf",
                             {"FNAME": str(self.mesh(name)), "SCALE": (scale,) * 3})

    def size(self, name: str, scale: float = 1.0) -> tuple[float, float, float]:
        """Bounding-box size of the mesh at ``scale``, from its vertices."""
        key = (self.root, name)
        if key not in _mesh_sizes:
            lo, hi = [math.inf] * 3, [-math.inf] * 3
            with open(self.mesh(name)) as f:
                for line in f:
                    if line.startswith("v "):
                        v = [float(x) for x in line.split()[1:4]]
                        lo = [min(a, b) for a, b in zip(lo, v, strict=True)]
                        hi = [max(a, b) for a, b in zip(hi, v, strict=True)]
            if not all(math.isfinite(x) for x in lo + hi):
                raise ValueError(f"{self.mesh(name)} has no vertices")
            _mesh_sizes[key] = tuple(h - lo_ for lo_, h in zip(lo, hi, strict=True))
        k = _check_scale(scale)
        return tuple(k * d for d in _mesh_sizes[key])

    def names_for(self, split: str, mode: str) -> tuple[str, ...]:
        """The reference's split (docs/design.md#google-objects), kept to this folder's objects."""
        names = tuple(n for n in object_names(split, mode) if n in self.names)
        if not names:
            example = object_names(split, mode)[0]
            raise FileNotFoundError(f"{self.root} has none of the {split} objects for {mode} "
                                    f"(expected reference names such as {example!r})")
        return names

    def texture_for(self, name: str) -> Path | None:
        return self.texture(name)


class BuiltinObjects:
    """The procedural set behind the same methods as :class:`ObjectFolder`."""

    def names_for(self, split: str, mode: str) -> tuple[str, ...]:
        return object_names(split, mode)

    def urdf(self, name: str, scale: float = 1.0) -> Path:
        return object_urdf(name, scale)

    def size(self, name: str, scale: float = 1.0) -> tuple[float, float, float]:
        return object_size(name, scale)

    def texture_for(self, name: str) -> Path | None:
        return None


_mesh_sizes: dict[tuple[Path, str], tuple[float, ...]] = {}
_folders: dict[str, ObjectFolder] = {}


def object_source(folder: str | os.PathLike = "") -> BuiltinObjects | ObjectFolder:
    """The built-in set, or the user's object folder when ``folder`` is given (cached)."""
    if not str(folder):
        return BuiltinObjects()
    key = str(Path(folder).expanduser().resolve())
    if key not in _folders:
        _folders[key] = load_object_folder(key)
    return _folders[key]


def load_object_folder(path: str | os.PathLike) -> ObjectFolder:
    """Open a user's object folder: the ``google`` folder or its ``meshes_fixed``."""
    root = Path(path).expanduser().resolve()
    if root.name == "meshes_fixed":
        root = root.parent
    meshes = root / "meshes_fixed"
    if not meshes.is_dir():
        raise FileNotFoundError(f"{root} has no meshes_fixed/ folder (expected the reference "
                                "layout: meshes_fixed/<name_with_underscores>.obj)")
    names = tuple(sorted(p.stem.replace("_", " ") for p in meshes.glob("*.obj")))
    if not names:
        raise FileNotFoundError(f"no .obj meshes in {meshes}")
    return ObjectFolder(root, names)
