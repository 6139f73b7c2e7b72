"""Speed and scale: one full-pipeline run per fresh subprocess (time per stage and model, peak RSS).

Run one measurement:  python -m benchmarks.speed --square 100   (or --room data/input/open_plan.json)
It prints one JSON object. :func:`run_series` drives many of them, each in a new interpreter, so the
peak RSS and the caches belong to that one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_SIZES", "code_env", "measure", "measure_in_subprocess", "run_series", "startup_times"]

DEFAULT_SIZES = (10, 25, 50, 100, 200)
DEFAULT_WORKERS = 3
RSS_SAMPLE_S = 0.05
REPO = Path(__file__).resolve().parent.parent


_SAMPLER = r"""
import select, sys
import psutil
root = psutil.Process(int(sys.argv[1]))
interval = float(sys.argv[2])
peak_rss = peak_pss = 0
print("ready", flush=True)
while True:
    rss = pss = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        procs = []
    for p in procs:
        try:
            m = p.memory_full_info()
        except psutil.Error:
            continue
        rss, pss = rss + m.rss, pss + m.pss
    peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
    if select.select([sys.stdin], [], [], interval)[0]:
        break
print(peak_rss, peak_pss, flush=True)
"""


class _TreeRssSampler:
    """Samples the memory of this process and its children from another process: the summed RSS (an upper
    bound, since forked workers share pages) and the summed PSS (shared pages split between the processes
    that map them: what the tree really holds).

    Sampling from a separate process starts no thread here (a thread would keep the executor from forking
    per room, and listing children holds the GIL) and sees workers forked after sampling starts."""

    def __init__(self, interval_s: float = RSS_SAMPLE_S) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> _TreeRssSampler:
        try:
            import psutil  # noqa: F401 - the sampler process needs it
        except ImportError:
            return self
        self._proc = subprocess.Popen([sys.executable, "-c", _SAMPLER, str(os.getpid()), str(self.interval_s)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self._proc.stdout.readline()  # "ready": the first sample is being taken
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        out, _ = self._proc.communicate(input="stop\n", timeout=60)
        rss, pss = (int(v) for v in out.split())
        self.peak_bytes, self.peak_pss_bytes = rss, pss


def _mib(kib: int) -> float:
    return round(kib / 1024.0, 1)  # ru_maxrss is in KiB on Linux


def sequential_lights(grid: Any) -> dict[str, Any]:
    """The three light models one after another in this (fresh) process, no pool, same pre-imports as the pool."""
    from ceiling_grid.evaluator import air, detectors, lighting  # noqa: F401  (the pool imports these before forking)
    from ceiling_grid.executor import pool_pays
    from ceiling_grid.runner import PipelineRunner

    runner = PipelineRunner(max_workers=1)
    models = runner.light_models
    outcome = runner.run_parallel_stage(models, grid)
    extra = 0.0
    if pool_pays(grid):  # where the pool runs, its stage also does the final check's room-only part meanwhile
        from ceiling_grid.evaluator import room_checks

        t0 = time.perf_counter()
        room_checks(grid)
        extra = time.perf_counter() - t0
    return {"grid_id": grid.grid_id, "lights_sequential_s": outcome.duration_s + extra,
            "lights_sequential_models_s": {r.model: r.duration_s for r in outcome.runs},
            "room_checks_s": extra}


def measure(grid: Any, workers: int = DEFAULT_WORKERS, sample_memory: bool = True) -> dict[str, Any]:
    """Run ``grid`` through a fresh :class:`PipelineRunner` and return times, counts and memory; without
    ``sample_memory`` the process tree's memory is not sampled (the tree fields are None)."""
    from ceiling_grid.evaluator import air, detectors, lighting  # noqa: F401 - as sequential_lights does
    from ceiling_grid.executor import pool_pays
    from ceiling_grid.runner import PipelineRunner

    runner = PipelineRunner(max_workers=workers)
    _ = runner.light_models  # imports, as before any room
    if pool_pays(grid):  # as the CLI does: no pool where it cannot pay (a forked pool's copy-on-write
        runner.start()  # faults slow the parent's own work ~4x in a small room); its start-up is not timed
    sampler = _TreeRssSampler() if sample_memory else contextlib.nullcontext()
    try:
        with sampler:
            result = runner.run_full_pipeline(grid)
    finally:
        runner.close()
    stages = {k: v.duration_s for k, v in result.stages.items()}
    models = {r.model: r.duration_s for v in result.stages.values() for r in v.runs}
    lights = result.stages["lights"]
    in_room = int(grid.arrays.in_room.sum())
    rss_parent = _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    rss_worker = _mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {
        "grid_id": grid.grid_id,
        "width": grid.width,
        "height": grid.height,
        "cells": grid.width * grid.height,
        "in_room_cells": in_room,
        "workers": workers,
        "pipeline_s": result.duration_s,
        "stages_s": stages,
        "evaluate_s": max(0.0, result.duration_s - sum(stages.values())),
        "models_s": models,
        "lights_wall_s": lights.duration_s,
        "lights_models_sum_s": sum(r.duration_s for r in lights.runs),
        "status": result.status(),
        "headline": {k: v for k, v in result.headline.items() if isinstance(v, int | float | str) or v is None},
        "rss_parent_mib": rss_parent,
        "rss_worker_max_mib": rss_worker,
        "rss_tree_peak_mib": round(sampler.peak_bytes / 2**20, 1) if isinstance(sampler, _TreeRssSampler) else None,
        "pss_tree_peak_mib": round(sampler.peak_pss_bytes / 2**20, 1)
        if isinstance(sampler, _TreeRssSampler) else None,
    }


def code_env(repo: Path = REPO, harness: Path | None = None) -> dict[str, str]:
    """The environment of a subprocess that runs ``repo``'s code (its ``src``; its ``benchmarks`` too, unless
    ``harness`` names the checkout whose ``benchmarks`` measure it) first."""
    path = [str(harness or repo), str(repo / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}


def measure_in_subprocess(args: Sequence[str], timeout_s: float = 900.0, repo: Path = REPO,
                          harness: Path | None = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.speed ARGS`` on ``repo``'s code (another checkout: the "before"), measured by
    ``harness``'s benchmarks (default: ``repo``'s own), in a new interpreter."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.speed", *args], cwd=harness or repo,  # -m looks here first
                          env=code_env(repo, harness),
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.speed {' '.join(args)} failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run_series(
    sizes: Sequence[int],
    rooms: Sequence[Path],
    repeats: Callable[[int], int],
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[str], None] = lambda s: None,
    repo: Path = REPO,
    version: str = "after",
) -> list[dict[str, Any]]:
    """Square rooms of ``sizes`` tiles a side and the room files, ``repeats(cells)`` fresh runs each, with the
    code of ``repo`` measured by this checkout's harness (records are tagged ``version``: this checkout is
    "after", an older one "before").

    The timed runs do not sample memory: the sampler (PSS of every process in the tree every 50 ms, from
    another process) took about 0.1 s of CPU from a 1 s run on 2 cores. One more run per room samples it
    (tagged ``memory_run``; its times are not used)."""
    out: list[dict[str, Any]] = []
    jobs: list[tuple[str, list[str], int]] = [(f"square-{n}", ["--square", str(n)], n * n) for n in sizes]
    for path in rooms:
        from ceiling_grid.grid import load_room

        g = load_room(path)
        jobs.append((g.grid_id, ["--room", str(path)], g.width * g.height))
    for name, args, cells in jobs:
        kind = "square" if name.startswith("square-") else "sample"
        mem = measure_in_subprocess([*args, "--workers", str(workers)], repo=repo, harness=REPO)
        out.append({**mem, "kind": kind, "repeat": -1, "version": version, "memory_run": True})
        progress(f"speed {version} {name} memory: tree RSS {mem['rss_tree_peak_mib']:.0f} MiB, "
                 f"PSS {mem['pss_tree_peak_mib']:.0f} MiB")
        for rep in range(repeats(cells)):
            t0 = time.perf_counter()
            rec = measure_in_subprocess([*args, "--workers", str(workers), "--no-memory"], repo=repo, harness=REPO)
            seq = measure_in_subprocess([*args, "--lights-only"], repo=repo, harness=REPO)  # same room, fresh process
            rec.update(seq, kind=kind, repeat=rep, version=version)
            out.append(rec)
            progress(f"speed {version} {name} #{rep + 1}: pipeline {rec['pipeline_s']:.2f} s "
                     f"(wall {time.perf_counter() - t0:.1f} s)")
    return out


def startup_times(room: Path, repeats: int = 5, repo: Path = REPO) -> dict[str, Any]:
    """Whole-process seconds (medians of ``repeats``): ``import ceiling_grid.cli``, and ``ceiling-grid run`` on
    the one ``room`` (a fresh output folder each time), with the code of ``repo``."""
    import statistics
    import tempfile

    env = code_env(repo)
    # what the console script runs (console_main; older code: main)
    run = ("import sys; from ceiling_grid import cli; "
           "sys.exit(cli.console_main() if hasattr(cli, 'console_main') else cli.main())")
    imports, runs = [], []
    with tempfile.TemporaryDirectory(prefix="cg_startup_") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        (folder / room.name).write_bytes(room.read_bytes())
        for i in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import ceiling_grid.cli"], cwd=tmp, env=env, check=True)
            imports.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", run, "run", str(folder), "--out", str(Path(tmp) / f"out{i}")],
                           cwd=tmp, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - t0)
    return {"room": room.stem, "import_cli_s": round(statistics.median(imports), 3),
            "cli_run_s": round(statistics.median(runs), 3), "repeats": repeats}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--square", type=int, help="an empty N x N office (600 mm tiles, NFPA 72)")
    what.add_argument("--room", type=Path, help="a room JSON file")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--lights-only", action="store_true",
                        help="only the light stage, the three models one after another in-process")
    parser.add_argument("--no-memory", action="store_true",
                        help="do not sample the process tree's memory (the sampler's CPU would count in the times)")
    args = parser.parse_args(argv)

    from ceiling_grid.observability.logging import configure_cli_logging

    configure_cli_logging(json=True, level="error")
    from benchmarks.rooms import square_room
    from ceiling_grid.grid import load_room

    grid = square_room(args.square) if args.square is not None else load_room(args.room)
    print(json.dumps(sequential_lights(grid) if args.lights_only
                     else measure(grid, args.workers, sample_memory=not args.no_memory)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
