"""`make bench`: speed and scale, quality against references, Airflow overhead -> docs/benchmarks.md + PNGs.

    python -m benchmarks.run                 # full run (about 10-15 minutes on 2 cores)
    python -m benchmarks.run --fast          # one repeat, no 200x200, no Airflow (BENCH_FAST=1)
    python -m benchmarks.run --before REV    # also time REV's code in the same run (BENCH_BEFORE=REV)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .machine import load_average, machine_info
from .rooms import DEFAULT_ROOM_COUNT, DEFAULT_SEED, generate_rooms, large_rooms
from .speed import DEFAULT_SIZES, run_series, startup_times

__all__ = ["main", "run_airflow"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DOC = REPO / "docs" / "benchmarks.md"
DEFAULT_IMG_DIR = REPO / "docs" / "img"
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "latest.json"
AIRFLOW_SCRIPT = REPO / "benchmarks" / "bench_airflow.py"
FAST_SIZES = (10, 25, 50, 100)
AIRFLOW_TIMEOUT_S = 900
STARTUP_ROOM = "open_plan"  # the 24 x 14 sample room of the whole-process `ceiling-grid run` target


@contextlib.contextmanager
def _worktree(rev: str) -> Any:
    """A temporary detached git worktree of ``rev`` (its bytecode written, like `make setup` does)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cg_before_") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(path), rev], cwd=REPO, check=True)
        try:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(path / "src")], check=False,
                           capture_output=True)
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)


def _repeats(full: bool) -> Any:
    def repeats(_cells: int) -> int:
        # three runs of every size, 200 x 200 included: this machine's speed moves by a third between minutes,
        # and one run made a target read PASS or FAIL by luck
        return 3 if full else 1

    return repeats


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_airflow(script: Path = AIRFLOW_SCRIPT, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Run ``bench_airflow.py`` (it starts and stops its own local Airflow stack); return its table and JSON."""
    if not script.exists():
        return {"markdown": f"`{script.relative_to(REPO)}` is missing, so the Airflow figures were not measured."}
    json_out = REPO / "benchmarks" / "results" / "airflow.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    help_text = subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True,
                               timeout=120, check=False).stdout
    args = [sys.executable, str(script), *extra]
    if "--json" in help_text:
        args += ["--json", str(json_out)]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=AIRFLOW_TIMEOUT_S, check=False)
    out: dict[str, Any] = {"exit_code": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1)}
    if "--json" in help_text and json_out.exists():
        with contextlib.suppress(ValueError):
            out["json"] = json.loads(json_out.read_text())
    parts = [_airflow_markdown(out.get("json")), "Output of `benchmarks/bench_airflow.py`:",
             "```\n" + (proc.stdout.strip() or "(no output)") + "\n```"]
    if proc.returncode != 0:
        parts.append(f"**bench_airflow.py exited {proc.returncode}:**\n\n```\n{proc.stderr.strip()[-3000:]}\n```")
    out["markdown"] = "\n\n".join(p for p in parts if p)
    out["target_rows"] = _airflow_targets(out.get("json"))
    return out


def _airflow_markdown(data: Any) -> str:
    """The Airflow figures as a table, chunk sizes side by side with the in-process baseline."""
    from .report import markdown_table

    if not isinstance(data, dict):
        return ""
    ip = data.get("floor_inprocess_s")
    rows: list[list[Any]] = [["1 room, in-process `ceiling-grid run`", f"{data.get('cli_one_s', 0):.1f}", "", ""]]
    if isinstance(data.get("one_room_s"), int | float):
        runs = ", ".join(f"{v:.1f}" for v in data.get("one_room_runs_s", []))
        rows.append(["1 room, Airflow REST trigger → success (median)", f"{data['one_room_s']:.1f}", "", runs])
    rows.append([f"{data.get('rooms')} rooms, in-process `ceiling-grid run`", f"{ip:.1f}", "1.00×", "baseline"])
    for c in data.get("chunks", []):
        if _failed(c):
            rows.append([f"{data.get('rooms')} rooms, Airflow, chunk_size {c['chunk_size']}",
                         f"failed after {c['seconds']:.1f}" if "seconds" in c else "failed", "–",
                         c.get("error") or c.get("failed") or f"run state {c.get('state')}"])
            continue
        rows.append([f"{data.get('rooms')} rooms, Airflow, chunk_size {c['chunk_size']}", f"{c['seconds']:.1f}",
                     f"{c['seconds'] / ip:.2f}×" if ip else "–",
                     f"{c.get('task_instances')} task instances, {c.get('task_seconds', 0):.0f} task-seconds"])
    return markdown_table(["scenario", "seconds", "vs in-process", "detail"], rows)


def _failed(chunk: dict[str, Any]) -> bool:
    """A floor run that did not end in success (no time, or a failed/other final state)."""
    return "seconds" not in chunk or chunk.get("state", "success") != "success"


def _airflow_targets(data: Any) -> list[list[Any]]:
    """PASS/FAIL rows from bench_airflow's JSON, when it names the figures we know."""
    from .report import TARGETS, _pf

    if not isinstance(data, dict):
        return []
    rows: list[list[Any]] = []
    one = data.get("one_room_s") or data.get("trigger_to_success_s")
    if isinstance(one, int | float):
        rows.append(["Airflow trigger-to-success, one room", f"≤ {TARGETS['airflow_one_room_s']:.0f} s",
                     f"{one:.1f} s", _pf(one <= TARGETS["airflow_one_room_s"])])
    ip = data.get("floor_inprocess_s")
    if isinstance(ip, int | float):
        limit = TARGETS["airflow_ratio"] * ip + TARGETS["airflow_slack_s"]
        limit_text = f"≤ {TARGETS['airflow_ratio']:g} × in-process + {TARGETS['airflow_slack_s']:g} s"
        for c in data.get("chunks", []):
            if _failed(c):
                why = c.get("error") or c.get("failed") or f"run state {c.get('state')}"
                rows.append([f"{data.get('rooms')}-room floor on Airflow, chunk_size {c['chunk_size']}",
                             limit_text, f"run failed: {why[:90]}", _pf(False)])
                continue
            af = c["seconds"]
            rows.append([f"{data.get('rooms')}-room floor on Airflow, chunk_size {c['chunk_size']}",
                         limit_text, f"{af:.1f} s vs in-process {ip:.1f} s (limit {limit:.1f} s)",
                         _pf(af <= limit)])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=os.environ.get("BENCH_FAST", "") not in ("", "0"),
                        help="one repeat, sizes up to 100, no Airflow (default from BENCH_FAST)")
    parser.add_argument("--no-airflow", action="store_true", help="skip the Airflow part")
    parser.add_argument("--before", default=os.environ.get("BENCH_BEFORE") or None, metavar="REV",
                        help="also time this git revision's code (a temporary worktree) in the same run, for the "
                             "before/after table (default from BENCH_BEFORE; e.g. b87fb05)")
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="square sizes (tiles a side)")
    parser.add_argument("--rooms", type=int, default=DEFAULT_ROOM_COUNT, help="generated quality rooms")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--samples", type=Path, default=REPO / "data" / "input", help="folder of sample rooms")
    parser.add_argument("--out", type=Path, default=DEFAULT_DOC)
    parser.add_argument("--img-dir", type=Path, default=DEFAULT_IMG_DIR)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="raw records as JSON")
    parser.add_argument("--note", action="append", default=[], help="extra line for the Notes section")
    parser.add_argument("--reuse-airflow", action="store_true", help="with --reuse: take the Airflow records too")
    parser.add_argument("--remeasure-speed", action="store_true",
                        help="with --reuse: measure speed and start-up again, keep the quality (and Airflow) records")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="take machine, speed and quality records from this results JSON; run only the rest")
    args = parser.parse_args(argv)

    from ceiling_grid.grid import load_room
    from ceiling_grid.observability.logging import configure_cli_logging

    configure_cli_logging(json=True, level="error")
    from .quality import run_quality
    from .report import render_markdown

    t_start = time.perf_counter()
    machine = machine_info()
    _log(f"machine {machine['cpu_model']} x{machine['logical_cpus']}, load {machine['load_average']}")
    sizes = args.sizes if args.sizes is not None else (FAST_SIZES if args.fast else DEFAULT_SIZES)
    samples = sorted(p for p in args.samples.glob("*.json") if not p.name.endswith(".report.json"))
    reused: dict[str, Any] = json.loads(args.reuse.read_text()) if args.reuse else {}
    if reused:
        machine, speed, quality = reused["machine"], reused["speed"], reused["quality"]
        startup = reused.get("startup", [])
        sizes = sorted({r["width"] for r in speed if r.get("kind") == "square"})
        _log(f"reusing speed and quality records of {machine['date_utc']} from {args.reuse}")
    if reused and args.remeasure_speed:
        now = machine_info()
        args.note.append(f"Speed and start-up re-measured on {now['date_utc']}; the quality set from the run of "
                         f"{machine['date_utc']}" + (" and the Airflow figures" if args.reuse_airflow else "")
                         + f" ({args.reuse.name}).")
        machine = {**now, "quality_date_utc": machine["date_utc"]}
    if not reused or args.remeasure_speed:
        speed = run_series(sizes, samples, _repeats(not args.fast), workers=args.workers, progress=_log)
        open_plan = next((p for p in samples if p.stem == STARTUP_ROOM), samples[0])
        startup = [{**startup_times(open_plan), "version": "after"}]
        _log(f"startup after: {startup[0]}")
        if args.before:
            with _worktree(args.before) as old:
                speed += run_series(sizes, [old / "data" / "input" / p.name for p in samples],
                                    _repeats(False), workers=args.workers, progress=_log, repo=old,
                                    version=f"before ({args.before})")
                startup.append({**startup_times(old / "data" / "input" / open_plan.name, repo=old),
                                "version": f"before ({args.before})"})
                _log(f"startup before: {startup[-1]}")
    if not reused:
        rooms = [("sample", load_room(p)) for p in samples]
        rooms += [("generated", g) for g in generate_rooms(args.rooms, args.seed)]
        rooms += [("large", g) for g in large_rooms()]
        quality = run_quality(rooms, workers=args.workers, progress=_log)

    airflow = None
    if reused.get("airflow") and args.reuse_airflow:
        airflow = reused["airflow"]
        stdout = airflow.get("markdown", "").split("Output of `benchmarks/bench_airflow.py`:", 1)[-1]
        airflow.update(markdown=_airflow_markdown(airflow.get("json")) + "\n\nOutput of "
                       "`benchmarks/bench_airflow.py`:" + stdout, target_rows=_airflow_targets(airflow.get("json")))
        _log("reusing the Airflow records too")
    elif not (args.fast or args.no_airflow):
        _log("airflow: running benchmarks/bench_airflow.py (starts its own local stack)")
        airflow = run_airflow()
        _log(f"airflow: exit {airflow.get('exit_code')} in {airflow.get('wall_s')} s")

    args.results.parent.mkdir(parents=True, exist_ok=True)
    settings = {"fast": args.fast, "sizes": "/".join(map(str, sizes)), "workers": args.workers,
                "generated_rooms": args.rooms, "seed": args.seed, "before": args.before}
    if reused and args.remeasure_speed:
        took = f"Speed part re-measured in {time.perf_counter() - t_start:.0f} s."
    elif reused and args.reuse_airflow:
        took = f"Document regenerated from the recorded results of {machine['date_utc']} (nothing re-measured)."
    elif reused:
        took = (f"Total wall time {time.perf_counter() - t_start:.0f} s (Airflow part only; speed and quality "
                f"records reused from the run of {machine['date_utc']}).")
    else:
        took = f"Total benchmark wall time {time.perf_counter() - t_start:.0f} s."
    notes = [took, *args.note,
             f"Raw records: `{args.results.relative_to(REPO) if args.results.is_relative_to(REPO) else args.results}`."]
    findings_path = REPO / "benchmarks" / "findings.md"
    findings = [line[2:].strip() for line in findings_path.read_text().splitlines()
                if line.startswith("- ")] if findings_path.exists() else []
    load_end = reused.get("load_end") if reused else load_average()
    if not reused or args.remeasure_speed:
        args.results.write_text(json.dumps({"machine": machine, "speed": speed, "quality": quality,
                                            "startup": startup, "airflow": airflow, "load_end": load_end},
                                           indent=1, default=str))
    elif airflow is not None:
        args.results.write_text(json.dumps({**reused, "airflow": airflow, "airflow_load_end": load_average()},
                                           indent=1, default=str))
    text = render_markdown(machine, speed, quality, airflow, args.out, args.img_dir, notes=notes, settings=settings,
                           load_end=load_end, findings=findings, startup=startup)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    _log(f"wrote {args.out} in {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
