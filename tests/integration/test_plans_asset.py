"""Plans as an Airflow asset, on the session's real stack: publish emits it, a DAG scheduled on it runs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

CONSUMER = "ceiling_plans_digest"
ASSET = "ceiling_grid_plans"
ROOMS = ["input/private_office.json", "input/sample_grid.json"]
WAIT_S = 240


def _consumer_runs(client: httpx.Client) -> list[dict[str, Any]]:
    r = client.get(f"/api/v2/dags/{CONSUMER}/dagRuns", params={"order_by": "-start_date", "limit": 20})
    r.raise_for_status()
    return list(r.json()["dag_runs"])


def test_publish_emits_the_plans_asset_and_the_digest_dag_runs_on_it(airflow_stack: Any,
                                                                     client: httpx.Client) -> None:
    airflow_stack.wait_dag(client, dag_id=CONSUMER)
    assert client.get(f"/api/v2/dags/{CONSUMER}").json()["is_paused"] is True  # an example: created paused
    airflow_stack.unpause(client, dag_id=CONSUMER)
    try:
        run_id = airflow_stack.trigger(client, conf={"inputs": ROOMS}, run_id="asset__1")
        assert airflow_stack.wait_run(client, run_id)["state"] == "success"
        summary = airflow_stack.xcom(client, run_id, "publish")

        events = client.get("/api/v2/assets/events", params={"source_dag_id": "ceiling_grid_pipeline",
                                                             "source_run_id": run_id}).json()["asset_events"]
        assert len(events) == 1 and events[0]["source_task_id"] == "publish"
        extra = events[0]["extra"]
        assert {k: extra[k] for k in ("run_id", "rooms", "compliant", "infeasible", "skipped", "output_dir")} == {
            "run_id": run_id, "rooms": 2, "compliant": summary["compliant"], "infeasible": 0, "skipped": 0,
            "output_dir": summary["output_dir"]}
        asset = client.get("/api/v2/assets", params={"name_pattern": ASSET}).json()["assets"]
        assert [a["name"] for a in asset] == [ASSET]

        deadline = time.monotonic() + WAIT_S
        digest_run = None
        while time.monotonic() < deadline and digest_run is None:
            for run in _consumer_runs(client):
                if run["state"] in ("success", "failed"):
                    digests = airflow_stack.xcom(client, run["dag_run_id"], "digest", dag_id=CONSUMER)
                    if any(d["run_id"] == run_id for d in digests):
                        digest_run, digest = run, next(d for d in digests if d["run_id"] == run_id)
            time.sleep(1.0)
        assert digest_run is not None, f"no {CONSUMER} run picked up {run_id} within {WAIT_S} s"
        assert digest_run["state"] == "success" and digest_run["run_type"] == "asset_triggered"
        assert digest["rooms"] == 2 and digest["compliant"] == summary["compliant"]
        assert digest["needs_attention"] == sorted(r["grid_id"] for r in summary["results"] if not r["compliant"])
    finally:
        client.patch(f"/api/v2/dags/{CONSUMER}", json={"is_paused": True}).raise_for_status()
