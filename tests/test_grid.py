"""The room schema: legacy format, extensions, clear errors with JSON paths, limits, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ceiling_grid import Component, LimitExceededError, Limits, RoomValidationError, TileState, load_room, parse_room
from ceiling_grid.grid import dump_room
from ceiling_grid.testing import make_room, room_payload


def test_legacy_format_is_accepted_with_defaults() -> None:
    """A file with only grid_id/width/height/cells loads, with the documented defaults."""
    grid = parse_room(room_payload(10, 10, grid_id="room-001"))
    assert grid.tile_size_m == 0.6 and grid.ceiling_height_m == 2.7
    assert grid.room_type == "office" and grid.detector_standard == "nfpa72"
    assert grid.effective_work_plane_m == 0.75


def test_state_names_in_component_become_states() -> None:
    """{"component": "column"} is read as a column tile with no component."""
    payload = room_payload(3, 3, components={(1, 1): "column"})
    grid = parse_room(payload)
    cell = grid.cell(1, 1)
    assert cell.state is TileState.COLUMN and cell.component is Component.EMPTY


def test_out_of_range_cell_names_file_path_and_fix() -> None:
    """The error names the file, the JSON path and the allowed range."""
    payload = room_payload(10, 10)
    payload["cells"][17]["x"] = 12
    with pytest.raises(RoomValidationError) as info:
        parse_room(payload, "rooms/a.json")
    assert "rooms/a.json: cells[17].x = 12 is outside width 10" in str(info.value)


def test_duplicate_and_missing_cells_are_reported() -> None:
    """A repeated tile and a wrong cell count are both named."""
    payload = room_payload(2, 2)
    payload["cells"][3] = {"x": 0, "y": 0, "component": "empty"}
    with pytest.raises(RoomValidationError) as info:
        parse_room(payload, "r.json")
    assert "cells[3] repeats tile (0, 0) of cells[0]" in str(info.value)


def test_size_limit_is_checked_before_cells_are_built() -> None:
    """A declared 10^6 x 10^6 room is rejected from its header alone."""
    with pytest.raises(LimitExceededError, match="exceeds"):
        parse_room({"grid_id": "big", "width": 10**6, "height": 10**6, "cells": []}, "big.json")
    with pytest.raises(LimitExceededError, match="limit of 50"):
        parse_room(room_payload(10, 10), "r.json", Limits(max_cells=50))


def test_file_errors(tmp_path) -> None:
    """Broken JSON and oversized files give one-line errors naming the file."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"grid_id": "a",')
    with pytest.raises(RoomValidationError, match=r"bad.json: not valid JSON"):
        load_room(bad)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(room_payload(20, 20)))
    with pytest.raises(LimitExceededError, match="over the limit"):
        load_room(big, Limits(max_file_bytes=100))


def test_round_trip_and_o1_lookup() -> None:
    """load(dump(grid)) == grid, and tile arrays index cells in O(1)."""
    grid = make_room(6, 4, states={(2, 1): "sprinkler"}, components={(0, 0): "air_return"})
    again = parse_room(json.loads(dump_room(grid)))
    assert again == grid
    assert grid.cell(2, 1).state is TileState.SPRINKLER
    assert grid.arrays.free_for_light.sum() == 24 - 2
    moved = grid.with_components(Component.LIGHT, [(3, 3)])
    assert moved.count(Component.LIGHT) == 1 and grid.count(Component.LIGHT) == 0
    assert np.array_equal(moved.positions(Component.LIGHT), [[3, 3]])


def test_placing_and_removing_keep_the_tile_arrays_in_step_with_the_cells() -> None:
    """A placed or cleared grid carries its tile arrays over (no rebuild from 40,000 cells in a big room):
    they equal the arrays rebuilt from its cells, and the original grid's arrays are untouched."""
    grid = make_room(9, 7, states={(2, 1): "sprinkler", (4, 4): "column"}, components={(0, 0): "air_return"})
    placed = grid.with_components(Component.LIGHT, [(3, 3), (5, 2)])
    cleared = placed.with_components(Component.SMOKE_DETECTOR, [(7, 6)]).without_components(Component.LIGHT)
    for derived in (placed, cleared):
        rebuilt = parse_room(json.loads(dump_room(derived)))
        for name in ("state", "component", "index", "beam_depth"):
            assert np.array_equal(getattr(derived.arrays, name), getattr(rebuilt.arrays, name)), name
        assert not derived.arrays.component.flags.writeable
    assert cleared.count(Component.LIGHT) == 0 and cleared.count(Component.SMOKE_DETECTOR) == 1
    assert grid.count(Component.LIGHT) == 0 and placed.count(Component.LIGHT) == 2
    assert cleared.cell(7, 6).component is Component.SMOKE_DETECTOR


def test_pickle_is_compact_and_exact() -> None:
    """Grids pickle as tile codes (they cross process boundaries) and come back equal, with working lookups."""
    import pickle

    grid = make_room(40, 30, states={(3, 3): "column"}, components={(5, 5): "air_return"})
    blob = pickle.dumps(grid)
    assert len(blob) < 10_000  # two bytes a tile plus the parameters, not 1,200 pickled Cell objects
    again = pickle.loads(blob)
    assert again == grid and dump_room(again) == dump_room(grid)
    assert again.cell(5, 5).component is Component.AIR_RETURN and again.cell(3, 3).state is TileState.COLUMN
    assert again.with_components(Component.LIGHT, [(0, 0)]).count(Component.LIGHT) == 1


def test_beam_depth_is_kept_through_every_copy() -> None:
    """A beam tile's depth survives placement, pickling, the payload and equality; it changes the room key."""
    import pickle

    from ceiling_grid.grid import room_key
    from ceiling_grid.testing import beam_line

    grid = make_room(6, 4, beams=beam_line(0.45, x=3, span=range(4)))
    assert grid.arrays.beam_depth[:, 3].tolist() == [0.45] * 4
    placed = grid.with_components(Component.LIGHT, [(1, 1)]).without_components(Component.LIGHT)
    assert placed == grid and placed.cell(3, 2).beam_depth_m == 0.45
    copy = pickle.loads(pickle.dumps(grid))
    assert copy == grid and copy.cell(3, 0).beam_depth_m == 0.45
    assert parse_room(json.loads(dump_room(grid))) == grid
    shallow = make_room(6, 4, beams=beam_line(0.2, x=3, span=range(4)))
    assert shallow != grid and room_key(shallow) != room_key(grid)


@pytest.mark.parametrize(("cell", "field", "fix"), [
    ({"x": 1, "y": 0, "beam_depth_m": 0.4}, "cells[1]", 'set "state": "beam"'),
    ({"x": 1, "y": 0, "state": "beam", "beam_depth_m": 2.8}, "cells[1].beam_depth_m", "mark the tile as a column"),
    ({"x": 1, "y": 0, "state": "beam", "beam_depth_m": -0.1}, "cells[1].beam_depth_m", "greater than 0"),
])
def test_bad_beam_depth_names_the_cell_and_the_fix(cell: dict, field: str, fix: str) -> None:
    """A depth on a tile that is not a beam, one that reaches the floor, or a negative one: one line each."""
    payload = room_payload(3, 1)
    payload["cells"][1] = cell
    with pytest.raises(RoomValidationError) as err:
        parse_room(payload, "beams.json")
    line = str(err.value)
    assert line.startswith("beams.json: ") and field in line and fix in line and "\n" not in line


# ----- a luminaire from a photometric file -------------------------------------------------------

def _panel_ies(folder: Path, name: str = "panel.ies", watts: float = 34.0) -> Path:
    from ceiling_grid.testing import ies_text, lambertian_table

    gamma, cd = lambertian_table(3400.0)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ies_text([0], gamma, [cd], watts=watts))
    return path


def _room_file(folder: Path, luminaire: dict[str, object], name: str = "room.json") -> Path:
    import json

    from ceiling_grid.testing import room_payload

    path = folder / name
    path.write_text(json.dumps(room_payload(6, 5, grid_id="pho", luminaire=luminaire)))
    return path


def test_a_room_reads_its_photometric_file_beside_it_or_in_the_data_folder(tmp_path: Path) -> None:
    _panel_ies(tmp_path / "fixtures")
    grid = load_room(_room_file(tmp_path, {"photometry": "fixtures/panel.ies"}))
    dist = grid.luminaire.distribution
    assert dist is not None and dist.file == "panel.ies"
    assert grid.luminaire.flux_lm == pytest.approx(3400.0, rel=0.005)  # integrated from the table
    assert grid.luminaire.power_w == 34.0  # the file's input watts
    rooms = tmp_path / "input"
    rooms.mkdir()
    room = _room_file(rooms, {"photometry": "fixtures/panel.ies", "power_w": 30.0})
    with pytest.raises(RoomValidationError, match=r"luminaire.photometry: fixtures/panel.ies: file not found"):
        load_room(room)
    via_data = load_room(room, data_dir=tmp_path)
    assert via_data.luminaire.power_w == 30.0  # the room overrides the file's watts
    assert via_data.luminaire.description()["photometry"] == "fixtures/panel.ies"


@pytest.mark.parametrize(("reference", "pattern"), [
    ("../outside.ies", r"leads outside"),
    ("/etc/passwd", r"is an absolute path"),
])
def test_a_photometric_reference_cannot_leave_its_folders(tmp_path: Path, reference: str, pattern: str) -> None:
    rooms = tmp_path / "rooms"
    rooms.mkdir()
    _panel_ies(tmp_path, "outside.ies")
    with pytest.raises(RoomValidationError, match=pattern) as err:
        load_room(_room_file(rooms, {"photometry": reference}))
    assert "room.json: luminaire.photometry" in str(err.value)


def test_a_broken_photometric_file_fails_the_room_in_one_line(tmp_path: Path) -> None:
    _panel_ies(tmp_path).write_text(_panel_ies(tmp_path).read_text().replace("1 1 34", "1 1"))
    with pytest.raises(RoomValidationError) as err:
        load_room(_room_file(tmp_path, {"photometry": "panel.ies"}))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'room.json'}: luminaire.photometry: {tmp_path / 'panel.ies'}: line ")
    assert "(fix: " in message


def test_a_file_fixes_flux_and_distribution(tmp_path: Path) -> None:
    _panel_ies(tmp_path)
    with pytest.raises(RoomValidationError) as err:
        load_room(_room_file(tmp_path, {"photometry": "panel.ies", "flux_lm": 5000, "cos_exponent": 2}))
    text = str(err.value)
    assert "luminaire.flux_lm = 5000 but panel.ies integrates to 339" in text
    assert "luminaire.cos_exponent does not apply with a photometry file" in text
    _panel_ies(tmp_path, watts=0.0)
    with pytest.raises(RoomValidationError, match=r"panel.ies gives no input watts \(fix: give the luminaire's"):
        load_room(_room_file(tmp_path, {"photometry": "panel.ies"}))


def test_the_table_travels_with_the_room_and_changes_its_key(tmp_path: Path) -> None:
    import pickle

    from ceiling_grid.grid import room_key

    _panel_ies(tmp_path)
    grid = load_room(_room_file(tmp_path, {"photometry": "panel.ies"}))
    again = parse_room(grid.to_payload(), "xcom")  # no file needed any more
    assert again == grid and again.luminaire.distribution == grid.luminaire.distribution
    assert pickle.loads(pickle.dumps(grid)) == grid
    rotated = parse_room({**grid.to_payload(), "luminaire": {**grid.to_payload()["luminaire"], "rotation_deg": 90}})
    plain = load_room(_room_file(tmp_path, {}, "plain.json"))
    assert len({room_key(grid), room_key(rotated), room_key(plain)}) == 3
    assert "distribution" not in plain.to_payload()["luminaire"]  # rooms without a file are unchanged
    with pytest.raises(RoomValidationError, match=r"luminaire.photometry = 'panel.ies' was not read"):
        parse_room({**plain.to_payload(), "luminaire": {"photometry": "panel.ies"}}, "payload")


def test_light_tiles_pair_into_troffers_along_their_long_axis() -> None:
    from ceiling_grid.grid import footprint_tiles

    lights = {(1, 1): "light", (2, 1): "light", (3, 1): "light", (4, 1): "light", (6, 1): "light",
              (1, 3): "light", (1, 4): "light"}
    along_x = make_room(8, 6, components=lights, luminaire={"length_tiles": 2})
    anchors, stray = along_x.light_anchors()
    assert anchors.tolist() == [[1, 1], [3, 1]] and sorted(stray.tolist()) == [[1, 3], [1, 4], [6, 1]]
    along_y = make_room(8, 6, components=lights, luminaire={"length_tiles": 2, "rotation_deg": 90})
    anchors, stray = along_y.light_anchors()
    assert anchors.tolist() == [[1, 3]] and len(stray) == 5
    panels = make_room(8, 6, components=lights)
    assert len(panels.light_anchors()[0]) == 7 and len(panels.light_anchors()[1]) == 0
    assert footprint_tiles(np.array([[1, 1], [3, 1]]), (2, 1)).tolist() == [[1, 1], [2, 1], [3, 1], [4, 1]]
    assert along_x.to_payload()["luminaire"]["length_tiles"] == 2
    assert "length_tiles" not in panels.to_payload()["luminaire"]


def test_a_mistyped_enum_value_says_what_was_meant(tmp_path: Path) -> None:
    """component, state, room_type and detector_standard: a near miss gets 'did you mean'; a far one does not."""
    room = room_payload(2, 1, grid_id="typo")
    room["cells"][0]["component"] = "lite"
    room["cells"][1]["state"] = "colum"
    room |= {"room_type": "ofice", "detector_standard": "nfpa"}
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(room))
    with pytest.raises(RoomValidationError) as err:
        load_room(path)
    text = str(err.value)
    for hint in ("cells[0].component = 'lite'", "did you mean 'light'?", "did you mean 'column'?",
                 "did you mean 'office'?", "did you mean 'nfpa72'?"):
        assert hint in text, hint
    room = room_payload(1, 1, grid_id="far")
    room["cells"][0]["component"] = "chandelier"
    path.write_text(json.dumps(room))
    with pytest.raises(RoomValidationError) as err:
        load_room(path)
    assert "did you mean" not in str(err.value) and "use one of the listed values" in str(err.value)


def test_component_codes_land_only_on_tiles_inside_the_room() -> None:
    """with_component_codes gives the grid those codes describe; a code off the room or out of range is refused."""
    from ceiling_grid.grid import COMPONENT_CODES

    grid = make_room(6, 5, outside=[(5, 4)], states={(2, 2): "column"})
    placed = grid.with_components(Component.LIGHT, [(1, 1)]).with_components(Component.SMOKE_DETECTOR, [(4, 3)])
    again = grid.with_component_codes(placed.arrays.component)
    assert dump_room(again) == dump_room(placed) and again == placed
    bad = np.array(placed.arrays.component)
    bad[4, 5] = COMPONENT_CODES[Component.LIGHT]
    with pytest.raises(ValueError, match="outside the room"):
        grid.with_component_codes(bad)
    with pytest.raises(ValueError, match="component codes must be"):
        grid.with_component_codes(np.full((5, 6), 99, dtype=np.int8))


def test_a_component_the_room_file_put_outside_the_room_survives_placing_and_is_cleared_with_its_kind() -> None:
    """A room file may put a luminaire on a tile outside the room (the checker reports it): placing other
    components keeps it, and removing luminaires clears it, as before codes carried layouts."""
    payload = room_payload(4, 3, outside=[(3, 2)])
    payload["cells"] = [dict(c, component="light") if (c["x"], c["y"]) == (3, 2) else c for c in payload["cells"]]
    grid = parse_room(payload)
    assert grid.cell(3, 2).state is TileState.OUTSIDE and grid.cell(3, 2).component is Component.LIGHT
    placed = grid.with_components(Component.SMOKE_DETECTOR, [(1, 1)])
    assert placed.cell(3, 2).component is Component.LIGHT and placed.count(Component.SMOKE_DETECTOR) == 1
    assert grid.with_component_codes(placed.arrays.component) == placed
    cleared = placed.without_components(Component.LIGHT)
    assert cleared.count(Component.LIGHT) == 0 and cleared.cell(3, 2).component is Component.EMPTY
    assert dump_room(parse_room(json.loads(dump_room(cleared)))) == dump_room(cleared)
