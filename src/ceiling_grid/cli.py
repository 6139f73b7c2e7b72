"""The ``ceiling-grid`` command: run rooms through the pipeline, validate room files, render a plan."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .config import (
    DEFAULT_CLI_LOG_LEVEL,
    DEFAULT_COLUMN_LAYERS,
    DEFAULT_ROOM_LAYERS,
    DETECTOR_STANDARDS,
    ROOM_TYPES,
)
from .errors import CeilingGridError, InputError, RoomValidationError, did_you_mean

if TYPE_CHECKING:
    from .grid import RoomGrid
    from .observability import PipelineTelemetry

# Heavy modules (numpy, pydantic, structlog, the pipeline) are imported by the command that needs them,
# so `ceiling-grid --help` and a usage error start fast.

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0  # every room valid and compliant
EXIT_FAILED = 1  # some room not compliant, infeasible, or a model failed
EXIT_USAGE = 2  # invalid input file or command-line usage
DEFAULT_WORKERS = 3
PUSH_JOB = "ceiling_grid_cli"

STANDARD_CHOICES = tuple(sorted(str(k) for k in DETECTOR_STANDARDS))
ROOM_TYPE_CHOICES = tuple(sorted(ROOM_TYPES))
LOG_LEVELS = ("debug", "info", "warning", "error")


def _one_of(options: Sequence[str]) -> dict[str, Any]:
    """argparse ``type`` and ``metavar`` for one of ``options``: a miss says which one was probably meant
    (argparse's own ``choices`` only lists them)."""

    def parse(value: str) -> str:
        if value in options:
            return value
        raise argparse.ArgumentTypeError(f"{value!r}: {did_you_mean(value, options)}use one of {', '.join(options)}")

    return {"type": parse, "metavar": "{" + ",".join(options) + "}"}

EPILOG = """\
examples:
  ceiling-grid run data/input --out data/output/cli
      lay out every room file in the folder (sorted; *.report.json skipped)
  ceiling-grid run room.json other.json --out out --standard bs5839_1 --workers 2
  ceiling-grid run data/input --out out --json-logs --log-level info 2> events.jsonl
  ceiling-grid validate data/input/*.json
  ceiling-grid render out/room-001.json --out room-001.svg
  ceiling-grid import model.ifc plan.dxf floor/meeting.json --out rooms/
      one room per IfcSpace / DXF outline / metric footprint, written as room files, with a table
  ceiling-grid photometry fixtures/panel.ies fixtures/troffer.ldt --svg plots/
      one JSON object per file (lumens, peak cd, beam/field angles, efficacy), polar curves as SVG

exit codes: 0 every room valid and compliant; 1 a room is not compliant or infeasible
(or a model failed); 2 an input file is invalid or the command line is wrong.
Environment: PROMETHEUS_PUSHGATEWAY_URL pushes run metrics; OTEL_EXPORTER_OTLP_ENDPOINT exports traces.
"""


# ----- input discovery ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    path: str
    message: str


def expand_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[_Problem]]:
    """Files as given; folders as their ``*.json`` files sorted by name, without ``*.report.json``."""
    files: list[Path] = []
    problems: list[_Problem] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            from .batch import room_files_in

            found = room_files_in(p)
            if not found:
                problems.append(_Problem(raw, f"{raw}: folder has no *.json room files (fix: pass a folder of rooms)"))
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            problems.append(_Problem(raw, f"{raw}: file not found (fix: check the path)"))
    return files, problems


def out_dir_problem(out_dir: Path, room_files: Sequence[Path]) -> str | None:
    """Why ``--out`` cannot take this run's outputs (a file, or the folder of an input room), or None."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"--out {out_dir}: is a file, not a folder (fix: pass a folder; it is created if missing)"
    target = out_dir.resolve()
    for room in room_files:
        if room.resolve().parent == target:
            return (f"--out {out_dir}: holds the input room {room} and would overwrite it (fix: write outputs to "
                    "another folder, e.g. --out data/output/cli)")
    return None


def one_line(exc: BaseException) -> str:
    """A single-line message for an input error (first problem, and how many more there are)."""
    if isinstance(exc, RoomValidationError) and exc.issues:
        first = exc.issues[0].render(exc.source)
        more = len(exc.issues) - 1
        if more:
            first += f" (+{more} more; `ceiling-grid validate {exc.source}` lists them all)"
        return first
    return " ".join(str(exc).split())


def _data_dir() -> Path | None:
    """``$CEILING_GRID_DATA_DIR``: where a room's photometric file is looked up after the room's own folder."""
    env = os.environ.get("CEILING_GRID_DATA_DIR")
    return Path(env) if env else None


def load_with_overrides(path: Path, standard: str | None, room_type: str | None) -> list[RoomGrid]:
    """Every room in ``path`` (one per room file, one per outline of a DXF plan) with ``--standard`` /
    ``--room-type`` applied (None: as in the file)."""
    from .batch import with_overrides
    from .importers import read_rooms

    return [with_overrides(grid, {"detector_standard": standard, "room_type": room_type}, str(path))
            for grid in read_rooms(path, data_dir=_data_dir())]


# ----- progress -------------------------------------------------------------------------------


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr (TTY only), or a no-op advancing callable."""
    if not enabled:
        yield lambda _description="": None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
        auto_refresh=False,  # no refresh thread: a room's light models may fork workers (executor)
    ) as progress:
        task = progress.add_task("rooms", total=total)
        progress.refresh()

        def advance(description: str = "") -> None:
            progress.update(task, advance=1, description=description or "rooms")
            progress.refresh()

        yield advance


# ----- commands -------------------------------------------------------------------------------


def _room_files(inputs: Sequence[str]) -> tuple[list[Path], int]:
    """The room files named by ``inputs``; each unusable input is printed as one line and sets EXIT_USAGE."""
    files, problems = expand_inputs(inputs)
    for problem in problems:
        print(problem.message, file=sys.stderr)
    return files, EXIT_USAGE if problems else EXIT_OK


def _load_rooms(args: argparse.Namespace) -> tuple[list[tuple[Path, RoomGrid]], int]:
    """Every room of the inputs with the overrides applied, and the exit code so far (unique ids enforced)."""
    files, code = _room_files(args.inputs)
    from .batch import RoomIds

    ids = RoomIds()
    rooms: list[tuple[Path, RoomGrid]] = []
    for path in files:
        try:
            grids = load_with_overrides(path, args.standard, args.room_type)
        except InputError as exc:
            print(one_line(exc), file=sys.stderr)
            code = EXIT_USAGE
            continue
        for grid in grids:
            clash = ids.claim(grid.grid_id, str(path))
            if clash:
                print(clash, file=sys.stderr)
                code = EXIT_USAGE
                continue
            rooms.append((path, grid))
    return rooms, code


def cmd_run(args: argparse.Namespace) -> int:
    from .executor import DEFAULT_POOL_MIN_TILES, pool_pays
    from .logs import get_logger
    from .outputs import atomic_write_text, model_export_texts, write_room_outputs
    from .runner import PipelineRunner

    rooms, code = _load_rooms(args)
    if not rooms:
        return code or EXIT_USAGE

    out_dir = Path(args.out)
    refusal = out_dir_problem(out_dir, [path for path, _grid in rooms])
    if refusal:
        print(refusal, file=sys.stderr)
        return EXIT_USAGE
    show_bar = len(rooms) > 1 and sys.stderr.isatty()
    telemetry = _telemetry()
    workers = args.workers
    if workers > 1 and not any(pool_pays(grid) for _path, grid in rooms):
        workers = 1  # no room is big enough for the pool to pay: do not start it
        get_logger("ceiling_grid.cli").info(
            "light_models_in_process", rooms=len(rooms), workers_asked=args.workers,
            reason=f"every room has fewer than {DEFAULT_POOL_MIN_TILES} tiles: the pool cannot pay")
    runner = PipelineRunner(max_workers=workers, observer=telemetry)
    by_model: dict[Path, list[Any]] = {}
    try:
        with runner, _progress(len(rooms), show_bar) as advance:
            for path, grid in rooms:
                try:
                    result = runner.run_full_pipeline(grid)
                    write_room_outputs(result, out_dir, timings=args.timings)
                    by_model.setdefault(path, []).append(result)
                except InputError as exc:
                    print(one_line(exc), file=sys.stderr)
                    code = max(code, EXIT_USAGE)
                except CeilingGridError as exc:
                    print(f"{grid.grid_id}: ERROR {one_line(exc).removeprefix(grid.grid_id + ': ')}")
                    code = max(code, EXIT_FAILED)
                except OSError as exc:
                    print(
                        f"{grid.grid_id}: ERROR cannot write outputs to {out_dir}: {exc.strerror or exc} "
                        "(fix: check the folder exists and is writable)"
                    )
                    code = max(code, EXIT_FAILED)
                else:
                    print(result.summary_line(), flush=True)
                    if not result.report.compliant:
                        code = max(code, EXIT_FAILED)
                advance(grid.grid_id)
        for path, results in by_model.items():  # an IFC model gets its ceilings back, every room of it at once
            for name, text in model_export_texts(path, results).items():
                atomic_write_text(out_dir / name, text)
                print(f"{path}: ceilings of {len(results)} spaces -> {out_dir / name}", flush=True)
    finally:
        _send_telemetry(telemetry)
    return code


def _telemetry() -> PipelineTelemetry | None:
    """Metrics and spans for the run, only where they leave the process (a Pushgateway or OTLP endpoint set)."""
    from .observability import export_configured

    if not export_configured():
        return None
    from .observability import PipelineTelemetry

    return PipelineTelemetry()


def _send_telemetry(telemetry: PipelineTelemetry | None) -> None:
    if telemetry is not None:
        telemetry.metrics.push(PUSH_JOB, {"instance": os.uname().nodename})
        telemetry.tracer.force_flush()
        telemetry.tracer.shutdown()


def cmd_validate(args: argparse.Namespace) -> int:
    from .importers import read_rooms

    files, code = _room_files(args.inputs)
    for path in files:
        try:
            grids = read_rooms(path, data_dir=_data_dir())
        except RoomValidationError as exc:
            for issue in exc.issues:
                print(issue.render(exc.source), file=sys.stderr)
            code = EXIT_USAGE
        except InputError as exc:
            print(one_line(exc), file=sys.stderr)
            code = EXIT_USAGE
        else:
            for grid in grids:
                print(
                    f"{path}: OK {grid.grid_id} {grid.width}x{grid.height} tiles of {grid.tile_size_m:g} m, "
                    f"{grid.room_type}, {grid.detector_standard}"
                )
    return code


def cmd_render(args: argparse.Namespace) -> int:
    from .evaluator import evaluate
    from .outputs import atomic_write_text
    from .render import render_svg

    src = Path(args.grid)
    try:
        from .grid import load_room

        grid = load_room(src, data_dir=_data_dir())
    except InputError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_USAGE
    target = Path(args.out) if args.out else src.with_suffix(".svg")
    report = evaluate(grid)
    atomic_write_text(target, render_svg(grid, report))
    status = "COMPLIANT" if report.compliant else f"NOT COMPLIANT ({', '.join(report.failed_rules())})"
    print(f"{grid.grid_id}: {status} -> {target}")
    return EXIT_OK


def cmd_photometry(args: argparse.Namespace) -> int:
    import json

    from .photometric_files import read_photometry, summary

    code = EXIT_OK
    svg_dir = Path(args.svg) if args.svg else None
    if svg_dir is not None and svg_dir.exists() and not svg_dir.is_dir():
        print(f"--svg {svg_dir}: is a file, not a folder (fix: pass a folder; it is created if missing)",
              file=sys.stderr)
        return EXIT_USAGE
    for raw in args.files:
        try:
            dist = read_photometry(raw)
        except InputError as exc:
            print(one_line(exc), file=sys.stderr)
            code = EXIT_USAGE
            continue
        out = {"path": raw, **summary(dist)}
        if svg_dir is not None:
            from .outputs import atomic_write_text
            from .polar import polar_svg

            svg_dir.mkdir(parents=True, exist_ok=True)
            target = svg_dir / f"{Path(raw).stem}.polar.svg"
            atomic_write_text(target, polar_svg(dist))
            out["svg"] = str(target)
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return code


def cmd_import(args: argparse.Namespace) -> int:
    from .geometry import geometry_of
    from .grid import TileState
    from .importers import DxfOptions, read_rooms
    from .outputs import atomic_write_text, dumps_grid

    files, code = _room_files(args.inputs)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"--out {out}: is a file, not a folder (fix: pass a folder; it is created if missing)", file=sys.stderr)
        return EXIT_USAGE
    rows: list[tuple[str, ...]] = []
    from .batch import RoomIds, with_overrides

    ids = RoomIds()
    fields = {k: v for k, v in (("ceiling_height_m", args.ceiling_height), ("room_type", args.room_type),
                                ("detector_standard", args.standard)) if v is not None}
    dxf = DxfOptions(room_layers=tuple(args.room_layer or DEFAULT_ROOM_LAYERS),
                     column_layers=tuple(args.column_layer or DEFAULT_COLUMN_LAYERS), tile_m=args.tile_size,
                     fields=fields)
    loaded: list[tuple[Path, RoomGrid]] = []
    for path in files:
        try:
            loaded.extend((path, with_overrides(g, fields, str(path)))
                          for g in read_rooms(path, data_dir=_data_dir(), dxf=dxf))
        except InputError as exc:
            print(one_line(exc), file=sys.stderr)
            code = EXIT_USAGE
    for path, grid in loaded:
        target = out / f"{grid.grid_id}.json"
        clash = ids.claim(grid.grid_id, str(path))
        problem = clash or (f"{target}: would overwrite the input {path} (fix: import into another folder)"
                            if target.resolve() == path.resolve() else None)
        if problem is None and target.exists() and not args.force:
            problem = f"{target}: exists (fix: pass --force to replace it, or import into an empty folder)"
        if problem:
            print(problem, file=sys.stderr)
            code = EXIT_USAGE
            continue
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, dumps_grid(grid))
        geo = geometry_of(grid)
        columns = int(grid.arrays.is_state(TileState.COLUMN).sum())
        footprint = (grid.metadata.get("placement") or {}).get("footprint_area_m2", geo.area_m2)
        rows.append((grid.grid_id, f"{float(footprint):.1f}", f"{grid.width}x{grid.height}",
                     str(int(geo.ceiling.sum())), f"{grid.ceiling_height_m:g}", str(columns), str(target)))
    if rows:
        head = ("room", "area m2", "grid", "ceiling tiles", "height m", "column tiles", "written")
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        for r in (head, *rows):
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return code


# ----- parser ---------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ceiling-grid",
        description="Lay out a suspended ceiling per room (luminaires: best of three models, then supply "
        "diffusers, then smoke detectors) and check the result against the rules.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="lay out rooms and write <id>.json, <id>.report.json, <id>.svg",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="room files (.json, .dxf, .ifc) or folders of them")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    run.add_argument("--standard", **_one_of(STANDARD_CHOICES),
                     help="override every room's detector_standard")
    run.add_argument("--room-type", **_one_of(ROOM_TYPE_CHOICES),
                     help="override every room's room_type")
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"processes for the light models, at most one per core (default {DEFAULT_WORKERS}; 1 = "
             "in-process; rooms under 100 x 100 tiles always run in-process, where forking cannot pay)",
    )
    run.add_argument(
        "--json-logs",
        action="store_true",
        help="JSON-lines log events on stderr (default on a TTY: human-readable; otherwise JSON)",
    )
    run.add_argument(
        "--log-level",
        default=DEFAULT_CLI_LOG_LEVEL,
        **_one_of(LOG_LEVELS),
        help=f"log events at this level or above (default {DEFAULT_CLI_LOG_LEVEL})",
    )
    run.add_argument(
        "--timings",
        action="store_true",
        help="add wall-clock durations to <id>.report.json (makes reruns differ byte-wise)",
    )
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check room files against the schema and limits only")
    val.add_argument("inputs", nargs="+", metavar="INPUT", help="room files (.json, .dxf, .ifc) or folders of them")
    val.set_defaults(func=cmd_validate)

    ren = sub.add_parser("render", help="re-evaluate a final grid and render its SVG plan")
    ren.add_argument("grid", metavar="GRID_JSON", help="a room file (e.g. an <id>.json output)")
    ren.add_argument("--out", metavar="SVG", help="SVG path (default: GRID_JSON with .svg)")
    ren.set_defaults(func=cmd_render)

    imp = sub.add_parser(
        "import",
        help="turn IFC models, DXF plans and polygon footprints into standard room files",
        description="Lay the ceiling grid over each room footprint (on the room's own axes, cut borders "
        "balanced; docs/rules.md §1.5) and write <grid_id>.json room files, then print a table of the rooms. "
        "An IFC model gives one room per IfcSpace (cut at its ceiling; IFC2X3 and IFC4); a DXF plan one room per "
        "closed outline on a room layer, named by the text inside it, units from $INSUNITS. `run`, `validate` and "
        "the DAG's inputs also take these files directly.",
    )
    imp.add_argument("inputs", nargs="+", metavar="FILE", help=".ifc models, .dxf plans or polygon-format .json rooms")
    imp.add_argument("--out", required=True, metavar="DIR", help="folder for the room files (created if missing)")
    imp.add_argument("--force", action="store_true", help="replace room files that already exist in DIR")
    imp.add_argument("--room-layer", action="append", metavar="NAME",
                     help="DXF layer with room outlines (repeatable; default: " + ", ".join(DEFAULT_ROOM_LAYERS) + ")")
    imp.add_argument("--column-layer", action="append", metavar="NAME",
                     help="DXF layer with columns (repeatable; default: " + ", ".join(DEFAULT_COLUMN_LAYERS) + ")")
    imp.add_argument("--tile-size", type=float, default=0.6, metavar="M", help="grid module in m (0.6096 for 2 ft)")
    imp.add_argument("--ceiling-height", type=float, metavar="M", help="ceiling height for every room")
    imp.add_argument("--room-type", **_one_of(ROOM_TYPE_CHOICES),
                     help="room type for every room")
    imp.add_argument("--standard", **_one_of(STANDARD_CHOICES),
                     help="detector standard for every room")
    imp.set_defaults(func=cmd_import)

    pho = sub.add_parser(
        "photometry",
        help="read IES LM-63 / EULUMDAT files and print one JSON summary per file",
        description="Print, per file, one JSON object: manufacturer, catalogue number, symmetry, photometric "
        "type, total lumens integrated from the candela table (zonal lumens), maximum candela, beam (50 %%) and "
        "field (10 %%) angles in the C0-C180 and C90-C270 planes, input watts and efficacy.",
    )
    pho.add_argument("files", nargs="+", metavar="FILE", help=".ies or .ldt files")
    pho.add_argument("--svg", metavar="DIR", help="also write DIR/<name>.polar.svg, the polar candela curves")
    pho.set_defaults(func=cmd_photometry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ceiling-grid``; returns the exit code (see ``--help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    json_logs = True if getattr(args, "json_logs", False) else None
    from .observability.logging import configure_cli_logging

    configure_cli_logging(json=json_logs, level=getattr(args, "log_level", DEFAULT_CLI_LOG_LEVEL))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def console_main() -> NoReturn:
    """The ``ceiling-grid`` console script: :func:`main`, then exit without tearing the interpreter down.

    The exit handlers still run (pools, log handlers, finalizers) and stdout and stderr are flushed; only
    the module teardown is skipped, which costs about 0.1 s after numpy and scipy have been imported.
    """
    try:
        code = main()
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (e.g. `| head`): nothing more to write
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
