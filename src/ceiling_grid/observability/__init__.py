"""Observability helpers: structlog set-up for the CLI, a private Prometheus registry, a local OTel tracer."""

from __future__ import annotations

from .logging import configure_cli_logging, get_logger
from .metrics import PipelineMetrics
from .tracing import PipelineTracer

__all__ = ["PipelineMetrics", "PipelineTracer", "configure_cli_logging", "get_logger"]
