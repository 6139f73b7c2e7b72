"""The independent checker of §7: recomputes every rule from the final layout, never trusting a model."""

from __future__ import annotations

from ..grid import RoomGrid
from .report import ComplianceReport, RuleResult, StageReport

__all__ = ["ComplianceReport", "RuleResult", "StageReport", "evaluate", "room_checks"]


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


def room_checks(grid: RoomGrid) -> None:
    """Compute now, and cache, what :func:`evaluate` needs of ``grid``'s room alone, whatever is placed in it
    (L5's smallest passing regular array), so that a runner can overlap it with the models' work."""
    from .lighting import smallest_passing_regular_array

    smallest_passing_regular_array(grid)
