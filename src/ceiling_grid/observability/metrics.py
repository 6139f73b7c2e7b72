"""Prometheus metrics of pipeline runs, in a dedicated registry (never the process-global one).

Labels are low-cardinality only (stage, model, outcome, component, rule): no run or room ids.
``push`` sends the registry (or some of its families) to a Pushgateway with ``pushadd`` when
``PROMETHEUS_PUSHGATEWAY_URL`` is set; an unreachable gateway logs one warning and never raises.
Timestamp gauges that were never set are left out of a push, so a failed task does not
overwrite the gateway's last success time with 0.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, pushadd_to_gateway

from ..logs import get_logger
from .env import PUSHGATEWAY_ENV, pushgateway_url

__all__ = [
    "DEFAULT_DURATION_BUCKETS",
    "DEFAULT_PUSH_TIMEOUT_S",
    "MODEL_FAMILIES",
    "PUSHGATEWAY_ENV",
    "RUN_FAMILIES",
    "TASK_FAMILIES",
    "PipelineMetrics",
]

DEFAULT_PUSH_TIMEOUT_S = 5.0
DEFAULT_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# Metric families (prometheus_client names: a Counter's family has no ``_total``) by who pushes them
# from Airflow: each stage task pushes the model families, publish pushes the per-room run figures,
# and every task pushes its own duration and success/failure time.
MODEL_FAMILIES = frozenset({
    "ceiling_grid_model_executions", "ceiling_grid_model_duration_seconds", "ceiling_grid_model_score",
})
RUN_FAMILIES = frozenset({
    "ceiling_grid_model_selections", "ceiling_grid_components_placed", "ceiling_grid_rule_failures",
    "ceiling_grid_rooms", "ceiling_grid_dag_run_duration_seconds",
})
TASK_FAMILIES = frozenset({
    "ceiling_grid_task_duration_seconds", "ceiling_grid_last_success_timestamp_seconds",
    "ceiling_grid_last_failure_timestamp_seconds",
})
_TIMESTAMP_FAMILIES = frozenset({
    "ceiling_grid_last_success_timestamp_seconds", "ceiling_grid_last_failure_timestamp_seconds",
})

log = get_logger("ceiling_grid.observability.metrics")


class _PushView:
    """What one push sends: some families of a registry, without timestamp gauges still at 0 (never set)."""

    def __init__(self, registry: CollectorRegistry, families: Collection[str] | None) -> None:
        self.registry = registry
        self.families = None if families is None else frozenset(families)

    def collect(self) -> Iterator[Any]:
        for metric in self.registry.collect():
            if self.families is not None and metric.name not in self.families:
                continue
            if metric.name in _TIMESTAMP_FAMILIES and all(s.value == 0 for s in metric.samples):
                continue
            yield metric


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
            "Unix time of the last room (CLI) or Airflow task that ran to the end.",
            registry=r,
        )
        self.last_failure = Gauge(
            "ceiling_grid_last_failure_timestamp_seconds",
            "Unix time of the last Airflow task that failed (pushed only by a failed task).",
            registry=r,
        )
        self.task_duration = Gauge(
            "ceiling_grid_task_duration_seconds",
            "Wall time of the pushing Airflow task's latest try (task_id/map_index are grouping labels).",
            registry=r,
        )
        self.dag_run_duration = Gauge(
            "ceiling_grid_dag_run_duration_seconds",
            "Wall time from the DAG run's start to the end of its publish task.",
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

    def record_task_end(self, duration_s: float, ok: bool) -> None:
        """An Airflow task's duration, and its success or failure time."""
        self.task_duration.set(max(0.0, duration_s))
        (self.last_success if ok else self.last_failure).set(time.time())

    def sample_names(self) -> set[str]:
        """Every sample name the registry exposes now (``_total``, ``_bucket``, ``_count``, ``_sum`` ...)."""
        return {s.name for metric in self.registry.collect() for s in metric.samples}

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
        families: Collection[str] | None = None,
    ) -> bool:
        """``pushadd`` the registry (or only ``families``) to the Pushgateway; no-op without a URL.

        Returns True when pushed. ``pushadd`` replaces only the pushed metric names in the group
        ``job`` + ``grouping_key``, so pushes of other families to the same group survive.
        """
        url = gateway or pushgateway_url()
        if not url:
            return False
        try:
            pushadd_to_gateway(
                url,
                job=job,
                registry=_PushView(self.registry, families),
                grouping_key=dict(grouping_key or {}),
                timeout=timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - network faults must never fail a room
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
