"""Helpers for tests and notebooks: build rooms in one line."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .grid import RoomGrid, parse_room

__all__ = ["beam_line", "ies_text", "l_shaped_room", "lambertian_table", "ldt_text", "make_room", "room_payload"]

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


# ----- photometric files -------------------------------------------------------------------------


def lambertian_table(flux_lm: float, gamma_step: float = 5.0) -> tuple[list[float], list[float]]:
    """(γ angles, candela) of an all-downward Lambertian panel of ``flux_lm``: I(γ) = Φ/π cos γ (§6.3)."""
    n = round(90.0 / gamma_step)
    gamma = [i * gamma_step for i in range(n + 1)]
    return gamma, [flux_lm / math.pi * math.cos(math.radians(g)) for g in gamma]


def ies_text(
    horizontal: Sequence[float],
    vertical: Sequence[float],
    candela: Sequence[Sequence[float]],
    *,
    version: str = "IESNA:LM-63-2002",
    keywords: Mapping[str, str] | None = None,
    lamps: int = 1,
    lumens_per_lamp: float = -1.0,
    multiplier: float = 1.0,
    watts: float = 34.0,
    tilt: str = "NONE",
    per_line: int = 10,
    units: int = 2,
    size_m: tuple[float, float] = (0.6, 0.6),
) -> str:
    """An IES LM-63 file's text; ``per_line`` wraps every number list (any layout is legal)."""
    head = [version] if version else []
    for key, value in (keywords or {"MANUFAC": "ceiling-grid tests", "LUMCAT": "TEST-1"}).items():
        head.append(f"[{key}] {value}")
    head.append(f"TILT={tilt}")

    def wrap(values: Sequence[float]) -> list[str]:
        return [" ".join(f"{v:.6g}" for v in values[i : i + per_line]) for i in range(0, len(values), per_line)]

    first = (f"{lamps} {lumens_per_lamp:g} {multiplier:g} {len(vertical)} {len(horizontal)} 1 {units} "
             f"{size_m[1]:g} {size_m[0]:g} 0")
    numbers = [first, f"1 1 {watts:g}"]
    numbers += wrap(vertical) + wrap(horizontal)
    for row in candela:
        numbers += wrap(row)
    return "\n".join(head + numbers) + "\n"


def ldt_text(
    isym: int,
    c_listed: Sequence[float],
    gamma: Sequence[float],
    intensities_cd_klm: Sequence[Sequence[float]],
    *,
    lamp_flux: float = 3400.0,
    lamps: int = 1,
    watts: float = 34.0,
    decimal_comma: bool = False,
    name: str = "Test panel",
    company: str = "ceiling-grid tests",
    number: str = "LDT-1",
) -> str:
    """A EULUMDAT file's text: ``c_listed`` are all Mc planes, ``intensities_cd_klm`` only the stored ones."""
    def num(v: float) -> str:
        text = f"{v:.6g}"
        return text.replace(".", ",") if decimal_comma else text

    mc, ng = len(c_listed), len(gamma)
    dc = c_listed[1] - c_listed[0] if mc > 1 else 0
    dg = gamma[1] - gamma[0]
    lines = [company, "1", str(isym), str(mc), num(dc), str(ng), num(dg), "report 1", name, number,
             "test.ldt", "2026-12-02", "600", "600", "10", "590", "590", "0", "0", "0", "0", "100", "100", "1",
             "0", "1", str(lamps), "LED", num(lamp_flux), "4000", "80", num(watts)]
    lines += [num(v) for v in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 1.0)]
    lines += [num(v) for v in c_listed] + [num(v) for v in gamma]
    for row in intensities_cd_klm:
        lines += [num(v) for v in row]
    return "\n".join(lines) + "\n"
