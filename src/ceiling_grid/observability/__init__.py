"""Observability adapters: structlog set-up for the CLI, a private Prometheus registry, a local OTel tracer,
and the pipeline's telemetry observer that records into them."""

from __future__ import annotations

from .logging import configure_cli_logging, get_logger
from .metrics import PipelineMetrics
from .pipeline import PipelineTelemetry
from .tracing import PipelineTracer

__all__ = ["PipelineMetrics", "PipelineTelemetry", "PipelineTracer", "configure_cli_logging", "get_logger"]
