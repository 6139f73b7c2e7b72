#!/usr/bin/env python3
"""Write the sample rooms in data/input deterministically (rerunning gives byte-identical files).

Usage: python scripts/make_sample_rooms.py [--out data/input]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ceiling_grid.grid import parse_room
from ceiling_grid.testing import room_payload

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "input"
Tile = tuple[int, int]


def legacy_sample() -> dict[str, Any]:
    """10x10 room in exactly the legacy format: grid_id, width, height, cells with x/y/component only."""
    blocked = {(4, 4), (7, 2)}
    cells = [
        {"x": x, "y": y, "component": "invalid" if (x, y) in blocked else "empty"} for y in range(10) for x in range(10)
    ]
    return {"grid_id": "sample_grid", "width": 10, "height": 10, "cells": cells}


def private_office() -> dict[str, Any]:
    """3.6 x 3.0 m private office (6 x 5 tiles of 600 mm), one sprinkler head."""
    return room_payload(
        6,
        5,
        grid_id="private_office",
        states={(3, 2): "sprinkler"},
        room_type="office",
        ceiling_height_m=2.7,
        metadata={"description": "private office 3.6 x 3.0 m"},
    )


def open_plan() -> dict[str, Any]:
    """14.4 x 8.4 m open-plan office with two columns, a sprinkler grid and access panels."""
    states: dict[Tile, str] = {(8, 6): "column", (8, 7): "column", (16, 6): "column", (16, 7): "column"}
    for x in (2, 8, 14, 20):
        for y in (2, 11):
            states[(x, y)] = "sprinkler"
    states.update({(12, 0): "access_panel", (23, 4): "access_panel", (4, 13): "access_panel"})
    return room_payload(
        24,
        14,
        grid_id="open_plan",
        states=states,
        room_type="open_plan",
        ceiling_height_m=2.7,
        metadata={"description": "open plan 14.4 x 8.4 m"},
    )


def classroom() -> dict[str, Any]:
    """7.2 x 8.4 m classroom, 3.0 m ceiling, a projector (existing equipment) mid-room."""
    return room_payload(
        12,
        14,
        grid_id="classroom",
        states={(6, 5): "equipment", (3, 3): "sprinkler", (8, 10): "sprinkler"},
        room_type="classroom",
        ceiling_height_m=3.0,
        occupants=30,
        metadata={"description": "classroom 7.2 x 8.4 m"},
    )


def corridor() -> dict[str, Any]:
    """30 m x 1.8 m corridor (50 x 3 tiles), lit at floor level, two exit signs."""
    states = {(0, 1): "equipment", (49, 1): "equipment"}
    return room_payload(
        50,
        3,
        grid_id="corridor",
        states=states,
        room_type="corridor",
        ceiling_height_m=2.7,
        metadata={"description": "corridor 30 x 1.8 m"},
    )


def l_office_us() -> dict[str, Any]:
    """L-shaped office on a 2 ft grid (609.6 mm tiles), 9 ft ceiling, with a pre-placed return grille."""
    width, height, cut_w, cut_h = 20, 16, 8, 7
    outside = [(x, y) for y in range(cut_h) for x in range(width - cut_w, width)]
    return room_payload(
        width,
        height,
        grid_id="l_office_us",
        outside=outside,
        components={(5, 12): "air_return"},
        states={(10, 10): "sprinkler", (3, 3): "sprinkler"},
        tile_size_m=0.6096,
        ceiling_height_m=2.7432,
        room_type="us_office_30fc",
        metadata={"description": "L-shaped office, 2 ft grid, 40 x 32 ft minus 16 x 14 ft"},
    )


ROOMS = {
    "sample_grid": legacy_sample,
    "private_office": private_office,
    "open_plan": open_plan,
    "classroom": classroom,
    "corridor": corridor,
    "l_office_us": l_office_us,
}


def render(payload: dict[str, Any]) -> str:
    """Stable text: header keys in schema order, one compact cell per line."""
    head = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}," for k, v in payload.items() if k != "cells"]
    cells = ",\n".join("    " + json.dumps(c, separators=(", ", ": ")) for c in payload["cells"])
    return "{\n" + "\n".join(head) + '\n  "cells": [\n' + cells + "\n  ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in ROOMS.items():
        payload = build()
        parse_room(payload, source=name)  # fail loudly if a sample breaks the schema
        path = args.out / f"{name}.json"
        path.write_text(render(payload), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
