"""The DAG's batch steps, as plain functions (no Airflow): load and chunk rooms, run one stage, publish.

:mod:`ceiling_grid.airflow_tasks` wraps each in its Airflow task (context, failure mapping, XCom
guard); everything here is unit-testable in plain Python.

Rooms travel between tasks as JSON dicts (one *chunk* = a list of room entries)::

    {"source": "input/office.json", "grid": <RoomGrid.to_payload()>, "stages": [<stage summary>, ...]}

and every receiving step re-validates the grid with :func:`ceiling_grid.grid.parse_room`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from .batch import RoomIds, room_files_in, with_overrides
from .config import Limits
from .errors import (
    CeilingGridError,
    InfeasibleRoomError,
    InputError,
    OutputLocationError,
    TransientError,
    did_you_mean,
)
from .logs import get_logger

if TYPE_CHECKING:
    from .grid import RoomGrid

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_INPUTS",
    "DEFAULT_OUTPUT_DIR",
    "FROM_FILE",
    "ON_INVALID",
    "LoadedRooms",
    "SkippedFile",
    "chunk_rooms",
    "data_dir",
    "load_batch",
    "load_rooms",
    "pipeline_result",
    "publish",
    "resolve_under",
    "run_stage_on_chunk",
]

log = get_logger(__name__)

DEFAULT_CHUNK_SIZE = 25  # benchmarks/bench_airflow.py: 200 rooms 69 s at 25 vs 133 s at 10 (2 cores)
MAX_CHUNK_SIZE = 1000
DEFAULT_INPUTS = ("input",)
DEFAULT_OUTPUT_DIR = "output"
FROM_FILE = "from file"
DATA_DIR_ENV = "CEILING_GRID_DATA_DIR"
STAGES = ("lights", "air_supply", "smoke_detectors")


# ----- where things live ------------------------------------------------------------------

def data_dir(default: Path | None = None) -> Path:
    """The data folder: ``$CEILING_GRID_DATA_DIR``, else ``default``, else the source checkout's ``data/``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).resolve()
    if default is not None:
        return Path(default).resolve()
    return (Path(__file__).resolve().parents[2] / "data").resolve()


def resolve_under(base: Path, relative: str, what: str) -> Path:
    """``base / relative`` resolved, refusing anything that escapes ``base`` (``..``, absolute paths, links)."""
    from .fsio import check_path_text

    base = base.resolve()
    text = check_path_text(relative, what)
    candidate = Path(text)
    target = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if target != base and base not in target.parents:
        raise InputError(
            f"{what}: {text!r} resolves to {target}, outside the data folder {base} "
            f"(fix: give a path inside the data folder, or point {DATA_DIR_ENV} at the folder that holds it)"
        )
    return target


# ----- load_rooms ---------------------------------------------------------------------------

def _as_list(inputs: str | Sequence[str] | None) -> list[str]:
    """The input entries, each a usable path string; an empty entry is an error, not 'the default'."""
    from .fsio import check_path_text

    if inputs is None:
        return list(DEFAULT_INPUTS)
    if isinstance(inputs, str):
        parts = re.split(r"[\n,]", inputs) if inputs.strip() else []
    elif isinstance(inputs, Sequence):
        parts = list(inputs)
    else:
        raise InputError(f"inputs: {inputs!r} is not a list of paths (fix: give a list such as [\"input\"])")
    if not parts:
        raise InputError("inputs: no room files or folders given (fix: name at least one, e.g. [\"input\"])")
    return [check_path_text(p, f"inputs[{i}]") for i, p in enumerate(parts)]


def _room_files(inputs: Sequence[str], base: Path) -> list[tuple[str, Path]]:
    """(label relative to the data folder, file) of every room file named by ``inputs``, sorted, no repeats."""
    found: dict[Path, str] = {}
    for entry in inputs:
        target = resolve_under(base, entry, "inputs")
        if target.is_dir():
            files = room_files_in(target)
            if not files:
                raise InputError(f"inputs: folder {target} holds no *.json room files or *.dxf plans (fix: add "
                                 "rooms or name the files directly)")
        elif target.is_file():
            files = [target]
        else:
            raise InputError(f"inputs: {entry!r} does not exist under the data folder {base} "
                             "(fix: check the path; it is relative to the data folder)")
        for f in files:
            resolved = f.resolve()
            if base.resolve() not in resolved.parents:
                raise InputError(f"inputs: {f} links outside the data folder {base} (fix: copy the file in)")
            found.setdefault(resolved, str(resolved.relative_to(base.resolve())))
    return sorted(((label, path) for path, label in found.items()), key=lambda t: t[0])


# A chunk grows as stages add their records, so load_rooms fills only this share of the XCom guard.
CHUNK_BYTES_SHARE = 0.6


def chunk_rooms(rooms: Sequence[Any], chunk_size: int, max_bytes: int | None = None) -> list[list[Any]]:
    """Split ``rooms`` into consecutive chunks of at most ``chunk_size`` rooms (order kept).

    With ``max_bytes``, a chunk also closes before its JSON would pass that many bytes, so big
    rooms travel in smaller chunks instead of tripping the XCom guard (a room alone always fits
    in a chunk of its own; the guard still names it if it is too big even then).
    """
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InputError(f"chunk_size = {chunk_size}: use 1 <= chunk_size <= {MAX_CHUNK_SIZE}")
    chunks: list[list[Any]] = []
    current: list[Any] = []
    used = 0
    for room in rooms:
        size = len(json.dumps(room, separators=(",", ":"))) + 1 if max_bytes is not None else 0
        if current and (len(current) >= chunk_size or (max_bytes is not None and used + size > max_bytes)):
            chunks.append(current)
            current, used = [], 0
        current.append(room)
        used += size
    if current:
        chunks.append(current)
    return chunks


def _trigger_overrides(detector_standard: str | None, room_type: str | None) -> dict[str, str | None]:
    """The trigger's overrides; ``"from file"`` (the form's default) and empty mean none."""
    return {"detector_standard": detector_standard if detector_standard and detector_standard != FROM_FILE else None,
            "room_type": room_type if room_type and room_type != FROM_FILE else None}


@dataclass(frozen=True)
class LoadedRooms:
    """What ``load_batch`` read: the rooms in chunks, and the files skipped with ``on_invalid='skip'``."""

    chunks: list[list[dict[str, Any]]]
    skipped: tuple[SkippedFile, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """An input file left out of a run (``on_invalid='skip'``), with its one-line error."""

    source: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "error": self.error}


ON_INVALID = ("fail", "skip")


def load_rooms(inputs: str | Sequence[str] | None = None, **options: Any) -> list[list[dict[str, Any]]]:
    """The chunks of :func:`load_batch` (same options) with ``on_invalid='fail'``: any invalid file fails them all."""
    return load_batch(inputs, **options, on_invalid="fail").chunks


def load_batch(
    inputs: str | Sequence[str] | None = None,
    *,
    detector_standard: str | None = FROM_FILE,
    room_type: str | None = FROM_FILE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    base: Path | None = None,
    limits: Limits | None = None,
    output_dir: str | None = None,
    run_id: str | None = None,
    on_invalid: str = "fail",
) -> LoadedRooms:
    """Validate every room file named by ``inputs`` and split the rooms into chunks of room entries.

    Every file is checked before failing, so one run reports every bad file at once. With
    ``on_invalid='fail'`` it raises ``InputError`` naming each file, JSON path and fix; with
    ``'skip'`` the bad files are left out and returned as ``skipped`` (an error only if no room is
    left). A repeated ``grid_id`` counts as invalid (it would overwrite the other's outputs). With
    ``output_dir`` (and ``run_id``), the folder ``publish`` will write is checked first, so a bad
    one fails before any layout work.
    """
    from .importers import read_rooms
    from .runs import check_output_dir, check_run_folder, run_folder_name

    limits = limits or Limits.from_env()
    base = (base or data_dir()).resolve()
    chunk_size = int(chunk_size)
    if on_invalid not in ON_INVALID:
        raise InputError(f"on_invalid = {on_invalid!r}: {did_you_mean(on_invalid, ON_INVALID)}"
                         f"use one of {', '.join(ON_INVALID)}")
    chunk_rooms([], chunk_size)  # validate chunk_size before reading anything
    files = _room_files(_as_list(inputs), base)
    if output_dir is not None:
        room_paths = [path for _, path in files]
        out = check_output_dir(base, output_dir, room_paths)
        if run_id is not None:
            check_run_folder(out / run_folder_name(run_id), run_id, room_paths)
    entries: list[dict[str, Any]] = []
    problems: list[SkippedFile] = []
    ids = RoomIds()
    overrides = _trigger_overrides(detector_standard, room_type)
    for label, path in files:
        try:
            grids = [with_overrides(g, overrides, label, limits) for g in read_rooms(path, limits, data_dir=base)]
        except InputError as exc:
            problems.append(SkippedFile(label, str(exc).replace(str(path), label)))
            continue
        for grid in grids:
            clash = ids.claim(grid.grid_id, label)
            if clash:
                problems.append(SkippedFile(label, clash))
                continue
            entries.append({"source": label, "grid": grid.to_payload(), "stages": []})
    if problems and (on_invalid == "fail" or not entries):
        what = "" if on_invalid == "fail" else " (on_invalid='skip', but no valid room is left)"
        raise InputError(f"{len(problems)} of {len(files)} room files are invalid{what}:\n"
                         + "\n".join(p.error for p in problems))
    for problem in problems:
        log.warning("room_file_skipped", source=problem.source, error=problem.error)
    chunks = chunk_rooms(entries, chunk_size, int(limits.xcom_max_bytes * CHUNK_BYTES_SHARE))
    log.info("rooms_loaded", rooms=len(entries), chunks=len(chunks), chunk_size=chunk_size, skipped=len(problems),
             inputs=_as_list(inputs), data_dir=str(base))
    return LoadedRooms(chunks, tuple(problems))


# ----- the stages -----------------------------------------------------------------------------

StageFn = Callable[["RoomGrid"], Any]


def _decode(entry: Mapping[str, Any], limits: Limits) -> RoomGrid:
    from .grid import parse_room

    if not isinstance(entry, Mapping) or "grid" not in entry:
        raise InputError(f"XCom room entry is not a {{'source', 'grid', 'stages'}} object: {str(entry)[:80]}")
    return parse_room(entry["grid"], f"{entry.get('source', '<xcom>')} (XCom)", limits)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars and arrays become numbers and lists)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _stage_record(outcome: Any, before: RoomGrid) -> dict[str, Any]:
    """A JSON record of one ``StageOutcome``: the winner and why, every candidate, and the tiles it filled.

    ``selection`` is ``outcome.summary()`` verbatim, so ``publish`` writes the same report as the CLI;
    ``added`` lists the tiles the stage filled, so the stage's input grid can be rebuilt exactly.
    """
    from .records import STAGE_COMPONENT

    best = outcome.selected
    component = STAGE_COMPONENT[str(outcome.stage)]
    had = {tuple(t) for t in before.positions(component).tolist()}
    added = [list(t) for t in best.grid.positions(component).tolist() if tuple(t) not in had]
    infeasible = best.infeasible.as_dict() if best.infeasible is not None else None
    record: dict[str, Any] = _jsonable({
        "stage": str(outcome.stage),
        "model": best.model,
        "score": round(float(best.score), 3),
        "confidence": round(float(best.confidence), 4),
        "compliant": bool(best.compliant),
        "placed": int(best.placed),
        "infeasible": infeasible,
        "reason": outcome.reason,
        "duration_s": round(float(outcome.duration_s), 4),
        "timings": outcome.timings(),
        "added": added,
        "selection": outcome.summary(),
    })
    return record


class _StageRunner:
    """The real model call for one stage through ``PipelineRunner`` (imported lazily: numpy/scipy)."""

    def __init__(self, stage: str) -> None:
        from .observability import PipelineTelemetry
        from .observability.task import current_telemetry
        from .runner import DEFAULT_MAX_WORKERS, PipelineRunner

        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; use one of {STAGES}")
        self.stage = stage
        tel = current_telemetry()  # inside a task: record into the task's metrics and spans
        observer = PipelineTelemetry(tel.metrics, tel.tracer) if tel is not None else PipelineTelemetry()
        # Only the light stage races several models; the others run in-process (no pool to start).
        self.runner = PipelineRunner(DEFAULT_MAX_WORKERS if stage == "lights" else 1, observer)

    def __call__(self, grid: RoomGrid) -> Any:
        if self.stage == "lights":
            return self.runner.run_parallel_stage(self.runner.light_models, grid)
        model = self.runner.air_model if self.stage == "air_supply" else self.runner.detector_model
        return self.runner.run_sequential_stage(model, grid)

    def close(self) -> None:
        self.runner.close()


def run_stage_on_chunk(
    stage: str,
    chunk: Sequence[Mapping[str, Any]],
    *,
    fail_on_infeasible: bool = True,
    limits: Limits | None = None,
    run: StageFn | None = None,
) -> list[dict[str, Any]]:
    """Run one stage on every room of a chunk and return the updated chunk (JSON).

    ``run`` maps a grid to a ``runner.StageOutcome``; by default the real ``PipelineRunner`` call
    (the light stage races LightModelA/B/C in a process pool and keeps the best). An infeasible
    room (no compliant layout exists) raises ``InfeasibleRoomError`` naming the blocking rule when
    ``fail_on_infeasible``; otherwise it is kept and reported as non-compliant by ``publish``.
    """
    from .observability.task import room_span

    limits = limits or Limits.from_env()
    own = _StageRunner(stage) if run is None else None
    call: StageFn = own if own is not None else run  # type: ignore[assignment]
    out: list[dict[str, Any]] = []
    try:
        for entry in chunk:
            grid = _decode(entry, limits)
            source = str(entry.get("source", grid.grid_id))
            with structlog.contextvars.bound_contextvars(grid_id=grid.grid_id), room_span(grid, stage):
                outcome = call(grid)
                summary = _stage_record(outcome, grid)
                infeasible = summary["infeasible"]
                if infeasible and fail_on_infeasible:
                    raise InfeasibleRoomError(
                        source, str(infeasible.get("rule", "?")),
                        f"{infeasible.get('reason', 'no compliant layout exists')} (fix: change the room, "
                        "or trigger with on_infeasible='report' to keep it as non-compliant)")
                out.append({"source": source, "grid": outcome.selected.grid.to_payload(),
                            "stages": [*entry.get("stages", []), summary]})
    finally:
        if own is not None:
            own.close()
    return out


# ----- publish --------------------------------------------------------------------------------

def _flatten(chunks: Iterable[Iterable[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    rooms = [entry for chunk in chunks for entry in chunk]
    return sorted(rooms, key=lambda e: str(e.get("source", "")))


def _storage_error(exc: OSError, what: str) -> CeilingGridError:
    """A full disk or I/O error retries (``TransientError``); anything else fails now (``OutputLocationError``)."""
    from .fsio import is_transient

    reason = exc.strerror or str(exc)
    if is_transient(exc):
        return TransientError(f"{what}: {reason} (fix: free disk space or let the storage recover; the task "
                              "retries)")
    return OutputLocationError(f"{what}: {reason} (fix: pick another output_dir or repair the folder; a retry "
                               "cannot help)")


def _clear_stale(out_dir: Path, name: str) -> None:
    """Remove the staging and replaced folders an earlier, killed try of this run left next to its folder."""
    import shutil

    for stale in out_dir.glob(f".{name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _swap_in(staging: Path, run_dir: Path) -> None:
    """Put the complete ``staging`` folder in place of ``run_dir`` (the old one, if any, is removed after)."""
    import secrets
    import shutil

    from .fsio import fsync_dir

    fsync_dir(staging)  # the names of the files written into it are durable before the swap
    old = None
    if run_dir.exists():
        old = run_dir.with_name(f".{run_dir.name}.old-{secrets.token_hex(4)}")
        os.rename(run_dir, old)
    os.rename(staging, run_dir)
    fsync_dir(run_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def publish(
    chunks: Iterable[Iterable[Mapping[str, Any]]],
    *,
    run_id: str,
    output_dir: str = DEFAULT_OUTPUT_DIR,
    base: Path | None = None,
    limits: Limits | None = None,
    skipped: Sequence[SkippedFile] = (),
) -> dict[str, Any]:
    """Evaluate every room and write the run folder ``<output_dir>/<run folder>/`` as one unit.

    The folder (``ceiling_grid.runs.run_folder_name(run_id)``) holds ``<id>.json/.report.json/.svg``
    per room (and ``<id>.luminaire.svg`` for a luminaire from a photometric file), ``summary.json`` and the
    run marker. It is built in a staging folder and swapped in
    whole, so a re-run of the same run id replaces it and ``summary.json`` lists exactly its files;
    a folder of another run is never touched. Returns the summary and logs one ``room_published``
    line per room. A full disk raises ``TransientError`` (retried); other storage faults fail now.
    """
    import secrets
    import shutil

    from .evaluator import evaluate
    from .fsio import write_synced
    from .observability.task import observe_published_room, observe_published_run
    from .outputs import model_export_texts, write_room_outputs
    from .runs import RUN_MARKER, check_output_dir, check_run_folder, marker_text, run_folder_name

    limits = limits or Limits.from_env()
    base = (base or data_dir()).resolve()
    entries = _flatten(chunks)
    sources = [base / str(e["source"]) for e in entries if isinstance(e, Mapping) and e.get("source")]
    out_dir = check_output_dir(base, output_dir, sources)
    name = run_folder_name(run_id)
    run_dir = check_run_folder(out_dir / name, run_id, sources)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _clear_stale(out_dir, name)
        staging = out_dir / f".{name}.staging-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
    except OSError as exc:
        raise _storage_error(exc, f"cannot create the run folder {run_dir}") from exc
    rooms: list[dict[str, Any]] = []
    by_model: dict[str, list[Any]] = {}
    try:
        for entry in entries:
            grid = _decode(entry, limits)
            with structlog.contextvars.bound_contextvars(grid_id=grid.grid_id):
                report = evaluate(grid)
                result = pipeline_result(grid, report, entry.get("stages", []))
                try:
                    paths = write_room_outputs(result, staging, staged=True)
                except OSError as exc:
                    raise _storage_error(exc, f"cannot write the outputs of {grid.grid_id} to {run_dir}") from exc
                final_paths = {kind: run_dir / p.name for kind, p in paths.items()}
                observe_published_room(result, entry, final_paths)
                room = _jsonable(_room_summary(result, entry, final_paths, run_dir))
                log.info("room_published", summary=result.summary_line(), compliant=room["compliant"],
                         lights=room["lights"], air_supply=room["air_supply"],
                         smoke_detectors=room["smoke_detectors"], models=room["models"])
                rooms.append(room)
                by_model.setdefault(str(entry.get("source", "")), []).append(result)
        model_files: list[str] = []
        for label, results in by_model.items():  # an IFC model gets its ceilings back, every space at once
            try:
                for name, text in model_export_texts(base / label, results).items():
                    write_synced(staging / name, text)
                    model_files.append(name)
            except OSError as exc:
                raise _storage_error(exc, f"cannot write the model export of {label} to {run_dir}") from exc
        summary = {
            "run_id": run_id,
            "output_dir": str(run_dir),
            "folder": name,
            "rooms": len(rooms),
            "compliant": sum(1 for r in rooms if r["compliant"]),
            "infeasible": sum(1 for r in rooms if r["infeasible"]),
            "skipped": [f.to_dict() for f in skipped],
            "files": sorted([*(f for r in rooms for f in r["files"]), *model_files]),
            "results": rooms,
        }
        try:
            write_synced(staging / RUN_MARKER, marker_text(run_id))
            write_synced(staging / "summary.json", json.dumps(summary, indent=2, sort_keys=True))
            _swap_in(staging, run_dir)
        except OSError as exc:
            raise _storage_error(exc, f"cannot finish the run folder {run_dir}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    observe_published_run(summary, run_dir)
    log.info("run_published", rooms=summary["rooms"], compliant=summary["compliant"],
             infeasible=summary["infeasible"], skipped=len(skipped), output_dir=str(run_dir))
    return summary


@dataclass(frozen=True)
class StoredOutcome:
    """A stage rebuilt from its XCom record: a ``records.StageRecord``, as ``outputs.build_report`` reads it."""

    stage: str
    record: Mapping[str, Any]

    @property
    def duration_s(self) -> float:
        return float(self.record.get("duration_s", 0.0))

    @property
    def reason(self) -> str:
        return str(self.record.get("reason", ""))

    def summary(self) -> dict[str, Any]:
        return dict(self.record["selection"])

    @property
    def placed(self) -> int:
        return int(self.record.get("placed", 0))

    def timings(self) -> dict[str, Any]:
        return dict(self.record.get("timings") or {"duration_s": self.duration_s})


def pipeline_result(grid: RoomGrid, report: Any, stages: Sequence[Mapping[str, Any]]) -> Any:
    """The runner's ``PipelineResult`` of a room whose stages ran in separate tasks (records from XCom)."""
    from .records import PipelineResult, headline_figures

    outcomes = {str(s["stage"]): StoredOutcome(str(s["stage"]), s) for s in stages}
    duration = sum(o.duration_s for o in outcomes.values())
    return PipelineResult(grid, outcomes, report, duration, headline_figures(grid, report))


def _room_summary(result: Any, entry: Mapping[str, Any], paths: Mapping[str, Path], out_dir: Path) -> dict[str, Any]:
    """One room's line of ``summary.json``: status, counts, chosen models, §8 stage scores, files."""
    from .outputs import readable, regularity_figures

    report = result.report
    grid = result.final_grid
    headline = result.headline
    row: dict[str, Any] = readable({
        "grid_id": grid.grid_id,
        "source": entry.get("source"),
        "status": result.status(),
        "compliant": bool(report.compliant),
        "failed_rules": sorted(set(report.failed_rules())),
        "models": {str(s["stage"]): s["model"] for s in entry.get("stages", [])},
        "scores": {name: round(float(stage.score), 3) for name, stage in report.stages.items()},
        "lights": int(headline["lights"]),
        "air_supply": int(headline["diffusers"]),
        "smoke_detectors": int(headline["detectors"]),
        "em_lux": headline.get("em_lux"),
        "u0": headline.get("u0"),
        "worst_coverage_m": headline.get("worst_coverage_m"),
        "r_cover_m": headline.get("r_cover_m"),
        "infeasible": bool(report.infeasible),
        "regularity": regularity_figures(report),
        "files": sorted(str(Path(p).relative_to(out_dir)) for p in paths.values()),
    })
    return row


