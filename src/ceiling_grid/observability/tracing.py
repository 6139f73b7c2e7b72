"""OpenTelemetry tracing with a LOCAL provider (never the global one) and an always-on sampler.

Inside Airflow a task inherits an unsampled parent context, so the SDK's default ParentBased
sampler silently drops every span (airflow3-notes key fact 14); ``ALWAYS_ON`` keeps them and
still joins Airflow's trace id. Spans are exported over OTLP/HTTP only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; otherwise the
tracer is a no-op until a test attaches an exporter with :meth:`PipelineTracer.add_exporter`.
An unreachable OTLP endpoint logs one warning and the spans are dropped; it never fails a room.

One DAG run is one trace: :func:`run_parent_context` joins the span context Airflow gives every
task of a run (its trace id is the DAG run's), and outside Airflow falls back to a synthetic
remote parent whose ids are derived from ``dag_id`` + ``run_id`` (:func:`run_trace_ids`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ..logs import get_logger
from .env import OTLP_ENDPOINT_ENVS, otlp_configured

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_SERVICE_NAME",
    "OTLP_ENDPOINT_ENVS",
    "TRACER_NAME",
    "GuardedExporter",
    "PipelineTracer",
    "otlp_traces_endpoint",
    "run_parent_context",
    "run_trace_ids",
]

DEFAULT_SERVICE_NAME = "ceiling-grid"
DEFAULT_FLUSH_TIMEOUT_MS = 10_000
TRACER_NAME = "ceiling_grid.runner"
DEFAULT_CONNECT_TIMEOUT_S = 1.0

log = get_logger("ceiling_grid.observability.tracing")


def run_trace_ids(dag_id: str, run_id: str) -> tuple[int, int]:
    """A deterministic (trace id, span id) of one DAG run: the SHA-256 of ``dag_id`` and ``run_id``."""
    digest = hashlib.sha256(f"{dag_id}\x00{run_id}".encode()).digest()
    trace_id = int.from_bytes(digest[:16], "big") or 1
    span_id = int.from_bytes(digest[16:24], "big") or 1
    return trace_id, span_id


def run_parent_context(dag_id: str, run_id: str, use_ambient: bool = True) -> otel_context.Context:
    """The context a task span of this DAG run starts in.

    Inside an Airflow task the current span context is the task instance's, on the trace Airflow
    made for the DAG run (shared by every task of the run): join it. Otherwise (``dag.test()``,
    plain Python) start from a sampled remote parent with :func:`run_trace_ids`, so every task of
    the run still lands in one trace.
    """
    if use_ambient and trace.get_current_span().get_span_context().is_valid:
        return otel_context.get_current()
    trace_id, span_id = run_trace_ids(dag_id, run_id)
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent), otel_context.Context())


def otlp_traces_endpoint() -> str | None:
    """The OTLP/HTTP traces URL the exporter will use, from the standard variables (None when unset)."""
    explicit = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if explicit:
        return explicit
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not base:
        return None
    return base.rstrip("/") + "/v1/traces"


def _reachable(url: str, timeout_s: float) -> str | None:
    """None when a TCP connection to ``url``'s host and port opens, else the reason it did not."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


class GuardedExporter(SpanExporter):
    """Wraps an exporter: checks once that the endpoint answers, and after a failure drops spans quietly.

    The OTLP exporter retries a refused connection with back-off for up to its timeout on every
    batch; behind this guard a dead endpoint costs one connect attempt and ONE warning per process.
    """

    def __init__(self, inner: SpanExporter, endpoint: str, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S):
        self.inner = inner
        self.endpoint = endpoint
        self.connect_timeout_s = connect_timeout_s
        self._checked = False
        self._dead = False
        self._lock = threading.Lock()

    @property
    def dead(self) -> bool:
        return self._dead

    def _give_up(self, reason: str, spans: int) -> None:
        self._dead = True
        log.warning(
            "trace_export_failed",
            endpoint=self.endpoint,
            error=reason,
            dropped_spans=spans,
            hint="check that the OTLP/HTTP receiver (e.g. the otel-collector on :4318) is up, or unset "
            "OTEL_EXPORTER_OTLP_ENDPOINT; later spans of this process are dropped without further warnings",
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._dead:
                return SpanExportResult.FAILURE
            if not self._checked:
                self._checked = True
                reason = _reachable(self.endpoint, self.connect_timeout_s)
                if reason is not None:
                    self._give_up(reason, len(spans))
                    return SpanExportResult.FAILURE
            try:
                result = self.inner.export(spans)
            except Exception as exc:  # noqa: BLE001 - an exporter bug must not fail a room
                result = SpanExportResult.FAILURE
                self._give_up(f"{type(exc).__name__}: {exc}", len(spans))
                return result
            if result is not SpanExportResult.SUCCESS:
                self._give_up("the OTLP exporter reported a failed export (see its log line above)", len(spans))
            return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class PipelineTracer:
    """A local ``TracerProvider(sampler=ALWAYS_ON)`` with optional OTLP/HTTP export."""

    def __init__(self, service_name: str | None = None, otlp_from_env: bool = True) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        self.provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource.create({"service.name": name}))
        self._exporters = 0
        self.guard: GuardedExporter | None = None
        if otlp_from_env and otlp_configured():
            self._add_otlp()

    def _add_otlp(self) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:  # optional extra "otlp"
            log.warning("otlp_exporter_missing", hint="pip install 'ceiling-grid[otlp]' to export traces")
            return
        # The exporter reads the endpoint, headers and timeout from the standard OTEL_* variables.
        endpoint = otlp_traces_endpoint() or "http://localhost:4318/v1/traces"
        self.guard = GuardedExporter(OTLPSpanExporter(), endpoint)
        self.provider.add_span_processor(BatchSpanProcessor(self.guard))
        self._exporters += 1

    def add_exporter(self, exporter: SpanExporter, batch: bool = False) -> None:
        """Send spans to ``exporter`` too (tests: ``InMemorySpanExporter``; synchronous by default)."""
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self.provider.add_span_processor(processor)
        self._exporters += 1

    @property
    def enabled(self) -> bool:
        return self._exporters > 0

    @property
    def tracer(self) -> Any:
        """The SDK tracer when something exports spans, else a no-op tracer (nothing is recorded)."""
        if not self.enabled:
            return trace.NoOpTracer()
        return self.provider.get_tracer(TRACER_NAME)

    def force_flush(self, timeout_ms: int = DEFAULT_FLUSH_TIMEOUT_MS) -> bool:
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        self.provider.shutdown()
