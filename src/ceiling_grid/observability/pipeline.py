"""Telemetry of the pipeline: Prometheus metrics and OTel spans for every room, stage and model run.

:class:`PipelineTelemetry` is the runner's :class:`~ceiling_grid.records.PipelineObserver`. Spans
nest pipeline -> stage -> model; model spans are created here from the start and end times the
worker measured, so they sit under the stage span even though the model ran in another process.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..grid import RoomGrid
from ..records import STAGE_COMPONENT, ModelRun, PipelineResult, StageOutcome
from .metrics import PipelineMetrics
from .tracing import PipelineTracer

__all__ = ["PipelineTelemetry"]


class PipelineTelemetry:
    """Records the runner's progress into ``metrics`` and ``tracer`` (new private ones by default)."""

    def __init__(self, metrics: PipelineMetrics | None = None, tracer: PipelineTracer | None = None) -> None:
        self.metrics = metrics if metrics is not None else PipelineMetrics()
        self.tracer = tracer if tracer is not None else PipelineTracer()

    def room(self, grid: RoomGrid) -> AbstractContextManager[object]:
        attributes = {"grid_id": grid.grid_id, "width": grid.width, "height": grid.height,
                      "room_type": grid.room_type, "standard": str(grid.detector_standard)}
        cm: AbstractContextManager[object] = self.tracer.tracer.start_as_current_span("pipeline", attributes=attributes)
        return cm

    def stage(self, grid: RoomGrid, stage: str, models: int) -> AbstractContextManager[object]:
        attributes = {"grid_id": grid.grid_id, "stage": stage, "models": models}
        cm: AbstractContextManager[object] = self.tracer.tracer.start_as_current_span(
            f"stage {stage}", attributes=attributes)
        return cm

    def model_finished(self, grid_id: str, run: ModelRun) -> None:
        """Count the run and add its span (with the worker's clock) under the current stage span."""
        self.metrics.record_model_run(run.stage, run.model, run.outcome, run.duration_s, run.score)
        attributes: dict[str, Any] = {"grid_id": grid_id, "stage": run.stage, "model": run.model, "pid": run.pid,
                                      "outcome": run.outcome}
        if run.result is not None:
            attributes.update(score=float(run.result.score), count=int(run.result.count),
                              compliant=bool(run.result.compliant), placed=int(run.result.placed))
        span = self.tracer.tracer.start_span(f"model {run.model}", start_time=run.start_ns, attributes=attributes)
        if run.result is None:
            span.set_status(Status(StatusCode.ERROR, run.error or "model failed"))
            span.add_event("exception", {"exception.message": run.error or "",
                                         "exception.stacktrace": run.traceback or ""})
        span.end(end_time=max(run.end_ns, run.start_ns))

    def stage_failed(self, failures: Sequence[ModelRun]) -> None:
        trace.get_current_span().set_status(
            Status(StatusCode.ERROR, "; ".join(f"{f.model}: {f.error}" for f in failures)))

    def stage_selected(self, outcome: StageOutcome) -> None:
        self.metrics.record_selection(outcome.stage, outcome.selected.model)
        span = trace.get_current_span()
        span.set_attribute("selected", outcome.selected.model)
        span.set_attribute("score", float(outcome.selected.score))
        span.set_attribute("compliant", bool(outcome.selected.compliant))

    def room_failed(self, error: BaseException) -> None:
        self.metrics.record_room("error")
        trace.get_current_span().set_status(Status(StatusCode.ERROR, str(error)))

    def room_done(self, result: PipelineResult) -> None:
        self.metrics.record_components(
            {STAGE_COMPONENT[k].value: int(v.placed) for k, v in result.stages.items()})
        self.metrics.record_rule_failures(result.report.failed_rules())
        self.metrics.record_room(result.outcome)
        span = trace.get_current_span()
        span.set_attribute("compliant", result.report.compliant)
        span.set_attribute("outcome", result.outcome)
        for key in ("lights", "diffusers", "detectors"):
            span.set_attribute(key, int(result.headline[key]))
