"""Batches of room files (pipeline layer), shared by the CLI and the DAG: discovery, overrides, unique ids.

Each adapter resolves its own paths (the CLI: as given; the DAG: under the data folder) and words
its own errors around these, but which files are rooms, how a trigger's overrides apply and when
two rooms collide is decided here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DEFAULT_LIMITS, Limits
from .grid import RoomGrid, parse_room

__all__ = ["REPORT_SUFFIX", "ROOM_GLOB", "ROOM_GLOBS", "RoomIds", "room_files_in", "with_overrides"]

ROOM_GLOB = "*.json"
ROOM_GLOBS = (ROOM_GLOB, "*.dxf", "*.ifc")  # room files, DXF plans (a room per outline), IFC models (per space)
REPORT_SUFFIX = ".report.json"  # a run's own report files are never rooms


def room_files_in(folder: Path) -> list[Path]:
    """The room files of ``folder``: its regular ``*.json`` files without reports, its ``*.dxf`` plans and its
    ``*.ifc`` models, sorted by name."""
    found = {p for pattern in ROOM_GLOBS for p in folder.glob(pattern)}
    return sorted(p for p in found if p.is_file() and not p.name.endswith(REPORT_SUFFIX))


def with_overrides(grid: RoomGrid, overrides: Mapping[str, Any], source: str,
                   limits: Limits = DEFAULT_LIMITS) -> RoomGrid:
    """``grid`` re-validated with ``overrides`` (``detector_standard``, ``room_type`` ...) applied; as is if none."""
    update = {k: v for k, v in overrides.items() if v is not None}
    if not update:
        return grid
    return parse_room({**grid.to_payload(), **update}, f"{source} (with overrides {update})", limits)


@dataclass
class RoomIds:
    """The ``grid_id`` of every room taken so far: an id names the output files, so it must be unique."""

    seen: dict[str, str] = field(default_factory=dict)

    def claim(self, grid_id: str, source: str) -> str | None:
        """None if ``grid_id`` is new (it is now taken by ``source``), else the one-line problem to report."""
        first = self.seen.get(grid_id)
        if first is not None:
            return (f"{source}: grid_id {grid_id!r} repeats the one in {first} (fix: give every room a unique "
                    "grid_id; it names the output files)")
        self.seen[grid_id] = source
        return None
