"""PipelineRunner: the light models race in parallel, then air supply and detectors run in turn.

A thin coordinator: :class:`~ceiling_grid.executor.ModelExecutor` runs the models,
:func:`~ceiling_grid.selection.select_best` picks each stage's winner, the evaluator checks the
final room, and a :class:`~ceiling_grid.records.PipelineObserver` (telemetry: metrics and spans,
see :class:`ceiling_grid.observability.PipelineTelemetry`) hears about every step. Every model run
is also logged (structlog ``model_run``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import structlog

from .errors import StageFailedError
from .executor import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_POOL_MIN_TILES,
    START_METHOD_ENV,
    Ahead,
    ModelExecutor,
    judge_for,
    place,
)
from .geodesic import bucket_targets
from .grid import RoomGrid
from .logs import get_logger
from .models.base import ModelResult, PlacementModel
from .prepared import prepare
from .records import (
    ModelRun,
    NullObserver,
    PipelineObserver,
    PipelineResult,
    StageOutcome,
    headline_figures,
)
from .selection import explain_selection, select_best

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "START_METHOD_ENV",
    "PipelineRunner",
    "Selector",
    "StageFailedError",
    "judge_for",
    "place",
]

log = get_logger("ceiling_grid.runner")

Selector = Callable[[Sequence[ModelResult]], ModelResult]


class PipelineRunner:
    """Runs rooms through lights (parallel, best of N) -> air supply -> smoke detectors.

    Use as a context manager (or call :meth:`close`): one process pool serves every room.
    ``max_workers=1`` runs the light models in-process, one after another; so does a room of fewer than
    ``min_pool_tiles`` tiles, where the pool cannot pay (:func:`~ceiling_grid.executor.pool_pays`).
    ``observer`` receives progress (default: none; the CLI and the DAG pass telemetry).
    """

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        observer: PipelineObserver | None = None,
        *,
        light_models: Sequence[PlacementModel] | None = None,
        air_model: PlacementModel | None = None,
        detector_model: PlacementModel | None = None,
        selector: Selector | None = None,
        mp_context: Any = None,
        min_pool_tiles: int = DEFAULT_POOL_MIN_TILES,
    ) -> None:
        self.executor = ModelExecutor(max_workers, mp_context, min_pool_tiles)
        self.observer: PipelineObserver = observer if observer is not None else NullObserver()
        self._light_models = list(light_models) if light_models is not None else None
        self._air_model = air_model
        self._detector_model = detector_model
        self.selector: Selector = selector or select_best

    @property
    def max_workers(self) -> int:
        return self.executor.max_workers

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
        _ = self.light_models  # import the models (numpy, scipy ...) once in the parent, before forking
        self.executor.start()
        return self

    def close(self) -> None:
        self.executor.close()

    def terminate(self) -> None:
        """Stop now: kill the workers mid-model instead of waiting for them (Ctrl-C)."""
        self.executor.terminate()

    def __enter__(self) -> PipelineRunner:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.close()

    # ----- stages ---------------------------------------------------------------------------
    def run_parallel_stage(self, models: Sequence[PlacementModel], grid: RoomGrid,
                           meanwhile: Callable[[], object] | None = None, ahead: Ahead | None = None
                           ) -> StageOutcome:
        """Run ``models`` concurrently on ``grid`` and select the best with the §8 rules; ``meanwhile`` runs in
        this process while worker processes run the models, ``ahead`` in a child of its own from the start
        (see :meth:`ModelExecutor.run_all`)."""
        if not models:
            raise ValueError("run_parallel_stage needs at least one model")
        stage = str(models[0].stage)
        if any(str(m.stage) != stage for m in models):
            raise ValueError(f"all models of one stage must share it, got {[str(m.stage) for m in models]}")
        return self._stage(stage, list(models), grid, meanwhile, ahead)

    def run_sequential_stage(self, model: PlacementModel, grid: RoomGrid) -> StageOutcome:
        """Run one model in-process on ``grid``."""
        return self._stage(str(model.stage), [model], grid)

    def _stage(self, stage: str, models: list[PlacementModel], grid: RoomGrid,
               meanwhile: Callable[[], object] | None = None, ahead: Ahead | None = None) -> StageOutcome:
        with structlog.contextvars.bound_contextvars(grid_id=grid.grid_id), self.observer.stage(
            grid, stage, len(models)
        ):
            t0 = time.perf_counter()
            runs = self.executor.run_all(models, grid, meanwhile=meanwhile, ahead=ahead)
            for run in runs:
                _log_run(grid.grid_id, run)
                self.observer.model_finished(grid.grid_id, run)
            failures = [r for r in runs if not r.ok]
            if failures:
                self.observer.stage_failed(failures)
                raise StageFailedError(grid.grid_id, stage, failures)
            results = [r.result for r in runs if r.result is not None]
            selected = self.selector(results) if len(results) > 1 else results[0]
            chosen = next((r for r in runs if r.result is selected), None)
            if chosen is None:
                raise TypeError(f"the selector returned a result that is not one of the {stage} candidates")
            outcome = StageOutcome(stage, runs, selected, explain_selection(selected, results),
                                   time.perf_counter() - t0)
            self.observer.stage_selected(outcome)
            log.info("stage_selected", grid_id=grid.grid_id, stage=stage, model=chosen.model,
                     score=selected.score, compliant=selected.compliant, count=selected.count,
                     candidates=len(runs), reason=outcome.reason)
            return outcome

    # ----- whole room -----------------------------------------------------------------------
    def run_full_pipeline(self, grid: RoomGrid) -> PipelineResult:
        """Lights (best of the light models) -> air supply -> detectors, then the combined §7 check."""
        from .evaluator import adopt_room_checks, evaluate, room_checks

        t0 = time.perf_counter()
        with structlog.contextvars.bound_contextvars(grid_id=grid.grid_id), self.observer.room(grid):
            stages: dict[str, StageOutcome] = {}
            current = grid
            try:
                # the room-only part of what follows is done while the light models run: the final check's in a
                # child of its own (from the start, while this process builds their shared data), the D1
                # lattice of the air and detector stages here
                lights = self.run_parallel_stage(self.light_models, current, meanwhile=partial(_lattice_ahead, grid),
                                                 ahead=Ahead(room_checks, adopt_room_checks))
                stages[lights.stage] = lights
                current = lights.selected.grid
                for model in (self.air_model, self.detector_model):
                    outcome = self.run_sequential_stage(model, current)
                    stages[outcome.stage] = outcome
                    current = outcome.selected.grid
                report = evaluate(current)
            except Exception as exc:
                self.observer.room_failed(exc)
                log.error("pipeline_failed", grid_id=grid.grid_id,  # noqa: TRY400 - the stage already logged it
                          error=f"{type(exc).__name__}: {exc}", stages_done=list(stages))
                raise
            duration = time.perf_counter() - t0
            headline = headline_figures(current, report)
            result = PipelineResult(current, stages, report, duration, headline)
            self.observer.room_done(result)
            log.info("pipeline_done", grid_id=grid.grid_id, status=result.status(), outcome=result.outcome,
                     failed_rules=report.failed_rules(), duration_s=round(duration, 4),
                     **{k: v for k, v in headline.items() if v is not None})
            return result


def _lattice_ahead(grid: RoomGrid) -> None:
    """Build now, and cache, the D1 lattice of ``grid``'s room, bucketed for the air and detector stages'
    coverage checks."""
    room = prepare(grid)
    bucket_targets(room.detection, room.lattice.points)


def _log_run(grid_id: str, run: ModelRun) -> None:
    """One structlog ``model_run`` line per finished model (and ``model_failed`` with the traceback)."""
    if run.result is None:
        log.error("model_failed", grid_id=grid_id, stage=run.stage, model=run.model, error=run.error,
                  traceback=run.traceback, duration_s=round(run.duration_s, 4))
        log.info("model_run", grid_id=grid_id, stage=run.stage, model=run.model, score=None, confidence=None,
                 compliant=False, duration_s=round(run.duration_s, 4), placed=0, count=None, outcome="error",
                 pid=run.pid)
        return
    r = run.result
    log.info("model_run", grid_id=grid_id, stage=run.stage, model=run.model, score=round(r.score, 3),
             confidence=round(r.confidence, 4), compliant=r.compliant, duration_s=round(run.duration_s, 4),
             placed=r.placed, count=r.count, outcome=run.outcome, infeasible=run.infeasible, pid=run.pid)

