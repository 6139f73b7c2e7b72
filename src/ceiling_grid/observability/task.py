"""Telemetry of one Airflow task: its span on the DAG run's trace, its pushed metrics, its MLflow run.

``orchestration.task_scope`` enters :class:`TaskTelemetry` around every task body. Inside it:

* a span ``task <task_id>[<map_index>]`` is current (parent: the DAG run's trace, see
  :func:`~ceiling_grid.observability.tracing.run_parent_context`), so the runner's
  ``pipeline`` -> ``stage`` -> ``model`` spans nest under it; ``trace_id``/``span_id`` are bound
  to every structlog line;
* the runner records into ``telemetry.metrics``; at exit the task pushes its families to the
  Pushgateway (job = dag_id, grouping key task_id [+ map_index]) and flushes its spans;
* ``publish`` records the per-room run figures and, when ``MLFLOW_TRACKING_URI`` is set, logs
  the DAG run to MLflow.

Nothing here raises for a telemetry fault: a dead backend is one warning, never a failed room.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..logs import get_logger
from ..records import STAGE_COMPONENT
from .metrics import TASK_FAMILIES, PipelineMetrics
from .tracing import PipelineTracer, run_parent_context

__all__ = [
    "PublishedRoom",
    "TaskTelemetry",
    "current_telemetry",
    "observe_published_room",
    "observe_published_run",
    "room_span",
]


log = get_logger("ceiling_grid.observability.task")

_current: ContextVar[TaskTelemetry | None] = ContextVar("ceiling_grid_task_telemetry", default=None)


class _TaskIdentity(Protocol):
    @property
    def dag_id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def task_id(self) -> str: ...
    @property
    def try_number(self) -> int: ...
    @property
    def map_index(self) -> int: ...


@dataclass
class PublishedRoom:
    """What publish learnt about one room: the rebuilt ``PipelineResult``, its XCom entry, its files."""

    result: Any
    entry: Mapping[str, Any]
    paths: Mapping[str, Path]


@dataclass
class TaskTelemetry:
    """Span, metrics and flush of one Airflow task try (see the module docstring)."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int = 1
    map_index: int = -1
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)
    tracer: PipelineTracer = field(default_factory=PipelineTracer)
    families: frozenset[str] = TASK_FAMILIES  # metric families pushed at exit (the DAG adapter says which)
    rooms: list[PublishedRoom] = field(default_factory=list)
    dag_run_start: float | None = None
    _span: Any = None
    _tokens: list[Any] = field(default_factory=list)
    _ctx_tokens: Mapping[str, Any] = field(default_factory=dict)
    _token: Token[TaskTelemetry | None] | None = None
    _t0: float = 0.0

    @classmethod
    def from_info(cls, info: _TaskIdentity, **kwargs: Any) -> TaskTelemetry:
        return cls(info.dag_id, info.run_id, info.task_id, info.try_number, info.map_index, **kwargs)

    # ----- naming -------------------------------------------------------------------------
    @property
    def span_name(self) -> str:
        return f"task {self.task_id}" + (f"[{self.map_index}]" if self.map_index >= 0 else "")

    @property
    def grouping_key(self) -> dict[str, str]:
        """Pushgateway group below job = dag_id: the task, and the chunk slot of a mapped task (no run id)."""
        key = {"task_id": self.task_id}
        if self.map_index >= 0:
            key["map_index"] = str(self.map_index)
        return key

    @property
    def trace_id(self) -> str | None:
        if self._span is None:
            return None
        ctx = self._span.get_span_context()
        return f"{ctx.trace_id:032x}" if ctx.is_valid else None

    # ----- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> TaskTelemetry:
        self._t0 = time.perf_counter()
        parent = run_parent_context(self.dag_id, self.run_id)
        self._span = self.tracer.tracer.start_span(
            self.span_name,
            context=parent,
            attributes={
                "airflow.dag_id": self.dag_id,
                "airflow.run_id": self.run_id,
                "airflow.task_id": self.task_id,
                "airflow.try_number": self.try_number,
                "airflow.map_index": self.map_index,
            },
        )
        ctx = self._span.get_span_context()
        self._tokens = [otel_context.attach(trace.set_span_in_context(self._span, parent))]
        fields = {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"} if ctx.is_valid else {}
        self._ctx_tokens = structlog.contextvars.bind_contextvars(**fields)
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ok = exc is None
        duration = time.perf_counter() - self._t0
        try:
            if not ok:
                self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                self._span.record_exception(exc)
            self._span.set_attribute("duration_s", round(duration, 4))
            self._span.end()
            self.metrics.record_task_end(duration, ok)
            pushed = self.metrics.push(self.dag_id, self.grouping_key, families=self.families)
            exported = self.tracer.enabled and self.tracer.force_flush()
            log.info(
                "task_telemetry",
                ok=ok,
                duration_s=round(duration, 4),
                pushed_metrics=pushed,
                exported_spans=bool(exported and not (self.tracer.guard and self.tracer.guard.dead)),
            )
            self.tracer.shutdown()
        except Exception as err:  # noqa: BLE001 - telemetry never fails (or masks the outcome of) a task
            log.warning("task_telemetry_failed", error=f"{type(err).__name__}: {err}")
        finally:
            if self._token is not None:
                _current.reset(self._token)
            structlog.contextvars.reset_contextvars(**self._ctx_tokens)
            for token in reversed(self._tokens):
                otel_context.detach(token)


def current_telemetry() -> TaskTelemetry | None:
    """The telemetry of the task running in this context, or None (CLI, unit tests)."""
    return _current.get()


@contextmanager
def room_span(grid: Any, stage: str | None = None) -> Iterator[Any]:
    """A ``pipeline`` span for one room inside a task (parent of the runner's stage span)."""
    tel = current_telemetry()
    tracer = tel.tracer.tracer if tel is not None else trace.NoOpTracer()
    attributes: dict[str, Any] = {
        "grid_id": str(grid.grid_id),
        "width": int(grid.width),
        "height": int(grid.height),
        "room_type": str(grid.room_type),
        "standard": str(grid.detector_standard),
    }
    if stage:
        attributes["stage"] = stage
    with tracer.start_as_current_span("pipeline", attributes=attributes) as span:
        yield span


# ----- publish ---------------------------------------------------------------------------------

def _stage_records(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in entry.get("stages", []) if isinstance(s, Mapping)]


def observe_published_room(result: Any, entry: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    """Count one published room (outcome, selections, components placed, failed rules) and log its figures."""
    stages = _stage_records(entry)
    headline = dict(result.headline)
    failed = sorted(set(result.report.failed_rules()))
    log.info(
        "pipeline_done",
        grid_id=result.grid_id,
        status=result.status(),
        outcome=result.outcome,
        failed_rules=failed,
        models={str(s.get("stage")): s.get("model") for s in stages},
        scores={str(s.get("stage")): s.get("score") for s in stages},
        **{k: v for k, v in headline.items() if v is not None},
    )
    tel = current_telemetry()
    if tel is None:
        return
    m = tel.metrics
    for s in stages:
        stage, model = str(s.get("stage")), str(s.get("model"))
        m.record_selection(stage, model)
        component = STAGE_COMPONENT[stage].value if stage in STAGE_COMPONENT else None
        if component is not None:
            m.record_components({component: int(s.get("placed") or 0)})
    m.record_rule_failures(list(result.report.failed_rules()))
    m.rooms.labels(outcome=result.outcome).inc()
    tel.rooms.append(PublishedRoom(result, entry, dict(paths)))


def _airflow_context() -> Mapping[str, Any] | None:
    """The running Airflow task's context, or None outside a task.

    Airflow is never imported from here: importing it configures logging, so outside a task
    (CLI, tests) where ``airflow.sdk`` is not loaded yet there is no context to read anyway.
    """
    if "airflow.sdk" not in sys.modules:
        return None
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:  # noqa: BLE001 - loaded, but not inside a task
        return None


def _dag_run_start() -> float | None:
    """The DAG run's start (Unix time) from the Airflow task context, when there is one."""
    context = _airflow_context()
    start = getattr(context.get("dag_run"), "start_date", None) if context else None
    return float(start.timestamp()) if start is not None else None


def _trigger_params() -> dict[str, Any]:
    context = _airflow_context()
    return dict(context.get("params") or {}) if context else {}


def observe_published_run(summary: Mapping[str, Any], out_dir: Path) -> None:
    """End of publish: the DAG run's duration gauge, and the MLflow run when ``MLFLOW_TRACKING_URI`` is set."""
    tel = current_telemetry()
    if tel is None:
        return
    start = tel.dag_run_start if tel.dag_run_start is not None else _dag_run_start()
    if start is not None:
        tel.metrics.dag_run_duration.set(max(0.0, time.time() - start))
    from .mlflow_tracking import MlflowTracker

    tracker = MlflowTracker.from_env()
    if tracker is not None:
        tracker.log_dag_run(
            dag_id=tel.dag_id,
            run_id=tel.run_id,
            rooms=tel.rooms,
            summary=summary,
            out_dir=out_dir,
            params=_trigger_params(),
            trace_id=tel.trace_id,
        )


def models_versions() -> dict[str, str]:
    """``{model name: version}`` of every registered model (the ones every run uses)."""
    versions: dict[str, str] = {}
    from ..models import AirSupplyModel, SmokeDetectorModel, default_light_models

    for model in [*default_light_models(), AirSupplyModel(), SmokeDetectorModel()]:
        versions[type(model).name] = str(type(model).version)
    return versions
