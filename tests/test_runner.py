"""PipelineRunner mechanics: true concurrency, §8 selection, failures, logs, metrics and nested spans."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
import pickle
import time
from typing import Any, ClassVar

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from structlog.testing import capture_logs

from ceiling_grid.grid import Component, RoomGrid
from ceiling_grid.models.base import Judge, ModelResult, Stage
from ceiling_grid.observability import PipelineMetrics, PipelineTelemetry, PipelineTracer
from ceiling_grid.runner import PipelineRunner, StageFailedError
from ceiling_grid.selection import explain_selection
from ceiling_grid.testing import make_room

# A barrier shared with forked pool workers: each fake light model waits until all three are
# inside place() at the same time, so the stage only succeeds when the models truly overlap.
_BARRIER: Any = None
_BARRIER_TIMEOUT_S = 30.0


def _rank(results: list[ModelResult]) -> ModelResult:
    """Stand-in for the §8 selector while the lighting evaluator is not used: compliance, score, count."""
    return max(results, key=lambda r: (r.compliant, r.score, -r.count))


class FakeLight:
    """Places ``n`` lights in the first free tiles and reports a fixed score."""

    name: ClassVar[str] = "FakeLight"
    stage: ClassVar[Stage] = Stage.LIGHTS
    version: ClassVar[str] = "test"

    def __init__(self, label: str, n: int, score: float, compliant: bool = True, wait: bool = False) -> None:
        self.label, self.n, self.score, self.compliant, self.wait = label, n, score, compliant, wait

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        if self.wait:
            _BARRIER.wait(_BARRIER_TIMEOUT_S)
        tiles = [(x, 0) for x in range(self.n)]
        diagnostics = {"pid": os.getpid(), "t_in": time.time_ns()}
        return ModelResult(
            self.label,
            self.stage,
            grid.with_components(Component.LIGHT, tiles),
            self.score,
            self.compliant,
            self.n,
            count=self.n,
            max_shr=1.0,
            diagnostics=diagnostics,
        )


class FakeA(FakeLight):
    name = "FakeA"


class FakeB(FakeLight):
    name = "FakeB"


class FakeC(FakeLight):
    name = "FakeC"


class Exploding(FakeLight):
    name = "Exploding"

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        raise ValueError("boom in the model")


class DyingWorker(FakeLight):
    name = "DyingWorker"

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        os._exit(3)


def _models(wait: bool = False) -> list[FakeLight]:
    return [
        FakeA("FakeA", 3, 150.0, wait=wait),
        FakeB("FakeB", 2, 180.0, wait=wait),
        FakeC("FakeC", 4, 120.0, wait=wait),
    ]


@pytest.fixture
def room() -> RoomGrid:
    return make_room(6, 5, grid_id="fake-room")


def test_light_models_run_concurrently_in_separate_processes(room: RoomGrid) -> None:
    """As many models as the room forks workers for (one per core, at most 3) are inside place() at once (a
    barrier of that many passes), each in its own worker PID."""
    global _BARRIER
    workers = min(3, os.cpu_count() or 1)
    _BARRIER = multiprocessing.get_context("fork").Barrier(workers)
    models = _models()
    for model in models[:workers]:
        model.wait = True
    with PipelineRunner(max_workers=3, min_pool_tiles=0, selector=_rank) as runner:
        outcome = runner.run_parallel_stage(models, room)
    waited = outcome.runs[:workers]
    pids = {r.pid for r in waited}
    assert len(pids) == workers and os.getpid() not in pids
    assert max(r.start_ns for r in waited) < min(r.end_ns for r in waited)  # all started before any finished


_WARMED_BY: int | None = None  # set by WarmLight.warm in the process that builds the room's shared data


class WarmLight(FakeLight):
    """Reports which process warmed its data: the workers must see the parent's, built before they forked."""

    name = "WarmLight"
    relative_cost: ClassVar[float] = 2.0

    def warm(self, grid: RoomGrid) -> None:
        global _WARMED_BY
        _WARMED_BY = os.getpid()

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        result = super().place(grid, judge)
        result.diagnostics["warmed_by"] = _WARMED_BY
        return result


def test_workers_fork_after_the_room_is_warmed_and_share_it(room: RoomGrid) -> None:
    """Each model's warm(grid) runs once in the parent, then the workers fork and read what it built; the
    next room forks new workers (no standing pool)."""
    global _WARMED_BY
    models = [FakeA("FakeA", 3, 150.0), WarmLight("WarmLight", 2, 180.0)]
    with PipelineRunner(max_workers=2, min_pool_tiles=0, selector=_rank) as runner:
        pids = []
        for _room in range(2):
            _WARMED_BY = None
            outcome = runner.run_parallel_stage(models, room)
            assert runner.executor._pool is None  # the room's workers came and went
            warm = next(r for r in outcome.runs if r.model == "WarmLight")
            assert warm.pid != os.getpid() and warm.result is not None
            assert warm.result.diagnostics["warmed_by"] == os.getpid()
            pids.append(warm.pid)
    assert pids[0] != pids[1]


def test_small_rooms_skip_the_pool(room: RoomGrid) -> None:
    """A room under ``min_pool_tiles`` runs its models in-process, one after another, and starts no pool;
    a room at the threshold races them in the workers."""
    from ceiling_grid.executor import DEFAULT_POOL_MIN_TILES, pool_pays

    assert not pool_pays(room) and not pool_pays(make_room(100, 99)) and pool_pays(make_room(100, 100))
    assert DEFAULT_POOL_MIN_TILES == 10_000
    with PipelineRunner(max_workers=3, selector=_rank, min_pool_tiles=31) as runner:
        runner.executor.close()  # the context manager started it; show that the small room does not
        small = runner.run_parallel_stage(_models(), room)
        assert runner.executor._pool is None
        big = runner.run_parallel_stage(_models(), make_room(6, 6, grid_id="six-by-six"))
    assert {r.pid for r in small.runs} == {os.getpid()}
    assert os.getpid() not in {r.pid for r in big.runs}


def test_sequential_fallback_runs_in_process(room: RoomGrid) -> None:
    """max_workers=1 runs the models in the calling process, one after another."""
    runner = PipelineRunner(max_workers=1, selector=_rank)
    outcome = runner.run_parallel_stage(_models(), room)
    assert {r.pid for r in outcome.runs} == {os.getpid()}
    runs = sorted(outcome.runs, key=lambda r: r.start_ns)
    assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(runs))


def test_selection_takes_highest_score_and_explains_it(room: RoomGrid) -> None:
    """The 180-point layout wins over 150 and 120, and the reason names the runner-up."""
    with PipelineRunner(max_workers=3, min_pool_tiles=0, selector=_rank) as runner:
        outcome = runner.run_parallel_stage(_models(), room)
    assert outcome.selected.model == "FakeB"
    assert outcome.selected.grid.count(Component.LIGHT) == 2
    assert len(outcome.candidates) == 3
    assert outcome.reason == "highest score 180.0 (next: FakeA 150.0)"


def test_selection_reason_for_compliance_and_ties(room: RoomGrid) -> None:
    """A compliant layout beats a higher-scoring non-compliant one; equal scores go to fewer fixtures."""
    runner = PipelineRunner(max_workers=1, selector=_rank)
    out = runner.run_parallel_stage([FakeA("FakeA", 3, 120.0), FakeB("FakeB", 2, 90.0, compliant=False)], room)
    assert out.selected.model == "FakeA" and out.reason.startswith("only compliant layout")
    out = runner.run_parallel_stage([FakeA("FakeA", 3, 150.0), FakeB("FakeB", 2, 150.0)], room)
    assert out.selected.model == "FakeB"
    assert explain_selection(out.selected, out.candidates) == "tied on score 150.0 with FakeA; fewer fixtures (2 vs 3)"


def test_model_error_fails_the_stage_loudly(room: RoomGrid) -> None:
    """A raising model is logged with its traceback, counted as an error, and fails the stage by name."""
    metrics = PipelineMetrics()
    with (
        PipelineRunner(max_workers=2, min_pool_tiles=0, observer=PipelineTelemetry(metrics), selector=_rank) as runner,
        capture_logs() as logs,
        pytest.raises(StageFailedError, match="Exploding raised ValueError: boom in the model"),
    ):
        runner.run_parallel_stage([FakeA("FakeA", 3, 150.0), Exploding("x", 1, 0.0)], room)
    failed = [e for e in logs if e["event"] == "model_failed"]
    assert len(failed) == 1 and "boom in the model" in failed[0]["traceback"]
    assert failed[0]["log_level"] == "error" and failed[0]["grid_id"] == "fake-room"
    labels = {"stage": "lights", "model": "Exploding", "outcome": "error"}
    assert metrics.value("ceiling_grid_model_executions_total", labels) == 1.0


def test_dead_worker_fails_the_stage_and_the_pool_recovers(room: RoomGrid) -> None:
    """A worker that exits hard fails the stage; the next stage gets a fresh pool and succeeds."""
    with PipelineRunner(max_workers=2, min_pool_tiles=0, selector=_rank) as runner:
        with pytest.raises(StageFailedError, match="worker process died"):
            runner.run_parallel_stage([DyingWorker("d", 1, 0.0), FakeA("FakeA", 1, 10.0)], room)
        outcome = runner.run_parallel_stage(_models(), room)
    assert outcome.selected.model == "FakeB"


def test_model_run_events_and_metrics(room: RoomGrid) -> None:
    """Each run logs model_run with the key figures and updates the Prometheus samples."""
    metrics = PipelineMetrics()
    with (
        PipelineRunner(max_workers=3, min_pool_tiles=0, observer=PipelineTelemetry(metrics), selector=_rank) as runner,
        capture_logs() as logs,
    ):
        runner.run_parallel_stage(_models(), room)
    runs = {e["model"]: e for e in logs if e["event"] == "model_run"}
    assert set(runs) == {"FakeA", "FakeB", "FakeC"}
    b = runs["FakeB"]
    assert b["grid_id"] == "fake-room" and b["stage"] == "lights" and b["score"] == 180.0
    assert b["confidence"] == 0.9 and b["compliant"] == "true" and b["count"] == 2 and b["placed"] == 2
    assert b["duration_s"] >= 0
    selected = [e for e in logs if e["event"] == "stage_selected"]
    assert len(selected) == 1 and selected[0]["model"] == "FakeB"
    assert metrics.value("ceiling_grid_model_score", {"stage": "lights", "model": "FakeC"}) == 120.0
    assert metrics.value("ceiling_grid_model_selections_total", {"stage": "lights", "model": "FakeB"}) == 1.0
    assert metrics.value("ceiling_grid_model_duration_seconds_count", {"stage": "lights", "model": "FakeA"}) == 1.0
    compliant = {"stage": "lights", "model": "FakeA", "outcome": "compliant"}
    assert metrics.value("ceiling_grid_model_executions_total", compliant) == 1.0


def test_model_spans_nest_under_the_stage_span(room: RoomGrid) -> None:
    """Model spans (made from worker timestamps) are children of the stage span, with attributes."""
    tracer = PipelineTracer(otlp_from_env=False)
    exporter = InMemorySpanExporter()
    tracer.add_exporter(exporter)
    telemetry = PipelineTelemetry(tracer=tracer)
    with PipelineRunner(max_workers=3, min_pool_tiles=0, observer=telemetry, selector=_rank) as runner:
        runner.run_parallel_stage(_models(), room)
    tracer.force_flush()
    spans = exporter.get_finished_spans()
    stage = next(s for s in spans if s.name == "stage lights")
    models = [s for s in spans if s.name.startswith("model ")]
    assert len(models) == 3
    for span in models:
        assert span.parent is not None and span.parent.span_id == stage.context.span_id
        assert span.context.trace_id == stage.context.trace_id
        assert stage.start_time <= span.start_time <= span.end_time <= stage.end_time
    attrs = {s.attributes["model"]: s.attributes for s in models}
    assert attrs["FakeB"]["score"] == 180.0 and attrs["FakeB"]["count"] == 2 and attrs["FakeB"]["compliant"]
    assert stage.attributes["selected"] == "FakeB"


def test_without_exporter_tracing_records_nothing(room: RoomGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no OTLP endpoint and no test exporter the tracer is a no-op."""
    for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    tracer = PipelineTracer()
    assert not tracer.enabled
    span = tracer.tracer.start_span("x")
    assert not span.is_recording()


def test_runner_reuses_one_pool_across_rooms_without_fork(room: RoomGrid) -> None:
    """With a start method other than fork (the workers cannot inherit a room), one standing pool serves every
    room: two rooms through the same runner use the same worker processes."""
    forkserver = multiprocessing.get_context("forkserver")
    with PipelineRunner(max_workers=3, min_pool_tiles=0, selector=_rank, mp_context=forkserver) as runner:
        assert runner.executor._pool is not None
        first = {r.pid for r in runner.run_parallel_stage(_models(), room).runs}
        second = {r.pid for r in runner.run_parallel_stage(_models(), make_room(4, 4, grid_id="b")).runs}
    assert os.getpid() not in first | second
    assert len(first | second) <= 3  # a new pool per room would bring new worker PIDs


def test_runner_rejects_bad_arguments(room: RoomGrid) -> None:
    """Zero workers, no models, or models of different stages are usage errors."""
    with pytest.raises(ValueError, match="max_workers"):
        PipelineRunner(max_workers=0)
    with pytest.raises(ValueError, match="at least one model"):
        PipelineRunner(max_workers=1).run_parallel_stage([], room)


def test_logs_are_not_configured_by_the_runner() -> None:
    """Importing and using the runner never configures structlog (only the CLI does)."""
    import structlog

    was = structlog.is_configured()
    PipelineRunner(max_workers=1)
    assert structlog.is_configured() == was


def test_full_pipeline_with_real_models_logs_counts_and_traces() -> None:
    """Lights -> air -> detectors on a real room: metrics, pipeline_done and pipeline>stage>model spans."""
    metrics = PipelineMetrics()
    tracer = PipelineTracer(otlp_from_env=False)
    exporter = InMemorySpanExporter()
    tracer.add_exporter(exporter)
    room = make_room(10, 8, grid_id="real-room", states={(4, 4): "sprinkler"})
    telemetry = PipelineTelemetry(metrics, tracer)
    with PipelineRunner(max_workers=3, min_pool_tiles=0, observer=telemetry) as runner, capture_logs() as logs:
        result = runner.run_full_pipeline(room)
    assert list(result.stages) == ["lights", "air_supply", "smoke_detectors"]
    assert {r.model for r in result.stages["lights"].runs} == {"LightModelA", "LightModelB", "LightModelC"}
    final = result.final_grid
    assert final.count(Component.LIGHT) == result.stages["lights"].selected.grid.count(Component.LIGHT) > 0
    assert final.count(Component.SMOKE_DETECTOR) >= 1 and final.count(Component.AIR_SUPPLY) >= 1
    # metrics
    assert metrics.value("ceiling_grid_rooms_total", {"outcome": result.outcome}) == 1.0
    assert metrics.value("ceiling_grid_components_placed_total", {"component": "light"}) == final.count(Component.LIGHT)
    assert metrics.value("ceiling_grid_components_placed_total", {"component": "smoke_detector"}) == final.count(
        Component.SMOKE_DETECTOR
    )
    for failed in result.report.failed_rules():
        assert metrics.value("ceiling_grid_rule_failures_total", {"rule": failed}) >= 1
    assert metrics.value("ceiling_grid_last_success_timestamp_seconds") > 0
    # logs
    done = [e for e in logs if e["event"] == "pipeline_done"]
    assert len(done) == 1 and done[0]["grid_id"] == "real-room"
    assert done[0]["lights"] == final.count(Component.LIGHT) and done[0]["em_lux"] > 0
    assert "worst_coverage_m" in done[0] and done[0]["status"] == result.status()
    assert len([e for e in logs if e["event"] == "model_run"]) == 5
    # spans
    tracer.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    pipeline = spans["pipeline"]
    for stage in ("lights", "air_supply", "smoke_detectors"):
        assert spans[f"stage {stage}"].parent.span_id == pipeline.context.span_id
    assert spans["model LightModelB"].parent.span_id == spans["stage lights"].context.span_id
    assert spans["model SmokeDetectorModel"].parent.span_id == spans["stage smoke_detectors"].context.span_id
    assert pipeline.attributes["grid_id"] == "real-room" and pipeline.attributes["compliant"] == result.report.compliant
    # summary line
    line = result.summary_line()
    assert line.startswith(f"real-room: {result.status()} | lights={final.count(Component.LIGHT)} ")


class BrokenAir:
    """An air model with a bug: it always raises."""

    name: ClassVar[str] = "BrokenAir"
    stage: ClassVar[Stage] = Stage.AIR_SUPPLY
    version: ClassVar[str] = "test"

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        raise RuntimeError("duct not found")


def test_failing_stage_stops_the_room_and_is_counted(room: RoomGrid) -> None:
    """A model bug in a later stage raises StageFailedError, logs pipeline_failed and counts an error room."""
    metrics = PipelineMetrics()
    runner = PipelineRunner(
        max_workers=1, observer=PipelineTelemetry(metrics), light_models=_models(), selector=_rank,
        air_model=BrokenAir(),
    )
    with capture_logs() as logs, pytest.raises(StageFailedError, match="stage air_supply failed: BrokenAir"):
        runner.run_full_pipeline(room)
    failed = [e for e in logs if e["event"] == "pipeline_failed"]
    assert len(failed) == 1 and failed[0]["stages_done"] == ["lights"]
    assert metrics.value("ceiling_grid_rooms_total", {"outcome": "error"}) == 1.0
    assert (
        metrics.value(
            "ceiling_grid_model_executions_total", {"stage": "air_supply", "model": "BrokenAir", "outcome": "error"}
        )
        == 1.0
    )


def test_start_method_can_be_chosen_from_the_environment(room: RoomGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    """CEILING_GRID_MP_START_METHOD=spawn runs the light models in spawned workers; a bad name is refused."""
    monkeypatch.setenv("CEILING_GRID_MP_START_METHOD", "spawn")
    with PipelineRunner(max_workers=2, min_pool_tiles=0, selector=_rank) as runner:
        assert runner.executor._mp_context.get_start_method() == "spawn"
        outcome = runner.run_parallel_stage(_models(), room)
    assert outcome.selected.model == "FakeB" and os.getpid() not in {r.pid for r in outcome.runs}
    monkeypatch.setenv("CEILING_GRID_MP_START_METHOD", "teleport")
    with pytest.raises(ValueError, match="not available here"):
        PipelineRunner(max_workers=2, min_pool_tiles=0)


def test_daemonic_process_runs_light_models_on_threads() -> None:
    """In a daemonic process (a Celery prefork worker) the runner cannot fork, so it uses threads and still works."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_in_daemon, args=(queue,), daemon=True)
    proc.start()
    outcome = queue.get(timeout=120)
    proc.join(timeout=30)
    assert outcome["error"] is None, outcome["error"]
    assert outcome["executor"] == "ThreadPoolExecutor"
    assert outcome["models"] == ["LightModelA", "LightModelB", "LightModelC"]
    assert outcome["compliant"] is True


def _run_in_daemon(queue: Any) -> None:
    from ceiling_grid.runner import PipelineRunner
    from ceiling_grid.testing import make_room

    try:
        with PipelineRunner(max_workers=3, min_pool_tiles=0) as runner:
            outcome = runner.run_parallel_stage(runner.light_models, make_room(8, 6, grid_id="daemon"))
            queue.put({
                "error": None,
                "executor": type(runner.executor._pool).__name__,
                "models": sorted(run.model for run in outcome.runs),
                "compliant": outcome.selected.compliant,
            })
    except Exception as exc:  # report, don't hang the parent
        queue.put({"error": repr(exc), "executor": None, "models": [], "compliant": None})


def test_beamed_room_keeps_its_beams_through_the_worker_processes() -> None:
    """A BS 5839-1 room split by a 0.45 m beam: the depths cross the process pool, every pocket gets a
    detector, and the written grid still carries them."""
    import json

    from ceiling_grid.outputs import dumps_grid
    from ceiling_grid.testing import beam_line

    room = make_room(20, 10, ceiling_height_m=3.0, detector_standard="bs5839_1",
                     beams=beam_line(0.45, x=10, span=range(10)))
    with PipelineRunner(max_workers=3, min_pool_tiles=0) as runner:
        result = runner.run_full_pipeline(room)
    assert result.report.compliant, result.status()
    final = result.final_grid
    assert final.arrays.beam_depth[:, 10].tolist() == [0.45] * 10
    xs = final.positions(Component.SMOKE_DETECTOR)[:, 0].tolist()
    assert any(x < 10 for x in xs) and any(x > 10 for x in xs)
    cells = json.loads(dumps_grid(final))["cells"]
    assert sum(1 for c in cells if c.get("beam_depth_m") == 0.45) == 10


def test_forked_layouts_come_back_as_codes_and_land_on_the_parents_room() -> None:
    """A forked worker sends its layout as one byte a tile, not a pickled 200 x 200 grid; landed on the room the
    parent holds it equals the in-process result, cell for cell. A result on another room comes back whole."""
    from ceiling_grid import executor as ex
    from ceiling_grid.grid import dump_room
    from ceiling_grid.models.lights import LightModelA

    room = make_room(24, 14)
    ex._FORKED_GRID = room
    try:
        sent = ex._execute_forked(LightModelA())
    finally:
        ex._FORKED_GRID = None
    assert isinstance(sent, ex._Shipped) and sent.run.result is None and len(sent.codes) == 24 * 14
    assert len(pickle.dumps(sent)) < 24 * 14 + 4_000
    landed = ex._land(pickle.loads(pickle.dumps(sent)), room)
    direct = ex._execute(LightModelA(), room)
    assert landed.result is not None and direct.result is not None
    assert dump_room(landed.result.grid) == dump_room(direct.result.grid)
    assert landed.result.score == direct.result.score and landed.result.count == direct.result.count > 0
    other = make_room(24, 14, ceiling_height_m=3.2)
    assert not ex._same_room(direct.result.grid, other) and ex._same_room(direct.result.grid, room)


def test_meanwhile_runs_in_the_parent_while_forked_workers_run_the_models(room: RoomGrid) -> None:
    """The caller's meanwhile work runs once, in this process, while worker processes run the models; in-process
    runs skip it (nothing to overlap), and its failure is logged, not raised."""
    calls: list[int] = []

    def meanwhile() -> None:
        calls.append(os.getpid())

    with PipelineRunner(max_workers=2, min_pool_tiles=0, selector=_rank) as runner:
        outcome = runner.run_parallel_stage(_models(), room, meanwhile=meanwhile)
        assert calls == [os.getpid()]
        assert all(r.pid != os.getpid() for r in outcome.runs)

        def failing() -> None:
            raise RuntimeError("no reference today")

        outcome = runner.run_parallel_stage(_models(), room, meanwhile=failing)  # logged, not raised
        assert outcome.selected.model == "FakeB"
    with PipelineRunner(max_workers=1, selector=_rank) as runner:
        runner.run_parallel_stage(_models(), room, meanwhile=meanwhile)
    assert len(calls) == 1


class NiceLight(FakeLight):
    """Records the niceness its worker runs at."""

    name = "NiceLight"
    relative_cost: ClassVar[float] = 1.0

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        result = super().place(grid, judge)
        return dataclasses.replace(result, diagnostics={**result.diagnostics,
                                                        "nice": os.getpriority(os.PRIO_PROCESS, 0)})


class CostlyNiceLight(NiceLight):
    name = "CostlyNiceLight"
    relative_cost: ClassVar[float] = 3.0


def _pid_and_nice(grid: RoomGrid) -> tuple[int, int, str]:
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), grid.grid_id


def _broken_ahead(grid: RoomGrid) -> None:
    raise RuntimeError("no reference today")


def test_ahead_work_runs_in_a_child_from_the_start_and_its_value_is_adopted_here(room: RoomGrid) -> None:
    """Ahead work runs once, in a forked child of its own and niced like the lesser models, and its value is
    adopted in this process; the costliest model keeps this process's niceness. A failure is logged, not
    raised; in-process runs skip it."""
    from ceiling_grid.executor import DEFAULT_HELPER_NICENESS, Ahead

    adopted: list[tuple[str, object]] = []
    ahead = Ahead(_pid_and_nice, lambda g, value: adopted.append((g.grid_id, value)))
    base = os.getpriority(os.PRIO_PROCESS, 0)
    models = [NiceLight("cheap", 2, 100.0), CostlyNiceLight("costly", 3, 120.0)]
    with PipelineRunner(max_workers=2, min_pool_tiles=0, selector=_rank) as runner:
        outcome = runner.run_parallel_stage(models, room, ahead=ahead)
        assert len(adopted) == 1
        (grid_id, (pid, nice, seen)), = adopted
        assert grid_id == seen == room.grid_id and pid != os.getpid()
        assert pid not in {r.pid for r in outcome.runs}
        assert nice == max(base, DEFAULT_HELPER_NICENESS)
        by_name = {r.model: r.result for r in outcome.runs}
        assert by_name["CostlyNiceLight"].diagnostics["nice"] == base
        assert by_name["NiceLight"].diagnostics["nice"] == max(base, DEFAULT_HELPER_NICENESS)
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # this process keeps its own
        with capture_logs() as logs:
            outcome = runner.run_parallel_stage(models, room, ahead=Ahead(_broken_ahead, ahead.adopt))
        assert outcome.selected.model == "costly" and len(adopted) == 1  # logged, not raised
        assert any(e["event"] == "ahead_failed" and "no reference today" in e["error"] for e in logs)
    with PipelineRunner(max_workers=1, selector=_rank) as runner:
        runner.run_parallel_stage(models, room, ahead=ahead)
    assert len(adopted) == 1


def test_room_checks_done_ahead_serve_the_final_check_of_any_layout_of_the_room() -> None:
    """room_checks caches the L5 reference for the room (any layout of it finds it), and a forked pipeline run,
    which computes it while the light models run, reports exactly what an in-process run does."""
    from types import MappingProxyType

    from ceiling_grid import geodesic
    from ceiling_grid.evaluator import lighting as checker
    from ceiling_grid.evaluator import room_checks
    from ceiling_grid.grid import room_key
    from ceiling_grid.prepared import prepare

    grid = make_room(100, 100, grid_id="room-checks-ahead", ceiling_height_m=2.9)
    key = (room_key(grid), "l5_reference")
    assert checker._L5_CACHE.get(key, MappingProxyType) is None
    with PipelineRunner(max_workers=3) as runner:
        forked = runner.run_full_pipeline(grid)
    cached = checker._L5_CACHE.get(key, MappingProxyType)
    assert cached is not None and cached["count"] > 0
    assert room_key(forked.final_grid) == room_key(grid)  # the final layout's check found it
    lattice = prepare(grid).lattice.points  # bucketed ahead too, for the air and detector stages' coverage checks
    assert geodesic._CELL_CACHE[id(lattice)][0]() is lattice
    room_checks(grid)  # a second call is a cache hit: the same frozen value
    assert checker._L5_CACHE.get(key, MappingProxyType) is cached
    alone = PipelineRunner(max_workers=1).run_full_pipeline(grid)
    assert forked.report.to_dict() == alone.report.to_dict()
