"""Observability helpers: CLI logging set-up, the private Prometheus registry and push, the local tracer."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from ceiling_grid.observability import PipelineMetrics, PipelineTracer, configure_cli_logging
from tests.support.http_recorder import recording_server


@pytest.fixture
def fresh_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def http_recorder() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    with recording_server() as recorder:
        yield recorder


def test_cli_logging_writes_json_lines_with_bound_context(
    fresh_structlog: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON mode writes one JSON object per event to the current stderr, with contextvars merged."""
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    assert configure_cli_logging(json=True, level="info") is True
    with structlog.contextvars.bound_contextvars(grid_id="room-7"):
        structlog.get_logger("t").info("model_run", model="LightModelA", score=150.5)
    structlog.get_logger("t").debug("hidden")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "model_run" and event["grid_id"] == "room-7" and event["score"] == 150.5
    assert event["level"] == "info" and "timestamp" in event


def test_cli_logging_keeps_an_existing_configuration(fresh_structlog: None) -> None:
    """When structlog is already configured (Airflow, a host app), the CLI leaves it alone."""
    structlog.configure(processors=[structlog.processors.JSONRenderer()])
    before = structlog.get_config()["processors"]
    assert configure_cli_logging(json=False) is False
    assert structlog.get_config()["processors"] is before


def test_cli_logging_rejects_unknown_level(fresh_structlog: None) -> None:
    """An unknown level name is a clear error, not a silent default."""
    with pytest.raises(ValueError, match="unknown log level"):
        configure_cli_logging(json=True, level="loud")


def test_metrics_live_in_their_own_registry() -> None:
    """Two metric sets coexist, and nothing lands in the process-global registry."""
    a, b = PipelineMetrics(), PipelineMetrics()
    a.record_room("compliant")
    a.record_model_run("lights", "LightModelA", "compliant", 0.3, 187.5)
    assert a.value("ceiling_grid_rooms_total", {"outcome": "compliant"}) == 1.0
    assert b.value("ceiling_grid_rooms_total", {"outcome": "compliant"}) is None
    assert a.value("ceiling_grid_model_score", {"stage": "lights", "model": "LightModelA"}) == 187.5
    assert a.value("ceiling_grid_last_success_timestamp_seconds") > 0
    assert REGISTRY.get_sample_value("ceiling_grid_rooms_total", {"outcome": "compliant"}) is None
    names = {m.name for m in a.registry.collect()}
    assert "ceiling_grid_model_duration_seconds" in names


def test_metric_labels_have_no_ids() -> None:
    """Every metric uses only low-cardinality labels (no grid_id or run_id)."""
    m = PipelineMetrics()
    m.record_model_run("lights", "LightModelA", "compliant", 0.1, 1.0)
    m.record_selection("lights", "LightModelA")
    m.record_components({"light": 3})
    m.record_rule_failures(["D1"])
    m.record_room("infeasible")
    labels = {k for metric in m.registry.collect() for s in metric.samples for k in s.labels}
    assert labels <= {"stage", "model", "outcome", "component", "rule", "le"}


def test_push_without_gateway_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PROMETHEUS_PUSHGATEWAY_URL nothing is sent."""
    monkeypatch.delenv("PROMETHEUS_PUSHGATEWAY_URL", raising=False)
    assert PipelineMetrics().push("job") is False


def test_push_uses_pushadd_to_the_gateway(
    monkeypatch: pytest.MonkeyPatch, http_recorder: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    """pushadd sends a POST (not PUT) to /metrics/job/<job>/<key>/<value> with our samples."""
    url, requests = http_recorder
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", url)
    m = PipelineMetrics()
    m.record_room("compliant")
    assert m.push("ceiling_grid_cli", {"instance": "host-a"}) is True
    method, path, body = requests[0]
    assert method == "POST" and path == "/metrics/job/ceiling_grid_cli/instance/host-a"
    assert b'ceiling_grid_rooms_total{outcome="compliant"} 1.0' in body


def test_unreachable_gateway_warns_once_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead gateway gives one warning for any number of pushes, and no exception."""
    monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", "http://127.0.0.1:9")
    m = PipelineMetrics()
    with capture_logs() as logs:
        assert m.push("job", timeout_s=1.0) is False
        assert m.push("job", timeout_s=1.0) is False
    warnings = [e for e in logs if e["event"] == "metrics_push_failed"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"


def test_spans_survive_an_unsampled_parent() -> None:
    """Under Airflow's unsampled parent context, ALWAYS_ON still records and joins the parent trace."""
    tracer = PipelineTracer(otlp_from_env=False)
    exporter = InMemorySpanExporter()
    tracer.add_exporter(exporter)
    parent = trace.SpanContext(
        trace_id=0x1234, span_id=0x99, is_remote=True, trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT)
    )
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    token = otel_context.attach(ctx)
    try:
        with tracer.tracer.start_as_current_span("pipeline"):
            pass
    finally:
        otel_context.detach(token)
    tracer.force_flush()
    (span,) = exporter.get_finished_spans()
    assert span.context.trace_id == 0x1234 and span.parent is not None and span.parent.span_id == 0x99


def test_tracer_never_touches_the_global_provider() -> None:
    """Creating and using a PipelineTracer leaves the global tracer provider as it was."""
    before = trace.get_tracer_provider()
    tracer = PipelineTracer(otlp_from_env=False)
    tracer.add_exporter(InMemorySpanExporter())
    with tracer.tracer.start_as_current_span("x"):
        pass
    assert trace.get_tracer_provider() is before


def test_otlp_http_export_when_endpoint_is_set(
    monkeypatch: pytest.MonkeyPatch, http_recorder: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are POSTed as protobuf to <endpoint>/v1/traces."""
    url, requests = http_recorder
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    tracer = PipelineTracer()
    assert tracer.enabled
    with tracer.tracer.start_as_current_span("pipeline", attributes={"grid_id": "room-1"}):
        pass
    assert tracer.force_flush()
    tracer.shutdown()
    assert requests and requests[0][0] == "POST" and requests[0][1] == "/v1/traces"
    assert b"pipeline" in requests[0][2] and b"room-1" in requests[0][2]
