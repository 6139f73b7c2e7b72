"""The environment variables that switch telemetry export on (read without importing any exporter)."""

from __future__ import annotations

import os

__all__ = ["OTLP_ENDPOINT_ENVS", "PUSHGATEWAY_ENV", "export_configured", "otlp_configured", "pushgateway_url"]

PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY_URL"
OTLP_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def pushgateway_url() -> str:
    """The Pushgateway URL run metrics go to ("" when unset)."""
    return os.environ.get(PUSHGATEWAY_ENV, "").strip()


def otlp_configured() -> bool:
    """Whether an OTLP traces endpoint is set."""
    return any(os.environ.get(k, "").strip() for k in OTLP_ENDPOINT_ENVS)


def export_configured() -> bool:
    """Whether metrics or traces leave the process: a Pushgateway URL or an OTLP endpoint is set."""
    return bool(pushgateway_url()) or otlp_configured()
