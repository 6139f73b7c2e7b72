"""PipelineRunner: the light models race in a process pool, then air supply and detectors run in turn.

Every model run is logged (structlog ``model_run``), counted (Prometheus) and traced (OTel span
pipeline -> stage -> model). Model spans are created in the parent process from the start and
end times the worker measured, so they nest under the stage span even though the model ran in
another process.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import structlog
from opentelemetry.trace import Status, StatusCode

from .errors import StageFailedError
from .evaluator.report import ComplianceReport
from .grid import Component, RoomGrid
from .models.base import Judge, Judgement, ModelResult, PlacementModel, Stage
from .observability.metrics import PipelineMetrics
from .observability.tracing import PipelineTracer

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "STAGE_COMPONENT",
    "START_METHOD_ENV",
    "ModelRun",
    "PipelineResult",
    "PipelineRunner",
    "StageFailedError",
    "StageOutcome",
    "explain_selection",
    "headline_figures",
    "judge_for",
    "place",
]

DEFAULT_MAX_WORKERS = 3
START_METHOD_ENV = "CEILING_GRID_MP_START_METHOD"  # fork (Linux default), forkserver or spawn
STAGE_COMPONENT: dict[str, Component] = {
    Stage.LIGHTS.value: Component.LIGHT,
    Stage.AIR_SUPPLY.value: Component.AIR_SUPPLY,
    Stage.SMOKE_DETECTORS.value: Component.SMOKE_DETECTOR,
}
_SCORE_TIE = 1e-9

log = structlog.get_logger("ceiling_grid.runner")

Selector = Callable[[Sequence[ModelResult]], ModelResult]


# ----- results ------------------------------------------------------------------------------


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
        if self.result is None:
            return None
        inf = self.result.details.get("infeasible")
        return dict(inf) if isinstance(inf, dict) else None

    @property
    def count(self) -> int | None:
        """Components of this stage's kind in the model's grid (``details["count"]`` when given)."""
        if self.result is None:
            return None
        count = self.result.details.get("count")
        if isinstance(count, int | float) and not isinstance(count, bool):
            return int(count)
        return self.result.grid.count(STAGE_COMPONENT[self.stage])

    @property
    def outcome(self) -> str:
        """``compliant``, ``non_compliant``, ``infeasible`` or ``error`` (a Prometheus label value)."""
        if self.result is None:
            return "error"
        if self.result.compliant:
            return "compliant"
        return "infeasible" if self.infeasible else "non_compliant"

    def summary(self) -> dict[str, Any]:
        """Deterministic JSON-able figures (no timings; see :meth:`timings`)."""
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
            count=self.count,
            infeasible=self.infeasible,
            details=r.details,
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

    def timings(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "models": {r.model: r.duration_s for r in self.runs}}


@dataclass(frozen=True)
class PipelineResult:
    """One room through all stages: final grid, per-stage outcomes, the combined §7 report."""

    input_grid: RoomGrid
    final_grid: RoomGrid
    stages: dict[str, StageOutcome]
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
        "lights": grid.count(Component.LIGHT),
        "diffusers": grid.count(Component.AIR_SUPPLY),
        "returns": grid.count(Component.AIR_RETURN),
        "detectors": grid.count(Component.SMOKE_DETECTOR),
        "worst_coverage_m": _first(dm, "worst_coverage_m", "max_coverage_distance_m", "max_distance_m"),
        "r_cover_m": grid.detector_spec.r_cover_m,
    }


# ----- the worker -----------------------------------------------------------------------------


def _judge_lights(grid: RoomGrid) -> Judgement:
    from .evaluator.lighting import evaluate_lighting

    return evaluate_lighting(grid, include_reference=False)  # L5's reference search does not change the score


def _judge_air(grid: RoomGrid) -> Judgement:
    from .evaluator.air import evaluate_air

    return evaluate_air(grid)


def _judge_detectors(grid: RoomGrid) -> Judgement:
    from .evaluator.detectors import evaluate_detectors

    return evaluate_detectors(grid)


_JUDGES: dict[str, Judge] = {"lights": _judge_lights, "air_supply": _judge_air, "smoke_detectors": _judge_detectors}


def judge_for(stage: str) -> Judge:
    """The evaluator's judge of ``stage`` (module-level functions, so they pickle into worker processes)."""
    try:
        return _JUDGES[str(stage)]
    except KeyError:
        raise ValueError(f"unknown stage {stage!r}; use one of {sorted(_JUDGES)}") from None


def place(model: PlacementModel, grid: RoomGrid) -> ModelResult:
    """Run one model on ``grid`` with the evaluator as its judge (what the pipeline does for each model)."""
    return model.place(grid, judge_for(model.stage))


def _execute(model: PlacementModel, grid: RoomGrid) -> ModelRun:
    """Run one model (in a worker process or in-process); never raises for a model error."""
    start_ns = time.time_ns()
    t0 = time.perf_counter()
    result: ModelResult | None = None
    error = tb = None
    try:
        result = place(model, grid)
        if not isinstance(result, ModelResult):
            raise TypeError(f"place() returned {type(result).__name__}, not ModelResult")
    except Exception as exc:
        result = None
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
    return ModelRun(
        model=type(model).name if hasattr(type(model), "name") else type(model).__name__,
        stage=str(model.stage),
        result=result,
        duration_s=time.perf_counter() - t0,
        start_ns=start_ns,
        end_ns=time.time_ns(),
        pid=os.getpid(),
        error=error,
        traceback=tb,
    )


def _warm() -> int:
    return os.getpid()


def _init_worker() -> None:
    """Ctrl-C goes to the parent only; one BLAS thread per worker (nested BLAS threads only oversubscribe)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool; no traceback per worker
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        return
    threadpool_limits(limits=1)


# ----- the runner ----------------------------------------------------------------------------


def _default_selector(results: Sequence[ModelResult]) -> ModelResult:
    from .selection import select_best

    return select_best(list(results))


class PipelineRunner:
    """Runs rooms through lights (parallel, best of N) -> air supply -> smoke detectors.

    Use as a context manager (or call :meth:`close`): one process pool serves every room.
    ``max_workers=1`` runs the light models in-process, one after another.
    """

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        metrics: PipelineMetrics | None = None,
        tracer: PipelineTracer | None = None,
        *,
        light_models: Sequence[PlacementModel] | None = None,
        air_model: PlacementModel | None = None,
        detector_model: PlacementModel | None = None,
        selector: Selector | None = None,
        mp_context: Any = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self.metrics = metrics if metrics is not None else PipelineMetrics()
        self.tracer = tracer if tracer is not None else PipelineTracer()
        self._light_models = list(light_models) if light_models is not None else None
        self._air_model = air_model
        self._detector_model = detector_model
        self.selector: Selector = selector or _default_selector
        if mp_context is None:
            method = os.environ.get(START_METHOD_ENV, "").strip() or (
                "fork" if sys.platform.startswith("linux") else None  # fast start-up; workers only run models
            )
            if method is not None:
                if method not in multiprocessing.get_all_start_methods():
                    raise ValueError(
                        f"{START_METHOD_ENV}={method!r} is not available here; use one of "
                        f"{', '.join(multiprocessing.get_all_start_methods())}"
                    )
                mp_context = multiprocessing.get_context(method)
        self._mp_context = mp_context
        self._pool: Executor | None = None

    # ----- models -------------------------------------------------------------------------
    @property
    def light_models(self) -> list[PlacementModel]:
        if self._light_models is None:
            from .models import default_light_models

            self._light_models = list(default_light_models())
        return self._light_models

    @property
    def air_model(self) -> PlacementModel:
        if self._air_model is None:
            from .models import AirSupplyModel

            self._air_model = AirSupplyModel()
        return self._air_model

    @property
    def detector_model(self) -> PlacementModel:
        if self._detector_model is None:
            from .models import SmokeDetectorModel

            self._detector_model = SmokeDetectorModel()
        return self._detector_model

    # ----- pool -----------------------------------------------------------------------------
    def start(self) -> PipelineRunner:
        """Create the pool and launch its workers now (e.g. before a progress bar starts a thread)."""
        if self.max_workers > 1 and self._pool is None:
            # Import the models and evaluators (numpy, scipy ...) once in the parent, before forking.
            _ = self.light_models
            from .evaluator import air, detectors, lighting  # noqa: F401
            if multiprocessing.current_process().daemon:
                # A daemonic process (e.g. a Celery prefork worker running an Airflow task) may not have
                # children, so the models share this process: threads still overlap where numpy and
                # HiGHS release the GIL.
                log.warning("runner_pool", executor="threads", reason="daemonic process cannot fork workers",
                            workers=self.max_workers)
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="light-model")
                return self
            self._pool = ProcessPoolExecutor(
                max_workers=self.max_workers, mp_context=self._mp_context, initializer=_init_worker
            )
            for f in [self._pool.submit(_warm) for _ in range(self.max_workers)]:
                f.result()
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PipelineRunner:
        return self.start()

    def terminate(self) -> None:
        """Stop now: kill the workers mid-model instead of waiting for them (Ctrl-C)."""
        pool, self._pool = self._pool, None
        if isinstance(pool, ProcessPoolExecutor):
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.close()

    def _run_all(self, models: Sequence[PlacementModel], grid: RoomGrid) -> list[ModelRun]:
        if self.max_workers == 1 or len(models) == 1:
            return [_execute(m, grid) for m in models]
        self.start()
        assert self._pool is not None
        futures: list[Future[ModelRun]] = [self._pool.submit(_execute, m, grid) for m in models]
        runs: list[ModelRun] = []
        broken = False
        for model, fut in zip(models, futures, strict=True):
            try:
                runs.append(fut.result())
            except BrokenProcessPool as exc:  # a worker died (os._exit, segfault, OOM kill)
                broken = True
                now = time.time_ns()
                runs.append(
                    ModelRun(
                        type(model).name, str(model.stage), None, 0.0, now, now, -1, error=f"worker process died: {exc}"
                    )
                )
            except Exception as exc:  # e.g. the model or its result is not picklable
                now = time.time_ns()
                runs.append(
                    ModelRun(
                        type(model).name,
                        str(model.stage),
                        None,
                        0.0,
                        now,
                        now,
                        -1,
                        error=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc(),
                    )
                )
        if broken:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        return runs

    # ----- stages ---------------------------------------------------------------------------
    def run_parallel_stage(self, models: Sequence[PlacementModel], grid: RoomGrid) -> StageOutcome:
        """Run ``models`` concurrently on ``grid`` and select the best with the §8 rules."""
        if not models:
            raise ValueError("run_parallel_stage needs at least one model")
        stage = str(models[0].stage)
        if any(str(m.stage) != stage for m in models):
            raise ValueError(f"all models of one stage must share it, got {[str(m.stage) for m in models]}")
        return self._stage(stage, list(models), grid)

    def run_sequential_stage(self, model: PlacementModel, grid: RoomGrid) -> StageOutcome:
        """Run one model in-process on ``grid``."""
        return self._stage(str(model.stage), [model], grid)

    def _stage(self, stage: str, models: list[PlacementModel], grid: RoomGrid) -> StageOutcome:
        tracer = self.tracer.tracer
        with (
            structlog.contextvars.bound_contextvars(grid_id=grid.grid_id),
            tracer.start_as_current_span(
                f"stage {stage}", attributes={"grid_id": grid.grid_id, "stage": stage, "models": len(models)}
            ) as span,
        ):
            t0 = time.perf_counter()
            runs = self._run_all(models, grid)
            for run in runs:
                self._observe_run(grid.grid_id, run)
            failures = [r for r in runs if not r.ok]
            if failures:
                span.set_status(Status(StatusCode.ERROR, "; ".join(f"{f.model}: {f.error}" for f in failures)))
                raise StageFailedError(grid.grid_id, stage, failures)
            results = [r.result for r in runs if r.result is not None]
            selected = self.selector(results) if len(results) > 1 else results[0]
            chosen = next((r for r in runs if r.result is selected), None)
            if chosen is None:
                raise TypeError(f"the selector returned a result that is not one of the {stage} candidates")
            reason = explain_selection(chosen, runs)
            self.metrics.record_selection(stage, chosen.model)
            span.set_attribute("selected", chosen.model)
            span.set_attribute("score", float(selected.score))
            span.set_attribute("compliant", bool(selected.compliant))
            log.info(
                "stage_selected",
                grid_id=grid.grid_id,
                stage=stage,
                model=chosen.model,
                score=selected.score,
                compliant=selected.compliant,
                count=chosen.count,
                candidates=len(runs),
                reason=reason,
            )
            return StageOutcome(stage, runs, selected, reason, time.perf_counter() - t0)

    def _observe_run(self, grid_id: str, run: ModelRun) -> None:
        """Log, count and trace one finished model run (the span uses the worker's clock)."""
        self.metrics.record_model_run(run.stage, run.model, run.outcome, run.duration_s, run.score)
        attributes: dict[str, Any] = {
            "grid_id": grid_id,
            "stage": run.stage,
            "model": run.model,
            "pid": run.pid,
            "outcome": run.outcome,
        }
        if run.result is not None:
            attributes.update(
                score=float(run.result.score),
                count=int(run.count or 0),
                compliant=bool(run.result.compliant),
                placed=int(run.result.placed),
            )
        span = self.tracer.tracer.start_span(f"model {run.model}", start_time=run.start_ns, attributes=attributes)
        if run.result is None:
            span.set_status(Status(StatusCode.ERROR, run.error or "model failed"))
            span.add_event(
                "exception", {"exception.message": run.error or "", "exception.stacktrace": run.traceback or ""}
            )
        span.end(end_time=max(run.end_ns, run.start_ns))
        if run.result is None:
            log.error(
                "model_failed",
                grid_id=grid_id,
                stage=run.stage,
                model=run.model,
                error=run.error,
                traceback=run.traceback,
                duration_s=round(run.duration_s, 4),
            )
            log.info(
                "model_run",
                grid_id=grid_id,
                stage=run.stage,
                model=run.model,
                score=None,
                confidence=None,
                compliant=False,
                duration_s=round(run.duration_s, 4),
                placed=0,
                count=None,
                outcome="error",
                pid=run.pid,
            )
            return
        r = run.result
        log.info(
            "model_run",
            grid_id=grid_id,
            stage=run.stage,
            model=run.model,
            score=round(r.score, 3),
            confidence=round(r.confidence, 4),
            compliant=r.compliant,
            duration_s=round(run.duration_s, 4),
            placed=r.placed,
            count=run.count,
            outcome=run.outcome,
            infeasible=run.infeasible,
            pid=run.pid,
        )

    # ----- whole room -----------------------------------------------------------------------
    def run_full_pipeline(self, grid: RoomGrid) -> PipelineResult:
        """Lights (best of the light models) -> air supply -> detectors, then the combined §7 check."""
        from .evaluator import evaluate

        tracer = self.tracer.tracer
        t0 = time.perf_counter()
        with (
            structlog.contextvars.bound_contextvars(grid_id=grid.grid_id),
            tracer.start_as_current_span(
                "pipeline",
                attributes={
                    "grid_id": grid.grid_id,
                    "width": grid.width,
                    "height": grid.height,
                    "room_type": grid.room_type,
                    "standard": str(grid.detector_standard),
                },
            ) as span,
        ):
            stages: dict[str, StageOutcome] = {}
            current = grid
            try:
                lights = self.run_parallel_stage(self.light_models, current)
                stages[lights.stage] = lights
                current = lights.selected.grid
                for model in (self.air_model, self.detector_model):
                    outcome = self.run_sequential_stage(model, current)
                    stages[outcome.stage] = outcome
                    current = outcome.selected.grid
                report = evaluate(current)
            except Exception as exc:
                self.metrics.record_room("error")
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                log.error(
                    "pipeline_failed",
                    grid_id=grid.grid_id,
                    error=f"{type(exc).__name__}: {exc}",
                    stages_done=list(stages),
                )
                raise
            duration = time.perf_counter() - t0
            headline = headline_figures(current, report)
            result = PipelineResult(grid, current, stages, report, duration, headline)
            self.metrics.record_components(
                {STAGE_COMPONENT[k].value: int(v.selected.placed) for k, v in stages.items()}
            )
            self.metrics.record_rule_failures(report.failed_rules())
            self.metrics.record_room(result.outcome)
            span.set_attribute("compliant", report.compliant)
            span.set_attribute("outcome", result.outcome)
            for key in ("lights", "diffusers", "detectors"):
                span.set_attribute(key, int(headline[key]))
            log.info(
                "pipeline_done",
                grid_id=grid.grid_id,
                status=result.status(),
                outcome=result.outcome,
                failed_rules=report.failed_rules(),
                duration_s=round(duration, 4),
                **{k: v for k, v in headline.items() if v is not None},
            )
            return result


def explain_selection(chosen: ModelRun, runs: Sequence[ModelRun]) -> str:
    """Why ``chosen`` won: compliance first, then score, then fewer fixtures, then lower max S/Hm (§8)."""
    others = [r for r in runs if r is not chosen and r.result is not None]
    assert chosen.result is not None
    c = chosen.result
    if not others:
        return f"only candidate (score {c.score:.1f}, {'compliant' if c.compliant else 'not compliant'})"
    best_other = max(others, key=lambda r: (r.result.compliant, r.result.score))  # type: ignore[union-attr]
    o = best_other.result
    assert o is not None
    if c.compliant and not o.compliant:
        return f"only compliant layout (score {c.score:.1f}; best other {best_other.model} {o.score:.1f})"
    if c.score > o.score + _SCORE_TIE:
        return f"highest score {c.score:.1f} (next: {best_other.model} {o.score:.1f})"
    tied = [r for r in others if r.result is not None and abs(r.result.score - c.score) <= _SCORE_TIE]
    names = ", ".join(r.model for r in tied)
    if tied:
        counts = [r.count for r in tied]
        if all(n is not None and chosen.count is not None and chosen.count < n for n in counts):
            return (
                f"tied on score {c.score:.1f} with {names}; fewer fixtures ({chosen.count} vs "
                f"{', '.join(str(n) for n in counts)})"
            )
        shr = c.details.get("max_shr")
        return f"tied on score {c.score:.1f} with {names} and equal fixture count; lower max S/Hm ({shr})"
    return f"selected by the stage's selection rule (score {c.score:.1f})"
