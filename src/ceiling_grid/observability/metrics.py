"""Prometheus metrics of pipeline runs, in a dedicated registry (never the process-global one).

Labels are low-cardinality only (stage, model, outcome, component, rule): no run or room ids.
``push`` sends the registry to a Pushgateway with ``pushadd`` when ``PROMETHEUS_PUSHGATEWAY_URL``
is set; an unreachable gateway logs one warning and never raises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, pushadd_to_gateway

__all__ = [
    "DEFAULT_DURATION_BUCKETS",
    "DEFAULT_PUSH_TIMEOUT_S",
    "PUSHGATEWAY_ENV",
    "PipelineMetrics",
]

PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY_URL"
DEFAULT_PUSH_TIMEOUT_S = 5.0
DEFAULT_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

log = structlog.get_logger("ceiling_grid.observability.metrics")


class PipelineMetrics:
    """The pipeline's counters, histogram and gauges, registered in their own ``CollectorRegistry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.model_executions = Counter(
            "ceiling_grid_model_executions_total",
            "Placement model runs by outcome (compliant, non_compliant, infeasible, error).",
            ["stage", "model", "outcome"],
            registry=r,
        )
        self.model_duration = Histogram(
            "ceiling_grid_model_duration_seconds",
            "Wall time of one placement model run.",
            ["stage", "model"],
            buckets=DEFAULT_DURATION_BUCKETS,
            registry=r,
        )
        self.model_score = Gauge(
            "ceiling_grid_model_score",
            "Section 8 score (0-200) of the model's latest run.",
            ["stage", "model"],
            registry=r,
        )
        self.model_selections = Counter(
            "ceiling_grid_model_selections_total",
            "Times a model's layout was selected for its stage.",
            ["stage", "model"],
            registry=r,
        )
        self.components_placed = Counter(
            "ceiling_grid_components_placed_total",
            "Components added by the selected models.",
            ["component"],
            registry=r,
        )
        self.rule_failures = Counter(
            "ceiling_grid_rule_failures_total",
            "Hard rules failed by final layouts.",
            ["rule"],
            registry=r,
        )
        self.rooms = Counter(
            "ceiling_grid_rooms_total",
            "Rooms processed by outcome (compliant, non_compliant, infeasible, error, invalid).",
            ["outcome"],
            registry=r,
        )
        self.last_success = Gauge(
            "ceiling_grid_last_success_timestamp_seconds",
            "Unix time of the last room that ran to the end.",
            registry=r,
        )
        self._push_warned = False

    # ----- recording ------------------------------------------------------------------------
    def record_model_run(self, stage: str, model: str, outcome: str, duration_s: float, score: float | None) -> None:
        self.model_executions.labels(stage=stage, model=model, outcome=outcome).inc()
        self.model_duration.labels(stage=stage, model=model).observe(max(0.0, duration_s))
        if score is not None:
            self.model_score.labels(stage=stage, model=model).set(score)

    def record_selection(self, stage: str, model: str) -> None:
        self.model_selections.labels(stage=stage, model=model).inc()

    def record_components(self, counts: Mapping[str, int]) -> None:
        for component, n in counts.items():
            if n > 0:
                self.components_placed.labels(component=component).inc(n)

    def record_rule_failures(self, rules: list[str]) -> None:
        for rule in rules:
            self.rule_failures.labels(rule=rule).inc()

    def record_room(self, outcome: str) -> None:
        self.rooms.labels(outcome=outcome).inc()
        if outcome in {"compliant", "non_compliant", "infeasible"}:
            self.last_success.set(time.time())

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One sample's current value (e.g. ``ceiling_grid_rooms_total``, ``{"outcome": "compliant"}``)."""
        return self.registry.get_sample_value(name, dict(labels or {}))

    # ----- pushing --------------------------------------------------------------------------
    def push(
        self,
        job: str,
        grouping_key: Mapping[str, str] | None = None,
        gateway: str | None = None,
        timeout_s: float = DEFAULT_PUSH_TIMEOUT_S,
    ) -> bool:
        """``pushadd`` the registry to the Pushgateway; no-op without a URL. Returns True when pushed."""
        url = gateway or os.environ.get(PUSHGATEWAY_ENV, "").strip()
        if not url:
            return False
        try:
            pushadd_to_gateway(
                url, job=job, registry=self.registry, grouping_key=dict(grouping_key or {}), timeout=timeout_s
            )
        except Exception as exc:  # network faults must never fail a room
            if not self._push_warned:
                self._push_warned = True
                log.warning(
                    "metrics_push_failed",
                    gateway=url,
                    job=job,
                    error=f"{type(exc).__name__}: {exc}",
                    hint=f"check that the Pushgateway at {url} is up, or unset {PUSHGATEWAY_ENV}",
                )
            return False
        return True
