"""Per-room output files, written atomically with deterministic bytes: grid, report and SVG plan.

Files for a room ``<id>`` in ``out_dir``:

* ``<id>.json`` - the final grid in the input schema (it can be fed back in as an input);
* ``<id>.report.json`` - every model's score, confidence, count per stage, the selection and
  why, the per-rule §7 compliance with its numbers, and any infeasibility;
* ``<id>.svg`` - the reflected ceiling plan.

Determinism: keys are sorted, floats are written by ``json`` (shortest round-trip repr), and no
timestamps or durations are written by default, so re-running a room gives byte-identical
files. Wall-clock durations differ run to run; they go to a top-level ``"timings"`` object of
the report only when ``timings=True`` (CLI ``--timings``). They are always in the logs and metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from .evaluator.report import ComplianceReport
from .fsio import atomic_write_text, commit_files, write_synced
from .grid import RoomGrid
from .records import PipelineResult

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "ROOM_FILE_SUFFIXES",
    "atomic_write_text",
    "build_report",
    "dumps_grid",
    "dumps_stable",
    "model_export_texts",
    "readable",
    "regularity_figures",
    "room_output_texts",
    "to_jsonable",
    "write_room_outputs",
]

# A room's output files by kind: <grid id><suffix> (the .luminaire.svg and .dxf only where they apply)
ROOM_FILE_SUFFIXES = {"grid": ".json", "report": ".report.json", "svg": ".svg", "luminaire": ".luminaire.svg",
                      "dxf": ".dxf"}
DEFAULT_REPORT_DIGITS = 4  # report figures: 0.1 mm, 0.0001 lx; the layout JSON keeps its input's precision
REPORT_SCHEMA_VERSION = 2  # 2: the §8 lighting score of 2026-12 (L4 hard, L6 regularity) and the regularity block


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays, tuples, sets, enums and dataclass-like objects converted.

    Non-finite floats become ``None`` (JSON has no NaN/Infinity) so the files stay strict JSON.
    """
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, RoomGrid):
        return f"<grid {value.grid_id}>"
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    return str(value)


def readable(value: Any, digits: int = DEFAULT_REPORT_DIGITS) -> Any:
    """``value`` with every float rounded to ``digits`` decimals (45.599999999999994 -> 45.6), for people to read."""
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {k: readable(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v, digits) for v in value]
    return value


def dumps_stable(data: Any) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, strict (no NaN), trailing newline."""
    return json.dumps(to_jsonable(data), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dumps_grid(grid: RoomGrid) -> str:
    """The grid in the input schema: sorted header fields, then one compact cell per line (diff-friendly)."""
    payload = to_jsonable(grid.to_payload())
    cells = payload.pop("cells")
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(payload[k], sort_keys=True, allow_nan=False)}," for k in sorted(payload)]
    lines.append('  "cells": [')
    lines.append(",\n".join("    " + json.dumps(c, sort_keys=True, separators=(", ", ": ")) for c in cells))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"




def build_report(result: PipelineResult, timings: bool = False) -> dict[str, Any]:
    """The ``<id>.report.json`` content (deterministic unless ``timings``: wall-clock times come only from there)."""
    report = result.report
    selection = {name: to_jsonable(stage.summary()) for name, stage in result.stages.items()}
    data: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "grid_id": result.grid_id,
        "status": result.status(),
        "outcome": result.outcome,
        "compliant": report.compliant,
        "room": {
            "width": result.final_grid.width,
            "height": result.final_grid.height,
            "tile_size_m": result.final_grid.tile_size_m,
            "ceiling_height_m": result.final_grid.ceiling_height_m,
            "room_type": result.final_grid.room_type,
            "detector_standard": str(result.final_grid.detector_standard),
        },
        "luminaire": result.final_grid.luminaire.description(),
        "headline": result.headline,
        "regularity": regularity_figures(report),
        "selection": selection,
        "compliance": report.to_dict(),
        "infeasible": report.infeasible,
    }
    warnings = result.final_grid.metadata.get("warnings")
    if warnings:  # an importer's caveats (a roof space laid out at its lowest ceiling, ...)
        data["warnings"] = list(warnings)
    if timings:
        data["timings"] = result.timings()
    rounded: dict[str, Any] = readable(to_jsonable(data))
    return rounded


def regularity_figures(report: ComplianceReport) -> dict[str, Any] | None:
    """The luminaire layout's L6 figures (rows, columns, symmetry, gap deviation, offsets, aligned fraction)."""
    lights = report.stages.get("lights")
    rule = next((r for r in lights.rules if r.rule == "L6"), None) if lights else None
    return dict(rule.values) if rule is not None else None


def _safe_target(out_dir: Path, grid_id: str, suffix: str) -> Path:
    root = out_dir.resolve()
    target = (root / f"{grid_id}{suffix}").resolve()
    if target.parent != root:
        raise ValueError(
            f"grid_id {grid_id!r} would write outside {root} ({target}); use a plain name without path parts"
        )
    return target


def room_output_texts(result: PipelineResult, timings: bool = False, svg: bool = True) -> dict[str, str]:
    """``{file name: text}`` of a room's outputs: ``<id>.json``, ``<id>.report.json``, ``<id>.svg``, and
    ``<id>.luminaire.svg`` when the luminaire comes from a photometric file, ``<id>.dxf`` (the plan in the source
    drawing's coordinates) when the room was laid over a drawing or footprint."""
    from .render import render_svg

    texts = {
        f"{result.grid_id}.json": dumps_grid(result.final_grid),
        f"{result.grid_id}.report.json": dumps_stable(build_report(result, timings=timings)),
    }
    if svg:
        texts[f"{result.grid_id}.svg"] = render_svg(result.final_grid, result.report)
        if result.final_grid.metadata.get("placement"):  # drawn in a source drawing: the plan goes back as DXF
            from .exporters import dxf_text

            texts[f"{result.grid_id}.dxf"] = dxf_text(result.final_grid, result.report)
        dist = result.final_grid.luminaire.distribution
        if dist is not None:  # the plan's legend links the fitting's polar curves
            from .polar import polar_svg
            from .render import luminaire_svg_name

            texts[luminaire_svg_name(result.grid_id)] = polar_svg(dist)
    return texts


def model_export_texts(source: str | os.PathLike[str], results: Sequence[PipelineResult]) -> dict[str, str]:
    """``{file name: text}`` of what goes back into a source model: ``<model>.ceiling.ifc`` for an IFC input
    (every room of it laid out, in its spaces); nothing for other inputs."""
    if Path(source).suffix.lower() != ".ifc" or not results:
        return {}
    from .exporters.ifc import ceiling_ifc_name, ceiling_ifc_text

    return {ceiling_ifc_name(str(source)): ceiling_ifc_text(Path(source), [(r.final_grid, r.report) for r in results])}


def write_room_outputs(
    result: PipelineResult, out_dir: str | os.PathLike[str], timings: bool = False, svg: bool = True,
    *, staged: bool = False,
) -> dict[str, Path]:
    """Write ``<id>.json``, ``<id>.report.json``, ``<id>.svg`` (and ``<id>.luminaire.svg`` / ``<id>.dxf``, see
    :func:`room_output_texts`) together (all or none); return paths by kind.

    The files are staged and committed as one group (:func:`ceiling_grid.fsio.commit_files`): a
    full disk, Ctrl-C or a kill never leaves a room with its grid but without its report or plan.
    With ``staged``, ``out_dir`` is itself a staging folder that the caller swaps in whole (the
    DAG's ``publish``), so the files are only written and synced there.
    """
    out = Path(out_dir)
    grid_id = result.grid_id
    for suffix in ROOM_FILE_SUFFIXES.values():
        _safe_target(out, grid_id, suffix)
    texts = room_output_texts(result, timings=timings, svg=svg)
    kinds = {kind: suffix for kind, suffix in ROOM_FILE_SUFFIXES.items() if f"{grid_id}{suffix}" in texts}
    if staged:
        for name, text in texts.items():
            write_synced(out / name, text)
        committed = {name: out.resolve() / name for name in texts}
    else:
        committed = commit_files(out.resolve(), texts)
    return {kind: committed[f"{grid_id}{suffix}"] for kind, suffix in kinds.items()
            if f"{grid_id}{suffix}" in committed}
