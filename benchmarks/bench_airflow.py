#!/usr/bin/env python3
"""Benchmark (not a test): Airflow trigger-to-success for one room, and a floor of rooms through mapped chunks.

Compares the DAG on a real local stack (``scripts/stack.py``: SQLite + LocalExecutor, separate
processes, a temp AIRFLOW_HOME) with the in-process ``ceiling-grid run`` on the same rooms.
Targets (issue 13): one room <= 5 s trigger-to-success; the floor <= 1.3x the in-process time + 20 s.

    .venv/bin/python benchmarks/bench_airflow.py                       # 200 rooms, chunk sizes 10,25,40
    .venv/bin/python benchmarks/bench_airflow.py --rooms 60 --chunk-sizes 5,20 --repeats 2

The floor is the sample rooms of ``data/input`` repeated with distinct grid ids (deterministic).
Timings depend on the machine and on whatever else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ROOMS = REPO / "data" / "input"
ONE_ROOM_TARGET_S = 5.0
FLOOR_FACTOR = 1.3
FLOOR_SLACK_S = 20.0
DEFAULT_PORT = 28085


def load_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ceiling_grid_stack_script", REPO / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_floor(folder: Path, n: int) -> None:
    """``n`` rooms: the sample rooms cycled, each with its own grid id."""
    samples = sorted(p for p in SAMPLE_ROOMS.glob("*.json") if not p.name.endswith(".report.json"))
    folder.mkdir(parents=True)
    for i in range(n):
        src = samples[i % len(samples)]
        data = json.loads(src.read_text())
        data["grid_id"] = f"{src.stem}-{i:03d}"
        (folder / f"{data['grid_id']}.json").write_text(json.dumps(data))


def cli_run(inputs: Path, out: Path) -> float:
    """Wall time of ``ceiling-grid run`` (in-process pipeline, no Airflow) on ``inputs``."""
    exe = Path(sys.executable).parent / "ceiling-grid"
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "run", str(inputs), "--out", str(out)], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1 = some room not compliant: still a full run
        raise SystemExit(f"ceiling-grid run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def airflow_run(stack: Any, client: Any, conf: dict[str, Any], timeout: float) -> tuple[float, dict[str, Any]]:
    """Trigger over REST and wait for a terminal state; returns (trigger-to-end seconds, task facts)."""
    t0 = time.perf_counter()
    run_id = stack.trigger(client, conf)
    run = stack.wait_run(client, run_id, timeout=timeout, poll=0.1)
    elapsed = time.perf_counter() - t0
    tis = stack.task_instances(client, run_id)
    busy = sum(ti["duration"] or 0.0 for ti in tis)
    facts: dict[str, Any] = {"run_id": run_id, "state": run["state"], "task_instances": len(tis),
                             "task_seconds": busy}
    if run["state"] != "success":
        failed = [ti for ti in tis if ti["state"] == "failed"]
        if failed:
            events = stack.task_log(client, run_id, failed[0]["task_id"], failed[0]["try_number"] or 1,
                                    failed[0]["map_index"])
            errors = [mod_describe(e) for e in events if e.get("event") == "input_rejected"]
            facts["error"] = (errors or [f"{failed[0]['task_id']} failed"])[0][:160]
    return elapsed, facts


def mod_describe(event: dict[str, Any]) -> str:
    return str(event.get("error") or event.get("event"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--chunk-sizes", default="10,25,40")
    parser.add_argument("--repeats", type=int, default=3, help="single-room runs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, outputs)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file (for make bench)")
    args = parser.parse_args()
    chunk_sizes = [int(c) for c in args.chunk_sizes.split(",") if c]

    mod = load_stack()
    tmp = Path(tempfile.mkdtemp(prefix="cg_bench_"))
    data = tmp / "data"
    make_floor(data / "floor", args.rooms)
    (data / "one").mkdir(parents=True)
    shutil.copy(SAMPLE_ROOMS / "private_office.json", data / "one" / "private_office.json")

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; temp: {tmp}")
    cli_one = cli_run(data / "one", tmp / "cli_one")
    cli_floor = cli_run(data / "floor", tmp / "cli_floor")
    print(f"in-process ceiling-grid run: 1 room {cli_one:.1f} s, {args.rooms} rooms {cli_floor:.1f} s")

    stack = mod.Stack(home=tmp / "airflow_home", port=args.port, data_dir=data, username="admin",
                      password=secrets.token_urlsafe(12),
                      secrets={"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
                               "AIRFLOW__CORE__FERNET_KEY": mod._fernet_key(),
                               "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32)})
    rows: list[tuple[str, str, float, str, str]] = []
    figures: dict[str, Any] = {"rooms": args.rooms, "cli_one_s": cli_one, "floor_inprocess_s": cli_floor, "chunks": []}
    t0 = time.perf_counter()
    stack.start(timeout=300)
    try:
        with stack.client() as client:
            stack.wait_dag(client, timeout=180)
            stack.unpause(client)
            print(f"stack healthy and DAG registered in {time.perf_counter() - t0:.1f} s")
            airflow_run(stack, client, {"inputs": ["one"]}, timeout=300)  # warm-up (first parse, caches)
            singles = [airflow_run(stack, client, {"inputs": ["one"]}, timeout=300)[0]
                       for _ in range(args.repeats)]
            med = statistics.median(singles)
            figures.update(one_room_s=med, one_room_runs_s=singles)
            rows.append(("1 room, REST trigger->success", "median of " + ", ".join(f"{s:.1f}" for s in singles),
                         med, f"<= {ONE_ROOM_TARGET_S:.0f} s", "ok" if med <= ONE_ROOM_TARGET_S else "MISSED"))
            budget = FLOOR_FACTOR * cli_floor + FLOOR_SLACK_S
            for cs in chunk_sizes:
                elapsed, facts = airflow_run(stack, client, {"inputs": ["floor"], "chunk_size": cs,
                                                             "on_infeasible": "report"}, timeout=3600)
                figures["chunks"].append({"chunk_size": cs, "seconds": elapsed, **facts})
                rows.append((f"{args.rooms} rooms, chunk_size {cs}",
                             f"{facts['task_instances']} TIs, {facts['task_seconds']:.0f} task-s, "
                             f"{elapsed / cli_floor:.2f}x CLI", elapsed, f"<= {budget:.0f} s",
                             "ok" if elapsed <= budget else "MISSED"))
    finally:
        stack.stop()
    rows.insert(0, (f"{args.rooms} rooms, in-process CLI", "ceiling-grid run", cli_floor, "baseline", ""))
    rows.insert(0, ("1 room, in-process CLI", "ceiling-grid run", cli_one, "", ""))
    print()
    print(f"{'scenario':34s} {'seconds':>8s}  {'target':10s} {'':6s} detail")
    for name, detail, secs, target, verdict in rows:
        print(f"{name:34s} {secs:8.1f}  {target:10s} {verdict:6s} {detail}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({**figures, "rows": rows}, indent=1))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
