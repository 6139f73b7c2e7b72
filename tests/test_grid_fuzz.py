"""Fuzzing the loader: random JSON and mutated rooms only ever raise ceiling-grid's own InputError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceiling_grid import InputError, Limits, load_room, parse_room
from ceiling_grid.grid import dump_room
from ceiling_grid.testing import room_payload

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)

FIELDS = ["grid_id", "width", "height", "cells", "tile_size_m", "ceiling_height_m", "work_plane_m", "room_type",
          "detector_standard", "occupants", "luminaire", "diffuser"]

SMALL = Limits(max_cells=400, max_side=50)


def _parse_or_input_error(data: Any) -> None:
    try:
        grid = parse_room(data, "fuzz.json", SMALL)
    except InputError as exc:
        text = str(exc)
        assert text.startswith("fuzz.json"), text
        assert "Traceback" not in text
    else:
        assert parse_room(json.loads(dump_room(grid)), "again.json", SMALL) == grid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_raises_only_input_error(data: Any) -> None:
    """Any JSON value either loads (and round-trips) or raises InputError naming the file."""
    _parse_or_input_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from(FIELDS),
    json_values,
    st.integers(0, 35),
    st.sampled_from(["x", "y", "component", "state", "extra"]),
    json_values,
)
def test_mutated_rooms_raise_only_input_error(
    w: int, h: int, field: str, value: Any, cell_index: int, cell_field: str, cell_value: Any
) -> None:
    """A valid room with one top-level field and one cell field replaced by junk loads or fails cleanly."""
    data = room_payload(w, h)
    data[field] = value
    cells = data.get("cells")
    if isinstance(cells, list) and cells and isinstance(cells[cell_index % len(cells)], dict):
        cells[cell_index % len(cells)][cell_field] = cell_value
    _parse_or_input_error(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_file_raises_only_input_error(tmp_path_factory: Any, blob: bytes) -> None:
    """Random bytes on disk give an InputError naming the file, never a traceback."""
    path = tmp_path_factory.mktemp("fuzz") / "room.json"
    path.write_bytes(blob)
    try:
        load_room(path, SMALL)
    except InputError as exc:
        assert str(exc).startswith(str(path))
