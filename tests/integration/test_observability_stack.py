"""Logs, metrics and traces of ONE DAG run on the real stack, read back from real back-ends.

The session stack (conftest) runs with ``PROMETHEUS_PUSHGATEWAY_URL`` pointing at a real
Pushgateway scraped by a real Prometheus, and ``OTEL_EXPORTER_OTLP_ENDPOINT`` at a real OTLP/HTTP
receiver. One run on the six sample rooms (two mapped chunks per stage) feeds every test here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.obs_backends import PROMETHEUS_HOW, PUSHGATEWAY_HOW, PrometheusStack
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.services import require_executable

pytestmark = pytest.mark.integration

RUN_ID = "it_obs_1"
DAG_ID = "ceiling_grid_pipeline"
RUN_TIMEOUT_S = 300
STAGE_TASKS = ("place_lights", "place_air_supply", "place_smoke_detectors")
ALL_TASKS = ("load_rooms", *STAGE_TASKS, "publish")
CHUNKS = 2
TASK_FIELDS = ("dag_id", "run_id", "task_id", "try_number", "grid_id", "trace_id")


@pytest.fixture(scope="module")
def obs_run(airflow_stack: Any, client: Any, prometheus_stack: PrometheusStack | None) -> dict[str, Any]:
    """One finished run on the sample rooms in two chunks; the Pushgateway is wiped first."""
    if prometheus_stack is not None:
        prometheus_stack.wipe_gateway()  # only this run's groups in the gateway
    run_id = airflow_stack.trigger(client, {"chunk_size": 3, "on_infeasible": "report"}, run_id=RUN_ID)
    run = dict(airflow_stack.wait_run(client, run_id, timeout=RUN_TIMEOUT_S))
    assert run["state"] == "success", run
    summary = airflow_stack.xcom(client, RUN_ID, "publish")
    assert summary["rooms"] == 6
    return {"run": run, "summary": summary}


@pytest.fixture(scope="module")
def prom(prometheus_stack: PrometheusStack | None) -> PrometheusStack:
    require_executable("prometheus-pushgateway", PUSHGATEWAY_HOW)
    require_executable("prometheus", PROMETHEUS_HOW)
    assert prometheus_stack is not None
    return prometheus_stack


def _value(result: list[dict[str, Any]]) -> float | None:
    return float(result[0]["value"][1]) if len(result) == 1 else None


# ----- logs ----------------------------------------------------------------------------------


def test_task_log_events_carry_task_identity_and_domain_figures(obs_run: dict[str, Any], airflow_stack: Any,
                                                               client: Any) -> None:
    """Over the REST log endpoint, model_run and stage_selected are JSON events with every task id field."""
    events = airflow_stack.task_log(client, RUN_ID, "place_lights", 1, map_index=1)
    runs = [e for e in events if e.get("event") == "model_run"]
    selected = [e for e in events if e.get("event") == "stage_selected"]
    assert len(runs) == 3 * len(selected) and len(selected) == 3  # rooms 4-6 of 6, three light models each
    for e in runs + selected:
        assert all(e.get(k) not in (None, "") for k in TASK_FIELDS), e
        assert (e["dag_id"], e["run_id"], e["task_id"], e["try_number"]) == (DAG_ID, RUN_ID, "place_lights", 1)
        assert isinstance(e["score"], float) and 0 <= e["score"] <= 200
        assert isinstance(e["count"], int) and e["count"] > 0
    assert len({e["trace_id"] for e in runs}) == 1
    telemetry = [e for e in events if e.get("event") == "task_telemetry"]
    assert len(telemetry) == 1 and telemetry[0]["ok"] == "true" and telemetry[0]["exported_spans"] == "true"


def test_publish_log_has_one_pipeline_done_per_room_with_figures(obs_run: dict[str, Any], airflow_stack: Any,
                                                                 client: Any) -> None:
    """publish logs pipeline_done per room with Em, U0, counts and the worst coverage distance of the outputs."""
    events = airflow_stack.task_log(client, RUN_ID, "publish", 1)
    done = {e["grid_id"]: e for e in events if e.get("event") == "pipeline_done"}
    results = {r["grid_id"]: r for r in obs_run["summary"]["results"]}
    assert set(done) == set(results)
    for gid, e in done.items():
        r = results[gid]
        assert (e["lights"], e["diffusers"], e["detectors"]) == (r["lights"], r["air_supply"], r["smoke_detectors"])
        # summary.json rounds its figures to 4 decimals (outputs.readable); the log line keeps full precision
        assert e["em_lux"] == pytest.approx(r["em_lux"], abs=1e-4) and e["u0"] == pytest.approx(r["u0"], abs=1e-4)
        assert isinstance(e["worst_coverage_m"], float) and e["worst_coverage_m"] > 0
        if not any(rule.startswith("D") for rule in e["failed_rules"]):
            assert e["worst_coverage_m"] <= e["r_cover_m"] + 1e-9
        assert e["failed_rules"] == r["failed_rules"] and e["task_id"] == "publish" and e["run_id"] == RUN_ID


# ----- metrics --------------------------------------------------------------------------------


def test_pushed_metrics_in_prometheus_match_the_outputs(obs_run: dict[str, Any], prom: PrometheusStack) -> None:
    """Prometheus (scraping the Pushgateway) holds this run's selections, placements, rooms and rule failures."""
    results = obs_run["summary"]["results"]
    n = len(results)
    job = f'job="{DAG_ID}"'
    sel = prom.wait_query(f'sum(ceiling_grid_model_selections_total{{{job},stage="lights"}})',
                          lambda r: _value(r) == n)
    assert _value(sel) == n
    by_model = prom.query(f'sum by (model) (ceiling_grid_model_selections_total{{{job},stage="lights"}})')
    expected_models = Counter(r["models"]["lights"] for r in results)
    assert {s["metric"]["model"]: int(float(s["value"][1])) for s in by_model} == dict(expected_models)
    placed = prom.query(f"sum by (component) (ceiling_grid_components_placed_total{{{job}}})")
    got = {s["metric"]["component"]: int(float(s["value"][1])) for s in placed}
    assert got == {"light": sum(r["lights"] for r in results),
                   "air_supply": sum(r["air_supply"] for r in results),
                   "smoke_detector": sum(r["smoke_detectors"] for r in results)}
    rooms = prom.query(f"sum(ceiling_grid_rooms_total{{{job}}})")
    assert _value(rooms) == n
    compliant = prom.query(f'sum(ceiling_grid_rooms_total{{{job},outcome="compliant"}})')
    assert (_value(compliant) or 0.0) == obs_run["summary"]["compliant"]
    fails = prom.query(f"sum by (rule) (ceiling_grid_rule_failures_total{{{job}}})")
    assert {s["metric"]["rule"]: int(float(s["value"][1])) for s in fails} == dict(
        Counter(rule for r in results for rule in r["failed_rules"]))
    runs = prom.query(f'sum by (map_index) (ceiling_grid_model_executions_total{{{job},stage="lights"}})')
    assert {s["metric"]["map_index"]: float(s["value"][1]) for s in runs} == {"0": 9.0, "1": 9.0}


def test_every_task_pushes_its_success_time_and_no_run_id_label(obs_run: dict[str, Any],
                                                               prom: PrometheusStack) -> None:
    """Each task group has a last-success timestamp within the run and a duration; no series has a run_id."""
    run_start = obs_run["run"]["start_date"]
    ts = prom.wait_query(f'ceiling_grid_last_success_timestamp_seconds{{job="{DAG_ID}"}}',
                         lambda r: len(r) == 2 + 3 * CHUNKS)
    groups = sorted((s["metric"]["task_id"], s["metric"].get("map_index", "")) for s in ts)
    assert groups == sorted([("load_rooms", ""), ("publish", "")]
                            + [(t, str(i)) for t in STAGE_TASKS for i in range(CHUNKS)])
    from datetime import datetime

    start = datetime.fromisoformat(run_start).timestamp()
    assert all(float(s["value"][1]) >= start - 1 for s in ts)
    durations = prom.query(f'ceiling_grid_task_duration_seconds{{job="{DAG_ID}"}}')
    assert len(durations) == len(ts) and all(float(s["value"][1]) > 0 for s in durations)
    dag_run = _value(prom.query(f'ceiling_grid_dag_run_duration_seconds{{job="{DAG_ID}"}}'))
    assert dag_run is not None and dag_run > max(float(s["value"][1]) for s in durations)
    everything = prom.query('{__name__=~"ceiling_grid_.+"}')
    assert everything and not any("run_id" in s["metric"] or "grid_id" in s["metric"] for s in everything)


# ----- traces ---------------------------------------------------------------------------------


def _run_spans(rx: OtlpReceiver) -> list[ReceivedSpan]:
    def task_spans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.attributes.get("airflow.run_id") == RUN_ID]

    spans = rx.wait_for(lambda s: len(task_spans(s)) == 2 + 3 * CHUNKS)
    tasks = task_spans(spans)
    traces = {s.trace_id for s in tasks}
    return [s for s in spans if s.trace_id in traces]


def test_one_trace_per_dag_run_with_task_pipeline_stage_model_nesting(obs_run: dict[str, Any],
                                                                      otlp_receiver: OtlpReceiver,
                                                                      airflow_stack: Any, client: Any) -> None:
    """Every task span of the run shares one trace id, and pipeline -> stage -> model spans nest under them."""
    spans = _run_spans(otlp_receiver)
    tasks = [s for s in spans if s.name.startswith("task ")]
    assert len({s.trace_id for s in spans}) == 1
    assert sorted(s.name for s in tasks) == sorted(
        ["task load_rooms", "task publish"] + [f"task {t}[{i}]" for t in STAGE_TASKS for i in range(CHUNKS)])
    by_id = {s.span_id: s for s in spans}
    n = obs_run["summary"]["rooms"]
    pipelines = [s for s in spans if s.name == "pipeline"]
    assert len(pipelines) == 3 * n  # one per room in each of the three stage tasks
    for p in pipelines:
        parent = by_id[p.parent_span_id]
        assert parent.name.startswith("task place_")
    stages = [s for s in spans if s.name.startswith("stage ")]
    assert Counter(s.name for s in stages) == {"stage lights": n, "stage air_supply": n, "stage smoke_detectors": n}
    for s in stages:
        room = by_id[s.parent_span_id]
        assert room.name == "pipeline" and room.attributes["grid_id"] == s.attributes["grid_id"]
        task = by_id[room.parent_span_id]
        assert task.name == f"task place_{s.attributes['stage']}[{task.attributes['airflow.map_index']}]"
    models = [s for s in spans if s.name.startswith("model ")]
    assert Counter(s.attributes["stage"] for s in models) == {"lights": 3 * n, "air_supply": n, "smoke_detectors": n}
    for m in models:
        stage = by_id[m.parent_span_id]
        assert stage.name == f"stage {m.attributes['stage']}" and stage.start_ns <= m.start_ns
        assert isinstance(m.attributes["score"], float)
    assert {s.service for s in spans} == {"ceiling-grid"}
    logged = {e.get("trace_id") for e in airflow_stack.task_log(client, RUN_ID, "publish", 1) if e.get("trace_id")}
    assert logged == {spans[0].trace_id}
