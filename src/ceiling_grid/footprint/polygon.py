"""The compact metric polygon room format: an outline in metres (holes, columns) instead of a cell list.

    {"grid_id": "meeting-2", "outline": [[0, 0], [6.3, 0], [6.3, 4.9], [0, 4.9]],
     "holes": [[[x, y], ...]], "columns": [[[x, y], ...], {"centre": [x, y], "radius": 0.2},
     {"centre": [x, y], "size": [0.4, 0.4]}], "tile_size_m": 0.6, ...any other room field}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import DEFAULT_TILE_SIZE_M
from ..errors import Issue, RoomValidationError
from .placement import GridPlacement, place_grid, polygon_area, self_intersection

__all__ = ["CIRCLE_SIDES", "POLYGON_KEYS", "circle_polygon", "is_polygon_room", "polygon_room_payload",
           "room_from_outline"]

POLYGON_KEYS = ("outline", "holes", "columns")
CIRCLE_SIDES = 24  # a round column's footprint is this regular polygon


def circle_polygon(cx: float, cy: float, r: float) -> np.ndarray:
    """(CIRCLE_SIDES, 2) vertices of a round column's footprint, counter-clockwise."""
    a = np.linspace(0, 2 * math.pi, CIRCLE_SIDES, endpoint=False)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)


def is_polygon_room(data: Any) -> bool:
    """Whether a decoded JSON value is in the polygon format (it has an ``outline`` and no ``cells``)."""
    return isinstance(data, dict) and "outline" in data and "cells" not in data


def _points(value: Any, path: str, source: str) -> np.ndarray:
    fix = "give a list of [x, y] points in metres, at least three"
    if not isinstance(value, list) or len(value) < 3:
        raise RoomValidationError(source, [Issue(path, f"{path} needs at least 3 points", fix)])
    for i, p in enumerate(value):
        if (not isinstance(p, list) or len(p) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                                                and math.isfinite(v) for v in p)):
            raise RoomValidationError(source, [Issue(f"{path}[{i}]", f"{path}[{i}] = {p!r} is not an [x, y] point",
                                                     fix)])
    pts = np.array(value, dtype=float)
    if len(pts) > 3 and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]  # a closed ring: drop the repeated first point
    crossing = self_intersection(pts)
    if crossing is not None:
        i, j = crossing
        raise RoomValidationError(source, [Issue(path, f"{path} crosses itself: edge {i} meets edge {j}",
                                                 "draw the outline as a simple polygon, vertices in order")])
    if abs(polygon_area(pts)) < 1e-9:
        raise RoomValidationError(source, [Issue(path, f"{path} has no area", "check the vertices")])
    return pts


def _column(value: Any, path: str, source: str) -> np.ndarray:
    """A column footprint: a polygon, a circle {"centre", "radius"} or a rectangle {"centre", "size"}."""
    if isinstance(value, list):
        return _points(value, path, source)
    fix = 'use [[x, y], ...], {"centre": [x, y], "radius": r} or {"centre": [x, y], "size": [w, d]}'
    centre = value.get("centre") if isinstance(value, dict) else None
    ok_centre = (isinstance(centre, list) and len(centre) == 2
                 and all(isinstance(v, int | float) and math.isfinite(v) for v in centre))
    if not ok_centre or not isinstance(value, dict) or not isinstance(centre, list):
        raise RoomValidationError(source, [Issue(path, f"{path} is not a column footprint", fix)])
    cx, cy = float(centre[0]), float(centre[1])
    if isinstance(value.get("radius"), int | float) and value["radius"] > 0:
        return circle_polygon(cx, cy, float(value["radius"]))
    size = value.get("size")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int | float) and v > 0 for v in size):
        w, d = float(size[0]) / 2, float(size[1]) / 2
        return np.array([[cx - w, cy - d], [cx + w, cy - d], [cx + w, cy + d], [cx - w, cy + d]])
    raise RoomValidationError(source, [Issue(path, f"{path} needs a positive radius or size", fix)])


def room_from_outline(grid_id: str, outline: np.ndarray, tile_m: float, source: str, *,
                      holes: Sequence[np.ndarray] = (), columns: Sequence[np.ndarray] = (),
                      fields: dict[str, Any] | None = None, origin: dict[str, Any] | None = None,
                      ) -> tuple[dict[str, Any], GridPlacement]:
    """A room payload (input schema) for a footprint in metres, with its placement in ``metadata.placement``."""
    placement, states = place_grid(outline, tile_m, holes=holes, columns=columns)
    if not np.isin(states, ("ceiling", "cut_tile", "column")).any() or not (states == "ceiling").any():
        raise RoomValidationError(source, [Issue("outline", f"the outline ({abs(polygon_area(outline)):.2f} m²) "
                                                 f"holds no whole {tile_m:g} m tile",
                                                 "check the units (metres) or the tile size")])
    cells = []
    for y in range(placement.height):
        for x in range(placement.width):
            cell: dict[str, Any] = {"x": x, "y": y, "component": "empty"}
            if states[y, x] != "ceiling":
                cell["state"] = "outside" if states[y, x] == "outside" else str(states[y, x])
            cells.append(cell)
    metadata = dict((fields or {}).pop("metadata", {}) or {})
    area = abs(polygon_area(outline)) - sum(abs(polygon_area(h)) for h in holes)
    metadata["placement"] = {**placement.as_dict(), "footprint_area_m2": round(area, 3)}
    if origin:
        metadata["source"] = origin
    payload = {**(fields or {}), "grid_id": grid_id, "tile_size_m": tile_m, "width": placement.width,
               "height": placement.height, "metadata": metadata, "cells": cells}
    return payload, placement


def polygon_room_payload(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The room payload of a polygon-format room (``is_polygon_room``); errors name the file and the element."""
    outline = _points(data.get("outline"), "outline", source)
    holes = data.get("holes") or []
    columns = data.get("columns") or []
    if not isinstance(holes, list) or not isinstance(columns, list):
        raise RoomValidationError(source, [Issue("holes" if not isinstance(holes, list) else "columns",
                                                 "holes and columns must be JSON arrays", "use a list")])
    tile = data.get("tile_size_m", DEFAULT_TILE_SIZE_M)
    if not isinstance(tile, int | float) or not 0.2 < tile <= 2.0:
        raise RoomValidationError(source, [Issue("tile_size_m", f"tile_size_m = {tile!r} is not a tile size",
                                                 "use a number of metres from 0.2 to 2 (0.6, or 0.6096 for 2 ft)")])
    grid_id = data.get("grid_id")
    if not isinstance(grid_id, str) or not grid_id:
        raise RoomValidationError(source, [Issue("grid_id", "grid_id is missing", "name the room")])
    fields = {k: v for k, v in data.items() if k not in (*POLYGON_KEYS, "grid_id", "tile_size_m")}
    payload, _ = room_from_outline(
        grid_id, outline, float(tile), source,
        holes=[_points(h, f"holes[{i}]", source) for i, h in enumerate(holes)],
        columns=[_column(c, f"columns[{i}]", source) for i, c in enumerate(columns)],
        fields=fields, origin={"format": "polygon-json", "file": source.rsplit("/", 1)[-1]})
    return payload
