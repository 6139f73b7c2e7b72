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


# ----- IFC: the ceilings back into the model ---------------------------------------------------------

from tests.support.ifc_build import ModelSpec, SpaceSpec, write_model  # noqa: E402

SPACES = [SpaceSpec("1.01", "Office", [(0, 0), (6.3, 0), (6.3, 4.9), (0, 4.9)]),
          SpaceSpec("1.02", "Meeting", [(7, 0), (13, 0), (13, 5), (7, 5)], height=3.0)]


@pytest.mark.parametrize(("schema", "unit"), [("IFC4", "mm"), ("IFC2X3", "m")])
def test_the_model_gets_its_fittings_in_their_spaces_at_ceiling_height(tmp_path: Path, schema: str,
                                                                      unit: str) -> None:
    import ifcopenshell
    import ifcopenshell.util.element as element
    import ifcopenshell.util.placement as placement
    import ifcopenshell.util.unit as ifc_unit

    from ceiling_grid.exporters.ifc import PSET_NAME, ceiling_ifc_text

    model_path = write_model(ModelSpec(schema, unit, SPACES), tmp_path / "model.ifc")
    rooms = read_rooms(model_path)
    with PipelineRunner(max_workers=1) as runner:
        results = [runner.run_full_pipeline(room) for room in rooms]
    text = ceiling_ifc_text(model_path, [(r.final_grid, r.report) for r in results])
    assert text == ceiling_ifc_text(model_path, [(r.final_grid, r.report) for r in results])  # reproducible
    (tmp_path / "out.ifc").write_text(text)
    out = ifcopenshell.open(str(tmp_path / "out.ifc"))
    scale = ifc_unit.calculate_unit_scale(out)
    lights = out.by_type("IfcFlowTerminal" if schema == "IFC2X3" else "IfcLightFixture")
    lights = [e for e in lights if element.get_psets(e)[PSET_NAME].get("LuminousFluxLm")]
    assert len(lights) == sum(r.headline["lights"] for r in results)
    sensors = out.by_type("IfcDistributionControlElement")
    assert len(sensors) == sum(r.headline["detectors"] for r in results)
    for e in [*lights, *sensors]:
        space = element.get_container(e)
        assert space.is_a("IfcSpace")
        spec = next(s for s in SPACES if s.name == space.Name)
        x, y, z = placement.get_local_placement(e.ObjectPlacement)[:3, 3] * scale
        xs, ys = [p[0] for p in spec.outline], [p[1] for p in spec.outline]
        assert min(xs) < x < max(xs) and min(ys) < y < max(ys)  # inside its space, in the model's own frame
        assert z == pytest.approx(spec.height, abs=1e-6)  # at the ceiling
    if schema == "IFC4":
        assert {s.PredefinedType for s in out.by_type("IfcSensor")} == {"SMOKESENSOR"}
    else:
        assert {element.get_type(s).PredefinedType for s in sensors} == {"SMOKESENSOR"}


def test_run_and_publish_write_the_model_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ceiling_grid import orchestration as orch
    from ceiling_grid.cli import EXIT_OK, main

    model_path = write_model(ModelSpec("IFC4", "mm", SPACES), tmp_path / "model.ifc")
    assert main(["run", str(model_path), "--out", str(tmp_path / "out"), "--workers", "1"]) == EXIT_OK
    assert "ceilings of 2 spaces" in capsys.readouterr().out
    assert (tmp_path / "out" / "model.ceiling.ifc").is_file()
    assert {p.name for p in (tmp_path / "out").glob("*.dxf")} == {"1.01-Office.dxf", "1.02-Meeting.dxf"}
    data = tmp_path / "data"
    (data / "input").mkdir(parents=True)
    (data / "input" / "model.ifc").write_bytes(model_path.read_bytes())
    chunks = orch.load_rooms(["input"], base=data)
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, c) for c in chunks]
    summary = orch.publish(chunks, run_id="manual__ifc", base=data)
    assert "model.ceiling.ifc" in summary["files"]
    published = Path(summary["output_dir"]) / "model.ceiling.ifc"
    assert published.read_bytes() == (tmp_path / "out" / "model.ceiling.ifc").read_bytes()
