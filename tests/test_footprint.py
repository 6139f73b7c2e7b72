"""Rooms from metric footprints: the installer's grid placement and the polygon room format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ceiling_grid.errors import RoomValidationError
from ceiling_grid.footprint import place_grid, polygon_room_payload, self_intersection
from ceiling_grid.grid import load_room

SYMBOL = {"ceiling": ".", "cut_tile": "c", "outside": " ", "column": "#"}


def _rect(w: float, h: float, x: float = 0.0, y: float = 0.0) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def test_borders_are_balanced_and_at_least_half_a_tile() -> None:
    placement, states = place_grid(_rect(10.3, 6.1), 0.6)
    assert (placement.width, placement.height) == (18, 11)  # 16 + 2 cut borders by 9 + 2
    assert placement.border_x_m == pytest.approx(0.35) and placement.border_y_m == pytest.approx(0.35)
    assert (states[1:-1, 1:-1] == "ceiling").all()
    border = np.concatenate([states[0], states[-1], states[:, 0], states[:, -1]])
    assert (border == "cut_tile").all()  # corners too: their centres are inside, so the room stays rectangular
    exact, states = place_grid(_rect(6.0, 4.8), 0.6)
    assert (exact.width, exact.height) == (10, 8) and (states == "ceiling").all()  # whole tiles: no cuts


def test_an_l_room_a_column_and_a_hole() -> None:
    outline = np.array([[0, 0], [12.3, 0], [12.3, 4.1], [6.2, 4.1], [6.2, 9.1], [0, 9.1]])
    column = _rect(0.4, 0.4, 2.8, 2.8)
    hole = _rect(1.2, 1.2, 8.0, 1.2)
    placement, states = place_grid(outline, 0.6, holes=[hole], columns=[column])
    rows = ["".join(SYMBOL[v] for v in row) for row in states]
    assert rows[0] == "c" * 11 + " " * 10  # the arm's top border comes first: the drawing's top row
    assert (states == "column").sum() == 1
    gx, gy = np.argwhere(states == "column")[0][::-1]
    cx, cy = placement.to_source((gx + 0.5) * 0.6, (gy + 0.5) * 0.6)
    assert math.hypot(cx - 3.0, cy - 3.0) < 0.45  # the column tile is where the column stands in the drawing
    hy, hx = np.argwhere(states == "outside")[-1]
    sx, sy = placement.to_source((hx + 0.5) * 0.6, (hy + 0.5) * 0.6)
    assert 8.0 <= sx <= 9.2 and 1.2 <= sy <= 2.4  # the hole's tiles are outside, where the hole is


def test_the_grid_follows_a_rotated_room() -> None:
    a = math.radians(36.87)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    outline = np.array([np.zeros(2), 10 * u, 10 * u + 5 * v, 5 * v]) + np.array([100.0, 50.0])
    placement, states = place_grid(outline, 0.6)
    assert placement.angle_deg == pytest.approx(36.87, abs=1e-3)
    assert (placement.width, placement.height) == (17, 9) and (states == "ceiling").sum() == 15 * 7
    # the grid's corners land on the outline's corners, less the cut borders
    x, y = placement.to_source(0.6 - placement.border_x_m, placement.height * 0.6 - (0.6 - placement.border_y_m))
    assert math.hypot(x - 100.0, y - 50.0) < 1e-6


def test_self_intersection_is_found() -> None:
    bow = np.array([[0, 0], [4, 4], [4, 0], [0, 4]])
    assert self_intersection(bow) == (0, 2)
    assert self_intersection(_rect(3, 3)) is None


@pytest.mark.parametrize(("data", "pattern"), [
    ({"grid_id": "r", "outline": [[0, 0], [1, 1]]}, r"bad.json: outline needs at least 3 points"),
    ({"grid_id": "r", "outline": [[0, 0], [4, 4], [4, 0], [0, 4]]}, r"outline crosses itself: edge 0 meets edge 2"),
    ({"grid_id": "r", "outline": [[0, 0], [0.5, 0], [0.5, 0.4]]}, r"holds no whole 0.6 m tile"),
    ({"grid_id": "r", "outline": [[0, 0], [6, 0], [6, "x"]]}, r"outline\[2\] = \[6, 'x'\] is not an \[x, y\] point"),
    ({"grid_id": "r", "outline": [[0, 0], [6, 0], [6, 6]], "columns": [{"centre": [1, 1]}]},
     r"columns\[0\] needs a positive radius or size"),
    ({"grid_id": "r", "outline": [[0, 0], [6, 0], [6, 6]], "tile_size_m": 6}, r"tile_size_m = 6 is not a tile size"),
])
def test_a_bad_polygon_room_names_the_file_the_element_and_the_fix(data: dict, pattern: str) -> None:
    with pytest.raises(RoomValidationError, match=pattern) as err:
        polygon_room_payload(data, "rooms/bad.json")
    assert str(err.value).startswith("rooms/bad.json: ") and "(fix: " in str(err.value)


def test_load_room_takes_the_polygon_format_and_keeps_every_room_field(tmp_path: Path) -> None:
    path = tmp_path / "meeting.json"
    path.write_text(json.dumps({
        "grid_id": "meeting", "outline": [[0, 0], [7.3, 0], [7.3, 5.1], [0, 5.1]], "room_type": "conference",
        "detector_standard": "bs5839_1", "columns": [{"centre": [3.6, 2.5], "radius": 0.25}],
        "metadata": {"level": "L2"}}))
    grid = load_room(path)
    assert (grid.room_type, str(grid.detector_standard)) == ("conference", "bs5839_1")
    assert grid.metadata["level"] == "L2" and grid.metadata["source"]["format"] == "polygon-json"
    assert grid.metadata["placement"]["tile_m"] == 0.6
    assert (grid.width, grid.height) == (13, 9)
