"""Output files: three files per room, reloadable grid, full report, atomic and byte-identical writes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from ceiling_grid.grid import load_room
from ceiling_grid.outputs import _safe_target, atomic_write_text, build_report, to_jsonable, write_room_outputs
from ceiling_grid.records import PipelineResult
from ceiling_grid.runner import PipelineRunner
from ceiling_grid.testing import make_room


@pytest.fixture(scope="module")
def result() -> PipelineResult:
    with PipelineRunner(max_workers=1) as runner:
        return runner.run_full_pipeline(make_room(6, 5, grid_id="out-room", states={(3, 2): "sprinkler"}))


def test_writes_grid_report_and_svg(result: PipelineResult, tmp_path: Path) -> None:
    """The three files exist; the grid reloads as the final layout; the SVG is the plan."""
    paths = write_room_outputs(result, tmp_path)
    assert {k: p.name for k, p in paths.items()} == {
        "grid": "out-room.json",
        "report": "out-room.report.json",
        "svg": "out-room.svg",
    }
    assert load_room(paths["grid"]) == result.final_grid
    assert paths["svg"].read_text().startswith("<svg ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-room.json", "out-room.report.json", "out-room.svg"]


def test_report_lists_every_candidate_selection_and_rule(result: PipelineResult, tmp_path: Path) -> None:
    """The report holds each model's score/confidence/count, the selection and reason, and §7 rules."""
    report = json.loads(write_room_outputs(result, tmp_path)["report"].read_text())
    assert set(report["selection"]) == {"lights", "air_supply", "smoke_detectors"}
    lights = report["selection"]["lights"]
    assert {c["model"] for c in lights["candidates"]} == {"LightModelA", "LightModelB", "LightModelC"}
    for cand in lights["candidates"]:
        assert 0 <= cand["confidence"] <= 1 and cand["score"] == pytest.approx(cand["confidence"] * 200, abs=0.01)
        assert isinstance(cand["count"], int)
    best = max(lights["candidates"], key=lambda c: c["score"])
    assert lights["selected"] == best["model"] and lights["reason"]
    rules = {r["rule"] for s in report["compliance"]["stages"].values() for r in s["rules"]}
    assert {"G1", "L3", "D1"} <= rules
    assert report["compliant"] == result.report.compliant and report["status"] == result.status()
    assert "timings" not in report


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    """Two independent runs of the same room write byte-identical files."""
    room = make_room(6, 5, grid_id="twice", states={(3, 2): "sprinkler"})
    outs = []
    for run in ("a", "b"):
        with PipelineRunner(max_workers=1) as runner:
            paths = write_room_outputs(runner.run_full_pipeline(room), tmp_path / run)
        outs.append({k: p.read_bytes() for k, p in paths.items()})
    assert outs[0] == outs[1]


def test_timings_only_when_asked(result: PipelineResult) -> None:
    """Durations appear under "timings" only with timings=True."""
    assert "timings" not in build_report(result)
    timings = build_report(result, timings=True)["timings"]
    assert set(timings["stages"]) == {"lights", "air_supply", "smoke_detectors"}
    assert timings["pipeline_s"] > 0


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final rename fails, the previous file is intact and the temp file is removed."""
    target = tmp_path / "a.json"
    atomic_write_text(target, "old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_never_writes_outside_the_output_folder(tmp_path: Path) -> None:
    """A name that resolves outside out_dir is refused."""
    with pytest.raises(ValueError, match="outside"):
        _safe_target(tmp_path, "../escape", ".json")
    assert _safe_target(tmp_path, "ok-1", ".svg") == (tmp_path / "ok-1.svg").resolve()


def test_to_jsonable_makes_strict_json() -> None:
    """numpy values, tuples and sets become plain JSON; NaN and infinity become null."""
    value = {"a": np.float64(1.5), "b": np.int64(3), "c": (1, 2), "d": {2, 1}, "e": math.nan, "f": np.array([1, 2])}
    assert to_jsonable(value) == {"a": 1.5, "b": 3, "c": [1, 2], "d": [1, 2], "e": None, "f": [1, 2]}
    json.dumps(to_jsonable(value), allow_nan=False)


def test_results_carry_no_wall_clock_times_outside_the_run_record() -> None:
    """Model diagnostics hold no timings (they are on ModelRun, and in the report only with --timings)."""
    import re

    timing_key = re.compile(r"(^|_)(elapsed|seconds|duration|runtime|wall_clock|time)(_s|_ms)?$")

    def keys(value: object) -> list[str]:
        if isinstance(value, dict):
            return [k for key, v in value.items() for k in [key, *keys(v)]]
        if isinstance(value, list):
            return [k for v in value for k in keys(v)]
        return []

    with PipelineRunner(max_workers=1) as runner:
        result = runner.run_full_pipeline(make_room(8, 6))
    report = build_report(result)
    assert "timings" not in report
    assert not [k for k in keys(report) if timing_key.search(k)]
    for stage in result.stages.values():
        for run in stage.runs:
            assert run.duration_s > 0 and run.result is not None
            assert not [k for k in keys(dict(run.result.diagnostics)) if timing_key.search(k)]
    timed = build_report(result, timings=True)["timings"]
    assert set(timed["stages"]) == {"lights", "air_supply", "smoke_detectors"} and timed["pipeline_s"] > 0


def test_report_figures_are_rounded_for_people(result: PipelineResult) -> None:
    """No float in the report carries more than 4 decimals (perimeter 45.6, not 45.599999999999994)."""
    report = build_report(result)

    def floats(value: object) -> list[float]:
        if isinstance(value, float):
            return [value]
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return []

    found = floats(report)
    assert found and all(f == round(f, 4) for f in found)
    geometry = report["compliance"]["stages"]["geometry"]["metrics"]
    assert geometry["perimeter_m"] == 13.2 and geometry["area_m2"] == 10.8  # 6 x 5 tiles of 0.6 m
