"""A seeded, varied set of benchmark rooms: sizes, aspect ratios, blocked tiles, L/U-shapes, corridors,
every detector standard and several room types. Same seed, same rooms (byte for byte)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ceiling_grid.config import FT, DetectorStandard
from ceiling_grid.grid import RoomGrid, parse_room
from ceiling_grid.testing import room_payload

__all__ = ["DEFAULT_ROOM_COUNT", "DEFAULT_SEED", "KINDS", "LARGE_ROOMS", "generate_payloads", "generate_rooms",
           "large_rooms", "square_room"]

DEFAULT_SEED = 20_261_123
DEFAULT_ROOM_COUNT = 60
STANDARDS = [s.value for s in DetectorStandard]
US_TILE_M = 2 * FT  # 609.6 mm
# kind -> share of the set; the generator walks this list round-robin so every kind and standard appears.
KINDS = ("office", "open_plan", "l_shape", "corridor", "classroom", "us_office", "u_shape", "conference")
STRUCTURAL_BAY_TILES = 12  # columns every 7.2 m
SPRINKLER_PITCH_TILES = 5  # sprinkler heads every 3 m

Tile = tuple[int, int]


def _sprinklers(rng: np.random.Generator, w: int, h: int, states: dict[Tile, str]) -> None:
    ox, oy = (int(v) for v in rng.integers(1, SPRINKLER_PITCH_TILES, size=2))
    for x in range(ox, w, SPRINKLER_PITCH_TILES):
        for y in range(oy, h, SPRINKLER_PITCH_TILES):
            states.setdefault((x, y), "sprinkler")


def _columns(rng: np.random.Generator, w: int, h: int, states: dict[Tile, str], size: int) -> None:
    off = int(rng.integers(4, STRUCTURAL_BAY_TILES))
    for x in range(off, w - 2, STRUCTURAL_BAY_TILES):
        for y in range(off, h - 2, STRUCTURAL_BAY_TILES):
            for dx in range(size):
                for dy in range(size):
                    states[(x + dx, y + dy)] = "column"


def _scatter(rng: np.random.Generator, w: int, h: int, states: dict[Tile, str], state: str, n: int) -> None:
    for _ in range(n):
        tile = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        states.setdefault(tile, state)


def _payload(kind: str, i: int, rng: np.random.Generator) -> dict[str, Any]:
    standard = STANDARDS[i % len(STANDARDS)]
    states: dict[Tile, str] = {}
    outside: list[Tile] = []
    params: dict[str, Any] = {"detector_standard": standard}
    # five rooms of 40-50 tiles a side (two open plans, three L-shapes); the rest stay under 33
    large = (kind == "open_plan" and i % 24 == 17) or (kind == "l_shape" and i % 24 == 10)
    if kind == "office":
        w, h = int(rng.integers(5, 13)), int(rng.integers(4, 11))
        _scatter(rng, w, h, states, "sprinkler", int(rng.integers(0, 3)))
        params.update(room_type="office", ceiling_height_m=float(rng.choice([2.6, 2.7, 2.8])))
    elif kind == "open_plan":
        w = int(rng.integers(40, 51)) if large else int(rng.integers(16, 33))
        h = max(8, int(w / rng.uniform(1.0, 2.5)))
        _columns(rng, w, h, states, int(rng.choice([1, 2])))
        _sprinklers(rng, w, h, states)
        _scatter(rng, w, h, states, "access_panel", int(rng.integers(1, 5)))
        params.update(room_type="open_plan", ceiling_height_m=float(rng.choice([2.7, 3.0])))
    elif kind == "l_shape":
        w = int(rng.integers(40, 49)) if large else int(rng.integers(12, 30))
        h = int(rng.integers(10, 30)) if not large else w
        cw, ch = int(w * rng.uniform(0.3, 0.6)), int(h * rng.uniform(0.3, 0.6))
        outside = [(x, y) for y in range(ch) for x in range(w - cw, w)]
        _sprinklers(rng, w, h, states)
        params.update(room_type=str(rng.choice(["office", "open_plan"])), ceiling_height_m=2.7)
    elif kind == "corridor":
        width = int(rng.integers(2, 6))
        length = int(rng.integers(15, 61))
        w, h = (length, width) if i % 2 else (width, length)
        _scatter(rng, w, h, states, "sprinkler", length // 6)
        params.update(room_type="corridor", ceiling_height_m=float(rng.choice([2.4, 2.7])))
    elif kind == "classroom":
        w, h = int(rng.integers(10, 17)), int(rng.integers(11, 17))
        _sprinklers(rng, w, h, states)
        params.update(room_type=str(rng.choice(["classroom", "classroom_2011"])), ceiling_height_m=3.0,
                      occupants=int(rng.integers(20, 36)))
    elif kind == "us_office":
        w, h = int(rng.integers(6, 30)), int(rng.integers(5, 20))
        _sprinklers(rng, w, h, states)
        if rng.random() < 0.5:  # room not a whole number of modules: a row of cut tiles along one wall
            for x in range(w):
                states[(x, h - 1)] = "cut_tile"
        params.update(room_type="us_office_30fc", tile_size_m=US_TILE_M, ceiling_height_m=9 * FT)
    elif kind == "u_shape":
        w, h = int(rng.integers(14, 30)), int(rng.integers(12, 24))
        nw, nh = int(w * rng.uniform(0.25, 0.45)), int(h * rng.uniform(0.3, 0.6))
        x0 = (w - nw) // 2
        outside = [(x, y) for y in range(h - nh, h) for x in range(x0, x0 + nw)]
        _columns(rng, w, h, states, 1)
        params.update(room_type="office", ceiling_height_m=2.7)
    elif kind == "conference":
        w, h = int(rng.integers(6, 14)), int(rng.integers(5, 10))
        _scatter(rng, w, h, states, "equipment", int(rng.integers(1, 3)))
        params.update(room_type="conference", ceiling_height_m=float(rng.choice([2.7, 3.2])),
                      occupants=int(rng.integers(6, 20)))
    else:
        raise ValueError(f"unknown room kind {kind!r}; use one of {', '.join(KINDS)}")
    for tile in outside:
        states.pop(tile, None)
    grid_id = f"gen-{i:03d}-{kind}-{standard}"
    params["metadata"] = {"kind": kind, "generator": "benchmarks.rooms", "index": i}
    return room_payload(w, h, grid_id=grid_id, states=states, outside=outside, **params)


def generate_payloads(count: int = DEFAULT_ROOM_COUNT, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """``count`` room payloads (input-schema dicts), deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield _payload(KINDS[i % len(KINDS)], i, rng)


def generate_rooms(count: int = DEFAULT_ROOM_COUNT, seed: int = DEFAULT_SEED) -> list[RoomGrid]:
    """The generated rooms as validated grids."""
    return [parse_room(p, source=p["grid_id"]) for p in generate_payloads(count, seed)]


def square_room(n: int, **params: Any) -> RoomGrid:
    """An empty ``n`` x ``n`` office (600 mm tiles, NFPA 72): the scaling series."""
    return parse_room(room_payload(n, n, grid_id=f"square-{n}", **params), source=f"square-{n}")


# (grid_id, width, height, standard, shape): the worst single rooms up to 60 x 40 tiles, either side of the old
# 2,000-site ILP cap (the 188-room run's cliff: 40 x 60 took 263 s, 59 x 39 113 s, 33 x 40 68 s), L and U shapes
LARGE_ROOMS = (
    ("large-33x40-nfpa72", 33, 40, "nfpa72", "rectangle"),
    ("large-44x44-cen_ts_54_14", 44, 44, "cen_ts_54_14", "rectangle"),
    ("large-40x60-nfpa72", 40, 60, "nfpa72", "rectangle"),
    ("large-60x40-bs5839_1", 60, 40, "bs5839_1", "rectangle"),
    ("large-59x39-cen_ts_54_14", 59, 39, "cen_ts_54_14", "rectangle"),
    ("large-l-60x40-nfpa72", 60, 40, "nfpa72", "l"),
    ("large-u-60x40-cen_ts_54_14", 60, 40, "cen_ts_54_14", "u"),
)


def large_rooms() -> list[RoomGrid]:
    """:data:`LARGE_ROOMS` as empty open-plan offices (L: the top-right quarter is outside; U: a 20 x 20 notch)."""
    out = []
    for grid_id, w, h, standard, shape in LARGE_ROOMS:
        if shape == "l":
            outside = [(x, y) for y in range(h // 2) for x in range(w // 2, w)]
        elif shape == "u":
            outside = [(x, y) for y in range(h // 2, h) for x in range(w // 3, w - w // 3)]
        else:
            outside = []
        payload = room_payload(w, h, grid_id=grid_id, outside=outside, detector_standard=standard,
                               room_type="open_plan")
        out.append(parse_room(payload, source=grid_id))
    return out
