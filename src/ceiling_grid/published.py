"""The published runs under the output root, read-only: find a run by its id, list recent ones, serve its files.

Nothing here trusts a request: a run id is never used as a path (its folder name is derived from
it, as ``publish`` derives it), a folder counts only if its marker names that exact run id, and a
file is served only if the run's ``summary.json`` lists it and it resolves inside the run folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .runs import RUN_MARKER, run_folder_name

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_RECENT",
    "MAX_RUN_ID_CHARS",
    "RunCatalog",
    "RunFolder",
    "run_counts",
    "valid_run_id",
]

MAX_RUN_ID_CHARS = 250  # Airflow's own limit on a run id
DEFAULT_MAX_DEPTH = 4  # output_dir may nest a few folders below the output root
DEFAULT_RECENT = 50
SUMMARY = "summary.json"
_RUN_ID = re.compile(r"[^\x00-\x1f\x7f/\\]+")
_MEDIA_TYPES = {
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".dxf": "image/vnd.dxf",
    ".ifc": "application/x-step",
}


def run_counts(summary: Mapping[str, Any]) -> dict[str, int]:
    """A published run's rooms, compliant, infeasible and skipped files, counted from its ``summary.json``."""
    rooms = [r for r in summary.get("results", []) if isinstance(r, Mapping)]
    return {"rooms": len(rooms), "compliant": sum(1 for r in rooms if r.get("compliant")),
            "infeasible": sum(1 for r in rooms if r.get("infeasible")),
            "skipped": sum(1 for f in summary.get("skipped", []) if isinstance(f, Mapping))}


def valid_run_id(run_id: str) -> bool:
    """A run id as Airflow makes them: 1-250 printable characters, no slashes."""
    return 0 < len(run_id) <= MAX_RUN_ID_CHARS and _RUN_ID.fullmatch(run_id) is not None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class RunFolder:
    """One published run: its id, its folder and what ``publish`` wrote there."""

    run_id: str
    path: Path

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` as written by ``publish``, read once (an empty run if it is unreadable)."""
        data = _read_json(self.path / SUMMARY)
        return data if isinstance(data, dict) else {"run_id": self.run_id, "rooms": 0, "results": []}

    @cached_property
    def listed(self) -> frozenset[str]:
        """The names of the files this run may serve: what ``summary.json`` lists, and the summary itself."""
        return frozenset({str(f) for f in self.summary.get("files", [])} | {SUMMARY})

    def published_at(self) -> float:
        """When ``summary.json`` was written (seconds since the epoch)."""
        try:
            return (self.path / SUMMARY).stat().st_mtime
        except OSError:
            return 0.0

    def file(self, name: str) -> Path | None:
        """The run's file ``name`` if ``summary.json`` lists it (or it is the summary) and it lies in the folder."""
        if name not in self.listed or "/" in name or "\\" in name or name.startswith("."):
            return None
        candidate = self.path / name
        if candidate.is_symlink() or not candidate.is_file():
            return None
        resolved = candidate.resolve()
        return resolved if resolved.parent == self.path.resolve() else None

    def text(self, name: str) -> str | None:
        """The text of a listed file, or ``None``."""
        path = self.file(name)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    @staticmethod
    def media_type(name: str) -> str:
        """The content type a listed file is served with."""
        return _MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class RunCatalog:
    """The run folders below one output root (``ceiling_grid.runs.output_root``)."""

    root: Path
    max_depth: int = DEFAULT_MAX_DEPTH

    def _folders(self) -> Iterator[Path]:
        """Every folder below the root (hidden and staging folders skipped, links not followed)."""
        root = self.root
        if not root.is_dir():
            return
        base_depth = len(root.parts)
        for here, dirs, _files in os.walk(root, followlinks=False):
            path = Path(here)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if len(path.parts) - base_depth >= self.max_depth:
                dirs[:] = []
            if path != root:
                yield path

    @staticmethod
    def _owner(folder: Path) -> str | None:
        data = _read_json(folder / RUN_MARKER)
        owner = data.get("run_id") if isinstance(data, Mapping) else None
        return owner if isinstance(owner, str) else None

    def find(self, run_id: str) -> RunFolder | None:
        """The published folder of ``run_id``, or ``None`` (an invalid id is never looked for)."""
        if not valid_run_id(run_id):
            return None
        name = run_folder_name(run_id)
        for folder in self._folders():
            if folder.name == name and self._owner(folder) == run_id and (folder / SUMMARY).is_file():
                return RunFolder(run_id, folder)
        return None

    def recent(self, limit: int = DEFAULT_RECENT) -> list[RunFolder]:
        """Published runs, newest first (at most ``limit``)."""
        runs = []
        for folder in self._folders():
            owner = self._owner(folder)
            if owner is not None and folder.name == run_folder_name(owner) and (folder / SUMMARY).is_file():
                runs.append(RunFolder(owner, folder))
        runs.sort(key=lambda r: (-r.published_at(), r.run_id))
        return runs[:limit]
