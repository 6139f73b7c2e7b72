"""Task telemetry against real back-ends in-process: OTLP receiver, Pushgateway binary, dead endpoints, CLI logs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from structlog.testing import capture_logs

from ceiling_grid import airflow_tasks as tasks
from ceiling_grid import orchestration as orch
from ceiling_grid.observability.task import TaskTelemetry, current_telemetry
from ceiling_grid.observability.tracing import GuardedExporter, run_trace_ids
from ceiling_grid.runs import run_folder_name
from tests.support.obs_backends import PrometheusStack, only_backend, run_dag_in_process
from tests.support.obs_backends import task_info as _info
from tests.support.otlp_receiver import OtlpReceiver

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "data" / "input"
DAG_ID = "ceiling_grid_pipeline"
OTLP_PORT = 28221
PUSHGATEWAY_PORT = 28222
PROMETHEUS_PORT = 28223
DEAD_PORT = 28229  # nothing listens here


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder with two small sample rooms."""
    (tmp_path / "input").mkdir()
    for name in ("private_office.json", "classroom.json"):
        (tmp_path / "input" / name).write_text((ROOMS / name).read_text())
    return tmp_path


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(OTLP_PORT) as rx:
        yield rx


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStack]:
    stack = PrometheusStack(tmp_path_factory.mktemp("prom"), PUSHGATEWAY_PORT, PROMETHEUS_PORT)
    try:
        yield stack.spawn().wait_ready()
    finally:
        stack.stop()


def test_in_process_dag_exports_one_trace_with_nested_spans(
    data: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside Airflow every task span lands on the run's derived trace id, with pipeline/stage/model below."""
    only_backend(monkeypatch, "OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    run_dag_in_process(data, "obs_unit_trace")
    trace_id = f"{run_trace_ids(DAG_ID, 'obs_unit_trace')[0]:032x}"
    spans = [s for s in receiver.snapshot() if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in spans}
    tasks = sorted(s.name for s in spans if s.name.startswith("task "))
    assert tasks == ["task load_rooms", "task place_air_supply[0]", "task place_lights[0]",
                     "task place_smoke_detectors[0]", "task publish"]
    root_parent = f"{run_trace_ids(DAG_ID, 'obs_unit_trace')[1]:016x}"
    assert {s.parent_span_id for s in spans if s.name.startswith("task ")} == {root_parent}
    models = [s for s in spans if s.name.startswith("model ")]
    assert Counter(s.attributes["stage"] for s in models) == {"lights": 6, "air_supply": 2, "smoke_detectors": 2}
    for m in models:
        stage = by_id[m.parent_span_id]
        room = by_id[stage.parent_span_id]
        task = by_id[room.parent_span_id]
        assert (stage.name, room.name) == (f"stage {m.attributes['stage']}", "pipeline")
        assert task.name.startswith(f"task place_{m.attributes['stage']}")
        assert room.attributes["grid_id"] == m.attributes["grid_id"]


def test_stage_and_publish_tasks_push_their_families_to_a_real_pushgateway(
    data: Path, prom: PrometheusStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups are job=dag_id + task_id (+ map_index); stage tasks push model figures, publish the room figures."""
    prom.wipe_gateway()
    only_backend(monkeypatch, "PROMETHEUS_PUSHGATEWAY_URL", prom.pushgateway_url)
    summary = run_dag_in_process(data, "obs_unit_push")
    groups = {(g["labels"]["task_id"], g["labels"].get("map_index")): g for g in prom.gateway_groups()
              if g["labels"].get("job") == DAG_ID}
    assert set(groups) == {("load_rooms", None), ("place_lights", "0"), ("place_air_supply", "0"),
                           ("place_smoke_detectors", "0"), ("publish", None)}
    assert all("run_id" not in g["labels"] for g in groups.values())
    lights = groups[("place_lights", "0")]
    assert "ceiling_grid_model_executions_total" in lights and "ceiling_grid_model_selections_total" not in lights
    publish = groups[("publish", None)]
    selections = publish["ceiling_grid_model_selections_total"]["metrics"]
    assert sum(float(m["value"]) for m in selections if m["labels"]["stage"] == "lights") == summary["rooms"]
    placed = {m["labels"]["component"]: float(m["value"])
              for m in publish["ceiling_grid_components_placed_total"]["metrics"]}
    assert placed["light"] == sum(r["lights"] for r in summary["results"])
    assert all("ceiling_grid_last_success_timestamp_seconds" in g for g in groups.values())
    assert all("ceiling_grid_last_failure_timestamp_seconds" not in g for g in groups.values())


def test_a_failed_task_keeps_the_last_success_time_in_the_gateway(
    prom: PrometheusStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pushadd of a failing try adds the failure time and leaves the earlier success time untouched."""
    prom.wipe_gateway()
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", prom.pushgateway_url)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with TaskTelemetry.from_info(_info("load_rooms")) as ok:
        pass
    success = ok.metrics.value("ceiling_grid_last_success_timestamp_seconds")
    with pytest.raises(RuntimeError), TaskTelemetry.from_info(_info("load_rooms")):
        raise RuntimeError("boom")
    (group,) = [g for g in prom.gateway_groups() if g["labels"].get("task_id") == "load_rooms"]
    kept = float(group["ceiling_grid_last_success_timestamp_seconds"]["metrics"][0]["value"])
    failed = float(group["ceiling_grid_last_failure_timestamp_seconds"]["metrics"][0]["value"])
    assert kept == pytest.approx(success) and failed >= kept


def test_dead_backends_warn_once_each_and_never_fail_the_rooms(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pushgateway, OTLP endpoint and MLflow all unreachable: the run succeeds, one warning per back-end and task."""
    dead = f"http://127.0.0.1:{DEAD_PORT}"
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", dead)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", dead)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    with capture_logs() as logs:
        with tasks.task_scope(_info("load_rooms"), tasks.task_families("load")):
            chunks = orch.load_rooms(["input"], base=data, chunk_size=10)
        with tasks.task_scope(_info("place_lights", 0), tasks.task_families("stage")):
            lit = orch.run_stage_on_chunk("lights", chunks[0], fail_on_infeasible=False)
        with tasks.task_scope(_info("publish"), tasks.task_families("publish")):
            summary = orch.publish([lit], run_id="obs_unit_dead", base=data)
    assert summary["rooms"] == 2 and (data / "output" / run_folder_name("obs_unit_dead") / "summary.json").is_file()
    counts = Counter(e["event"] for e in logs if e["log_level"] == "warning")
    # one per task process for the gateway and the trace exporter, one per run for MLflow - never per room
    assert counts == {"metrics_push_failed": 3, "trace_export_failed": 3, "mlflow_unreachable": 1}
    assert [e["ok"] for e in logs if e["event"] == "task_telemetry"] == ["true", "true", "true"]


class _Failing(SpanExporter):
    calls = 0

    def export(self, spans: Any) -> SpanExportResult:
        type(self).calls += 1
        return SpanExportResult.SUCCESS


def test_guarded_exporter_checks_the_endpoint_once_then_drops_quietly() -> None:
    """Three batches to a dead endpoint: one connect attempt, one warning, the inner exporter never called."""
    guard = GuardedExporter(_Failing(), f"http://127.0.0.1:{DEAD_PORT}/v1/traces")
    spans: list[ReadableSpan] = []
    with capture_logs() as logs:
        results = [guard.export(spans) for _ in range(3)]
    assert results == [SpanExportResult.FAILURE] * 3 and _Failing.calls == 0 and guard.dead
    assert [e["event"] for e in logs] == ["trace_export_failed"]


def test_no_mlflow_import_without_tracking_uri(data: Path) -> None:
    """A whole in-process run without MLFLOW_TRACKING_URI never imports mlflow (fresh interpreter)."""
    script = (
        "import sys; from pathlib import Path; import tests.support.obs_backends as t\n"
        f"t.run_dag_in_process(Path({str(data)!r}), 'obs_unit_nomlflow')\n"
        "print('MLFLOW_LOADED' if any(m == 'mlflow' or m.startswith('mlflow.') for m in sys.modules) else 'CLEAN')\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "PROMETHEUS_PUSHGATEWAY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT")}
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "CLEAN"


def test_current_telemetry_is_only_set_inside_a_task() -> None:
    """Outside task_scope there is no task telemetry; inside it is the scope's own."""
    assert current_telemetry() is None
    with tasks.task_scope(_info("load_rooms"), tasks.task_families("load")):
        tel = current_telemetry()
        assert tel is not None and tel.task_id == "load_rooms"
    assert current_telemetry() is None


def _cli(args: list[str], tty: bool, cwd: Path) -> str:
    """Run the CLI with stderr on a pseudo-terminal (tty=True) or a pipe; returns stderr."""
    cmd = [sys.executable, "-m", "ceiling_grid.cli", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for k in ("PROMETHEUS_PUSHGATEWAY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(k, None)
    if not tty:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300).stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(300)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_cli_logs_are_human_on_a_tty_and_json_otherwise(data: Path) -> None:
    """The same CLI run logs console lines on a terminal and one JSON object per line into a pipe."""
    args = ["run", str(data / "input" / "private_office.json"), "--out", str(data / "out"), "--workers", "1",
            "--log-level", "info"]
    piped = [json.loads(line) for line in _cli(args, False, data).splitlines() if line.strip()]
    assert {"model_run", "stage_selected", "pipeline_done"} <= {e["event"] for e in piped}
    done = next(e for e in piped if e["event"] == "pipeline_done")
    assert done["grid_id"] and isinstance(done["em_lux"], float) and isinstance(done["worst_coverage_m"], float)
    human = _cli(args, True, data)
    lines = [ln for ln in human.splitlines() if "pipeline_done" in ln]
    assert lines and not lines[0].lstrip().startswith("{")
    assert "grid_id" in lines[0] and "em_lux" in lines[0]
