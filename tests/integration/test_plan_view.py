"""The plan view plugin on the session's real Airflow stack: registered, behind Airflow's auth, run ids checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

pytestmark = pytest.mark.integration

RUN_ID = "plan_view__2026-12-02T00:41:11.710663+00:00"  # the characters a manual run id has
ROOMS = ["input/private_office.json", "input/corridor.json"]


@pytest.fixture(scope="module")
def plan_run(airflow_stack: Any, client: httpx.Client) -> dict[str, Any]:
    """A finished run of two sample rooms, with publish's summary."""
    airflow_stack.trigger(client, conf={"inputs": ROOMS}, run_id=RUN_ID)
    run = airflow_stack.wait_run(client, RUN_ID)
    assert run["state"] == "success", run
    return dict(airflow_stack.xcom(client, RUN_ID, "publish"))


def test_the_plugin_registers_the_app_and_a_dag_run_tab(client: httpx.Client) -> None:
    plugins = {p["name"]: p for p in client.get("/api/v2/plugins").json()["plugins"]}
    plugin = plugins["ceiling_grid"]
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/ceiling-grid"]
    views = {v["destination"]: v for v in plugin["external_views"]}
    assert views["dag_run"]["name"] == "Ceiling plans" and views["dag_run"]["href"] == "ceiling-grid/runs/{RUN_ID}"
    assert views["nav"]["href"] == "ceiling-grid/runs"


def test_no_credentials_401_bad_token_403_unknown_run_404(airflow_stack: Any, plan_run: dict[str, Any]) -> None:
    url = f"{airflow_stack.base_url}/ceiling-grid/api/runs/{quote(RUN_ID, safe='')}"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    assert httpx.get(url, cookies={"_token": "not-a-jwt"}).status_code == 403
    auth = {"Authorization": f"Bearer {airflow_stack.token()}"}
    assert httpx.get(f"{airflow_stack.base_url}/ceiling-grid/api/runs/no_such_run", headers=auth).status_code == 404
    for probe in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", quote(RUN_ID, safe="") + "/files/..%2F..%2Fairflow.cfg",
                  quote(RUN_ID, safe="") + "/files/.ceiling-grid-run.json"):
        r = httpx.get(f"{airflow_stack.base_url}/ceiling-grid/runs/{probe}", headers=auth)
        assert r.status_code == 404, (probe, r.status_code, r.text[:200])


def test_a_viewer_reads_the_run_summary_as_json(airflow_stack: Any, plan_run: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {airflow_stack.token('viewer')}"}
    r = httpx.get(f"{airflow_stack.base_url}/ceiling-grid/api/runs/{quote(RUN_ID, safe='')}", headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["run_id"] == RUN_ID and data["rooms"] == plan_run["rooms"] == len(ROOMS)
    assert data["compliant"] == plan_run["compliant"]
    published = {room["grid_id"]: room for room in plan_run["results"]}
    for row in data["results"]:
        assert row["lights"] == published[row["grid_id"]]["lights"]
        assert row["regularity"]["regular"] is True and row["models"]["lights"].startswith("LightModel")
    listing = httpx.get(f"{airflow_stack.base_url}/ceiling-grid/api/runs", headers=auth).json()
    assert any(run["run_id"] == RUN_ID and run["compliant"] == plan_run["compliant"] for run in listing)
    svg = httpx.get(f"{airflow_stack.base_url}/ceiling-grid/runs/{quote(RUN_ID, safe='')}/files/corridor.svg",
                    headers=auth)
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<")


def test_on_invalid_skip_lays_out_the_rest_and_lists_the_skipped_file(airflow_stack: Any,
                                                                       client: httpx.Client) -> None:
    run_id = airflow_stack.trigger(client, conf={"inputs": ["input/private_office.json", "bad"],
                                                 "on_invalid": "skip"}, run_id="plan_view_skip")
    assert airflow_stack.wait_run(client, run_id)["state"] == "success"
    data = client.get(f"/ceiling-grid/api/runs/{run_id}").json()
    assert data["rooms"] == 1 and [s["source"] for s in data["skipped"]] == ["bad/bad-room.json"]
    assert "cells[1].x = 7 is outside width 3" in data["skipped"][0]["error"]
    page = client.get(f"/ceiling-grid/runs/{run_id}").text
    assert "Skipped input files" in page and "bad/bad-room.json" in page
    events = airflow_stack.task_log(client, run_id, "load_rooms", 1)
    assert [e["source"] for e in events if e.get("event") == "room_file_skipped"] == ["bad/bad-room.json"]


def test_a_successful_run_logs_no_false_xcom_error(airflow_stack: Any, plan_run: dict[str, Any]) -> None:
    """publish reads the mapped results in one slice: no 'XCom not found' for offset len(chunks)."""
    log = (airflow_stack.home / "stack-logs" / "scheduler.log").read_text(errors="replace")
    assert plan_run["rooms"] == len(ROOMS)
    assert [line for line in log.splitlines() if "XCom not found" in line and RUN_ID in line] == []
