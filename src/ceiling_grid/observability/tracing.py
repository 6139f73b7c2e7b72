"""OpenTelemetry tracing with a LOCAL provider (never the global one) and an always-on sampler.

Inside Airflow a task inherits an unsampled parent context, so the SDK's default ParentBased
sampler silently drops every span (airflow3-notes key fact 14); ``ALWAYS_ON`` keeps them and
still joins Airflow's trace id. Spans are exported over OTLP/HTTP only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; otherwise the
tracer is a no-op until a test attaches an exporter with :meth:`PipelineTracer.add_exporter`.
"""

from __future__ import annotations

import os
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

__all__ = ["DEFAULT_SERVICE_NAME", "OTLP_ENDPOINT_ENVS", "TRACER_NAME", "PipelineTracer"]

OTLP_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
DEFAULT_SERVICE_NAME = "ceiling-grid"
DEFAULT_FLUSH_TIMEOUT_MS = 10_000
TRACER_NAME = "ceiling_grid.runner"

log = structlog.get_logger("ceiling_grid.observability.tracing")


class PipelineTracer:
    """A local ``TracerProvider(sampler=ALWAYS_ON)`` with optional OTLP/HTTP export."""

    def __init__(self, service_name: str | None = None, otlp_from_env: bool = True) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        self.provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource.create({"service.name": name}))
        self._exporters = 0
        if otlp_from_env and any(os.environ.get(k, "").strip() for k in OTLP_ENDPOINT_ENVS):
            self._add_otlp()

    def _add_otlp(self) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:  # optional extra "otlp"
            log.warning("otlp_exporter_missing", hint="pip install 'ceiling-grid[otlp]' to export traces")
            return
        # The exporter reads the endpoint, headers and timeout from the standard OTEL_* variables.
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
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
