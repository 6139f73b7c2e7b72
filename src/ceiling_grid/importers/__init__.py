"""Importers (adapters): rooms from the files MEP engineers have, as standard room grids.

``read_rooms(path)`` takes a room file (cell list or polygon format), a DXF plan or an IFC model and
returns every room in it; each bad input is one line naming the file, the element and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import DEFAULT_LIMITS, Limits
from ..grid import RoomGrid, load_room, parse_room
from .dxf import DEFAULT_COLUMN_LAYERS, DEFAULT_ROOM_LAYERS, DxfOptions, dxf_room_payloads

__all__ = ["DEFAULT_COLUMN_LAYERS", "DEFAULT_ROOM_LAYERS", "IMPORT_SUFFIXES", "DxfOptions", "read_rooms"]

IMPORT_SUFFIXES = (".json", ".dxf", ".ifc")


def read_rooms(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS, data_dir: Path | None = None,
               dxf: DxfOptions | None = None) -> list[RoomGrid]:
    """Every room in ``path``: one for a room file (JSON), one per outline for a DXF plan, one per IfcSpace."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".dxf":
        payloads = dxf_room_payloads(p, dxf, limits)
    elif suffix == ".ifc":
        from .ifc import ifc_room_payloads

        opts = dxf or DxfOptions()
        payloads = ifc_room_payloads(p, opts.tile_m, dict(opts.fields), limits)
    else:
        return [load_room(p, limits, data_dir=data_dir)]
    return [parse_room(payload, f"{path} ({payload['grid_id']})", limits) for payload in payloads]
