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
