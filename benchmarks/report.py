"""Turn benchmark records into docs/benchmarks.md: markdown tables, PNG plots (matplotlib Agg), a fitted growth
exponent and PASS/FAIL against the targets."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TARGETS",
    "fit_exponent",
    "markdown_table",
    "plot_quality",
    "plot_speed",
    "quality_summary",
    "render_markdown",
    "speed_summary",
]

TARGETS = {  # issue 13 (performance) unless noted
    "open_plan_s": 0.5,  # 24 x 14 room, in process (the earlier scale target)
    "square_100_s": 1.0,
    "square_100_mib": 500.0,
    "square_200_s": 5.0,
    "growth_exponent": 1.0,  # time ∝ cells^k from 50 x 50 to 200 x 200
    "cli_run_s": 0.8,  # `ceiling-grid run` on the 24 x 14 room, whole process
    "cli_import_s": 0.3,
    "parallel_speedup": 1.3,  # sequential / parallel light stage, rooms >= 50 x 50
    "parallel_small_slack": 1.1,  # parallel <= 1.1 x sequential, smaller rooms
    "timer_noise_s": 0.02,  # one fresh-process run of a 30-tile room's light stage varies by this much
    "worst_room_s": 5.0,  # any room up to 60 x 40 tiles, full pipeline incl. the evaluation
    "airflow_one_room_s": 5.0,
    "airflow_ratio": 1.3,
    "airflow_slack_s": 20.0,
    "detector_ratio_large": 1.1,
}
WORST_ROOM_CELLS = 60 * 40
OPTIMUM_SIDE_LIMIT = 50  # detectors must equal the ILP optimum on rooms up to 50 x 50 tiles
STAGES = ("lights", "air_supply", "smoke_detectors")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table (cells formatted with str; None shows as an en dash)."""

    def cell(v: Any) -> str:
        return "–" if v is None else str(v).replace("|", "\\|")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def fit_exponent(cells: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit of log(t) = k log(cells) + c; returns (k, exp(c))."""
    x, y = np.log(np.asarray(cells, dtype=float)), np.log(np.asarray(seconds, dtype=float))
    if len(x) < 2:
        raise ValueError("fit_exponent needs at least two sizes")
    k, c = np.polyfit(x, y, 1)
    return float(k), float(math.exp(c))


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _fmt(v: Any, nd: int = 2) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def _pf(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def speed_summary(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median figures per room (one entry per grid_id, in first-seen order)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["grid_id"]].append(r)
    out = []
    for gid, runs in groups.items():
        rs = [r for r in runs if not r.get("memory_run")] or runs  # times: the runs that did not sample memory
        sampled = [r for r in runs if r.get("rss_tree_peak_mib") is not None] or [{"rss_tree_peak_mib": 0.0}]
        models = sorted({m for r in rs for m in r["models_s"]})
        out.append({
            "grid_id": gid,
            "kind": rs[0].get("kind", "square"),
            "width": rs[0]["width"],
            "height": rs[0]["height"],
            "cells": rs[0]["cells"],
            "repeats": len(rs),
            "pipeline_s": _median([r["pipeline_s"] for r in rs]),
            "pipeline_min_s": min(r["pipeline_s"] for r in rs),
            "pipeline_max_s": max(r["pipeline_s"] for r in rs),
            "stages_s": {s: _median([r["stages_s"].get(s, 0.0) for r in rs]) for s in STAGES},
            "evaluate_s": _median([r["evaluate_s"] for r in rs]),
            "models_s": {m: _median([r["models_s"].get(m, 0.0) for r in rs]) for m in models},
            "lights_wall_s": _median([r["lights_wall_s"] for r in rs]),
            "lights_models_sum_s": _median([r["lights_models_sum_s"] for r in rs]),
            "lights_sequential_s": _median([r["lights_sequential_s"] for r in rs])
            if all(r.get("lights_sequential_s") is not None for r in rs) else None,
            "rss_parent_mib": max(r["rss_parent_mib"] for r in runs),
            "rss_worker_max_mib": max(r["rss_worker_max_mib"] for r in runs),
            "rss_tree_peak_mib": max(r["rss_tree_peak_mib"] for r in sampled),
            "pss_tree_peak_mib": max(r.get("pss_tree_peak_mib") or r["rss_tree_peak_mib"] for r in sampled),
            "status": Counter(r["status"] for r in rs).most_common(1)[0][0],
            "headline": rs[0].get("headline", {}),
        })
    return out


def quality_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Shares and counts over the quality set."""
    ok = [r for r in records if "error" not in r]
    n = len(records)
    infeasible = [r for r in ok if r["infeasible"]]
    feasible = [r for r in ok if not r["infeasible"]]
    det = [r for r in ok if r["detectors"]["n_optimal"] is not None and r["detectors"]["n"]]
    small = [r for r in det if max(r["width"], r["height"]) <= OPTIMUM_SIDE_LIMIT]
    equal = [r for r in small if r["detectors"]["n"] == r["detectors"]["n_optimal"]]
    within = [r for r in det if r["detectors"]["n"] <= TARGETS["detector_ratio_large"] * r["detectors"]["n_optimal"]]
    lights = [r for r in ok if r["lights"]["n"]]
    plain = [r for r in lights if r["rectangle"] and not r["blocked"]]
    obstructed = [r for r in lights if r["blocked"]]

    def _reg(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r["lights"].get("regularity") or {})

    return {
        "rooms": n,
        "errors": n - len(ok),
        "compliant": sum(1 for r in ok if r["compliant"]),
        "infeasible": len(infeasible),
        "feasible": len(feasible),
        "compliant_feasible": sum(1 for r in feasible if r["compliant"]),
        "detector_rooms_with_optimum": len(det),
        "detector_small_rooms": len(small),
        "detector_equal_optimum": len(equal),
        "detector_within_1_1": len(within),
        "detector_above_square": sum(1 for r in det if r["detectors"]["n"] > r["detectors"]["n_square_spacing"]),
        "lights_le_lumen": sum(1 for r in lights if r["lights"]["n"] <= r["lights"]["lumen_method"]),
        "lights_le_regular": sum(1 for r in lights if r["lights"]["regular_array"] is not None
                                 and r["lights"]["n"] <= r["lights"]["regular_array"]),
        "lights_rooms": len(lights),
        "regular_plain_rectangles": sum(1 for r in plain if _reg(r).get("regular")),
        "plain_rectangles": len(plain),
        "obstructed_rooms": len(obstructed),
        "obstructed_aligned_80": sum(1 for r in obstructed if (_reg(r).get("aligned_fraction") or 0) >= 0.8
                                     and (_reg(r).get("max_gap_deviation_tiles") or 0) <= 2),
        "air_beside_luminaires": sum(r["air"].get("beside_luminaires", 0) for r in ok),
        "air_rooms_beside": sum(1 for r in ok if r["air"].get("beside_luminaires", 0)),
        "air_rooms_above_minimum": sum(1 for r in ok if r["air"].get("above_minimum", 0)),
        "lights_ratio_lumen_median": _median([r["lights"]["n"] / r["lights"]["lumen_method"] for r in lights])
        if lights else None,
        "lights_ratio_regular_median": _median([r["lights"]["n"] / r["lights"]["regular_array"] for r in lights
                                                if r["lights"]["regular_array"]]) if lights else None,
    }


# ----- plots --------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_speed(summary: Sequence[dict[str, Any]], img_dir: Path,
               before: Sequence[dict[str, Any]] = ()) -> dict[str, Path]:
    """bench_scaling.png (log-log time per stage with the fit, and ``before``'s pipeline line when given),
    bench_memory.png, bench_parallel.png."""
    plt = _plt()
    img_dir.mkdir(parents=True, exist_ok=True)
    squares = sorted((s for s in summary if s["kind"] == "square"), key=lambda s: s["cells"])
    samples = [s for s in summary if s["kind"] != "square"]
    out: dict[str, Path] = {}
    if len(squares) >= 2:
        cells = [s["cells"] for s in squares]
        fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
        ax.loglog(cells, [s["pipeline_s"] for s in squares], "o-", lw=2, color="black", label="full pipeline")
        for stage, colour in zip((*STAGES, "evaluate"), ("tab:orange", "tab:blue", "tab:red", "tab:green"),
                                 strict=True):
            ys = [s["evaluate_s"] if stage == "evaluate" else s["stages_s"][stage] for s in squares]
            ax.loglog(cells, [max(y, 1e-3) for y in ys], ".--", color=colour, label=stage.replace("_", " "))
        k, c = fit_exponent(cells, [s["pipeline_s"] for s in squares])
        xs = np.geomspace(min(cells), max(cells), 50)
        ax.loglog(xs, c * xs**k, ":", color="grey", label=f"fit t ∝ cells^{k:.2f}")
        if samples:
            ax.loglog([s["cells"] for s in samples], [s["pipeline_s"] for s in samples], "s", color="tab:purple",
                      label="sample rooms")
        old = sorted((s for s in before if s["kind"] == "square"), key=lambda s: s["cells"])
        if old:
            ax.loglog([s["cells"] for s in old], [s["pipeline_s"] for s in old], "x-", lw=1.5, color="grey",
                      label="full pipeline, before")
        ax.axhline(TARGETS["square_100_s"], color="tab:red", lw=0.8, alpha=0.5)
        ax.set_xlabel("tiles (cells)")
        ax.set_ylabel("median wall time (s)")
        ax.set_title("Full-pipeline time vs room size (square rooms, 3 workers)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["scaling"] = img_dir / "bench_scaling.png"
        fig.savefig(out["scaling"])
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
        ax.semilogx(cells, [s["pss_tree_peak_mib"] for s in squares], "o-", label="process tree (sum of PSS)")
        ax.semilogx(cells, [s["rss_tree_peak_mib"] for s in squares], "o:", label="process tree (sum of RSS)")
        ax.semilogx(cells, [s["rss_parent_mib"] for s in squares], "s--", label="parent peak RSS")
        ax.semilogx(cells, [s["rss_worker_max_mib"] for s in squares], "^--", label="largest worker peak RSS")
        ax.axhline(TARGETS["square_100_mib"], color="tab:red", lw=0.8,
                   label=f"{TARGETS['square_100_mib']:.0f} MiB target (100×100)")
        ax.set_xlabel("tiles (cells)")
        ax.set_ylabel("MiB")
        ax.set_title("Peak memory vs room size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["memory"] = img_dir / "bench_memory.png"
        fig.savefig(out["memory"])
        plt.close(fig)

    rows = sorted(summary, key=lambda s: s["cells"])
    if rows:
        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
        x = np.arange(len(rows))
        ax.bar(x - 0.27, [s["lights_models_sum_s"] for s in rows], 0.27, label="sum of model times (in pool)")
        ax.bar(x, [s.get("lights_sequential_s") or 0.0 for s in rows], 0.27,
               label="3 models one after another (in-process)")
        ax.bar(x + 0.27, [s["lights_wall_s"] for s in rows], 0.27, label="parallel light-stage wall time")
        ax.set_xticks(x, [s["grid_id"] for s in rows], rotation=40, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("seconds (median)")
        ax.set_title("Light stage: process pool vs running the models one after another")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["parallel"] = img_dir / "bench_parallel.png"
        fig.savefig(out["parallel"])
        plt.close(fig)
    return out


def plot_quality(records: Sequence[dict[str, Any]], img_dir: Path) -> dict[str, Path]:
    """bench_lights.png (count vs references) and bench_detectors.png (count vs optimum and square spacing)."""
    plt = _plt()
    img_dir.mkdir(parents=True, exist_ok=True)
    ok = [r for r in records if "error" not in r and r["lights"]["n"]]
    out: dict[str, Path] = {}
    if not ok:
        return out
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), dpi=110)
    for ax, key, title in ((axes[0], "lumen_method", "lumen-method N"), (axes[1], "regular_array",
                                                                           "smallest passing regular array N")):
        pts = [(r["lights"][key], r["lights"]["n"], r["compliant"]) for r in ok if r["lights"][key]]
        if pts:
            ref, n, c = zip(*pts, strict=True)
            ax.scatter(ref, n, c=["tab:green" if v else "tab:red" for v in c], s=18)
            top = max(max(ref), max(n)) * 1.05
            ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.set_xlabel(title)
        ax.set_ylabel("fixtures placed")
        ax.set_title(f"Lights vs {title}", fontsize=10)
        ax.grid(True, alpha=0.3)
    fig.suptitle("Green: room fully compliant; red: not. Below the diagonal = fewer fixtures than the reference.",
                 fontsize=8)
    fig.tight_layout()
    out["lights"] = img_dir / "bench_lights.png"
    fig.savefig(out["lights"])
    plt.close(fig)

    det = [r for r in ok if r["detectors"]["n"]]
    fig, ax = plt.subplots(figsize=(7.5, 4.3), dpi=110)
    labels = ["= ILP optimum", "optimum + 1", "optimum + ≥2", "no optimum"]
    counts = Counter()
    for r in det:
        d = r["detectors"]
        if d["n_optimal"] is None:
            counts[labels[3]] += 1
        else:
            counts[labels[min(2, max(0, d["n"] - d["n_optimal"]))]] += 1
    ax.bar(labels, [counts[k] for k in labels], color=["tab:green", "tab:orange", "tab:red", "tab:grey"])
    for i, k in enumerate(labels):
        ax.text(i, counts[k], str(counts[k]), ha="center", va="bottom")
    ax.set_ylabel("rooms")
    ax.set_title("Detectors placed vs the exact ILP optimum on the same candidates")
    fig.tight_layout()
    out["detectors"] = img_dir / "bench_detectors.png"
    fig.savefig(out["detectors"])
    plt.close(fig)
    return out


# ----- markdown -----------------------------------------------------------------------------


def _machine_md(m: dict[str, Any], load_end: Any) -> str:
    v = m["versions"]
    rows = [
        ("CPU", f"{m['cpu_model']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable)"),
        ("RAM", f"{m['ram_gib']} GiB"),
        ("OS", m["os"]),
        ("Python / numpy / scipy", f"{v['python']} / {v['numpy']} / {v['scipy']}"),
        ("matplotlib / ceiling-grid", f"{v.get('matplotlib', '–')} / {v.get('ceiling_grid', '–')}"),
        ("date", m["date_utc"]),
        ("commit", m.get("git_commit") or "–"),
        ("load average (1/5/15 min) at start", m.get("load_average")),
        ("load average at end", load_end),
    ]
    return markdown_table(["", ""], rows)


def _speed_md(summary: Sequence[dict[str, Any]], imgs: dict[str, Path], doc_dir: Path) -> str:
    parts: list[str] = []
    rows = []
    for s in sorted(summary, key=lambda s: (s["kind"] != "square", s["cells"])):
        st = s["stages_s"]
        rows.append([
            s["grid_id"], f"{s['width']}×{s['height']}", s["cells"], s["repeats"],
            f"{s['pipeline_s']:.2f} ({s['pipeline_min_s']:.2f}–{s['pipeline_max_s']:.2f})",
            _fmt(st["lights"]), _fmt(st["air_supply"]), _fmt(st["smoke_detectors"]), _fmt(s["evaluate_s"]),
            f"{s['rss_parent_mib']:.0f}", f"{s['rss_worker_max_mib']:.0f}", f"{s['rss_tree_peak_mib']:.0f} / {s['pss_tree_peak_mib']:.0f}",
            s["status"].split(" (")[0],
        ])
    parts.append(markdown_table(
        ["room", "tiles", "cells", "runs", "pipeline s median (min–max)", "lights s", "air s", "detectors s",
         "evaluate s", "parent RSS MiB", "worker RSS MiB", "tree RSS / PSS MiB", "status"], rows))
    parts.append(
        "*Stage times are wall times inside `run_full_pipeline`; `evaluate` is the final §7 check "
        "(`evaluate(grid)`, incl. the L5 reference array and the D6 ILP) = pipeline − stages. Parent/worker RSS are "
        "`getrusage` peaks (parent process, largest pool worker); tree RSS / PSS are the sampled peaks (in one more "
        "run per room: the timed runs do not sample, the sampler took ~0.1 s of CPU from a 1 s run), every 50 ms "
        "from a separate process, of the summed RSS (an upper bound: forked workers share pages) and of the summed "
        "PSS (shared pages split between the processes that map them) of the parent and its workers; the memory "
        "target reads the PSS.*")

    models = sorted({m for s in summary for m in s["models_s"]})
    rows = [[s["grid_id"], *[_fmt(s["models_s"].get(m), 3) for m in models]]
            for s in sorted(summary, key=lambda s: (s["kind"] != "square", s["cells"]))]
    parts.append("### Time per model (median seconds, measured inside the worker)\n\n" + markdown_table(
        ["room", *models], rows))

    rows = []
    for s in sorted(summary, key=lambda s: (s["kind"] != "square", s["cells"])):
        seq = s.get("lights_sequential_s")
        speed = seq / s["lights_wall_s"] if seq and s["lights_wall_s"] > 0 else None
        rows.append([s["grid_id"], _fmt(s["lights_wall_s"], 3), _fmt(s["lights_models_sum_s"], 3), _fmt(seq, 3),
                     _fmt(speed, 2) + "×" if speed else "–"])
    parts.append("### Parallel light stage vs the sum of the three light models\n\n"
                 "The three light models run concurrently in a process pool of 3 workers on a 2-core machine, so the "
                 "best possible speed-up is 2×. *Sum in pool* adds the three model times measured inside the "
                 "workers while they competed for the 2 cores (so it over-states the serial cost); *sequential* is "
                 "the same three models run one after another in-process (`max_workers=1`) in a separate fresh "
                 "subprocess started right after each pipeline run, with the same pre-imports as the pool — the "
                 "serial baseline. In rooms where the pool runs (100×100 tiles and more) the pooled stage also "
                 "computes the final check's room-only part (L5's reference array) in the parent while the "
                 "workers run, so the sequential figure adds that work (`evaluator.room_checks`) after the "
                 "models: the same work both ways. Medians of "
                 "the same runs.\n\n" + markdown_table(
                     ["room", "parallel stage wall s", "sum of model times in pool s", "sequential s",
                      "speed-up (sequential / parallel)"], rows))

    squares = sorted((s for s in summary if s["kind"] == "square"), key=lambda s: s["cells"])
    if len(squares) >= 2:
        k, _ = fit_exponent([s["cells"] for s in squares], [s["pipeline_s"] for s in squares])
        big = [s for s in squares if s["cells"] >= 2500]
        k_big = fit_exponent([s["cells"] for s in big], [s["pipeline_s"] for s in big])[0] if len(big) >= 2 else None
        parts.append(f"### Growth exponent\n\nLeast squares on log–log over the square rooms "
                     f"({', '.join(str(s['width']) for s in squares)} tiles a side): **time ∝ cells^{k:.2f}**"
                     + (f" (k = {k_big:.2f} over the rooms of ≥ 50×50 only)" if k_big is not None else "") + ".")
    for key, title in (("scaling", "time vs size"), ("memory", "memory vs size"), ("parallel", "parallel stage")):
        if key in imgs:
            parts.append(f"![{title}]({imgs[key].relative_to(doc_dir).as_posix()})")
    return "\n\n".join(parts)


def _is_after(r: dict[str, Any]) -> bool:
    return not str(r.get("version", "after")).startswith("before")


def _targets_md(summary: Sequence[dict[str, Any]], quality: Sequence[dict[str, Any]] = (),
                startup: Sequence[dict[str, Any]] = ()) -> list[list[Any]]:
    """PASS/FAIL rows for the speed, start-up, pool, worst-room and detector-count targets (issue 13)."""
    by_id = {s["grid_id"]: s for s in summary}
    rows: list[list[Any]] = []
    for gid, label, key in (("open_plan", "24×14 open plan, full pipeline in process", "open_plan_s"),
                            ("square-100", "100×100, full pipeline in process", "square_100_s"),
                            ("square-200", "200×200, full pipeline in process", "square_200_s")):
        if gid not in by_id:
            continue
        took = by_id[gid]["pipeline_s"]
        rows.append([label, f"≤ {TARGETS[key]:g} s", f"{took:.2f} s", _pf(took <= TARGETS[key])])
        if gid == "square-100":
            mib = by_id[gid]["pss_tree_peak_mib"]
            rows.append(["100×100, peak memory (process tree)", f"≤ {TARGETS['square_100_mib']:.0f} MiB",
                         f"{mib:.0f} MiB", _pf(mib <= TARGETS["square_100_mib"])])
    big = sorted((s for s in summary if s["kind"] == "square" and s["cells"] >= 2500), key=lambda s: s["cells"])
    if len(big) >= 2:
        k = fit_exponent([s["cells"] for s in big], [s["pipeline_s"] for s in big])[0]
        rows.append([f"growth from {big[0]['width']}×{big[0]['width']} to {big[-1]['width']}×{big[-1]['width']}",
                     f"≤ cells^{TARGETS['growth_exponent']:.1f}", f"cells^{k:.2f}",
                     _pf(k <= TARGETS["growth_exponent"])])
    for st in startup:
        if not _is_after(st):
            continue
        rows.append([f"`ceiling-grid run` on one 24×14 room ({st['room']}), whole process",
                     f"≤ {TARGETS['cli_run_s']} s", f"{st['cli_run_s']:.2f} s",
                     _pf(st["cli_run_s"] <= TARGETS["cli_run_s"])])
        rows.append(["`import ceiling_grid.cli`", f"≤ {TARGETS['cli_import_s']} s", f"{st['import_cli_s']:.2f} s",
                     _pf(st["import_cli_s"] <= TARGETS["cli_import_s"])])
    pooled = [s for s in summary if s.get("lights_sequential_s") and s["lights_wall_s"] > 0]
    large = [s for s in pooled if min(s["width"], s["height"]) >= 50]
    if large:
        worst = min(large, key=lambda s: s["lights_sequential_s"] / s["lights_wall_s"])
        ratio = worst["lights_sequential_s"] / worst["lights_wall_s"]
        rows.append(["parallel light stage vs sequential, rooms ≥ 50×50", f"≥ {TARGETS['parallel_speedup']}× faster",
                     f"{ratio:.2f}× (worst: {worst['grid_id']})", _pf(ratio >= TARGETS["parallel_speedup"])])
    small = [s for s in pooled if s not in large]
    if small:
        noise = TARGETS["timer_noise_s"]
        slack = TARGETS["parallel_small_slack"]
        worst = max(small, key=lambda s: s["lights_wall_s"] - slack * s["lights_sequential_s"])
        ratio = worst["lights_wall_s"] / worst["lights_sequential_s"]
        ok = worst["lights_wall_s"] <= slack * worst["lights_sequential_s"] + noise
        rows.append(["parallel light stage, smaller rooms",
                     f"≤ {slack} × sequential + {1000 * noise:.0f} ms (timer noise)",
                     f"{ratio:.2f}×: {worst['lights_wall_s']:.3f} s vs {worst['lights_sequential_s']:.3f} s "
                     f"(worst: {worst['grid_id']})", _pf(ok)])
    timed = [r for r in quality if "error" not in r and r["cells"] <= WORST_ROOM_CELLS]
    if timed:
        worst_q = max(timed, key=lambda r: r["seconds"])
        rows.append(["worst single room up to 60×40 tiles, full pipeline incl. evaluation",
                     f"≤ {TARGETS['worst_room_s']:.0f} s", f"{worst_q['seconds']:.2f} s ({worst_q['grid_id']})",
                     _pf(worst_q["seconds"] <= TARGETS["worst_room_s"])])
    counted = [r for r in quality if "error" not in r and r["detectors"].get("n") and
               r["detectors"].get("n_square_spacing")]
    if counted:
        over = [r["grid_id"] for r in counted if r["detectors"]["n"] > r["detectors"]["n_square_spacing"]]
        rows.append(["detectors never above the square-spacing count", "every room",
                     f"{len(counted) - len(over)}/{len(counted)}" + (f" (over: {', '.join(over[:4])})" if over else ""),
                     _pf(not over)])
    proven = [r for r in quality if "error" not in r and r["detectors"].get("n") and r["cells"] <= 100 * 100]
    if proven:
        exact = [r for r in proven if r["detectors"].get("optimal_proven")
                 and r["detectors"]["n"] == r["detectors"].get("n_optimal")]
        rows.append(["detectors = the proven optimum, rooms ≤ 100×100", "every room", f"{len(exact)}/{len(proven)}",
                     _pf(len(exact) == len(proven))])
    return rows


def _before_after_md(summary: Sequence[dict[str, Any]], before: Sequence[dict[str, Any]],
                     startup: Sequence[dict[str, Any]]) -> str:
    """The same rooms timed with this checkout and with the ``before`` revision, side by side."""
    old = {s["grid_id"]: s for s in before}
    rows = []
    for s in sorted(summary, key=lambda s: (s["kind"] != "square", s["cells"])):
        b = old.get(s["grid_id"])
        if b is None:
            continue
        rows.append([s["grid_id"], s["cells"], f"{b['pipeline_s']:.2f}", f"{s['pipeline_s']:.2f}",
                     f"{b['pipeline_s'] / s['pipeline_s']:.2f}×" if s["pipeline_s"] > 0 else "–",
                     f"{b.get('pss_tree_peak_mib', b['rss_tree_peak_mib']):.0f} → {s['pss_tree_peak_mib']:.0f}",
                     f"{b['headline'].get('detectors', '–')} → {s['headline'].get('detectors', '–')}"])
    for st in sorted(startup, key=_is_after):
        rows.append([f"`ceiling-grid run` {st['room']} (whole process), {st['version']}", "", "",
                     f"{st['cli_run_s']:.2f}", "", "", f"import cli {st['import_cli_s']:.2f} s"])
    return markdown_table(["room", "cells", "before s", "after s", "speed-up", "tree PSS MiB", "detectors"], rows)


def _regularity_cell(reg: dict[str, Any]) -> str:
    """The L6 figures of one room in a table cell; a bold tick for a regular array."""
    if not reg or not reg.get("fixtures"):
        return "–"
    mark = " **regular**" if reg.get("regular") else ""
    return (f"{reg['rows']}×{reg['columns']}, {reg['symmetry_x']:.2f}/{reg['symmetry_y']:.2f}, "
            f"{reg['aligned_fraction']:.2f}, {reg['max_gap_deviation_tiles']:g}{mark}")


def _quality_md(records: Sequence[dict[str, Any]], q: dict[str, Any], imgs: dict[str, Path], doc_dir: Path) -> str:
    parts: list[str] = []
    ok = [r for r in records if "error" not in r]
    rows = []
    for r in ok:
        li, d = r["lights"], r["detectors"]
        rows.append([
            r["grid_id"], f"{r['width']}×{r['height']}", r["room_type"], r["standard"],
            r["status"].split(" (")[0],
            f"{li['n']} / {li['lumen_method']} / {li['regular_array'] if li['regular_array'] is not None else '–'}",
            _regularity_cell(li.get("regularity") or {}),
            f"{li['em_lx']:.0f} / {li['target_lux']:g}" if li["em_lx"] is not None else "–",
            f"{li['u0']:.2f} / {li['target_u0']:g}" if li["u0"] is not None else "–",
            f"{_fmt(li['lpd_w_m2'], 1)} / {_fmt(li['lpd_limit_w_m2'], 1)}",
            f"{d['n']} / {d['n_optimal'] if d['n_optimal'] is not None else '–'}"
            + ("" if d["optimal_proven"] or d["n_optimal"] is None else "?"),
            f"{d['n_square_spacing']} / {d['n_lower_bound']}",
            f"{_fmt(d['worst_coverage_m'])} / {d['radius_m']:.2f}" if d["radius_m"] else "–",
            f"{_fmt(d['min_air_terminal_m'])} / {d['air_terminal_limit_m']:.2f}",
            f"{r['seconds']:.1f}",
        ])
    parts.append(markdown_table(
        ["room", "tiles", "type", "standard", "status", "lights N / lumen / regular",
         "array (rows×cols, sym x/y, aligned, gap dev)", "Em / target lx",
         "U0 / target", "W/m² / limit", "det N / D6 optimum (R − 0.05 m)", "square / ⌈A/πR²⌉",
         "worst cover / R m", "min to diffuser / limit m", "s"], rows))
    errors = [r for r in records if "error" in r]
    if errors:
        parts.append("**Pipeline errors (model bugs):**\n\n" + "\n".join(f"- `{r['grid_id']}`: {r['error']}"
                                                                       for r in errors))
    for key, title in (("lights", "lights vs references"), ("detectors", "detectors vs optimum")):
        if key in imgs:
            parts.append(f"![{title}]({imgs[key].relative_to(doc_dir).as_posix()})")
    return "\n\n".join(parts)


def render_markdown(
    machine: dict[str, Any],
    speed_records: Sequence[dict[str, Any]],
    quality_records: Sequence[dict[str, Any]],
    airflow: dict[str, Any] | None,
    doc_path: Path,
    img_dir: Path,
    notes: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    load_end: Any = None,
    findings: Sequence[str] = (),
    startup: Sequence[dict[str, Any]] = (),
) -> str:
    """Write the plots and return the whole docs/benchmarks.md text."""
    doc_dir = doc_path.parent
    summary = speed_summary([r for r in speed_records if _is_after(r)])
    before = speed_summary([r for r in speed_records if not _is_after(r)])
    imgs = {**plot_speed(summary, img_dir, before), **plot_quality(quality_records, img_dir)}
    q = quality_summary(quality_records)
    s = settings or {}
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks.run`); do not edit by hand. "
        + (f"Settings: {', '.join(f'{k}={v}' for k, v in s.items())}." if s else ""),
        "",
        "## Machine",
        "",
        _machine_md(machine, load_end),
        "",
        "Other work was running on the machine during this run (see the load average), so absolute times are "
        "noisy; ratios (parallel vs sum, Airflow vs in-process) are measured side by side in the same run.",
        "",
    ]
    target_rows = _targets_md(summary, quality_records, startup)
    quality_rows: list[list[Any]] = []
    if q["rooms"]:
        comp = q["compliant_feasible"] / q["feasible"] if q["feasible"] else 0.0
        quality_rows.append(["compliant wherever a compliant layout exists", "100 %",
                             f"{q['compliant_feasible']}/{q['feasible']} = {100 * comp:.0f} %",
                             _pf(q["compliant_feasible"] == q["feasible"])])
        if q["detector_small_rooms"]:
            quality_rows.append([f"detectors = ILP optimum (rooms ≤ {OPTIMUM_SIDE_LIMIT}×{OPTIMUM_SIDE_LIMIT})",
                                 "every room", f"{q['detector_equal_optimum']}/{q['detector_small_rooms']}",
                                 _pf(q["detector_equal_optimum"] == q["detector_small_rooms"])])
        if q["plain_rectangles"]:
            quality_rows.append(["obstacle-free rectangles and corridors: full, symmetric, evenly spaced arrays",
                                 "100 %", f"{q['regular_plain_rectangles']}/{q['plain_rectangles']}",
                                 _pf(q["regular_plain_rectangles"] == q["plain_rectangles"])])
        if q["obstructed_rooms"]:
            quality_rows.append(["rooms with obstacles: ≥ 80 % of fixtures aligned, no gap > 2 tiles off its mean",
                                 "every room", f"{q['obstructed_aligned_80']}/{q['obstructed_rooms']}",
                                 _pf(q["obstructed_aligned_80"] == q["obstructed_rooms"])])
        if q["detector_rooms_with_optimum"]:
            quality_rows.append(["detectors ≤ 1.1 × ILP optimum", "every room",
                                 f"{q['detector_within_1_1']}/{q['detector_rooms_with_optimum']}",
                                 _pf(q["detector_within_1_1"] == q["detector_rooms_with_optimum"])])
    air_rows = (airflow or {}).get("target_rows", [])
    out += ["## Targets", "", markdown_table(["target", "limit", "measured", "result"],
                                              target_rows + quality_rows + air_rows), ""]
    if findings:
        out += ["## Findings", "", *[f"- {f}" for f in findings], ""]
    out += ["## 1. Speed and scale (in-process)", "",
            "Each run is a fresh subprocess (`python -m benchmarks.speed`): a new `PipelineRunner` with 3 workers "
            "(fork); the pool start-up is excluded, the room's time is `PipelineResult.duration_s`. Square rooms are "
            "empty 600 mm-tile offices under NFPA 72; the sample rooms are `data/input/*.json`.", "",
            _speed_md(summary, imgs, doc_dir), ""]
    if before or len(startup) > 1:
        rev = next((str(r["version"]) for r in speed_records if not _is_after(r)), "before")
        out += ["### Before and after, measured in this run", "",
                f"The same rooms with the code of {rev.replace('before ', '').strip('()')} (a temporary git "
                "worktree, bytecode written as `make setup` does) and with this checkout, one after the other on "
                "the same machine.", "", _before_after_md(summary, before, startup), ""]
    if q["rooms"]:
        n_gen = sum(1 for r in quality_records if r.get("kind") == "generated")
        n_sample = sum(1 for r in quality_records if r.get("kind") == "sample")
        n_large = sum(1 for r in quality_records if r.get("kind") == "large")
        comp_all = q["compliant"] / q["rooms"]
        out += ["## 2. Quality against references", "",
                f"{n_sample} sample rooms and {n_gen} generated rooms (`benchmarks/rooms.py`, seed "
                f"{s.get('seed', '–')}: offices, open plans with columns and sprinkler grids, L- and U-shapes, "
                "corridors, classrooms, US 2 ft grids with cut tiles, conference rooms with equipment; NFPA 72, "
                "BS 5839-1 and CEN/TS 54-14 in turn)"
                + (f", plus {n_large} large open plans up to 60 × 40 tiles either side of the old 2,000-site ILP "
                   "cap, L and U shapes among them (`LARGE_ROOMS`)" if n_large else "") + ".", "",
                markdown_table(["figure", "value"], [
                    ["rooms", q["rooms"]],
                    ["fully compliant", f"{q['compliant']} ({100 * comp_all:.0f} %)"],
                    ["infeasible (no compliant layout exists; reason reported)", q["infeasible"]],
                    ["compliant among feasible rooms", f"{q['compliant_feasible']}/{q['feasible']}"],
                    ["pipeline errors", q["errors"]],
                    ["lights ≤ lumen-method N", f"{q['lights_le_lumen']}/{q['lights_rooms']} (median N / N_lumen "
                     f"{_fmt(q['lights_ratio_lumen_median'])})"],
                    ["lights ≤ smallest passing regular array", f"{q['lights_le_regular']}/{q['lights_rooms']} "
                     f"(median N / N_regular {_fmt(q['lights_ratio_regular_median'])})"],
                    [f"detectors = ILP optimum (≤ {OPTIMUM_SIDE_LIMIT}×{OPTIMUM_SIDE_LIMIT})",
                     f"{q['detector_equal_optimum']}/{q['detector_small_rooms']}"],
                    ["detectors ≤ 1.1 × optimum", f"{q['detector_within_1_1']}/{q['detector_rooms_with_optimum']}"],
                    ["detectors > NFPA square-spacing count", q["detector_above_square"]],
                    ["diffusers with a luminaire along a jet (A4)", f"{q['air_beside_luminaires']} in "
                     f"{q['air_rooms_beside']} rooms"],
                    ["rooms with more diffusers than the airflow needs (reason in A1)",
                     q["air_rooms_above_minimum"]],
                ]), "",
                "Columns: lights N / lumen-method N (published UF row) / smallest passing near-square regular array "
                "(L5); the L6 array: rows × columns, symmetry about the wing bands' centre lines in x / y, the "
                "aligned fraction and the largest gap deviation in tiles (**regular** = full, symmetric, even, "
                "every wall offset in its window); Em and U0 against the room type's targets; lighting power "
                "density against the soft LPD limit; detectors N / exact ILP optimum on the evaluator's "
                "candidate set (D6; `?` = not proven "
                "optimal in the time limit; in brackets the optimum with the model's design radius R − 0.15 m "
                "(− 0.05 m more under NFPA), only where N differs); square-spacing layout count / lower bound "
                "⌈A/πR²⌉; worst geodesic coverage distance / R; smallest detector-to-diffuser edge distance / "
                "the rule set's limit.", "",
                _quality_md(quality_records, q, imgs, doc_dir), ""]
        bad = [r for r in quality_records if not r.get("compliant")]
        if bad:
            reasons = Counter()
            for r in bad:
                if r.get("infeasible"):
                    for i in r["infeasible"]:
                        reasons[f"infeasible {i.get('rule')}: {i.get('reason')}"] += 1
                else:
                    reasons["failed " + ", ".join(r.get("failed_rules") or ["(error)"])] += 1
            out += ["### Rooms that are not compliant, and why", "",
                    markdown_table(["reason", "rooms"], [[k, v] for k, v in reasons.most_common()]), "",
                    "\n".join(f"- `{r['grid_id']}` ({r['width']}×{r['height']}, {r.get('standard', '')}): "
                              f"{r['status']}" for r in bad), ""]
    out += ["## 3. Orchestration overhead (Airflow)", ""]
    if airflow is None:
        out += ["Skipped in this run (`BENCH_FAST=1` or `--no-airflow`).", ""]
    else:
        out += [airflow.get("markdown", "").strip(), ""]
    if notes:
        out += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(out)
