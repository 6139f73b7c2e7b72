"""The environment variables that switch telemetry export on (read without importing any exporter)."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["OTLP_ENDPOINT_ENVS", "PUSHGATEWAY_ENV", "export_configured"]

PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY_URL"
OTLP_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def export_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether metrics or traces leave the process: a Pushgateway URL or an OTLP endpoint is set."""
    env = os.environ if environ is None else environ
    return any(env.get(k, "").strip() for k in (PUSHGATEWAY_ENV, *OTLP_ENDPOINT_ENVS))
