"""The reflected ceiling plan as DXF (ezdxf), in the source drawing's coordinates and units, to overlay on it."""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np

from ..evaluator.report import ComplianceReport
from ..footprint import grid_to_source
from ..geometry import geometry_of
from ..grid import Component, RoomGrid
from ..prepared import prepare

__all__ = ["DXF_LAYERS", "dxf_text", "source_frame"]

DXF_LAYERS = {  # layer -> ACI colour
    "CG-GRID": 8, "CG-OUTLINE": 7, "CG-LUMINAIRE": 2, "CG-SUPPLY": 5, "CG-RETURN": 3, "CG-DETECTOR": 1,
    "CG-COVERAGE": 1, "CG-TITLE": 7,
}
_UNITS = {"m": (6, 1.0), "mm": (4, 1000.0), "cm": (5, 100.0), "in": (1, 1 / 0.0254), "ft": (2, 1 / 0.3048),
          "dm": (14, 10.0), "yd": (10, 1 / 0.9144), "US survey ft": (21, 3937.0 / 1200.0)}
_FIXED_METADATA = threading.Lock()  # ezdxf's reproducible-header switch is process-wide


class SourceFrame:
    """Grid metres (x along a row, y down the plan) to the source drawing's coordinates and units."""

    def __init__(self, grid: RoomGrid) -> None:
        placement = grid.metadata.get("placement") or {}
        source = grid.metadata.get("source") or {}
        self.units_code, self.scale = _UNITS.get(str(source.get("units", "m")), _UNITS["m"])
        if placement:
            ox, oy = (float(v) for v in placement["origin_m"])
            self.origin, self.angle = (ox, oy), float(placement["angle_deg"])
        else:  # a room drawn as cells: the grid's own frame, y up, origin at the bottom-left corner
            self.origin, self.angle = (0.0, grid.height * grid.tile_size_m), 0.0

    def point(self, gx: float, gy: float) -> tuple[float, float]:
        x, y = grid_to_source(self.origin, self.angle, gx, gy)
        return (x * self.scale, y * self.scale)


def source_frame(grid: RoomGrid) -> SourceFrame:
    return SourceFrame(grid)


def _blocks(doc: Any, t: float, size: tuple[int, int], scale: float) -> None:
    """One block per component type, drawn around its insertion point, with attribute definitions."""
    s = t * scale
    specs = {
        "CG_LUMINAIRE": ("CG-LUMINAIRE", size, ("TYPE", "MODEL", "FLUX_LM")),
        "CG_SUPPLY": ("CG-SUPPLY", (1, 1), ("TYPE", "AIRFLOW_L_S")),
        "CG_RETURN": ("CG-RETURN", (1, 1), ("TYPE",)),
        "CG_DETECTOR": ("CG-DETECTOR", (1, 1), ("TYPE", "STANDARD")),
    }
    for name, (layer, (wx, wy), tags) in specs.items():
        block = doc.blocks.new(name=name)
        hx, hy = wx * s * 0.45, wy * s * 0.45
        if name == "CG_DETECTOR":
            block.add_circle((0, 0), s * 0.2, dxfattribs={"layer": layer})
        else:
            block.add_lwpolyline([(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)], close=True, dxfattribs={"layer": layer})
            if name == "CG_SUPPLY":
                block.add_line((-hx, -hy), (hx, hy), dxfattribs={"layer": layer})
                block.add_line((-hx, hy), (hx, -hy), dxfattribs={"layer": layer})
        for i, tag in enumerate(tags):
            block.add_attdef(tag, (0, -hy - (i + 1) * s * 0.12), dxfattribs={"layer": layer, "height": s * 0.08})


def _grid_lines(msp: Any, grid: RoomGrid, frame: SourceFrame) -> None:
    """The tee grid: every tile edge that borders a tile of the room, merged into runs."""
    inside = geometry_of(grid).in_room
    t = grid.tile_size_m
    h, w = inside.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = inside
    for j in range(h + 1):  # horizontal line between rows j-1 and j
        _runs(msp, padded[j, 1:-1] | padded[j + 1, 1:-1], lambda a, b, j=j: ((a * t, j * t), (b * t, j * t)), frame)
    for i in range(w + 1):
        _runs(msp, padded[1:-1, i] | padded[1:-1, i + 1], lambda a, b, i=i: ((i * t, a * t), (i * t, b * t)), frame)


def _runs(msp: Any, mask: np.ndarray, ends: Any, frame: SourceFrame) -> None:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True):
        p, q = ends(a, b)
        msp.add_line(frame.point(*p), frame.point(*q), dxfattribs={"layer": "CG-GRID"})


def _insert(msp: Any, name: str, at: tuple[float, float], angle: float, values: dict[str, str]) -> None:
    ref = msp.add_blockref(name, at, dxfattribs={"rotation": angle, "layer": "0"})
    ref.add_auto_attribs(values)


def dxf_text(grid: RoomGrid, report: ComplianceReport) -> str:
    """The plan as DXF R2010 text: grid, outline, one block reference per component with its attributes,
    detector coverage circles and a title with the compliance figures. Byte-identical for the same input."""
    from ezdxf._options import options  # what ``ezdxf.options`` is (mypy wants the defining module)
    from ezdxf.filemanagement import new

    frame = source_frame(grid)
    room = prepare(grid)
    t = grid.tile_size_m
    lum = grid.luminaire
    with _FIXED_METADATA:
        saved = options.write_fixed_meta_data_for_testing
        options.write_fixed_meta_data_for_testing = True
        try:
            doc = new("R2010")
            doc.header["$INSUNITS"] = frame.units_code
            for name, colour in DXF_LAYERS.items():
                doc.layers.add(name, color=colour)
            _blocks(doc, t, lum.size_tiles, frame.scale)
            msp = doc.modelspace()
            _grid_lines(msp, grid, frame)
            for x0, y0, x1, y1 in geometry_of(grid).walls.tolist():
                msp.add_line(frame.point(x0, y0), frame.point(x1, y1), dxfattribs={"layer": "CG-OUTLINE"})
            kind = "2x4 troffer" if lum.length_tiles == 2 else "LED panel"
            model = (lum.distribution.catalogue or lum.distribution.file) if lum.distribution else "built-in"
            turn = frame.angle + (90.0 if lum.rotation_deg == 90 else 0.0)
            for cx, cy in room.light_centres(grid.light_anchors()[0]).tolist():
                _insert(msp, "CG_LUMINAIRE", frame.point(cx, cy), turn,
                        {"TYPE": kind, "MODEL": model, "FLUX_LM": f"{lum.flux_lm:.0f}"})
            air = report.stages.get("air_supply")
            q = air.metrics.get("q_supply_l_s") if air else None
            supplies = grid.positions(Component.AIR_SUPPLY)
            each = f"{q / len(supplies):.0f}" if q and len(supplies) else ""
            for x, y in supplies.tolist():
                _insert(msp, "CG_SUPPLY", frame.point((x + 0.5) * t, (y + 0.5) * t), frame.angle,
                        {"TYPE": "4-way supply diffuser", "AIRFLOW_L_S": each})
            for x, y in grid.positions(Component.AIR_RETURN).tolist():
                _insert(msp, "CG_RETURN", frame.point((x + 0.5) * t, (y + 0.5) * t), frame.angle,
                        {"TYPE": "return grille"})
            radius = grid.detector_spec.r_cover_m * frame.scale
            for x, y in grid.positions(Component.SMOKE_DETECTOR).tolist():
                at = frame.point((x + 0.5) * t, (y + 0.5) * t)
                _insert(msp, "CG_DETECTOR", at, frame.angle,
                        {"TYPE": "smoke detector", "STANDARD": str(grid.detector_standard)})
                msp.add_circle(at, radius, dxfattribs={"layer": "CG-COVERAGE"})
            lights = report.stages.get("lights")
            m = lights.metrics if lights else {}
            status = "COMPLIANT" if report.compliant else "NOT COMPLIANT " + ", ".join(report.failed_rules())
            title = (f"{grid.grid_id}: {status}\\PEm {m.get('em_lx', 0):.0f} lx, U0 {m.get('u0', 0):.2f}; "
                     f"{len(grid.light_anchors()[0])} luminaires, {len(supplies)} supply diffusers, "
                     f"{grid.count(Component.SMOKE_DETECTOR)} smoke detectors ({grid.detector_standard})")
            msp.add_mtext(title, dxfattribs={"layer": "CG-TITLE", "char_height": t * 0.5 * frame.scale,
                                             "insert": frame.point(0.0, -t), "rotation": frame.angle,
                                             "attachment_point": 7})  # bottom left: the text stands above the grid
            stream = io.StringIO()
            doc.write(stream)
        finally:
            options.write_fixed_meta_data_for_testing = saved
    return stream.getvalue()
