"""Task logic of the Airflow DAG, exercised as plain Python (no scheduler, no Airflow database)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import structlog

from ceiling_grid import airflow_tasks as tasks
from ceiling_grid import orchestration as orch
from ceiling_grid.config import DEFAULT_LIMITS
from ceiling_grid.errors import InfeasibleRoomError, InputError, InputRejected, PayloadTooLargeError, TransientError
from ceiling_grid.grid import Component, RoomGrid, parse_room
from ceiling_grid.models.base import Infeasible, Judge, ModelResult, Stage
from ceiling_grid.runner import PipelineRunner
from ceiling_grid.runs import run_folder_name
from ceiling_grid.testing import make_room, room_payload

# What the DAG's form sends by default (dags/ceiling_grid_pipeline.py params).
DAG_DEFAULTS: dict[str, Any] = {"inputs": ["input"], "detector_standard": "from file", "room_type": "from file",
                                "output_dir": "output", "chunk_size": 25, "on_infeasible": "fail",
                                "on_invalid": "fail"}

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ROOMS = REPO / "data" / "input"


def write_rooms(folder: Path, sizes: list[tuple[int, int]], prefix: str = "room") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i, (w, h) in enumerate(sizes):
        grid_id = f"{prefix}-{i:02d}"
        (folder / f"{grid_id}.json").write_text(json.dumps(room_payload(w, h, grid_id=grid_id)))
        ids.append(grid_id)
    return ids


# ----- paths ---------------------------------------------------------------------------------

def test_resolve_under_refuses_paths_that_escape_the_data_folder(tmp_path: Path) -> None:
    """`..`, absolute paths elsewhere and symlinks out of the data folder are all refused with a fix."""
    base = tmp_path / "data"
    (base / "input").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    (base / "link").symlink_to(outside)
    assert orch.resolve_under(base, "input", "inputs") == (base / "input").resolve()
    assert orch.resolve_under(base, str(base / "input"), "inputs") == (base / "input").resolve()
    for bad in ("../secret", str(outside), "input/../../secret", "link"):
        with pytest.raises(InputError, match="outside the data folder"):
            orch.resolve_under(base, bad, "inputs")


def test_run_folder_name_is_one_plain_folder_name_per_exact_run_id() -> None:
    """Run ids become a single path component (slug + hash of the exact id); ids that slug alike still differ."""
    name = run_folder_name("manual__2026-01-01T00:00:00+00:00")
    assert name.startswith("manual__2026-01-01T00_00_00_00_00-") and "/" not in name
    assert run_folder_name("../../etc/passwd").startswith("etc_passwd-")
    assert run_folder_name("...").startswith("run-")
    for a, b in (("baseline1", "baseline1~"), ("mix:1", "mix+1"), ("Mix", "mix")):
        assert run_folder_name(a) != run_folder_name(b)
        assert run_folder_name(a).lower() != run_folder_name(b).lower()  # case-insensitive disks too


def test_data_dir_prefers_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CEILING_GRID_DATA_DIR wins over the DAG's default; without it the given default is used."""
    monkeypatch.setenv("CEILING_GRID_DATA_DIR", str(tmp_path))
    assert orch.data_dir(Path("/nonexistent")) == tmp_path.resolve()
    monkeypatch.delenv("CEILING_GRID_DATA_DIR")
    assert orch.data_dir(tmp_path / "x") == (tmp_path / "x").resolve()


# ----- load_rooms ----------------------------------------------------------------------------

def test_load_rooms_validates_and_chunks_in_file_order(tmp_path: Path) -> None:
    """Seven rooms with chunk_size 3 give chunks of 3, 3 and 1 room, sorted by file, each re-parsable."""
    ids = write_rooms(tmp_path / "input", [(6, 5)] * 7)
    chunks = orch.load_rooms(["input"], chunk_size=3, base=tmp_path)
    assert [len(c) for c in chunks] == [3, 3, 1]
    flat = [e for c in chunks for e in c]
    assert [e["grid"]["grid_id"] for e in flat] == ids
    assert flat[0]["source"] == "input/room-00.json"
    assert all(e["stages"] == [] for e in flat)
    json.dumps(chunks)  # XCom-safe
    assert parse_room(flat[4]["grid"]) == make_room(6, 5, grid_id="room-04")


def test_load_rooms_accepts_files_and_folders_without_duplicates(tmp_path: Path) -> None:
    """A file named both directly and through its folder is loaded once; a newline-separated string works too."""
    write_rooms(tmp_path / "input", [(5, 5), (6, 6)])
    chunks = orch.load_rooms("input/room-01.json\ninput", chunk_size=10, base=tmp_path)
    assert [e["source"] for e in chunks[0]] == ["input/room-00.json", "input/room-01.json"]


def test_load_rooms_reports_every_bad_file_with_its_json_path(tmp_path: Path) -> None:
    """Each invalid file is named with the JSON path of its problem, in one error, before any work."""
    write_rooms(tmp_path / "input", [(5, 5)])
    (tmp_path / "input" / "bad-a.json").write_text('{"grid_id": "a", "width": 2, "height": 1, '
                                                   '"cells": [{"x": 0, "y": 0}, {"x": 5, "y": 0}]}')
    (tmp_path / "input" / "bad-b.json").write_text("{not json")
    with pytest.raises(InputError) as info:
        orch.load_rooms(["input"], base=tmp_path)
    text = str(info.value)
    assert "2 of 3 room files are invalid" in text
    assert "input/bad-a.json" in text and "cells[1].x" in text
    assert "input/bad-b.json" in text and "not valid JSON" in text
    assert str(tmp_path) not in text.split("\n", 1)[1]  # files are named relative to the data folder


def test_load_rooms_rejects_duplicate_grid_ids(tmp_path: Path) -> None:
    """Two files with the same grid_id would overwrite each other's outputs, so they are refused."""
    folder = tmp_path / "input"
    folder.mkdir()
    for name in ("a.json", "b.json"):
        (folder / name).write_text(json.dumps(room_payload(4, 4, grid_id="same")))
    with pytest.raises(InputError, match=r"grid_id 'same' repeats the one in input/a\.json"):
        orch.load_rooms(["input"], base=tmp_path)


def test_load_rooms_applies_trigger_overrides(tmp_path: Path) -> None:
    """detector_standard and room_type from the trigger form replace each file's own values."""
    write_rooms(tmp_path / "input", [(5, 5)])
    [[entry]] = orch.load_rooms(["input"], detector_standard="bs5839_1", room_type="corridor", base=tmp_path)
    grid = parse_room(entry["grid"])
    assert (str(grid.detector_standard), grid.room_type) == ("bs5839_1", "corridor")
    [[kept]] = orch.load_rooms(["input"], detector_standard=orch.FROM_FILE, room_type=orch.FROM_FILE,
                               base=tmp_path)
    assert parse_room(kept["grid"]).room_type == "office"


@pytest.mark.parametrize("inputs,match", [
    (["missing"], "does not exist under the data folder"),
    (["empty"], "holds no \\*.json room files"),
    (["../elsewhere"], "outside the data folder"),
])
def test_load_rooms_rejects_unusable_inputs(tmp_path: Path, inputs: list[str], match: str) -> None:
    """Missing paths, empty folders and escapes fail as InputError with a fix."""
    (tmp_path / "data" / "empty").mkdir(parents=True)
    with pytest.raises(InputError, match=match):
        orch.load_rooms(inputs, base=tmp_path / "data")


def test_chunk_size_is_bounded(tmp_path: Path) -> None:
    """chunk_size outside 1..1000 is an input error, raised before any file is read."""
    with pytest.raises(InputError, match="chunk_size = 0"):
        orch.load_rooms(["nowhere"], chunk_size=0, base=tmp_path)


def test_big_rooms_travel_in_smaller_chunks(tmp_path: Path) -> None:
    """Chunks close early when their JSON would pass the byte budget, so big rooms never trip the XCom guard."""
    write_rooms(tmp_path / "input", [(30, 30)] * 4 + [(3, 3)] * 4)
    one_big = len(json.dumps(orch.load_rooms(["input/room-00.json"], base=tmp_path)[0][0]))
    limits = replace(DEFAULT_LIMITS, xcom_max_bytes=int(2.5 * one_big / orch.CHUNK_BYTES_SHARE))
    chunks = orch.load_rooms(["input"], chunk_size=25, base=tmp_path, limits=limits)
    assert [len(c) for c in chunks] == [2, 6]  # two big rooms fill a chunk; the small ones share the next
    assert [e["source"] for c in chunks for e in c] == [f"input/room-{i:02d}.json" for i in range(8)]
    assert orch.chunk_rooms(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


# ----- XCom size guard -------------------------------------------------------------------------

def test_guard_payload_names_the_limit_and_both_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the XCom guard, the error names the size, the limit, the chunk_size and the object-storage backend."""
    write_rooms(tmp_path / "input", [(20, 20)] * 3)
    limits = replace(DEFAULT_LIMITS, xcom_max_bytes=20_000)
    chunk = orch.load_rooms(["input"], chunk_size=3, base=tmp_path)[0]
    with pytest.raises(PayloadTooLargeError) as info:
        tasks.guard_payload(chunk, limits, "lights chunk", chunk_size=3)
    text = str(info.value)
    assert "over the guard of 20000 bytes" in text and "CEILING_GRID_XCOM_MAX_BYTES" in text
    assert "smaller chunk_size (now 3)" in text and tasks.OBJECT_STORAGE_XCOM_BACKEND in text
    assert len(orch.load_rooms(["input"], chunk_size=3, base=tmp_path, limits=limits)) == 3  # split by size
    monkeypatch.setenv("CEILING_GRID_XCOM_MAX_BYTES", "5000")
    monkeypatch.setenv("CEILING_GRID_DATA_DIR", str(tmp_path))
    context = {"params": {**DAG_DEFAULTS, "chunk_size": 3}, "run_id": "guard_1",
               "ti": SimpleNamespace(dag_id="ceiling_grid_pipeline", task_id="load_rooms", try_number=1, map_index=-1)}
    with pytest.raises(InputRejected, match="one room is over the guard") as alone:
        tasks.load_rooms_task(context, DAG_DEFAULTS)
    assert "smaller chunk_size cannot help" in str(alone.value) and "(now 3)" not in str(alone.value)


# ----- fail-fast scope -------------------------------------------------------------------------

def test_task_scope_turns_input_errors_into_a_no_retry_failure() -> None:
    """InputError ends the task as InputRejected (exit 1: no traceback, no chained error) after ONE log line."""
    info = tasks.TaskInfo(run_id="r1", task_id="load_rooms", try_number=1)
    with structlog.testing.capture_logs() as logs, pytest.raises(InputRejected) as exc_info, \
            tasks.task_scope(info):
        raise InputError("room.json: cells[3].x = 9 is outside width 4 (fix: use 0 <= x < 4)")
    assert isinstance(exc_info.value, SystemExit) and exc_info.value.code == 1
    assert str(exc_info.value) == "InputError: room.json: cells[3].x = 9 is outside width 4 (fix: use 0 <= x < 4)"
    assert exc_info.value.__cause__ is None and exc_info.value.__suppress_context__
    [event] = [e for e in logs if e["event"] == "input_rejected"]
    assert event["retry"] == "false" and "cells[3].x" in event["error"]
    assert sum("cells[3].x" in str(v) for e in logs for v in e.values()) == 1



def test_task_scope_lets_transient_errors_retry() -> None:
    """TransientError propagates unchanged so Airflow's retries apply."""
    with pytest.raises(TransientError), tasks.task_scope(tasks.TaskInfo()):
        raise TransientError("disk full")


def test_task_scope_binds_task_identifiers_to_log_lines() -> None:
    """Every structlog line inside the scope carries dag_id, run_id, task_id, try_number and map_index."""
    info = tasks.TaskInfo(dag_id="d", run_id="r", task_id="t", try_number=2, map_index=5)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs, \
            tasks.task_scope(info):
        structlog.get_logger("x").info("inside")
    assert {k: logs[0][k] for k in ("dag_id", "run_id", "task_id", "try_number", "map_index")} == \
        {"dag_id": "d", "run_id": "r", "task_id": "t", "try_number": 2, "map_index": 5}


# ----- stages ------------------------------------------------------------------------------------

@dataclass
class BlockedDetectorModel:
    """A detector 'model' that reports the room infeasible, as a real model does for a room it cannot cover."""

    name: ClassVar[str] = "BlockedDetectorModel"
    stage: ClassVar[Stage] = Stage.SMOKE_DETECTORS
    version: ClassVar[str] = "test"

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        return ModelResult(self.name, self.stage, grid, 0.0, False, 0, count=0,
                           infeasible=Infeasible("D3", "tile (2, 2) cannot be covered"))


def _blocked(grid: RoomGrid) -> Any:
    return PipelineRunner(max_workers=1).run_sequential_stage(BlockedDetectorModel(), grid)


def test_infeasible_room_fails_with_the_blocking_rule_or_is_kept_on_request() -> None:
    """on_infeasible='fail' raises InfeasibleRoomError naming rule D3; 'report' keeps the room as non-compliant."""
    chunk = [{"source": "input/x.json", "grid": room_payload(5, 5, grid_id="x"), "stages": []}]
    with pytest.raises(InfeasibleRoomError, match=r"input/x\.json: infeasible under rule D3"):
        orch.run_stage_on_chunk("smoke_detectors", chunk, run=_blocked)
    [kept] = orch.run_stage_on_chunk("smoke_detectors", chunk, run=_blocked, fail_on_infeasible=False)
    [record] = kept["stages"]
    assert record["infeasible"] == {"rule": "D3", "reason": "tile (2, 2) cannot be covered"}
    assert record["model"] == "BlockedDetectorModel" and record["compliant"] is False


def test_stage_rejects_a_corrupted_xcom_grid() -> None:
    """A grid that no longer validates on the receiving side is an InputError naming the source."""
    bad = room_payload(3, 3, grid_id="y")
    bad["cells"] = bad["cells"][:-1]
    with pytest.raises(InputError, match=r"input/y.json \(XCom\)"):
        orch.run_stage_on_chunk("lights", [{"source": "input/y.json", "grid": bad, "stages": []}], run=_blocked)


def test_light_stage_races_the_three_models_and_records_the_winner() -> None:
    """The real light stage runs LightModelA/B/C, keeps the selected grid, and records every candidate."""
    chunk = [{"source": "input/r.json", "grid": room_payload(10, 8, grid_id="r"), "stages": []}]
    [entry] = orch.run_stage_on_chunk("lights", chunk)
    [record] = entry["stages"]
    assert sorted(c["model"] for c in record["selection"]["candidates"]) == ["LightModelA", "LightModelB",
                                                                             "LightModelC"]
    assert record["model"] == record["selection"]["selected"]
    grid = parse_room(entry["grid"])
    assert grid.count(Component.LIGHT) == len(record["added"]) > 0
    json.dumps(entry)


def test_full_chain_publishes_the_same_files_as_the_cli(tmp_path: Path) -> None:
    """Stages run chunk by chunk then publish write byte-identical grid and report files to `ceiling-grid run`."""
    from ceiling_grid.cli import main as cli_main

    rooms = sorted(p.name for p in SAMPLE_ROOMS.glob("*.json"))[:2]
    data = tmp_path / "data"
    (data / "input").mkdir(parents=True)
    for name in rooms:
        (data / "input" / name).write_text((SAMPLE_ROOMS / name).read_text())
    chunks = orch.load_rooms(["input"], chunk_size=1, base=data)
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, c, fail_on_infeasible=False) for c in chunks]
    summary = orch.publish(chunks, run_id="manual__2026:01", base=data)
    out = data / "output" / run_folder_name("manual__2026:01")
    assert summary["output_dir"] == str(out) and summary["rooms"] == len(rooms)
    assert json.loads((out / "summary.json").read_text()) == summary
    cli_out = tmp_path / "cli"
    cli_main(["run", str(data / "input"), "--out", str(cli_out)])
    for room in summary["results"]:
        gid = room["grid_id"]
        assert room["files"] == [f"{gid}.json", f"{gid}.report.json", f"{gid}.svg"]
        for suffix in (".json", ".report.json", ".svg"):
            assert (out / f"{gid}{suffix}").read_bytes() == (cli_out / f"{gid}{suffix}").read_bytes(), suffix


# ----- alerting ----------------------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class _TI:
    dag_id: str = "ceiling_grid_pipeline"
    task_id: str = "place_lights"
    run_id: str = "manual__1"
    try_number: int = 3
    map_index: int = 2


def test_alert_logs_one_line_and_posts_the_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure emits exactly one task_failed_alert line and POSTs the same alert as JSON."""
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(tasks.ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
        context = {"ti": _TI(), "run_id": "manual__1", "exception": TransientError("disk full")}
        with structlog.testing.capture_logs() as logs:
            alert = tasks.alert_on_failure(context)
    finally:
        server.shutdown()
    alerts = [e for e in logs if e["event"] == "task_failed_alert"]
    assert len(alerts) == 1
    assert {k: alerts[0][k] for k in ("dag_id", "task_id", "run_id", "try_number", "map_index", "error")} == {
        "dag_id": "ceiling_grid_pipeline", "task_id": "place_lights", "run_id": "manual__1", "try_number": 3,
        "map_index": 2, "error": "disk full"}
    assert _Hook.received[-1] == alert and alert["exception_type"] == "TransientError"


def test_alert_webhook_failure_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable webhook is logged as alert_webhook_failed; the callback itself returns normally."""
    with HTTPServer(("127.0.0.1", 0), _Hook) as closed:
        port = closed.server_port
    monkeypatch.setenv(tasks.ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{port}/gone")
    with structlog.testing.capture_logs() as logs:
        tasks.alert_on_failure({"ti": _TI(), "exception": ValueError("x")})
    assert [e["event"] for e in logs] == ["task_failed_alert", "alert_webhook_failed"]


def test_a_troffer_room_naming_a_data_folder_ies_file_runs_chunk_by_chunk_without_the_file(tmp_path: Path) -> None:
    """load_rooms finds the photometric file in the data folder; once loaded, the table travels in the XCom
    payload, so the stages and publish need no file (on a Celery worker it may not exist)."""
    examples = Path(__file__).resolve().parents[1] / "data" / "examples"
    data = tmp_path / "data"
    (data / "input").mkdir(parents=True)
    (data / "photometry").mkdir()
    (data / "photometry" / "troffer_2x4.ies").write_text((examples / "troffer_2x4.ies").read_text())
    room = json.loads((examples / "troffer_office.json").read_text())
    room["luminaire"]["photometry"] = "photometry/troffer_2x4.ies"  # not beside the room: in the data folder
    (data / "input" / "troffer.json").write_text(json.dumps(room))
    chunks = orch.load_rooms(["input"], base=data)
    (data / "photometry" / "troffer_2x4.ies").unlink()
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, c) for c in chunks]
    summary = orch.publish(chunks, run_id="manual__troffer", base=data)
    [result] = summary["results"]
    report = json.loads((Path(summary["output_dir"]) / "troffer_office.report.json").read_text())
    assert report["compliant"] and report["regularity"]["regular"]
    assert report["luminaire"]["photometry"] == "photometry/troffer_2x4.ies"
    assert report["headline"]["lights"] == 20 and result["grid_id"] == "troffer_office"
    assert "troffer_office.luminaire.svg" in summary["files"]  # the polar curves, linked from the plan's legend
    plan = (Path(summary["output_dir"]) / "troffer_office.svg").read_text()
    assert '<a href="troffer_office.luminaire.svg" class="photometry-link">' in plan


# ----- on_invalid ---------------------------------------------------------------------------------

def _mixed_inputs(tmp_path: Path) -> Path:
    write_rooms(tmp_path / "input", [(8, 6), (6, 5)])
    (tmp_path / "input" / "broken.json").write_text('{"grid_id": "broken", "width": 2, "height": 1, "cells": [')
    (tmp_path / "input" / "typo.json").write_text(json.dumps(
        room_payload(2, 1, grid_id="typo") | {"room_type": "ofice"}))
    return tmp_path


def test_on_invalid_fail_names_every_bad_file_and_loads_nothing(tmp_path: Path) -> None:
    base = _mixed_inputs(tmp_path)
    with pytest.raises(InputError, match="2 of 4 room files are invalid") as err:
        orch.load_batch(["input"], base=base)
    assert "input/broken.json" in str(err.value) and "did you mean 'office'?" in str(err.value)


def test_on_invalid_skip_lays_out_the_good_rooms_and_the_summary_lists_the_skipped(tmp_path: Path) -> None:
    base = _mixed_inputs(tmp_path)
    with structlog.testing.capture_logs() as logs:
        loaded = orch.load_batch(["input"], base=base, on_invalid="skip")
    assert [e["grid"]["grid_id"] for chunk in loaded.chunks for e in chunk] == ["room-00", "room-01"]
    assert [f.source for f in loaded.skipped] == ["input/broken.json", "input/typo.json"]
    assert sorted(e["source"] for e in logs if e["event"] == "room_file_skipped") == [f.source for f in loaded.skipped]
    chunks = loaded.chunks
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, c, fail_on_infeasible=False) for c in chunks]
    summary = orch.publish(chunks, run_id="skip_1", base=base, skipped=loaded.skipped)
    assert summary["rooms"] == 2 and [s["source"] for s in summary["skipped"]] == ["input/broken.json",
                                                                                   "input/typo.json"]
    written = json.loads((Path(summary["output_dir"]) / "summary.json").read_text())
    assert written["skipped"][1]["error"].startswith("input/typo.json: room_type = 'ofice'")


def test_on_invalid_skip_with_no_valid_room_left_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "broken.json").write_text("{")
    with pytest.raises(InputError, match="on_invalid='skip', but no valid room is left"):
        orch.load_batch(["input"], base=tmp_path, on_invalid="skip")
    with pytest.raises(InputError, match="did you mean 'skip'"):
        orch.load_batch(["input"], base=tmp_path, on_invalid="skp")


def test_all_items_reads_a_sequence_by_one_slice() -> None:
    """publish reads the mapped results with one slice: a sequence is never indexed past its end."""

    class Strict(list[int]):
        def __getitem__(self, key: Any) -> Any:
            if isinstance(key, int) and key >= len(self):
                raise AssertionError(f"asked for offset {key} of {len(self)}")
            return super().__getitem__(key)

        def __iter__(self) -> Any:
            raise AssertionError("iterated item by item")

    assert tasks.all_items(Strict([1, 2, 3])) == [1, 2, 3]
    assert tasks.all_items(iter([4, 5])) == [4, 5]
