"""Typed records of a pipeline run (pipeline layer): model runs, stage outcomes, a room's result.

These are what the adapters read: the CLI's summary lines, the report and the plan, the DAG's
XCom records, metrics and spans. Deterministic figures come from :meth:`summary`; wall-clock
times only from :meth:`timings`. :class:`PipelineObserver` is how the runner reports progress
to telemetry without importing it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from .evaluator.report import ComplianceReport
from .grid import Component, RoomGrid
from .models.base import ModelResult, Stage

__all__ = [
    "STAGE_COMPONENT",
    "ModelRun",
    "NullObserver",
    "PipelineObserver",
    "PipelineResult",
    "StageOutcome",
    "StageRecord",
    "headline_figures",
]

STAGE_COMPONENT: dict[str, Component] = {
    Stage.LIGHTS.value: Component.LIGHT,
    Stage.AIR_SUPPLY.value: Component.AIR_SUPPLY,
    Stage.SMOKE_DETECTORS.value: Component.SMOKE_DETECTOR,
}


@dataclass(frozen=True)
class ModelRun:
    """One model's run: its result (or error), the process it ran in and when."""

    model: str
    stage: str
    result: ModelResult | None
    duration_s: float
    start_ns: int
    end_ns: int
    pid: int
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def score(self) -> float | None:
        return None if self.result is None else float(self.result.score)

    @property
    def infeasible(self) -> dict[str, str] | None:
        if self.result is None or self.result.infeasible is None:
            return None
        return self.result.infeasible.as_dict()

    @property
    def count(self) -> int | None:
        """Components of this stage's kind in the model's grid (None: the model failed)."""
        return None if self.result is None else self.result.count

    @property
    def outcome(self) -> str:
        """``compliant``, ``non_compliant``, ``infeasible`` or ``error`` (a Prometheus label value)."""
        if self.result is None:
            return "error"
        if self.result.compliant:
            return "compliant"
        return "infeasible" if self.infeasible else "non_compliant"

    def summary(self) -> dict[str, Any]:
        """Deterministic JSON-able figures (no timings; see :meth:`StageOutcome.timings`)."""
        out: dict[str, Any] = {"model": self.model, "outcome": self.outcome}
        if self.result is None:
            out["error"] = self.error
            return out
        r = self.result
        out.update(
            score=r.score,
            confidence=r.confidence,
            compliant=r.compliant,
            placed=r.placed,
            count=r.count,
            infeasible=self.infeasible,
            details=r.report_details(),
        )
        return out


@dataclass(frozen=True)
class StageOutcome:
    """All candidates of one stage, the selected result, and why it won."""

    stage: str
    runs: list[ModelRun]
    selected: ModelResult
    reason: str
    duration_s: float

    @property
    def candidates(self) -> list[ModelResult]:
        return [r.result for r in self.runs if r.result is not None]

    @property
    def selected_run(self) -> ModelRun:
        return next(r for r in self.runs if r.result is self.selected)

    def summary(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "selected": self.selected.model,
            "reason": self.reason,
            "candidates": [r.summary() for r in self.runs],
        }

    @property
    def placed(self) -> int:
        return self.selected.placed

    def timings(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "models": {r.model: r.duration_s for r in self.runs}}


class StageRecord(Protocol):
    """What the report and telemetry read of a stage: a live :class:`StageOutcome`, or one stored as JSON."""

    @property
    def stage(self) -> str: ...

    @property
    def placed(self) -> int: ...

    def summary(self) -> dict[str, Any]: ...

    def timings(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PipelineResult:
    """One room through all stages: final grid, per-stage records, the combined §7 report."""

    final_grid: RoomGrid
    stages: Mapping[str, StageRecord]
    report: ComplianceReport
    duration_s: float
    headline: dict[str, Any] = field(default_factory=dict)

    @property
    def grid_id(self) -> str:
        return self.final_grid.grid_id

    @property
    def outcome(self) -> str:
        if self.report.compliant:
            return "compliant"
        return "infeasible" if self.report.infeasible else "non_compliant"

    def status(self) -> str:
        """``COMPLIANT``, ``NOT COMPLIANT (L3, D1)`` or ``INFEASIBLE (D3: reason)``."""
        if self.report.compliant:
            return "COMPLIANT"
        inf = self.report.infeasible
        if inf:
            return "INFEASIBLE (" + "; ".join(f"{i.get('rule', '?')}: {i.get('reason', '')}" for i in inf) + ")"
        failed = sorted(set(self.report.failed_rules()))
        return f"NOT COMPLIANT ({', '.join(failed) or 'no hard rule named'})"

    def summary_line(self) -> str:
        """One line per room: id, status, counts, Em, U0, worst detector coverage distance."""
        h = self.headline
        return (
            f"{self.grid_id}: {self.status()} | lights={h.get('lights')} diffusers={h.get('diffusers')} "
            f"returns={h.get('returns')} detectors={h.get('detectors')} | Em={_fmt(h.get('em_lux'), 0, ' lx')} "
            f"U0={_fmt(h.get('u0'), 2)} | worst coverage={_fmt(h.get('worst_coverage_m'), 2, ' m')} "
            f"of {_fmt(h.get('r_cover_m'), 2, ' m')} | {self.duration_s:.2f} s"
        )

    def timings(self) -> dict[str, Any]:
        return {"pipeline_s": self.duration_s, "stages": {k: v.timings() for k, v in self.stages.items()}}


def _fmt(value: Any, digits: int, unit: str = "") -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.{digits}f}{unit}"
    return "n/a"


def _first(metrics: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in metrics and metrics[name] is not None:
            return metrics[name]
    return None


def headline_figures(grid: RoomGrid, report: ComplianceReport) -> dict[str, Any]:
    """Em, U0, component counts and the worst coverage distance, from the final report."""
    lights = report.stages.get("lights")
    detectors = report.stages.get("smoke_detectors")
    lm = lights.metrics if lights else {}
    dm = detectors.metrics if detectors else {}
    return {
        "em_lux": _first(lm, "em_lx", "em_lux", "Em"),
        "u0": _first(lm, "u0", "U0"),
        "lights": len(grid.light_anchors()[0]),
        "diffusers": grid.count(Component.AIR_SUPPLY),
        "returns": grid.count(Component.AIR_RETURN),
        "detectors": grid.count(Component.SMOKE_DETECTOR),
        "worst_coverage_m": _first(dm, "worst_coverage_m", "max_coverage_distance_m", "max_distance_m"),
        "r_cover_m": grid.detector_spec.r_cover_m,
    }


class PipelineObserver(Protocol):
    """Receives the runner's progress (telemetry implements it; the pipeline never imports telemetry).

    ``room`` and ``stage`` wrap the work they name (spans nest there); the other calls are events.
    """

    def room(self, grid: RoomGrid) -> AbstractContextManager[object]: ...

    def stage(self, grid: RoomGrid, stage: str, models: int) -> AbstractContextManager[object]: ...

    def model_finished(self, grid_id: str, run: ModelRun) -> None: ...

    def stage_failed(self, failures: Sequence[ModelRun]) -> None: ...

    def stage_selected(self, outcome: StageOutcome) -> None: ...

    def room_failed(self, error: BaseException) -> None: ...

    def room_done(self, result: PipelineResult) -> None: ...


class NullObserver:
    """Observes nothing (the default when no telemetry is wanted)."""

    def room(self, grid: RoomGrid) -> AbstractContextManager[object]:
        return nullcontext()

    def stage(self, grid: RoomGrid, stage: str, models: int) -> AbstractContextManager[object]:
        return nullcontext()

    def model_finished(self, grid_id: str, run: ModelRun) -> None:
        return None

    def stage_failed(self, failures: Sequence[ModelRun]) -> None:
        return None

    def stage_selected(self, outcome: StageOutcome) -> None:
        return None

    def room_failed(self, error: BaseException) -> None:
        return None

    def room_done(self, result: PipelineResult) -> None:
        return None
