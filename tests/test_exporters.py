"""The plan back as DXF, in the source drawing's coordinates and units, byte for byte reproducible."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import ezdxf
import numpy as np
import pytest
from ezdxf import units

from ceiling_grid.exporters import DXF_LAYERS
from ceiling_grid.importers import read_rooms
from ceiling_grid.outputs import write_room_outputs
from ceiling_grid.runner import PipelineRunner
from ceiling_grid.testing import make_room

OUTLINE_MM = [(2000, 1000), (14300, 1000), (14300, 5100), (8200, 5100), (8200, 10100), (2000, 10100)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("dxf")
    doc = ezdxf.new()
    doc.units = units.MM
    msp = doc.modelspace()
    msp.add_lwpolyline(OUTLINE_MM, close=True, dxfattribs={"layer": "A-AREA"})
    msp.add_text("Studio", dxfattribs={"insert": (3000, 3000)})
    doc.saveas(folder / "plan.dxf")
    [room] = read_rooms(folder / "plan.dxf")
    with PipelineRunner(max_workers=1) as runner:
        result = runner.run_full_pipeline(room)
    write_room_outputs(result, folder / "a")
    write_room_outputs(result, folder / "b")
    report = json.loads((folder / "a" / "Studio.report.json").read_text())
    return folder, report


def _inside(x: float, y: float) -> bool:
    poly = np.array(OUTLINE_MM, dtype=float)
    xs, ys = poly[:, 0], poly[:, 1]
    xe, ye = np.roll(xs, -1), np.roll(ys, -1)
    crosses = (ys > y) != (ye > y)
    xc = xs + (y - ys) * (xe - xs) / np.where(ye == ys, 1, ye - ys)
    return bool(np.count_nonzero(crosses & (x < xc)) % 2)


def test_the_plan_lands_on_the_source_drawing(exported: tuple[Path, dict]) -> None:
    folder, report = exported
    doc = ezdxf.readfile(folder / "a" / "Studio.dxf")
    assert doc.header["$INSUNITS"] == units.MM
    assert set(DXF_LAYERS) <= {layer.dxf.name for layer in doc.layers}
    msp = doc.modelspace()
    inserts = Counter(e.dxf.name for e in msp.query("INSERT"))
    headline = report["headline"]
    assert inserts["CG_LUMINAIRE"] == headline["lights"] and inserts["CG_SUPPLY"] == headline["diffusers"]
    assert inserts["CG_DETECTOR"] == headline["detectors"] == len(msp.query("CIRCLE[layer=='CG-COVERAGE']"))
    for e in msp.query("INSERT"):
        assert _inside(e.dxf.insert[0], e.dxf.insert[1]), (e.dxf.name, e.dxf.insert)  # inside the drawn room
    lum = next(e for e in msp.query("INSERT") if e.dxf.name == "CG_LUMINAIRE")
    assert {a.dxf.tag: a.dxf.text for a in lum.attribs} == {"TYPE": "LED panel", "MODEL": "built-in",
                                                           "FLUX_LM": "3400"}
    title = msp.query("MTEXT")[0].plain_text()
    assert title.startswith("Studio: COMPLIANT") == report["compliant"]


def test_the_dxf_is_reproducible_and_only_for_drawn_rooms(exported: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = exported
    assert (folder / "a" / "Studio.dxf").read_bytes() == (folder / "b" / "Studio.dxf").read_bytes()
    with PipelineRunner(max_workers=1) as runner:
        paths = write_room_outputs(runner.run_full_pipeline(make_room(8, 6)), tmp_path)
    assert set(paths) == {"grid", "report", "svg"}  # a room drawn as cells has no source drawing to go back to
