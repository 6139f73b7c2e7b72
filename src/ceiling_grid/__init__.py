"""ceiling-grid: lay out a suspended ceiling (lights, supply diffusers, smoke detectors) and prove it."""

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
