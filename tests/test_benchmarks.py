"""Smoke tests of the benchmark machinery on tiny inputs (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.machine import machine_info
from benchmarks.quality import run_quality
from benchmarks.report import fit_exponent, markdown_table, quality_summary, render_markdown, speed_summary
from benchmarks.rooms import KINDS, generate_payloads, generate_rooms, square_room
from benchmarks.speed import measure, measure_in_subprocess
from ceiling_grid.config import DetectorStandard

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_generator_is_deterministic_and_varied() -> None:
    """The same seed gives byte-identical rooms, a different seed different ones, and every kind and standard."""
    a = json.dumps(list(generate_payloads(24, seed=7)), sort_keys=True)
    b = json.dumps(list(generate_payloads(24, seed=7)), sort_keys=True)
    c = json.dumps(list(generate_payloads(24, seed=8)), sort_keys=True)
    assert a == b
    assert a != c
    rooms = generate_rooms(24, seed=7)
    assert {g.metadata["kind"] for g in rooms} == set(KINDS)
    assert {g.detector_standard for g in rooms} == set(DetectorStandard)
    states = {c.state.value for g in rooms for c in g.cells}
    assert {"column", "sprinkler", "access_panel", "outside", "cut_tile", "equipment"} <= states


def test_fit_exponent_recovers_a_power_law() -> None:
    """A synthetic t = 0.002 * cells^1.3 series gives k = 1.3 and the prefactor back."""
    cells = [100, 625, 2500, 10_000, 40_000]
    k, c = fit_exponent(cells, [0.002 * n**1.3 for n in cells])
    assert math.isclose(k, 1.3, rel_tol=1e-9)
    assert math.isclose(c, 0.002, rel_tol=1e-6)
    with pytest.raises(ValueError):
        fit_exponent([100], [1.0])


def test_markdown_table_escapes_pipes_and_shows_missing_values() -> None:
    """Cells with '|' are escaped and None renders as an en dash."""
    text = markdown_table(["a", "b"], [["x|y", None]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | – |"]


def test_measure_in_process_reports_stages_models_and_memory() -> None:
    """One tiny room through a real pipeline (no pool) yields per-stage/per-model times and RSS figures."""
    rec = measure(square_room(6), workers=1)
    assert set(rec["stages_s"]) == {"lights", "air_supply", "smoke_detectors"}
    assert {"LightModelA", "LightModelB", "LightModelC", "AirSupplyModel", "SmokeDetectorModel"} <= set(rec["models_s"])
    assert rec["pipeline_s"] >= sum(rec["stages_s"].values())
    assert rec["rss_parent_mib"] > 0 and rec["cells"] == 36
    assert rec["status"].startswith(("COMPLIANT", "NOT COMPLIANT", "INFEASIBLE"))


def test_times_come_from_unsampled_runs_and_memory_from_the_sampled_one() -> None:
    """A run without the memory sampler has no tree figures; the summary takes its times from such runs only and
    the tree's memory from the sampled run (whose own times it leaves out)."""
    plain = measure(square_room(6), workers=1, sample_memory=False)
    assert plain["rss_tree_peak_mib"] is None and plain["pss_tree_peak_mib"] is None and plain["rss_parent_mib"] > 0
    sampled = dict(plain, pipeline_s=9.0, rss_tree_peak_mib=321.0, pss_tree_peak_mib=123.0, memory_run=True)
    timed = [dict(plain, pipeline_s=t, lights_sequential_s=0.05) for t in (0.2, 0.4, 0.3)]
    (summary,) = speed_summary([sampled, *timed])
    assert summary["pipeline_s"] == 0.3 and summary["pipeline_max_s"] == 0.4 and summary["repeats"] == 3
    assert summary["rss_tree_peak_mib"] == 321.0 and summary["pss_tree_peak_mib"] == 123.0


def test_subprocess_light_stage_measurement_returns_json() -> None:
    """The fresh-subprocess entry point runs the sequential light stage and prints parseable JSON."""
    rec = measure_in_subprocess(["--square", "5", "--lights-only"], timeout_s=300)
    assert rec["grid_id"] == "square-5"
    assert set(rec["lights_sequential_models_s"]) == {"LightModelA", "LightModelB", "LightModelC"}


def test_quality_and_report_write_tables_and_pngs(tmp_path: Path) -> None:
    """Quality records of two tiny rooms render into markdown with target rows and valid PNG plots."""
    rooms = [("generated", g) for g in generate_rooms(2, seed=3)]
    quality = run_quality(rooms, workers=1, reference_time_limit_s=10)
    assert [r["grid_id"] for r in quality] == [g.grid_id for _, g in rooms]
    for r in quality:
        assert r["lights"]["lumen_method"] >= 1
        assert r["detectors"]["n_lower_bound"] >= 1
    q = quality_summary(quality)
    assert q["rooms"] == 2 and q["compliant"] + (q["rooms"] - q["compliant"]) == 2

    base = measure(square_room(5), workers=1)
    speed = []
    for n, t in ((5, 0.1), (10, 0.3)):
        rec = dict(base, grid_id=f"square-{n}", cells=n * n, width=n, height=n, pipeline_s=t, kind="square",
                   lights_sequential_s=0.05)
        speed.append(rec)
    speed.append(dict(base, grid_id="open_plan", kind="sample", cells=336, width=24, height=14, pipeline_s=0.2))
    assert len(speed_summary(speed)) == 3

    doc = tmp_path / "docs" / "benchmarks.md"
    img = tmp_path / "docs" / "img"
    text = render_markdown(machine_info(), speed, quality, None, doc, img, settings={"seed": 3})
    assert "## Targets" in text and "24×14 open plan" in text and "time ∝ cells^" in text
    assert "| room | tiles |" in text
    assert "Skipped in this run" in text
    pngs = sorted(p.name for p in img.glob("bench_*.png"))
    assert pngs == ["bench_detectors.png", "bench_lights.png", "bench_memory.png", "bench_parallel.png",
                    "bench_scaling.png"]
    for p in img.glob("*.png"):
        assert p.read_bytes()[:8] == PNG_MAGIC
        assert f"img/{p.name}" in text


def test_airflow_figures_become_a_table_and_target_rows() -> None:
    """bench_airflow's JSON turns into a chunk-size table and PASS/FAIL rows against 5 s and 1.3x + 20 s."""
    from benchmarks.run import _airflow_markdown, _airflow_targets

    data = {"rooms": 200, "cli_one_s": 3.0, "floor_inprocess_s": 60.0, "one_room_s": 12.0,
            "one_room_runs_s": [11.0, 12.0, 13.0],
            "chunks": [{"chunk_size": 10, "seconds": 95.0, "task_instances": 30, "task_seconds": 200.0},
                       {"chunk_size": 50, "seconds": 160.0, "task_instances": 10, "task_seconds": 150.0},
                       {"chunk_size": 80, "seconds": 9.0, "state": "failed", "error": "XCom payload too large"}]}
    table = _airflow_markdown(data)
    assert "chunk_size 10 | 95.0 | 1.58×" in table and "chunk_size 50 | 160.0" in table
    rows = _airflow_targets(data)
    assert [r[-1] for r in rows] == ["**FAIL**", "**PASS**", "**FAIL**", "**FAIL**"]
    assert "XCom payload too large" in rows[-1][2] and "failed after 9.0" in table
    assert rows[1][1] == "≤ 1.3 × in-process + 20 s" and "limit 98.0 s" in rows[1][2]
    assert _airflow_targets(None) == []


def test_the_reference_optimum_is_d6s_design_problem_proven_from_the_layout() -> None:
    """The benchmark's reference solves D6's problem (R - 0.05 m, the reference sites) with the layout as
    incumbent: nine detectors in a 14.4 x 12 m CEN/TS office come down to the optimum D6 proves without one."""
    from benchmarks.quality import reference_optimum
    from ceiling_grid.evaluator import detectors as ev
    from ceiling_grid.models.detectors import cover_problem
    from ceiling_grid.prepared import prepare
    from ceiling_grid.testing import make_room

    empty = make_room(24, 20, detector_standard="cen_ts_54_14")
    pts, radius = prepare(empty).lattice.points, cover_problem(empty).radius
    sites = empty.tile_centres(ev.legal_detector_sites(empty, luminaire_rule=True))
    optimum, proven = ev.optimal_detector_count(empty, sites, pts, radius)
    nine = {(x, y): "smoke_detector" for x in (4, 12, 19) for y in (3, 10, 16)}
    ref = reference_optimum(make_room(24, 20, detector_standard="cen_ts_54_14", components=nine), time_limit_s=60.0)
    assert proven and ref["proven"] and ref["n"] == optimum < 9 and ref["candidates"] == len(sites)
