"""Quality against references: lights vs lumen method and the smallest passing regular array, Em/U0 vs
targets, W/m²; detectors vs the exact ILP optimum on the same candidates, NFPA square spacing and
ceil(A/πR²); clearances; compliance and the reasons for the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["DEFAULT_REFERENCE_TIME_LIMIT_S", "quality_record", "reference_optimum", "run_quality"]

# The pipeline's D6 stops at its work budget (about 1-2 s); the benchmark's reference allows far more. Measured on
# this machine from the model's layouts: 44 x 44 CEN/TS proven 10 in 54-64 s, the L 10 in 66 s, 60 x 40 BS 9 in
# 71 s, 59 x 39 CEN/TS 12 in 90 s (decision ILP, 27-39 rounds of 380-480 points).
DEFAULT_REFERENCE_TIME_LIMIT_S = 180.0
DEFAULT_REFERENCE_MAX_CANDIDATES = 3000
DEFAULT_REFERENCE_WORK_BUDGET = 8_000_000  # coverage-matrix entries (the decision ILP gets half): 200x D6's
DEFAULT_REFERENCE_NODE_BUDGET = 100_000  # branch-and-bound nodes: the time limit decides first


def reference_optimum(grid: Any, time_limit_s: float = DEFAULT_REFERENCE_TIME_LIMIT_S,
                      max_candidates: int = DEFAULT_REFERENCE_MAX_CANDIDATES) -> dict[str, Any]:
    """D6's optimum (the design problem: D1 points, R - 0.05 m, the reference sites) with larger budgets.

    The layout's detectors are the incumbent, so the decision ILP only has to show that no cover with one
    fewer exists (or find one). Returns {"n", "proven", "candidates", "seconds"}.
    """
    from ceiling_grid.evaluator.detectors import optimal_detector_count, reference_sites
    from ceiling_grid.grid import Component
    from ceiling_grid.models.detectors import cover_problem
    from ceiling_grid.prepared import prepare

    pts, radius = prepare(grid).lattice.points, cover_problem(grid).radius
    sites, _ = reference_sites(grid, pts, radius)
    out: dict[str, Any] = {"n": None, "proven": False, "candidates": len(sites), "seconds": 0.0}
    if len(sites) == 0 or len(sites) > max_candidates:
        return out
    t0 = time.perf_counter()
    layout = grid.tile_centres(grid.positions(Component.SMOKE_DETECTOR))
    n, proven = optimal_detector_count(grid, grid.tile_centres(sites), pts, radius, time_limit_s=time_limit_s,
                                       node_budget=DEFAULT_REFERENCE_NODE_BUDGET,
                                       work_budget=DEFAULT_REFERENCE_WORK_BUDGET, incumbent_xy=layout)
    out.update(n=n, proven=proven, seconds=round(time.perf_counter() - t0, 3))
    return out


def _f(v: Any, nd: int = 4) -> Any:
    if isinstance(v, float | np.floating):
        return round(float(v), nd)
    return v


def quality_record(result: Any, kind: str, seconds: float,
                   reference_time_limit_s: float = DEFAULT_REFERENCE_TIME_LIMIT_S) -> dict[str, Any]:
    """One room's figures from a :class:`PipelineResult` (plus the longer reference ILP when needed)."""
    from ceiling_grid.geometry import geometry_of
    from ceiling_grid.grid import Component

    grid = result.final_grid
    rep = result.report
    lights = rep.stages["lights"]
    det = rep.stages["smoke_detectors"]
    air = rep.stages["air_supply"]
    l5 = next(r for r in lights.rules if r.rule == "L5").values
    d6 = next(r for r in det.rules if r.rule == "D6").values
    regular = l5.get("regular_array") or {}
    lm, dm = lights.metrics, det.metrics
    det_details = result.stages["smoke_detectors"].selected.diagnostics
    n_opt, proven, ref_source = d6.get("n_optimal"), bool(d6.get("optimal_proven")), "evaluator"
    if n_opt is None:
        ref = reference_optimum(grid, reference_time_limit_s)
        n_opt, proven = ref["n"], ref["proven"]
        ref_source = f"benchmark ILP ({ref['candidates']} candidates, {ref['seconds']} s)"
    states = grid.arrays.state
    from ceiling_grid.grid import STATE_CODES, TileState

    blocked = {s.value: int((states == STATE_CODES[s]).sum()) for s in
               (TileState.COLUMN, TileState.SPRINKLER, TileState.ACCESS_PANEL, TileState.EQUIPMENT, TileState.CUT_TILE)}
    return {
        "grid_id": grid.grid_id,
        "kind": kind,
        "width": grid.width,
        "height": grid.height,
        "cells": grid.width * grid.height,
        "area_m2": round(geometry_of(grid).area_m2, 2),
        "rectangle": bool(geometry_of(grid).is_rectangle),
        "room_type": grid.room_type,
        "standard": str(grid.detector_standard),
        "blocked": {k: v for k, v in blocked.items() if v},
        "seconds": round(seconds, 3),
        "status": result.status(),
        "compliant": rep.compliant,
        "failed_rules": sorted(set(rep.failed_rules())),
        "infeasible": rep.infeasible,
        "lights": {
            "n": grid.count(Component.LIGHT),
            "model": result.stages["lights"].selected.model,
            "lumen_method": l5.get("lumen_method_count"),
            "regular_array": regular.get("count"),
            "regular_shape": f"{regular['nx']}x{regular['ny']}" if regular else None,
            "em_lx": _f(lm.get("em_lx"), 1),
            "target_lux": lm.get("target_lux"),
            "u0": _f(lm.get("u0"), 3),
            "target_u0": lm.get("target_u0"),
            "lpd_w_m2": _f(lm.get("lpd_w_m2"), 2),
            "lpd_limit_w_m2": _f(next(r for r in lights.rules if r.rule == "L4b").values.get("lpd_limit_w_m2"), 2),
            "max_gap_m": _f(next(r for r in lights.rules if r.rule == "L4").values.get("max_gap_m"), 2),
            "regularity": dict(next(r for r in lights.rules if r.rule == "L6").values),
        },
        "detectors": {
            "n": dm.get("n_detectors"),
            "n_optimal": n_opt,
            "optimal_proven": proven,
            "optimal_source": ref_source,
            "n_lower_bound": dm.get("n_lower_bound"),
            "n_square_spacing": dm.get("n_square_spacing"),
            "worst_coverage_m": dm.get("worst_coverage_m"),
            "radius_m": dm.get("coverage_radius_m"),
            "min_air_terminal_m": dm.get("min_air_terminal_clearance_m"),
            "air_terminal_limit_m": grid.detector_spec.air_terminal_min_m,
            "min_wall_m": dm.get("min_wall_clearance_m"),
            "model_solver": det_details.get("solver"),
            "model_optimal": det_details.get("optimal"),
        },
        "air": {"n": grid.count(Component.AIR_SUPPLY), "compliant": air.compliant,
                "beside_luminaires": len(next(r for r in air.rules if r.rule == "A4").values[
                    "diffusers_beside_luminaires"]),
                "above_minimum": next(r for r in air.rules if r.rule == "A1").values.get("above_minimum", 0)},
    }


def run_quality(
    rooms: Iterable[tuple[str, Any]],
    workers: int = 3,
    reference_time_limit_s: float = DEFAULT_REFERENCE_TIME_LIMIT_S,
    progress: Callable[[str], None] = lambda s: None,
) -> list[dict[str, Any]]:
    """Run every (kind, grid) through one pipeline runner and collect :func:`quality_record` for each."""
    from ceiling_grid.runner import PipelineRunner

    out: list[dict[str, Any]] = []
    with PipelineRunner(max_workers=workers) as runner:
        for kind, grid in rooms:
            t0 = time.perf_counter()
            try:
                result = runner.run_full_pipeline(grid)
            except Exception as exc:  # a model bug: report it, keep benchmarking the rest
                out.append({"grid_id": grid.grid_id, "kind": kind, "width": grid.width, "height": grid.height,
                            "cells": grid.width * grid.height, "error": f"{type(exc).__name__}: {exc}",
                            "compliant": False, "status": "ERROR", "failed_rules": [], "infeasible": []})
                progress(f"quality {grid.grid_id}: ERROR {exc}")
                continue
            rec = quality_record(result, kind, time.perf_counter() - t0, reference_time_limit_s)
            out.append(rec)
            d = rec["detectors"]
            progress(f"quality {grid.grid_id} ({grid.width}x{grid.height}): {rec['status']} lights "
                     f"{rec['lights']['n']} det {d['n']}/opt {d['n_optimal']} in {rec['seconds']:.1f} s")
    return out
