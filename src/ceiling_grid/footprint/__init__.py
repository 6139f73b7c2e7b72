"""Rooms given as metric footprints: the installer's grid placement and the compact polygon room format.

``place_grid(outline, tile)`` lays the ceiling grid on the room's own axes with balanced borders and
classifies every tile; ``polygon_room_payload(data, source)`` turns a polygon-format room into the
cell-list schema. DXF and IFC importers (adapters) produce outlines and reuse ``room_from_outline``.
"""

from __future__ import annotations

from .placement import GridPlacement, contains_point, grid_to_source, place_grid, polygon_area, self_intersection
from .polygon import POLYGON_KEYS, circle_polygon, is_polygon_room, polygon_room_payload, room_from_outline

__all__ = [
    "POLYGON_KEYS",
    "GridPlacement",
    "circle_polygon",
    "contains_point",
    "grid_to_source",
    "is_polygon_room",
    "place_grid",
    "polygon_area",
    "polygon_room_payload",
    "room_from_outline",
    "self_intersection",
]
