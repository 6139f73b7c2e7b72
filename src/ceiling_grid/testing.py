"""Helpers for tests and notebooks: build rooms in one line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .grid import RoomGrid, parse_room

__all__ = ["beam_line", "l_shaped_room", "make_room", "room_payload"]

Tile = tuple[int, int]


def room_payload(
    width: int,
    height: int,
    *,
    grid_id: str = "test-room",
    states: Mapping[Tile, str] | None = None,
    components: Mapping[Tile, str] | None = None,
    outside: Iterable[Tile] = (),
    beams: Mapping[Tile, float] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """A room as the JSON dict of the input schema (row-major cells); ``beams`` maps tiles to beam depths (m)."""
    states = dict(states or {})
    for tile in outside:
        states[tile] = "outside"
    beams = beams or {}
    for tile in beams:
        states[tile] = "beam"
    components = components or {}
    cells = []
    for y in range(height):
        for x in range(width):
            cell: dict[str, Any] = {"x": x, "y": y, "component": components.get((x, y), "empty")}
            if (x, y) in states:
                cell["state"] = states[(x, y)]
            if (x, y) in beams:
                cell["beam_depth_m"] = beams[(x, y)]
            cells.append(cell)
    return {"grid_id": grid_id, "width": width, "height": height, **params, "cells": cells}


def make_room(width: int, height: int, **kwargs: Any) -> RoomGrid:
    """A validated ``RoomGrid``; keyword arguments as for :func:`room_payload`."""
    return parse_room(room_payload(width, height, **kwargs), source=kwargs.get("grid_id", "test-room"))


def l_shaped_room(width: int, height: int, cut_width: int, cut_height: int, **kwargs: Any) -> RoomGrid:
    """A ``width`` x ``height`` room whose top-right ``cut_width`` x ``cut_height`` corner is outside."""
    outside = [(x, y) for y in range(cut_height) for x in range(width - cut_width, width)]
    return make_room(width, height, outside=outside, **kwargs)


def beam_line(depth_m: float, *, x: int | None = None, y: int | None = None, span: range) -> dict[Tile, float]:
    """A straight downstand beam ``depth_m`` deep along tile column ``x`` (or row ``y``) over ``span``."""
    if x is not None and y is None:
        return {(x, i): depth_m for i in span}
    if y is not None and x is None:
        return {(i, y): depth_m for i in span}
    raise ValueError("give exactly one of x (a beam along a column) or y (along a row)")
