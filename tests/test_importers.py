"""DXF plans to rooms (ezdxf builds the drawings here): outlines, names, columns, units, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ezdxf
import pytest
from ezdxf import units

from ceiling_grid.config import Limits
from ceiling_grid.errors import InputError, LimitExceededError, RoomValidationError
from ceiling_grid.grid import TileState
from ceiling_grid.importers import DxfOptions, read_rooms


def _plan(tmp_path: Path, unit: int = units.MM, name: str = "plan.dxf") -> tuple[Any, Any, Path]:
    doc = ezdxf.new()
    doc.units = unit
    return doc, doc.modelspace(), tmp_path / name


def _office_plan(tmp_path: Path) -> Path:
    """Two offices in millimetres: a 6.3 x 4.9 m room named 'Office 1.01' and an L-shaped 'Open Plan' with a
    column; a lobby outline on another layer; an atrium void inside the open plan."""
    doc, msp, path = _plan(tmp_path)
    msp.add_lwpolyline([(0, 0), (6300, 0), (6300, 4900), (0, 4900)], close=True, dxfattribs={"layer": "A-AREA"})
    msp.add_text("Office 1.01", dxfattribs={"layer": "A-AREA-IDEN", "insert": (1000, 2000)})
    msp.add_polyline2d([(7000, 0), (19000, 0), (19000, 4100), (13000, 4100), (13000, 9100), (7000, 9100)],
                       close=True, dxfattribs={"layer": "a-area"})
    msp.add_mtext("Open Plan\\PLevel 1", dxfattribs={"layer": "A-AREA-IDEN", "insert": (8000, 8000)})
    msp.add_circle((10000, 3000), 200, dxfattribs={"layer": "S-COLS"})
    msp.add_lwpolyline([(15000, 1000), (16800, 1000), (16800, 2800), (15000, 2800)], close=True,
                       dxfattribs={"layer": "A-AREA"})  # a void inside the open plan: a hole, not a room
    msp.add_lwpolyline([(-5000, 0), (-1000, 0), (-1000, 3000), (-5000, 3000)], close=True,
                       dxfattribs={"layer": "A-WALL"})
    doc.saveas(path)
    return path


def test_a_plan_becomes_one_room_per_outline_named_by_its_text(tmp_path: Path) -> None:
    office, open_plan = read_rooms(_office_plan(tmp_path))
    assert office.grid_id == "Office-1.01" and open_plan.grid_id == "Open-Plan"
    assert (office.width, office.height) == (11, 9)  # 6.3 m: 9 whole + 2 x 0.45 m; 4.9 m: 7 whole + 2 x 0.35 m
    source = office.metadata["source"]
    assert (source["format"], source["layer"], source["units"], source["name"]) == ("dxf", "A-AREA", "mm",
                                                                                   "Office 1.01")
    assert open_plan.arrays.is_state(TileState.COLUMN).sum() >= 1
    void = open_plan.arrays.is_state(TileState.OUTSIDE)
    x, y = open_plan.metadata["placement"]["origin_m"]
    assert void.sum() > 4 * 3 * 2  # the L's missing corner plus the 1.8 m void
    assert (x, y) == pytest.approx((7.0, 9.1 + 0.25))  # 12 m: whole tiles; 9.1 m: 0.35 m borders (grid corner, m)


def test_units_come_from_insunits(tmp_path: Path) -> None:
    doc, msp, path = _plan(tmp_path, units.FT)
    msp.add_lwpolyline([(0, 0), (24, 0), (24, 16), (0, 16)], close=True, dxfattribs={"layer": "ROOM"})
    doc.saveas(path)
    [room] = read_rooms(path, dxf=DxfOptions(tile_m=0.6096))
    assert (room.width, room.height) == (12, 8) and room.metadata["source"]["units"] == "ft"


@pytest.mark.parametrize(("build", "pattern"), [
    (lambda msp: msp.add_lwpolyline([(0, 0), (5000, 0), (5000, 4000)], dxfattribs={"layer": "ROOM"}),
     r"plan.dxf: handle \w+: the outline \w+ on layer ROOM is not closed \(fix: close the polyline"),
    (lambda msp: msp.add_lwpolyline([(0, 0), (4000, 4000), (4000, 0), (0, 4000)], close=True,
                                    dxfattribs={"layer": "ROOM"}),
     r"plan.dxf: handle \w+: the outline \w+ crosses itself \(edges 0 and 2\)"),
    (lambda msp: msp.add_lwpolyline([(0, 0), (400, 0), (400, 300), (0, 300)], close=True,
                                    dxfattribs={"layer": "ROOM"}),
     r"plan.dxf: handle \w+: the outline \w+ \(unnamed\): the outline \(0.12 m²\) holds no whole 0.6 m tile"),
    (lambda msp: msp.add_lwpolyline([(0, 0), (4000, 0), (4000, 3000)], close=True, dxfattribs={"layer": "WALLS"}),
     r"plan.dxf: layers: no room outline on the layers .*; the drawing has WALLS \(fix: name the room layer"),
])
def test_a_bad_plan_is_one_line_naming_the_entity(tmp_path: Path, build: Any, pattern: str) -> None:
    doc, msp, path = _plan(tmp_path)
    build(msp)
    doc.saveas(path)
    with pytest.raises(RoomValidationError, match=pattern) as err:
        read_rooms(path)
    assert "\n" not in str(err.value)


def test_unitless_truncated_junk_and_oversized_drawings(tmp_path: Path) -> None:
    doc, msp, path = _plan(tmp_path, unit=0)
    msp.add_lwpolyline([(0, 0), (5, 0), (5, 4), (0, 4)], close=True, dxfattribs={"layer": "ROOM"})
    doc.saveas(path)
    with pytest.raises(RoomValidationError, match=r"\$INSUNITS: the drawing's units are 0 \(unitless\)"):
        read_rooms(path)
    good = _office_plan(tmp_path)
    cut = tmp_path / "cut.dxf"
    cut.write_text(good.read_text()[: len(good.read_text()) // 2])
    with pytest.raises(RoomValidationError, match=r"cut.dxf: malformed DXF: .* \(fix: export the plan again"):
        read_rooms(cut)
    junk = tmp_path / "junk.dxf"
    junk.write_text("not a drawing")
    with pytest.raises(RoomValidationError, match=r"junk.dxf: is not a DXF file \(fix: export the plan"):
        read_rooms(junk)
    with pytest.raises(LimitExceededError, match="over the limit of 1000 bytes"):
        read_rooms(good, Limits(max_file_bytes=1000))


def test_the_cli_imports_and_runs_a_plan_and_the_dag_loads_it(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from ceiling_grid import orchestration as orch
    from ceiling_grid.cli import EXIT_OK, main

    plan = _office_plan(tmp_path)
    assert main(["import", str(plan), "--out", str(tmp_path / "rooms"), "--ceiling-height", "3.0"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines[1:]] == ["Office-1.01", "Open-Plan"]
    assert json.loads((tmp_path / "rooms" / "Open-Plan.json").read_text())["ceiling_height_m"] == 3.0
    assert main(["run", str(plan), "--out", str(tmp_path / "out"), "--workers", "1"]) == EXIT_OK
    assert "Office-1.01: COMPLIANT" in capsys.readouterr().out
    data = tmp_path / "data"
    (data / "input").mkdir(parents=True)
    (data / "input" / "plan.dxf").write_bytes(plan.read_bytes())
    chunks = orch.load_rooms(["input"], base=data)
    assert sorted(e["grid"]["grid_id"] for c in chunks for e in c) == ["Office-1.01", "Open-Plan"]
    (data / "input" / "plan.dxf").write_text("0\nSECTION\n")
    with pytest.raises(InputError, match=r"input/plan\.dxf: malformed DXF"):
        orch.load_rooms(["input"], base=data)


# ----- IFC ------------------------------------------------------------------------------------------

from tests.support.ifc_build import ModelSpec, SpaceSpec, write_model  # noqa: E402

OFFICE = SpaceSpec("1.01", "Office", [(0, 0), (6.3, 0), (6.3, 4.9), (0, 4.9)])
OPEN_PLAN = SpaceSpec("1.02", "Open plan", [(7, 0), (19, 0), (19, 4.1), (13, 4.1), (13, 9.1), (7, 9.1)],
                      quantity_height=2.7)
COLUMN = [(9.8, 2.8), (10.2, 2.8), (10.2, 3.2), (9.8, 3.2)]


@pytest.mark.parametrize(("schema", "unit"), [("IFC4", "mm"), ("IFC2X3", "m"), ("IFC4", "ft")])
def test_every_ifc_space_becomes_a_room(tmp_path: Path, schema: str, unit: str) -> None:
    path = write_model(ModelSpec(schema, unit, [OFFICE, OPEN_PLAN], [COLUMN]), tmp_path / "model.ifc")
    office, open_plan = read_rooms(path)
    assert (office.grid_id, open_plan.grid_id) == ("1.01-Office", "1.02-Open-plan")
    assert (office.width, office.height) == (11, 9)  # the same grid whatever the project's length unit
    assert office.ceiling_height_m == pytest.approx(2.8)  # from the body
    assert open_plan.ceiling_height_m == pytest.approx(2.7)  # from Qto_SpaceBaseQuantities
    assert open_plan.arrays.is_state(TileState.COLUMN).sum() >= 1
    assert office.arrays.is_state(TileState.COLUMN).sum() == 0
    assert open_plan.arrays.is_state(TileState.OUTSIDE).sum() == 10 * 9  # the missing corner: 6 x 5 m, borders 0.35
    source = open_plan.metadata["source"]
    assert (source["format"], source["schema"], source["name"], source["long_name"]) == ("ifc", schema, "1.02",
                                                                                         "Open plan")


def test_a_roof_space_is_laid_out_at_its_lowest_ceiling_with_a_warning(tmp_path: Path) -> None:
    from ceiling_grid.outputs import build_report
    from ceiling_grid.runner import PipelineRunner

    loft = SpaceSpec("2.01", "Loft", [(0, 0), (6, 0), (6, 5), (0, 5)], height=4.0, roof_slope_deg=15)
    [room] = read_rooms(write_model(ModelSpec(spaces=[loft]), tmp_path / "loft.ifc"))
    assert room.ceiling_height_m == pytest.approx(3.0)
    with PipelineRunner(max_workers=1) as runner:
        report = build_report(runner.run_full_pipeline(room))
    assert report["warnings"] == [room.metadata["warnings"][0]]
    assert "is not flat: laid out at its lowest height, 3.00 m" in report["warnings"][0]


def test_bad_models_are_one_line_naming_the_entity(tmp_path: Path) -> None:
    no_body = SpaceSpec("1.09", "Store", [(0, 0), (3, 0), (3, 3), (0, 3)], geometry=False)
    path = write_model(ModelSpec(spaces=[OFFICE, no_body]), tmp_path / "model.ifc")
    with pytest.raises(RoomValidationError, match=r"model.ifc: #\d+ IfcSpace 1.09 has no geometry \(fix: export"):
        read_rooms(path)
    cut = tmp_path / "cut.ifc"
    cut.write_text(path.read_text().split("ENDSEC;")[0][:120])  # a model cut off inside its header
    with pytest.raises(RoomValidationError, match=r"cut.ifc: malformed IFC: .* \(fix: export the model again"):
        read_rooms(cut)
    empty = write_model(ModelSpec(spaces=[]), tmp_path / "empty.ifc")
    with pytest.raises(RoomValidationError, match=r"empty.ifc: the model has no IfcSpace \(fix: export rooms"):
        read_rooms(empty)
    with pytest.raises(LimitExceededError, match="over the limit of 100 bytes"):
        read_rooms(path, Limits(max_file_bytes=100))
