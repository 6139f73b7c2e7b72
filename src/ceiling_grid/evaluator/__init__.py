"""The independent checker of §7: recomputes every rule from the final layout, never trusting a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..grid import RoomGrid
from .report import ComplianceReport, RuleResult, StageReport

__all__ = ["ComplianceReport", "RoomChecks", "RuleResult", "StageReport", "adopt_room_checks", "evaluate",
           "room_checks"]


def evaluate(grid: RoomGrid) -> ComplianceReport:
    """Check the final combined layout against G, L, A and D rules (§7) and score each stage (§8)."""
    from .air import evaluate_air
    from .detectors import evaluate_detectors
    from .geometry_rules import evaluate_geometry
    from .lighting import evaluate_lighting

    stages = {
        "geometry": evaluate_geometry(grid),
        "lights": evaluate_lighting(grid),
        "air_supply": evaluate_air(grid),
        "smoke_detectors": evaluate_detectors(grid),
    }
    return ComplianceReport(
        grid_id=grid.grid_id,
        standard=str(grid.detector_standard),
        room_type=grid.room_type,
        stages=stages,
    )


@dataclass(frozen=True)
class RoomChecks:
    """What :func:`evaluate` needs of a room alone, whatever is placed in it (picklable: it may be computed in
    another process and adopted here with :func:`adopt_room_checks`)."""

    l5_reference: dict[str, Any] | None  # L5's smallest passing regular array (None: none passes)


def room_checks(grid: RoomGrid) -> RoomChecks:
    """Compute now, and cache, what :func:`evaluate` needs of ``grid``'s room alone (L5's smallest passing
    regular array), so that a runner can overlap it with the models' work."""
    from .lighting import smallest_passing_regular_array

    return RoomChecks(smallest_passing_regular_array(grid))


def adopt_room_checks(grid: RoomGrid, checks: RoomChecks) -> None:
    """Cache ``checks``, computed by :func:`room_checks` for ``grid``'s room in another process, here."""
    from .lighting import adopt_l5_reference

    adopt_l5_reference(grid, checks.l5_reference)
