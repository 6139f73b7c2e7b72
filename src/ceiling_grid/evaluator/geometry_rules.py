"""§7.1 geometry rules: every component on a tile that allows it (G1), at tile centres (G2), a valid room (G3)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import geometry_of
from ..grid import COMPONENT_CODES, STATE_CODES, Component, RoomGrid, TileState
from .report import RuleResult, StageReport

__all__ = ["ALLOWED_STATES", "evaluate_geometry", "misplaced_tiles"]

# §1.4: which tile states each component may stand on. Pre-placed "invalid" markers and
# return grilles are existing equipment: they may sit on any in-room tile that is not a column.
ALLOWED_STATES: dict[Component, frozenset[TileState]] = {
    Component.LIGHT: frozenset({TileState.CEILING}),
    Component.AIR_SUPPLY: frozenset({TileState.CEILING}),
    Component.SMOKE_DETECTOR: frozenset({TileState.CEILING, TileState.CUT_TILE}),
    Component.AIR_RETURN: frozenset(set(TileState) - {TileState.OUTSIDE, TileState.COLUMN}),
    Component.INVALID: frozenset(set(TileState) - {TileState.OUTSIDE}),
}


def misplaced_tiles(grid: RoomGrid, component: Component) -> list[tuple[int, int]]:
    """Tiles holding ``component`` whose state does not permit it (G1)."""
    arrays = grid.arrays
    here = arrays.component == COMPONENT_CODES[component]
    allowed = np.isin(arrays.state, [STATE_CODES[s] for s in ALLOWED_STATES[component]])
    ys, xs = np.nonzero(here & ~allowed)
    return [(int(x), int(y)) for x, y in zip(xs, ys, strict=True)]


def evaluate_geometry(grid: RoomGrid) -> StageReport:
    """Check G1-G3 on the whole layout. One component per tile holds by construction of the grid."""
    rules: list[RuleResult] = []
    bad = {c.value: misplaced_tiles(grid, c) for c in ALLOWED_STATES}
    bad = {k: v for k, v in bad.items() if v}
    n_bad = sum(len(v) for v in bad.values())
    rules.append(
        RuleResult(
            "G1",
            n_bad == 0,
            True,
            "every component stands on a tile whose state permits it, one per tile"
            if n_bad == 0
            else f"{n_bad} components on tiles that forbid them: "
            + "; ".join(f"{k} at {v[:5]}" for k, v in bad.items()),
            {"misplaced": bad},
        )
    )
    rules.append(
        RuleResult("G2", True, True, "components are placed by tile index, so every centre is a tile centre", {})
    )
    geo = geometry_of(grid)
    _, n_parts = ndimage.label(geo.in_room)
    has_ceiling = bool(geo.ceiling.any())
    rules.append(
        RuleResult(
            "G3",
            has_ceiling and n_parts == 1,
            True,
            "room polygon is one connected region with ceiling"
            if has_ceiling and n_parts == 1
            else f"room polygon has {n_parts} separate parts; split it into one file per room",
            {
                "area_m2": round(geo.area_m2, 3),
                "perimeter_m": round(geo.perimeter_m, 3),
                "parts": int(n_parts),
                "rectangular": geo.is_rectangle,
            },
        )
    )
    return StageReport("geometry", rules, score=0.0, metrics={"area_m2": geo.area_m2, "perimeter_m": geo.perimeter_m})
