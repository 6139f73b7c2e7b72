"""What the plan view shows of a run, as plain JSON-able data (the HTML page and ``/api/runs/{id}`` share it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..outputs import ROOM_FILE_SUFFIXES
from ..published import RunFolder, run_counts

__all__ = ["room_rows", "run_data", "run_link", "run_list_entry"]

REGULARITY_KEYS = ("rows", "columns", "symmetry_x", "symmetry_y", "regular", "aligned_fraction",
                   "max_gap_deviation_tiles")


def run_link(run_id: str) -> str:
    """The path segment of a run (every character that could end or redirect a URL is escaped)."""
    return quote(run_id, safe="")


def _rounded(value: Any, digits: int) -> float | None:
    return round(float(value), digits) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _regularity(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, Mapping):
        return None
    return {k: data[k] for k in REGULARITY_KEYS if k in data}


def room_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per published room: status, counts, Em, U0, worst coverage, chosen models, regularity, files."""
    rows = []
    for room in summary.get("results", []):
        if not isinstance(room, Mapping):
            continue
        listed = {str(f) for f in room.get("files", [])}
        grid_id = str(room.get("grid_id", ""))
        rows.append({
            "grid_id": grid_id,
            "source": room.get("source"),
            "status": str(room.get("status", "")),
            "compliant": bool(room.get("compliant")),
            "infeasible": bool(room.get("infeasible")),
            "failed_rules": list(room.get("failed_rules", [])),
            "lights": room.get("lights"),
            "air_supply": room.get("air_supply"),
            "smoke_detectors": room.get("smoke_detectors"),
            "em_lux": _rounded(room.get("em_lux"), 0),
            "u0": _rounded(room.get("u0"), 2),
            "worst_coverage_m": _rounded(room.get("worst_coverage_m"), 2),
            "r_cover_m": _rounded(room.get("r_cover_m"), 2),
            "models": dict(room.get("models") or {}),
            "regularity": _regularity(room.get("regularity")),
            "files": {kind: f"{grid_id}{suffix}" for kind, suffix in ROOM_FILE_SUFFIXES.items()
                      if f"{grid_id}{suffix}" in listed},
        })
    return rows


def run_data(run: RunFolder) -> dict[str, Any]:
    """The JSON of ``GET /ceiling-grid/api/runs/{run_id}``."""
    summary = run.summary
    counts = run_counts(summary)
    return {
        "run_id": run.run_id,
        "folder": run.path.name,
        "rooms": counts["rooms"],
        "compliant": counts["compliant"],
        "infeasible": counts["infeasible"],
        "skipped": [dict(s) for s in summary.get("skipped", []) if isinstance(s, Mapping)],
        "results": room_rows(summary),
    }


def run_list_entry(run: RunFolder) -> dict[str, Any]:
    """One line of the recent-runs list."""
    return {"run_id": run.run_id, "folder": run.path.name, "published_at": run.published_at(),
            **run_counts(run.summary)}
