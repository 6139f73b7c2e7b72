"""Where models run (pipeline layer): forked workers, threads inside daemonic workers, or in-process.

Every model gets the evaluator's judge for its stage (:func:`judge_for`); :func:`place` is that
call. A model error never raises here: it comes back as a failed :class:`~ceiling_grid.records.ModelRun`.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from .grid import RoomGrid
from .logs import get_logger
from .models.base import Judge, Judgement, ModelResult, PlacementModel
from .records import ModelRun

__all__ = ["DEFAULT_MAX_WORKERS", "DEFAULT_POOL_MIN_TILES", "START_METHOD_ENV", "Ahead", "ModelExecutor",
           "judge_for", "place", "pool_pays"]

DEFAULT_MAX_WORKERS = 3
# Below this many in-room tiles the models run in-process, one after another. Measured on 2 cores with the
# workers forked per room after its light problem is built, in fresh processes: 50 x 50 gains too little to
# pay for the fork (0.16-0.21 s forked against 0.18-0.28 s in turn: the light problem comes first, and model
# A + B take as long as C); 100 x 100 and 200 x 200 were 1.15x and 1.08x faster in make bench
# (docs/benchmarks.md) and 1.2-1.4x in back-to-back pairs (model C, the longest, starts first and sets the
# stage's time).
DEFAULT_POOL_MIN_TILES = 10_000
START_METHOD_ENV = "CEILING_GRID_MP_START_METHOD"  # fork (Linux default), forkserver or spawn
# Per-room children other than the costliest model's run this much nicer, so that model, which sets the stage's
# time, keeps a core while they share the other (100 x 100 on 2 cores: model C 0.41 s alone, 0.55-0.6 s when
# four processes shared the cores evenly)
DEFAULT_HELPER_NICENESS = 5

log = get_logger("ceiling_grid.executor")


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
    result = model.place(grid, judge_for(model.stage))
    if not isinstance(result, ModelResult):
        raise TypeError(f"place() returned {type(result).__name__}, not ModelResult")
    return result


@dataclasses.dataclass(frozen=True)
class Ahead:
    """Room-only work that a forked child does while this process builds the room's shared data (the cores are
    idle then): ``compute(grid)`` runs there and its small, picklable value comes back to ``adopt(grid,
    value)`` here. Where workers are not forked per room, both run here, with the caller's ``meanwhile``."""

    compute: Callable[[RoomGrid], Any]
    adopt: Callable[[RoomGrid, Any], None]


def pool_pays(grid: RoomGrid, min_tiles: int = DEFAULT_POOL_MIN_TILES) -> bool:
    """Whether racing the models in a process pool can beat running them in turn: a room of ``min_tiles``
    in-room tiles or more."""
    return int(grid.arrays.in_room.sum()) >= min_tiles


def _model_name(model: PlacementModel) -> str:
    return str(getattr(type(model), "name", type(model).__name__))


def _execute(model: PlacementModel, grid: RoomGrid) -> ModelRun:
    """Run one model (in a worker process or in-process); never raises for a model error."""
    start_ns = time.time_ns()
    t0 = time.perf_counter()
    result: ModelResult | None = None
    error = tb = None
    try:
        result = place(model, grid)
    except Exception as exc:  # noqa: BLE001 - a model's failure is recorded on its run, never raised here
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
    return ModelRun(
        model=_model_name(model),
        stage=str(model.stage),
        result=result,
        duration_s=time.perf_counter() - t0,
        start_ns=start_ns,
        end_ns=time.time_ns(),
        pid=os.getpid(),
        error=error,
        traceback=tb,
    )


_FORKED_GRID: RoomGrid | None = None  # the room a per-room fork inherits (no pickling of the grid to workers)


@dataclasses.dataclass(frozen=True)
class _Shipped:
    """A forked worker's run sent back without its result's grid: the result's other fields, and the layout as
    component codes (1 byte a tile) against the room that both processes hold (:func:`_land`)."""

    run: ModelRun  # result=None
    result: dict[str, Any]  # the ModelResult's fields but its grid
    codes: bytes


def _execute_forked(model: PlacementModel, niceness: int = 0) -> ModelRun | _Shipped:
    """:func:`_execute` on the room the worker was forked with, at ``niceness`` (:func:`_yield_cpu`); a layout on
    that room comes back as codes."""
    if _FORKED_GRID is None:
        raise RuntimeError("no room in this worker: it was not forked by ModelExecutor._run_forked")
    _yield_cpu(niceness)
    run = _execute(model, _FORKED_GRID)
    res = run.result
    if res is None or not _same_room(res.grid, _FORKED_GRID):
        return run
    fields = {f.name: getattr(res, f.name) for f in dataclasses.fields(res) if f.name != "grid"}
    return _Shipped(dataclasses.replace(run, result=None), fields, res.grid.arrays.component.tobytes())


def _same_room(a: RoomGrid, b: RoomGrid) -> bool:
    """Whether ``a`` differs from ``b`` in its components only."""
    return (all(getattr(a, f) == getattr(b, f) for f in type(a).model_fields if f != "cells")
            and np.array_equal(a.arrays.state, b.arrays.state)
            and np.array_equal(a.arrays.beam_depth, b.arrays.beam_depth))


def _land(sent: ModelRun | _Shipped, grid: RoomGrid) -> ModelRun:
    """The run a worker sent, its grid rebuilt on ``grid`` (the room it was forked with) where it came as codes."""
    if isinstance(sent, ModelRun):
        return sent
    codes = np.frombuffer(sent.codes, dtype=np.int8).reshape(grid.height, grid.width)
    result = ModelResult(grid=grid.with_component_codes(codes), **sent.result)
    return dataclasses.replace(sent.run, result=result)


def _failed_run(model: PlacementModel, error: str, tb: str | None = None) -> ModelRun:
    now = time.time_ns()
    return ModelRun(_model_name(model), str(model.stage), None, 0.0, now, now, -1, error=error, traceback=tb)


def _warm() -> int:
    return os.getpid()


def _init_worker() -> None:
    """Ctrl-C goes to the parent only. BLAS keeps its threads: the models barely use it, and capping a forked
    worker's OpenBLAS at one thread (threadpoolctl) made model C 2x slower in a 50 x 50 room (0.07 -> 0.14 s)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool; no traceback per worker


def _start_context(mp_context: Any) -> Any:
    if mp_context is not None:
        return mp_context
    method = os.environ.get(START_METHOD_ENV, "").strip() or (
        "fork" if sys.platform.startswith("linux") else None  # fast start-up; workers only run models
    )
    if method is None:
        return None
    if method not in multiprocessing.get_all_start_methods():
        raise ValueError(
            f"{START_METHOD_ENV}={method!r} is not available here; use one of "
            f"{', '.join(multiprocessing.get_all_start_methods())}"
        )
    return multiprocessing.get_context(method)


class ModelExecutor:
    """Runs several models on one grid at once: in worker processes (threads in a daemonic process), or in turn.

    With the fork start method (Linux) each room forks its own workers after the models have built the room's
    read-only data (``warm``), so the workers share it; other start methods keep one standing pool for every
    room. ``max_workers=1`` runs models in-process, one after another, and so does a room where the pool
    cannot pay (fewer than ``min_pool_tiles`` in-room tiles, see :func:`pool_pays`).
    """

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS, mp_context: Any = None,
                 min_pool_tiles: int = DEFAULT_POOL_MIN_TILES) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self.min_pool_tiles = min_pool_tiles
        self._mp_context = _start_context(mp_context)
        self._pool: Executor | None = None

    def start(self) -> None:
        """Make the models' pool ready: import what workers need (so forks inherit it) and, where workers
        cannot be forked per room (another start method, a daemonic process), create the pool now."""
        if self.max_workers == 1 or self._pool is not None:
            return
        from .evaluator import air, detectors, lighting  # noqa: F401 - imported once, before any fork

        if multiprocessing.current_process().daemon:
            # A daemonic process (e.g. a Celery prefork worker running an Airflow task) may not have
            # children, so the models share this process: threads still overlap where numpy and
            # HiGHS release the GIL.
            log.warning("runner_pool", executor="threads", reason="daemonic process cannot fork workers",
                        workers=self.max_workers)
            self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="light-model")
            return
        if self._forks_per_room:
            return  # each room forks its own workers once its shared data is built (run_all)
        self._pool = ProcessPoolExecutor(
            max_workers=self.max_workers, mp_context=self._mp_context, initializer=_init_worker
        )
        for f in [self._pool.submit(_warm) for _ in range(self.max_workers)]:
            f.result()

    @property
    def _forks_per_room(self) -> bool:
        """Workers are forked per room, after the room's read-only data is built (the fork start method)."""
        ctx = self._mp_context
        method = ctx.get_start_method() if ctx is not None else multiprocessing.get_start_method(allow_none=True)
        return method == "fork" and not multiprocessing.current_process().daemon

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Stop now: kill the workers mid-model instead of waiting for them (Ctrl-C)."""
        pool, self._pool = self._pool, None
        if isinstance(pool, ProcessPoolExecutor):
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def run_all(self, models: Sequence[PlacementModel], grid: RoomGrid,
                meanwhile: Callable[[], object] | None = None, ahead: Ahead | None = None) -> list[ModelRun]:
        """One run per model, in the models' order; a dead worker or an unpicklable result is a failed run.

        ``meanwhile`` runs in this process while worker processes run the models (not when they run in-process
        or on threads): work the caller needs next; so does ``ahead`` (:class:`Ahead`), which starts earlier
        in a child of its own where workers are forked per room. Their errors are logged, never raised."""
        if self.max_workers == 1 or len(models) == 1:
            return [_execute(m, grid) for m in models]
        if not pool_pays(grid, self.min_pool_tiles):
            log.debug("models_in_process", grid_id=grid.grid_id, models=len(models),
                      reason=f"fewer than {self.min_pool_tiles} in-room tiles: the pool cannot pay")
            return [_execute(m, grid) for m in models]
        self.start()
        if self._pool is None and self._forks_per_room:
            return self._run_forked(models, grid, meanwhile, ahead)
        pool = self._pool
        if pool is None:  # pragma: no cover - start() creates it unless workers fork per room
            raise RuntimeError("the model pool did not start")
        futures = [pool.submit(_execute, m, grid) for m in models]
        if isinstance(pool, ProcessPoolExecutor):
            if ahead is not None:
                _run_meanwhile(lambda: ahead.adopt(grid, ahead.compute(grid)), grid)
            _run_meanwhile(meanwhile, grid)
        runs, broken = _collect(models, futures)
        if broken:
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        return runs

    def _run_forked(self, models: Sequence[PlacementModel], grid: RoomGrid,
                    meanwhile: Callable[[], object] | None = None, ahead: Ahead | None = None) -> list[ModelRun]:
        """Build the room's shared data once (each model's ``warm``; a child forked first does the ``ahead``
        work meanwhile), then fork one worker per core and start the costliest model first: the workers read the
        parent's data instead of each building its own, and all but that model's run niced
        (``DEFAULT_HELPER_NICENESS``), so it keeps a core.

        As with any fork-context pool, a lock another thread holds at the fork stays held in the workers; they
        only run models and log (logging re-creates its handler locks after a fork), and the CLI's progress
        bar refreshes without a thread."""
        t0 = time.perf_counter()
        global _FORKED_GRID  # noqa: PLW0603 - read by the forked children, never by this process
        _FORKED_GRID = grid
        early = None
        try:
            early = _start_ahead(ahead, self._mp_context)  # forks now: the cores are idle while the data is built
            for model in models:
                warm = getattr(model, "warm", None)
                if callable(warm):
                    warm(grid)
            workers = min(self.max_workers, len(models), os.cpu_count() or 1)
            order = sorted(range(len(models)), key=lambda i: -float(getattr(models[i], "relative_cost", 1.0)))
            log.debug("models_forked", grid_id=grid.grid_id, models=len(models), workers=workers,
                      warm_s=round(time.perf_counter() - t0, 4))
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=self._mp_context
                                       or multiprocessing.get_context("fork"), initializer=_init_worker)
            # The parent's objects go to the collector's permanent generation while the workers fork: a worker's
            # collections then never walk (and copy-on-write) the inherited heap; this made small rooms' models
            # up to 2x slower in a worker than in-process.
            gc.freeze()
            try:
                # the costliest model sets the stage's time: the others and the ahead child yield it the CPU
                futures = {i: pool.submit(_execute_forked, models[i], DEFAULT_HELPER_NICENESS if k else 0)
                           for k, i in enumerate(order)}  # the workers fork here
                gc.unfreeze()
                _run_meanwhile(meanwhile, grid)
                _adopt_ahead(ahead, early, grid)
                runs, _broken = _collect(models, [futures[i] for i in range(len(models))], grid)
            finally:
                gc.unfreeze()
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if early is not None:
                early[0].shutdown(wait=True, cancel_futures=True)
            _FORKED_GRID = None
        return runs


def _start_ahead(ahead: Ahead | None, ctx: Any) -> tuple[ProcessPoolExecutor, Future[Any]] | None:
    """Fork one child for ``ahead.compute`` on the room in ``_FORKED_GRID`` (None: nothing to do, or the fork
    failed, in which case the caller's own checks do the work later)."""
    if ahead is None:
        return None
    early = ProcessPoolExecutor(max_workers=1, mp_context=ctx or multiprocessing.get_context("fork"),
                                initializer=_init_worker)
    gc.freeze()  # as for the model workers: the child's collections leave the inherited heap alone
    try:
        return early, early.submit(_compute_forked, ahead.compute)  # the child forks here
    except Exception as exc:  # noqa: BLE001 - an optimisation only
        early.shutdown(wait=False, cancel_futures=True)
        log.warning("ahead_failed", error=f"{type(exc).__name__}: {exc}")
        return None
    finally:
        gc.unfreeze()


def _compute_forked(compute: Callable[[RoomGrid], Any]) -> Any:
    """``compute`` on the room the child was forked with (niced: the costliest model goes first)."""
    if _FORKED_GRID is None:
        raise RuntimeError("no room in this child: it was not forked by ModelExecutor._run_forked")
    _yield_cpu(DEFAULT_HELPER_NICENESS)
    return compute(_FORKED_GRID)


def _yield_cpu(niceness: int) -> None:
    """Raise this per-room child's niceness to ``niceness`` (never lower it; the child ends with the room)."""
    if niceness <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < niceness:
            os.nice(niceness - current)
    except OSError:  # pragma: no cover - a platform without priorities: the order alone
        pass


def _adopt_ahead(ahead: Ahead | None, early: tuple[ProcessPoolExecutor, Future[Any]] | None,
                 grid: RoomGrid) -> None:
    """Wait for the forked ``ahead`` work and adopt its value here; a failure is logged (the caller redoes it)."""
    if ahead is None or early is None:
        return
    t0 = time.perf_counter()
    try:
        ahead.adopt(grid, early[1].result())
    except Exception as exc:  # noqa: BLE001 - an optimisation only: the caller's own call raises it properly
        log.warning("ahead_failed", grid_id=grid.grid_id, error=f"{type(exc).__name__}: {exc}")
        return
    log.debug("ahead_adopted", grid_id=grid.grid_id, waited_s=round(time.perf_counter() - t0, 4))


def _run_meanwhile(meanwhile: Callable[[], object] | None, grid: RoomGrid) -> None:
    """Run the caller's ``meanwhile`` work; a failure is logged (the caller redoes that work and sees it)."""
    if meanwhile is None:
        return
    t0 = time.perf_counter()
    try:
        meanwhile()
    except Exception as exc:  # noqa: BLE001 - an optimisation only: the caller's own call raises it properly
        log.warning("meanwhile_failed", grid_id=grid.grid_id, error=f"{type(exc).__name__}: {exc}")
        return
    log.debug("meanwhile_done", grid_id=grid.grid_id, seconds=round(time.perf_counter() - t0, 4))


def _collect(models: Sequence[PlacementModel], futures: Sequence[Future[Any]],
             grid: RoomGrid | None = None) -> tuple[list[ModelRun], bool]:
    """Each future's run, in the models' order, and whether a worker died (its model is a failed run);
    ``grid``: the room forked workers were given, on which their layouts land (:func:`_land`)."""
    runs: list[ModelRun] = []
    broken = False
    for model, fut in zip(models, futures, strict=True):
        try:
            sent = fut.result()
            runs.append(_land(sent, grid) if grid is not None else sent)
        except BrokenProcessPool as exc:  # a worker died (os._exit, segfault, OOM kill)
            broken = True
            runs.append(_failed_run(model, f"worker process died: {exc}"))
        except Exception as exc:  # noqa: BLE001 - e.g. the model or its result is not picklable
            runs.append(_failed_run(model, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    return runs, broken
