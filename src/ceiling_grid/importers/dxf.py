"""Rooms from a 2D plan in DXF (ezdxf): closed outlines on room layers, names from the text inside them,
columns from circles or outlines on column layers, units from ``$INSUNITS``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DEFAULT_COLUMN_LAYERS, DEFAULT_LIMITS, DEFAULT_ROOM_LAYERS, DEFAULT_TILE_SIZE_M, Limits
from ..errors import Issue, RoomValidationError
from ..footprint import circle_polygon, contains_point, room_from_outline, self_intersection
from .common import check_size, room_id

__all__ = ["DEFAULT_COLUMN_LAYERS", "DEFAULT_ROOM_LAYERS", "UNIT_METRES", "DxfOptions", "dxf_room_payloads"]

UNIT_METRES = {1: 0.0254, 2: 0.3048, 4: 0.001, 5: 0.01, 6: 1.0, 10: 0.9144, 14: 0.1, 21: 1200.0 / 3937.0}
UNIT_NAMES = {1: "in", 2: "ft", 4: "mm", 5: "cm", 6: "m", 10: "yd", 14: "dm", 21: "US survey ft"}


@dataclass(frozen=True)
class DxfOptions:
    """Which layers hold rooms and columns (matched without regard to case), and the grid to lay."""

    room_layers: tuple[str, ...] = DEFAULT_ROOM_LAYERS
    column_layers: tuple[str, ...] = DEFAULT_COLUMN_LAYERS
    tile_m: float = DEFAULT_TILE_SIZE_M
    fields: dict[str, Any] = field(default_factory=dict)  # other room fields for every room (height, type ...)


def _outline(entity: Any) -> np.ndarray | None:
    """The vertices of a closed LWPOLYLINE or 2D POLYLINE (None when it is open)."""
    if entity.dxftype() == "LWPOLYLINE":
        if not entity.closed:
            return None
        pts = [(float(x), float(y)) for x, y in entity.get_points(format="xy")]
    else:
        if not entity.is_closed:
            return None
        pts = [(float(v[0]), float(v[1])) for v in entity.points()]
    arr = np.array(pts, dtype=float).reshape(-1, 2)
    if len(arr) > 3 and np.allclose(arr[0], arr[-1]):
        arr = arr[:-1]
    return arr


def _read(path: Path, source: str, limits: Limits) -> Any:
    from ezdxf.filemanagement import readfile
    from ezdxf.lldxf.const import DXFStructureError

    check_size(path, source, limits, "split the drawing")
    try:
        return readfile(path)
    except DXFStructureError as exc:
        raise RoomValidationError(source, [Issue("", f"malformed DXF: {exc}",
                                                 "export the plan again as DXF (AutoCAD 2000 or later)")]) from None
    except OSError as exc:
        what = "is not a DXF file" if "not a DXF" in str(exc) else f"cannot read the drawing: {exc.strerror or exc}"
        raise RoomValidationError(source, [Issue("", what, "export the plan from the CAD tool as DXF")]) from None
    except Exception as exc:  # noqa: BLE001 - ezdxf on a broken file may raise anything (StopIteration, ValueError)
        raise RoomValidationError(source, [Issue("", f"malformed DXF ({type(exc).__name__}: {exc})".replace(": )", ")"),
                                                 "export the plan again as DXF (AutoCAD 2000 or later)")]) from None


def _texts(msp: Any) -> list[tuple[str, float, float, str]]:
    out = []
    for e in msp.query("TEXT MTEXT"):
        text = e.plain_text() if e.dxftype() == "MTEXT" else e.dxf.text
        line = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
        if line:
            out.append((line, float(e.dxf.insert[0]), float(e.dxf.insert[1]), e.dxf.handle))
    return out


def _columns(msp: Any, layers: set[str], scale: float) -> list[np.ndarray]:
    cols: list[np.ndarray] = []
    for e in msp.query("CIRCLE LWPOLYLINE POLYLINE"):
        if e.dxf.layer.upper() not in layers:
            continue
        if e.dxftype() == "CIRCLE":
            cols.append(circle_polygon(float(e.dxf.center[0]), float(e.dxf.center[1]), float(e.dxf.radius)) * scale)
        else:
            pts = _outline(e)
            if pts is not None and len(pts) >= 3:
                cols.append(pts * scale)
    return cols


def dxf_room_payloads(path: str | Path, options: DxfOptions | None = None,
                      limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Room payloads (input schema) of every closed outline on a room layer; each error names the file,
    the entity handle and the fix, and nothing is returned unless every room is good."""
    opts = options or DxfOptions()
    p = Path(path)
    source = str(path)
    doc = _read(p, source, limits)
    code = int(doc.header.get("$INSUNITS", 0) or 0)
    if code not in UNIT_METRES:
        raise RoomValidationError(source, [Issue("$INSUNITS", f"the drawing's units are {code} "
                                                 f"({'unitless' if code == 0 else 'not a length we read'})",
                                                 "set the drawing units (UNITS command) to mm, cm, m, in or ft")])
    scale = UNIT_METRES[code]
    msp = doc.modelspace()
    room_layers = {name.upper() for name in opts.room_layers}
    candidates = [e for e in msp.query("LWPOLYLINE POLYLINE") if e.dxf.layer.upper() in room_layers]
    if not candidates:
        layers = sorted({e.dxf.layer for e in msp})
        raise RoomValidationError(source, [Issue("layers", "no room outline on the layers "
                                                 f"{', '.join(opts.room_layers)}; the drawing has "
                                                 f"{', '.join(layers) or 'no entities'}",
                                                 "name the room layer (ceiling-grid import --room-layer NAME)")])
    outlines: list[tuple[str, str, np.ndarray]] = []
    issues: list[Issue] = []
    for e in candidates:
        pts = _outline(e)
        handle = e.dxf.handle
        if pts is None:
            issues.append(Issue(f"handle {handle}", f"the outline {handle} on layer {e.dxf.layer} is not closed",
                                "close the polyline, or move it off the room layer"))
        elif len(pts) < 3:
            issues.append(Issue(f"handle {handle}", f"the outline {handle} has fewer than 3 vertices", "redraw it"))
        elif (crossing := self_intersection(pts)) is not None:
            issues.append(Issue(f"handle {handle}", f"the outline {handle} crosses itself (edges {crossing[0]} and "
                                f"{crossing[1]})", "redraw it as a simple polygon"))
        else:
            outlines.append((handle, e.dxf.layer, pts))
    if issues:
        raise RoomValidationError(source, issues)
    return _rooms(outlines, _texts(msp), _columns(msp, {n.upper() for n in opts.column_layers}, scale), scale,
                  code, opts, source, p.name)


def _rooms(outlines: Sequence[tuple[str, str, np.ndarray]], texts: list[tuple[str, float, float, str]],
           columns: list[np.ndarray], scale: float, code: int, opts: DxfOptions, source: str,
           file_name: str) -> list[dict[str, Any]]:
    """One payload per outline that is not a hole in another; names from the first text inside each."""
    holes_of: dict[int, list[np.ndarray]] = {i: [] for i in range(len(outlines))}
    is_hole: set[int] = set()
    for i, (_, _, a) in enumerate(outlines):
        for j, (_, _, b) in enumerate(outlines):
            if i != j and all(contains_point(a, float(x), float(y)) for x, y in b):
                holes_of[i].append(b)
                is_hole.add(j)
    used: dict[str, int] = {}
    payloads = []
    for i, (handle, layer, pts) in enumerate(outlines):
        if i in is_hole:
            continue
        name = next((t for t, x, y, _ in sorted(texts, key=lambda t: t[3]) if contains_point(pts, x, y)
                     and not any(contains_point(h, x, y) for h in holes_of[i])), "")
        grid_id = room_id(name, f"room-{handle}", used, handle)
        outline_m = pts * scale
        inner = [c for c in columns if contains_point(outline_m, float(c[:, 0].mean()), float(c[:, 1].mean()))]
        origin = {"format": "dxf", "file": file_name, "handle": handle, "layer": layer, "name": name,
                  "units": UNIT_NAMES[code]}
        try:
            payload, _ = room_from_outline(grid_id, outline_m, opts.tile_m, f"{source}: handle {handle}",
                                           holes=[h * scale for h in holes_of[i]], columns=inner,
                                           fields=dict(opts.fields), origin=origin)
        except RoomValidationError as exc:
            raise RoomValidationError(source, [Issue(f"handle {handle}", f"the outline {handle} "
                                                     f"({name or 'unnamed'}): {issue.message}", issue.fix)
                                               for issue in exc.issues]) from None
        payloads.append(payload)
    return payloads
