"""ceiling-grid: lay out a suspended ceiling (lights, supply diffusers, smoke detectors) and prove it.

The names below are loaded on first use, so ``import ceiling_grid.cli`` (and ``--help``) does not pay
for numpy and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import DETECTOR_STANDARDS, ROOM_TYPES, DetectorStandard, Limits
    from .errors import (
        CeilingGridError,
        InfeasibleRoomError,
        InputError,
        LimitExceededError,
        PayloadTooLargeError,
        RoomValidationError,
        StageFailedError,
        TransientError,
    )
    from .grid import Cell, Component, RoomGrid, TileState, dump_room, load_room, parse_room

__version__ = "0.1.0"

_HOMES = {
    "config": ("DETECTOR_STANDARDS", "ROOM_TYPES", "DetectorStandard", "Limits"),
    "errors": ("CeilingGridError", "InfeasibleRoomError", "InputError", "LimitExceededError",
               "PayloadTooLargeError", "RoomValidationError", "StageFailedError", "TransientError"),
    "grid": ("Cell", "Component", "RoomGrid", "TileState", "dump_room", "load_room", "parse_room"),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "DETECTOR_STANDARDS",
    "ROOM_TYPES",
    "CeilingGridError",
    "Cell",
    "Component",
    "DetectorStandard",
    "InfeasibleRoomError",
    "InputError",
    "LimitExceededError",
    "Limits",
    "PayloadTooLargeError",
    "RoomGrid",
    "RoomValidationError",
    "StageFailedError",
    "TileState",
    "TransientError",
    "__version__",
    "dump_room",
    "load_room",
    "parse_room",
]


def __getattr__(name: str) -> Any:
    """The public names, imported from their module when first asked for."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ceiling_grid' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
