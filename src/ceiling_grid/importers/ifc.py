"""Rooms from a building model in IFC (ifcopenshell): every IfcSpace with geometry, cut at its ceiling."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DEFAULT_LIMITS, DEFAULT_TILE_SIZE_M, Limits
from ..errors import Issue, RoomValidationError
from ..footprint import contains_point, polygon_area, room_from_outline
from .common import check_size, room_id

__all__ = ["CUT_BELOW_CEILING_M", "FLAT_TOLERANCE_M", "ifc_room_payloads", "section"]

CUT_BELOW_CEILING_M = 0.05  # the footprint is the section this far below the (lowest) ceiling
FLAT_TOLERANCE_M = 0.01  # top faces within this of each other form a flat ceiling
_KEY_DECIMALS = 6


def section(verts: np.ndarray, faces: np.ndarray, z: float) -> list[np.ndarray]:
    """Closed polygons where the horizontal plane at height ``z`` cuts a triangle mesh (m)."""
    tri = verts[faces]  # (n, 3, 3)
    above = tri[:, :, 2] > z
    cut = above.any(axis=1) & ~above.all(axis=1)
    segments: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for t, up in zip(tri[cut], above[cut], strict=True):
        pts = []
        for i, j in ((0, 1), (1, 2), (2, 0)):
            if up[i] != up[j]:
                a, b = t[i], t[j]
                s = (z - a[2]) / (b[2] - a[2])
                p = a + s * (b - a)
                pts.append((round(float(p[0]), _KEY_DECIMALS), round(float(p[1]), _KEY_DECIMALS)))
        if len(pts) == 2 and pts[0] != pts[1]:
            segments.append((pts[0], pts[1]))
    links: dict[tuple[float, float], list[tuple[float, float]]] = defaultdict(list)
    for a, b in segments:
        links[a].append(b)
        links[b].append(a)
    loops: list[np.ndarray] = []
    seen: set[tuple[float, float]] = set()
    for start in sorted(links):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = next((q for q in links[cur] if q != prev and (q not in seen or (q == start and len(loop) > 2))), None)
            if nxt is None or nxt == start:
                break
            loop.append(nxt)
            seen.add(nxt)
            prev, cur = cur, nxt
        if len(loop) >= 3:
            loops.append(_simplify(np.array(loop, dtype=float)))
    return [lp for lp in loops if len(lp) >= 3 and abs(polygon_area(lp)) > 1e-6]


def _simplify(poly: np.ndarray) -> np.ndarray:
    """Drop vertices that lie on the straight line through their neighbours (triangulation seams)."""
    keep = []
    n = len(poly)
    for i in range(n):
        a, b, c = poly[i - 1], poly[i], poly[(i + 1) % n]
        if abs((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])) > 1e-9:
            keep.append(b)
    return np.array(keep).reshape(-1, 2)


def _open(path: Path, source: str, limits: Limits) -> Any:
    import ifcopenshell

    check_size(path, source, limits, "export one storey")
    try:
        model = ifcopenshell.open(str(path))
    except Exception as exc:  # noqa: BLE001 - the IFC parser reports a broken file in several ways
        raise RoomValidationError(source, [Issue("", f"malformed IFC: {exc}",
                                                 "export the model again as IFC2X3 or IFC4 (STEP, .ifc)")]) from None
    if model.schema not in ("IFC2X3", "IFC4", "IFC4X3"):
        raise RoomValidationError(source, [Issue("", f"schema {model.schema} is not supported",
                                                 "export as IFC2X3 or IFC4")])
    return model


def _shape(settings: Any, entity: Any) -> tuple[np.ndarray, np.ndarray] | None:
    import ifcopenshell.geom

    try:
        shape: Any = ifcopenshell.geom.create_shape(settings, entity)
    except Exception:  # noqa: BLE001 - no usable body: the caller says which entity and what to do
        return None
    verts = np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)
    faces = np.asarray(shape.geometry.faces, dtype=np.int64).reshape(-1, 3)
    return (verts, faces) if len(verts) and len(faces) else None


def _ceiling(verts: np.ndarray, faces: np.ndarray) -> tuple[float, float, bool]:
    """(floor z, lowest ceiling z, flat?) from the upward-facing triangles at the top of the body."""
    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(normal, axis=1)
    up = normal[:, 2] > 0.1 * np.maximum(norm, 1e-12)
    zmin = float(verts[:, 2].min())
    if not up.any():
        return zmin, float(verts[:, 2].max()), True
    tops = tri[up][:, :, 2]
    # the top surface: the upward faces above the middle of the body (a floor slab's faces point down)
    mid = (zmin + float(verts[:, 2].max())) / 2
    top = tops[tops.mean(axis=1) > mid]
    if len(top) == 0:
        top = tops
    low, high = float(top.min()), float(top.max())
    return zmin, low, high - low <= FLAT_TOLERANCE_M


def _quantity_height(space: Any, scale: float) -> float | None:
    import ifcopenshell.util.element as element

    for qto in element.get_psets(space, qtos_only=True).values():
        for key in ("FinishCeilingHeight", "Height"):
            value = qto.get(key)
            if isinstance(value, int | float) and value > 0:
                return float(value) * scale
    return None


def ifc_room_payloads(path: str | Path, tile_m: float = DEFAULT_TILE_SIZE_M, fields: dict[str, Any] | None = None,
                      limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Room payloads of every IfcSpace; a space without usable geometry, or any other problem, is an error that
    names the file, the entity (#id, name) and the fix, and no room is returned."""
    import ifcopenshell.geom
    import ifcopenshell.util.unit as unit

    p = Path(path)
    source = str(path)
    model = _open(p, source, limits)
    spaces = model.by_type("IfcSpace")
    if not spaces:
        raise RoomValidationError(source, [Issue("", "the model has no IfcSpace",
                                                 "export rooms/spaces (Revit: Export rooms; ArchiCAD: zones)")])
    settings: Any = ifcopenshell.geom.settings()  # type: ignore[no-untyped-call]
    settings.set("use-world-coords", True)
    scale = float(unit.calculate_unit_scale(model))
    columns = [s for c in model.by_type("IfcColumn") if (s := _shape(settings, c)) is not None]
    issues: list[Issue] = []
    payloads: list[dict[str, Any]] = []
    used: dict[str, int] = {}
    for space in sorted(spaces, key=lambda s: s.id()):
        label = f"#{space.id()} IfcSpace {space.Name or ''!s}".rstrip()
        shape = _shape(settings, space) if space.Representation is not None else None
        if shape is None:
            issues.append(Issue(f"#{space.id()}", f"{label} has no geometry",
                                "export spaces with their 3D body (IFC export option: space boundaries/volumes)"))
            continue
        verts, faces = shape
        floor, ceiling, flat = _ceiling(verts, faces)
        cut = ceiling - min(CUT_BELOW_CEILING_M, (ceiling - floor) / 2)
        loops = sorted(section(verts, faces, cut), key=lambda lp: -abs(polygon_area(lp)))
        if not loops:
            issues.append(Issue(f"#{space.id()}", f"{label}: its body has no plan at ceiling level",
                                "check the space's geometry in the authoring tool"))
            continue
        outline, holes = loops[0], [lp for lp in loops[1:] if contains_point(loops[0], *lp.mean(axis=0))]
        height = _quantity_height(space, scale) or (ceiling - floor)
        warnings = [] if flat else [(f"the ceiling of {label} is not flat: laid out at its lowest height, "
                                     f"{height:.2f} m")]
        name, long_name = str(space.Name or ""), str(getattr(space, "LongName", None) or "")
        grid_id = room_id("-".join(v for v in (name, long_name) if v), f"space-{space.id()}", used, str(space.id()))
        inner = [loop for cverts, cfaces in columns for loop in section(cverts, cfaces, cut)
                 if contains_point(outline, *loop.mean(axis=0))]
        origin = {"format": "ifc", "schema": model.schema, "file": p.name, "entity": f"#{space.id()}",
                  "global_id": space.GlobalId, "name": name, "long_name": long_name, "units": "m",
                  "project_unit_m": scale, "floor_z_m": round(floor, 4)}
        room_fields = {"ceiling_height_m": round(height, 4), **(fields or {})}
        if warnings:
            room_fields["metadata"] = {**room_fields.get("metadata", {}), "warnings": warnings}
        try:
            payload, _ = room_from_outline(grid_id, outline, tile_m, f"{source}: #{space.id()}", holes=holes,
                                           columns=inner, fields=room_fields, origin=origin)
        except RoomValidationError as exc:
            issues.extend(Issue(f"#{space.id()}", f"{label}: {i.message}", i.fix) for i in exc.issues)
            continue
        payloads.append(payload)
    if issues:
        raise RoomValidationError(source, issues)
    return payloads
