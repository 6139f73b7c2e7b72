"""The DAG on a real Airflow stack (PostgreSQL, separate processes): CLI and REST triggers, XCom, logs, fail-fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ceiling_grid.grid import parse_room
from ceiling_grid.runs import run_folder_name

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def rest_run(airflow_stack: Any, client: Any) -> dict[str, Any]:
    """One REST-triggered run on the sample rooms, two rooms per chunk, finished."""
    run_id = airflow_stack.trigger(client, {"chunk_size": 2, "on_infeasible": "report"}, run_id="it_rest_1")
    return dict(airflow_stack.wait_run(client, run_id, timeout=RUN_TIMEOUT_S))


def test_rest_trigger_succeeds_and_writes_outputs(rest_run: dict[str, Any], airflow_stack: Any, client: Any,
                                                  stack_data: Path) -> None:
    """A REST trigger (JWT) runs every task to success and publish writes three files per room plus summary.json."""
    assert rest_run["state"] == "success", rest_run
    summary = airflow_stack.xcom(client, "it_rest_1", "publish")
    rooms = sorted(p.stem for p in (stack_data / "input").glob("*.json"))
    assert sorted(r["grid_id"] for r in summary["results"]) == sorted(
        json.loads((stack_data / "input" / f"{r}.json").read_text())["grid_id"] for r in rooms)
    out = stack_data / "output" / run_folder_name("it_rest_1")
    assert summary["output_dir"] == str(out)
    assert json.loads((out / "summary.json").read_text()) == summary
    for room in summary["results"]:
        for name in room["files"]:
            assert (out / name).stat().st_size > 0
    tis = airflow_stack.task_instances(client, "it_rest_1")
    lights = sorted(ti["map_index"] for ti in tis if ti["task_id"] == "place_lights")
    assert lights == list(range((len(rooms) + 1) // 2))
    assert all(ti["state"] == "success" and ti["try_number"] == 1 for ti in tis)


def test_mapped_xcom_holds_validated_room_payloads(rest_run: dict[str, Any], airflow_stack: Any,
                                                   client: Any) -> None:
    """The XCom of a mapped stage (REST xcomEntries) is a JSON chunk of rooms that re-validates with parse_room."""
    chunk = airflow_stack.xcom(client, "it_rest_1", "place_smoke_detectors", map_index=0)
    assert isinstance(chunk, list) and len(chunk) == 2
    for entry in chunk:
        grid = parse_room(entry["grid"])
        assert [s["stage"] for s in entry["stages"]] == ["lights", "air_supply", "smoke_detectors"]
        assert grid.grid_id and entry["source"].startswith("input/")


def test_task_log_over_rest_has_structured_model_events(rest_run: dict[str, Any], airflow_stack: Any,
                                                        client: Any) -> None:
    """The place_lights log, read over REST as JSON, holds one model_run event per model with score fields."""
    events = airflow_stack.task_log(client, "it_rest_1", "place_lights", 1, map_index=0)
    runs = [e for e in events if e.get("event") == "model_run"]
    assert {e["model"] for e in runs} == {"LightModelA", "LightModelB", "LightModelC"}
    for e in runs:
        assert isinstance(e["score"], float) and e["stage"] == "lights" and e["grid_id"]
        assert e["dag_id"] == "ceiling_grid_pipeline" and e["run_id"] == "it_rest_1"
    selected = [e for e in events if e.get("event") == "stage_selected"]
    assert len(selected) == 2 and all(e["model"] in {"LightModelA", "LightModelB", "LightModelC"} for e in selected)
    assert not any("Returned value was:" in str(e.get("event")) for e in events)


def test_cli_trigger_runs_to_success(airflow_stack: Any, client: Any) -> None:
    """`airflow dags trigger` (straight to the metadata DB) starts a run the scheduler completes."""
    run_id = airflow_stack.trigger_cli({"inputs": ["input/corridor.json"], "chunk_size": 1}, run_id="it_cli_1")
    run = airflow_stack.wait_run(client, run_id, timeout=RUN_TIMEOUT_S)
    assert run["state"] == "success", run
    assert run["conf"]["inputs"] == ["input/corridor.json"]
    summary = airflow_stack.xcom(client, run_id, "publish")
    assert [r["source"] for r in summary["results"]] == ["input/corridor.json"]


def test_bad_room_fails_fast_without_retry(airflow_stack: Any, client: Any,
                                           alert_sink: list[dict[str, Any]]) -> None:
    """A malformed room fails load_rooms on try 1 (no retry), logs the validation error, and sends one alert."""
    run_id = airflow_stack.trigger(client, {"inputs": ["bad"]}, run_id="it_bad_1")
    run = airflow_stack.wait_run(client, run_id, timeout=RUN_TIMEOUT_S)
    assert run["state"] == "failed"
    tis = {ti["task_id"]: ti for ti in airflow_stack.task_instances(client, run_id)}
    load = tis["load_rooms"]
    assert (load["state"], load["try_number"]) == ("failed", 1)
    assert tis["publish"]["state"] == "upstream_failed"
    events = airflow_stack.task_log(client, run_id, "load_rooms", 1)
    rejected = [e for e in events if e.get("event") == "input_rejected"]
    assert len(rejected) == 1 and rejected[0]["retry"] == "false"
    assert "bad/bad-room.json" in rejected[0]["error"] and "cells[1].x = 7 is outside width 3" in rejected[0]["error"]
    alerts = [e for e in events if e.get("event") == "task_failed_alert"]
    assert len(alerts) == 1 and alerts[0]["try_number"] == 1 and alerts[0]["retry"] == "false"
    # The message once, and no traceback: the task ends as one "Task exited" line, failed by the retry policy.
    assert sum("cells[1].x = 7 is outside width 3" in str(e) for e in events) == 1
    assert not [e for e in events if e.get("error_detail") or "Traceback" in str(e.get("event", ""))]
    assert [e.get("exit_code") for e in events if e.get("event") == "Task exited"] == [1]
    posted = [a for a in alert_sink if a["run_id"] == run_id]
    assert len(posted) == 1 and posted[0]["task_id"] == "load_rooms" and "bad-room.json" in posted[0]["error"]
