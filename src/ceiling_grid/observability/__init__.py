"""Observability adapters: structlog set-up for the CLI, a private Prometheus registry, a local OTel tracer,
and the pipeline's telemetry observer that records into them.

The metrics, tracing and telemetry classes load on first use (``prometheus_client`` and the OTel SDK take
about 60 ms to import), so a command that exports nothing does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .env import export_configured
from .logging import configure_cli_logging, get_logger

if TYPE_CHECKING:
    from .metrics import PipelineMetrics
    from .pipeline import PipelineTelemetry
    from .tracing import PipelineTracer

__all__ = ["PipelineMetrics", "PipelineTelemetry", "PipelineTracer", "configure_cli_logging", "export_configured",
           "get_logger"]

_LAZY = {"PipelineMetrics": ".metrics", "PipelineTelemetry": ".pipeline", "PipelineTracer": ".tracing"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
