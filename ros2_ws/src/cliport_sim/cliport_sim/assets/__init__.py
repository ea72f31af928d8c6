"""The task assets (URDF / OBJ) and how to load them.

Files here are made by :mod:`cliport_sim.asset_gen` (rerun it after changing a size; the
tests fail when the committed files are stale). Everything is in metres and every mesh is
pre-scaled, so meshes load with scale 1 (:data:`MESH_SCALE`) where the reference passed
factors like (0.003, 0.003, 0.001).

Origins (so that the reference's ``z = height / 2`` placement rests objects on the table):

============================== ===================================== =======================
asset                          size (m)                              origin
============================== ===================================== =======================
plane/plane.urdf               20 x 20, checkered                    top face (load z -0.001)
workspace/workspace.urdf       0.6 x 1.1 x 0.01, grey 0.2            top face (load (0.5,0,0))
stacking/block.urdf            0.04 cube, 0.01 kg, friction 1        centre
block/block.urdf               0.04 cube, 0.1 kg, friction 1         centre
block/small.urdf               0.01 cube, 0.001 kg, friction 0.5     centre
bowl/bowl.urdf                 0.12 x 0.12 x 0.04, 0.1 kg            bottom centre
container/container-template   DIM0 x DIM1 x DIM2, 0.1 kg, fr. 0.3   centre
box/box-template.urdf          DIM0 x DIM1 x DIM2, 0.1 kg            centre
kitting/kit.urdf               0.28 x 0.2 x 0.005, 0.1 kg            centre
kitting/object-template.urdf   shape SHAPE within 0.08 x 0.08 x 0.02 mid-height, see below
kitting/hole-template.urdf     outline + 2 mm, 0.0002 thick, visual  bottom
zone/zone.urdf                 0.15 x 0.15 outline                   top face
stacking/stand.urdf            3 tiles 0.05 x 0.05 x 0.005           tiles' centre
hanoi/stand.urdf               3 tiles 0.12 x 0.12 x 0.01 + rods     tiles' centre
hanoi/disk{0,1,2}.urdf         rings, 0.014 thick (disk0 smallest)   centre
square/square-template.urdf    3 bars DIM0 x 0.01, top at z 0.001    centre, table top
============================== ===================================== =======================

Kitting shapes are centred on their rotation centre (shapes with a symmetry below 2 pi) or
on their bounding box (letters, heart). Holes go on the kit's top face: kit-frame
``z = KIT_HOLE_Z``. Hanoi rods stand at stand-frame ``(0, y, 0.03)``, y in
(-0.12, 0, 0.12), from the tiles' top (0.005) to 0.055.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cliport_sim.assets import _kitting
from cliport_sim.assets._urdf import box_inertia, fmt

ASSETS_ROOT: Path = Path(__file__).resolve().parent

MESH_SCALE: tuple[float, float, float] = (1.0, 1.0, 1.0)
"""Mesh scale for every mesh here (all pre-scaled to metres)."""

KIT_SHAPE_NAMES: tuple[str, ...] = _kitting.NAMES
"""The 20 kitting shape names, index order of ``kitting/NN.obj`` (docs/design.md#kitting-shapes)."""
KIT_SHAPE_LABELS: tuple[str, ...] = tuple(f"{n} shape" if n.startswith("letter ") else n
                                           for n in KIT_SHAPE_NAMES)
"""The shapes as instructions name them ("letter R shape", docs/design.md#kitting-shapes)."""
KIT_SYMMETRIES: tuple[float, ...] = _kitting.SYMMETRIES
"""Rotational symmetry (radians) of each kitting shape; 0 means rotation is ignored."""
KIT_SHAPE_SIZE: tuple[float, float, float] = (0.08, 0.08, 0.02)
KIT_SIZE: tuple[float, float, float] = (0.28, 0.2, 0.005)
KIT_HOLE_Z: float = 0.0025
"""Kit-frame z at which a hole (bottom at its origin) lies on the kit's top face."""
KIT_HOLE_COLOR: tuple[float, float, float, float] = (0.2, 0.2, 0.2, 1.0)

BLOCK_SIZE: tuple[float, float, float] = (0.04, 0.04, 0.04)
SMALL_BLOCK_SIZE: tuple[float, float, float] = (0.01, 0.01, 0.01)
BOWL_SIZE: tuple[float, float, float] = (0.12, 0.12, 0.04)
ZONE_SIZE: tuple[float, float, float] = (0.15, 0.15, 0.0)
HANOI_STAND_SIZE: tuple[float, float, float] = (0.12, 0.36, 0.01)
HANOI_ROD_POSITIONS: tuple[tuple[float, float, float], ...] = (
    (0.0, -0.12, 0.03), (0.0, 0.0, 0.03), (0.0, 0.12, 0.03))
HANOI_DISK_DIAMETERS: tuple[float, float, float] = (0.05, 0.065, 0.08)
HANOI_DISK_THICKNESS: float = 0.014
STACKING_STAND_SIZE: tuple[float, float, float] = (0.05, 0.15, 0.005)

_TEMPLATE_DEFAULTS: dict[str, dict[str, object]] = {
    "box/box-template.urdf": {"COLOR": (1.0, 1.0, 1.0, 1.0)},
    "kitting/object-template.urdf": {"COLOR": (1.0, 1.0, 1.0, 1.0)},
    "kitting/hole-template.urdf": {"COLOR": KIT_HOLE_COLOR},
}
# Placeholders computed from DIM (geometry cannot do arithmetic in URDF).
_WALL = 0.002


def _inertia(mass: float) -> Callable[[Sequence[float]], dict[str, object]]:
    return lambda d: {"INERTIA": box_inertia(mass, (d[0], d[1], d[2]))}


_DERIVED: dict[str, Callable[[Sequence[float]], dict[str, object]]] = {
    "box/box-template.urdf": _inertia(0.1),
    "container/container-template.urdf": lambda d: {
        **_inertia(0.1)(d), "HALF": tuple(x / 2 for x in d),
        "WALL": (d[0] / 2 - _WALL / 2, d[1] / 2 - _WALL / 2), "FLOOR": (-d[2] / 2 + _WALL / 2,)},
    "square/square-template.urdf": lambda d: {
        "INERTIA": box_inertia(0.1, (d[0], d[0], 0.001)), "HALF": (d[0] / 2 - 0.005,)},
}
_TOLERATED = {"HALF"}  # the reference passes HALF everywhere; we derive it from DIM
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}[0-9]*\b")

_tmp_dir: Path | None = None
_tmp_pid: int | None = None


def asset_path(rel: str) -> Path:
    """Absolute path of an asset given relative to :data:`ASSETS_ROOT`."""
    path = (ASSETS_ROOT / rel).resolve()
    if ASSETS_ROOT not in path.parents:
        raise FileNotFoundError(f"asset path {rel!r} leaves the assets folder {ASSETS_ROOT}")
    if not path.is_file():
        raise FileNotFoundError(
            f"no asset {rel!r} under {ASSETS_ROOT}; regenerate with "
            "`python -m cliport_sim.asset_gen` or check the name")
    return path


def _process_tmp_dir() -> Path:
    """A temp folder owned by this process (a forked child gets its own)."""
    global _tmp_dir, _tmp_pid
    if _tmp_dir is None or _tmp_pid != os.getpid():
        _tmp_dir = Path(tempfile.mkdtemp(prefix=f"cliport_assets_{os.getpid()}_"))
        _tmp_pid = os.getpid()
        atexit.register(_cleanup, _tmp_dir, _tmp_pid)
    return _tmp_dir


def _cleanup(path: Path, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def _expand(key: str, value: object) -> dict[str, str]:
    """Placeholder -> text: a sequence fills KEY0, KEY1, ...; anything else fills KEY."""
    if not re.fullmatch(r"[A-Z][A-Z_]*", key):
        raise ValueError(f"placeholder names are upper-case words, got {key!r}")
    value = _plain(value)
    if isinstance(value, (str, os.PathLike)):
        return {key: str(value)}
    if isinstance(value, Sequence):
        seq = list(value)
        if key == "COLOR":
            if len(seq) not in (3, 4) or not all(0.0 <= float(c) <= 1.0 for c in seq):
                raise ValueError(f"COLOR must be 3 or 4 numbers in [0, 1] (e.g. "
                                 f"cliport_sim.colors.rgba(name)), got {seq}")
            seq = [*seq, 1.0] if len(seq) == 3 else seq
        return {f"{key}{i}": _number(key, v) for i, v in enumerate(seq)}
    return {key: _number(key, value)}


def _plain(value: object) -> object:
    """numpy arrays and scalars as Python lists and numbers."""
    return value.tolist() if hasattr(value, "tolist") else value


def _number(key: str, v: object) -> str:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{key}: expected a finite number, got {v!r}")
    return fmt(x)


def fill_template(template_rel: str, replacements: Mapping[str, object],
                  out_dir: Path | None = None) -> Path:
    """Fill a template URDF's placeholders and write it to a uniquely named file.

    ``replacements`` maps a placeholder to a value: a sequence fills ``KEY0, KEY1, ...``
    (``{"DIM": (0.1, 0.2, 0.05)}`` fills DIM0..DIM2), a number or string fills ``KEY``.
    ``COLOR`` takes RGB or RGBA in 0..1. Values the geometry needs but URDF cannot compute
    (inertia, wall offsets, HALF) are derived from DIM. Relative mesh paths are made
    absolute, so the file works from anywhere. The file goes to ``out_dir`` or to a temp
    folder private to this process (removed at exit); names never collide across threads
    or processes. Unknown placeholders, unfilled placeholders, non-finite numbers and
    malformed results raise ``ValueError``.
    """
    template = asset_path(template_rel)
    text = template.read_text()
    values: dict[str, object] = dict(_TEMPLATE_DEFAULTS.get(template_rel, {}))
    values.update(replacements)
    derive = _DERIVED.get(template_rel)
    if derive is not None:
        if "DIM" not in values:
            raise ValueError(f"{template_rel} needs DIM (its size)")
        raw = _plain(values["DIM"])
        raw = raw if isinstance(raw, Sequence) and not isinstance(raw, str) else (raw,)
        try:
            dims = [float(x) for x in raw]
        except (TypeError, ValueError):
            raise ValueError(f"{template_rel}: DIM must be numbers, got {raw!r}") from None
        if not all(math.isfinite(x) and x > 0 for x in dims):
            raise ValueError(f"{template_rel}: DIM must be positive and finite, got {dims}")
        values.update(derive(dims))
    subs: dict[str, str] = {}
    for key, value in values.items():
        expanded = _expand(key, value)
        if key not in _TOLERATED and not any(re.search(rf"\b{k}\b", text) for k in expanded):
            raise ValueError(f"{template_rel} has no placeholder {key!r}")
        subs.update(expanded)
    for key in sorted(subs, key=len, reverse=True):
        text = re.sub(rf"\b{key}\b", lambda _m, k=key: subs[k], text)
    root = _parse(text, template_rel)
    for elem in root.iter():
        for attr, val in elem.attrib.items():
            if attr == "filename":
                if not os.path.isabs(val) and _PLACEHOLDER.search(val):
                    raise ValueError(f"{template_rel}: placeholder {_PLACEHOLDER.search(val)[0]}"
                                     f" not filled (in <{elem.tag} {attr}>)")
                if not os.path.isabs(val):
                    val = str((template.parent / val).resolve())
                    elem.set(attr, val)
                if not Path(val).is_file():
                    raise ValueError(f"{template_rel}: mesh {val} does not exist")
            elif _PLACEHOLDER.search(val) and elem.tag not in ("robot", "link", "material"):
                raise ValueError(f"{template_rel}: placeholder {_PLACEHOLDER.search(val)[0]} "
                                 f"not filled (in <{elem.tag} {attr}>)")
    target_dir = Path(out_dir) if out_dir is not None else _process_tmp_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(template_rel).stem.replace("-template", "")
    fd, name = tempfile.mkstemp(prefix=f"{stem}_", suffix=".urdf", dir=target_dir)
    with os.fdopen(fd, "w") as f:
        f.write(ET.tostring(root, encoding="unicode"))
    return Path(name)


def _parse(text: str, what: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"{what}: filled template is not valid XML: {exc}") from None


# ----------------------------------------------------------------------- convenience
def kit_shape_urdf(index: int, color: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                   out_dir: Path | None = None) -> Path:
    """A URDF for kitting shape ``index`` (0..19) in ``color`` (RGB(A) in 0..1)."""
    return fill_template("kitting/object-template.urdf",
                         {"SHAPE": _shape_id(index), "COLOR": color}, out_dir)


def kit_hole_urdf(index: int, color: Sequence[float] = KIT_HOLE_COLOR,
                  out_dir: Path | None = None) -> Path:
    """A visual-only URDF for the kit hole of shape ``index``; place at kit z KIT_HOLE_Z."""
    return fill_template("kitting/hole-template.urdf",
                         {"SHAPE": _shape_id(index), "COLOR": color}, out_dir)


def container_urdf(size: Sequence[float], out_dir: Path | None = None) -> Path:
    """The brown open box of outer size ``size`` (x, y, z)."""
    return fill_template("container/container-template.urdf", {"DIM": tuple(size)}, out_dir)


def box_urdf(size: Sequence[float], color: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
             out_dir: Path | None = None) -> Path:
    """A solid box of ``size`` (x, y, z)."""
    return fill_template("box/box-template.urdf", {"DIM": tuple(size), "COLOR": color},
                         out_dir)


def square_urdf(side: float, out_dir: Path | None = None) -> Path:
    """The three-sided square of ``side`` used by align-rope (open towards +x)."""
    return fill_template("square/square-template.urdf", {"DIM": (side,)}, out_dir)


def _shape_id(index: int) -> str:
    if not isinstance(index, int) or not 0 <= index < len(KIT_SHAPE_NAMES):
        raise ValueError(f"kitting shape index must be 0..{len(KIT_SHAPE_NAMES) - 1}, "
                         f"got {index!r}")
    return f"{index:02d}"
