"""§7.3 supply-diffuser checks (A1-A3, detector feasibility) and the §8 diffuser score, from the final layout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ..coverage import luminaires_in_throw
from ..geometry import RoomGeometry, geometry_of
from ..grid import Component, RoomGrid
from ..prepared import prepare
from ..setcover import uncovered
from .detectors import legal_detector_sites
from .geometry_rules import misplaced_tiles
from .report import RuleResult, StageReport

__all__ = ["JET_WINDOW", "MAX_AREA_CV", "evaluate_air", "jet_lengths", "required_supply"]

JET_WINDOW = (0.7, 1.3)  # §3.3 / §7.3 A3: 0.7 <= T50 / L_dir <= 1.3
MAX_AREA_CV = 0.25  # §7.3 A3: coefficient of variation of the diffusers' Voronoi areas
TOL = 1e-9


def required_supply(grid: RoomGrid) -> tuple[float, int]:
    """Q_supply = max(q*A, Voz) in L/s with Voz = (Rp*Pz + Ra*Az)/Ez, and N = ceil(Q / q_max) (§3.1, §3.2)."""
    geo = geometry_of(grid)
    spec = grid.room_spec
    area = geo.area_m2
    pz = spec.occupancy_per_m2 * area if grid.occupants is None else float(grid.occupants)
    voz = (spec.rp_l_s_person * pz + spec.ra_l_s_m2 * area) / spec.ez
    q = max(spec.supply_l_s_m2 * area, voz)
    return q, max(1, math.ceil(q / grid.diffuser_spec().capacity_l_s - 1e-9))


def _wall_run(geo: RoomGeometry, x: int, y: int, dx: int, dy: int) -> float:
    """Distance from the centre of tile (x, y) to the wall met going in direction (dx, dy)."""
    h, w = geo.in_room.shape
    k = 0
    cx, cy = x, y
    while 0 <= cx + dx < w and 0 <= cy + dy < h and geo.in_room[cy + dy, cx + dx]:
        cx, cy, k = cx + dx, cy + dy, k + 1
    return (k + 0.5) * geo.tile


def jet_lengths(grid: RoomGrid) -> np.ndarray:
    """(n, 4) L_dir per supply diffuser for +x, -x, +y, -y: distance to the wall or half the distance to the
    next diffuser ahead on that axis (within the 45-degree cone)."""
    geo = geometry_of(grid)
    tiles = grid.positions(Component.AIR_SUPPLY)
    xy = grid.tile_centres(tiles)
    out = np.zeros((len(tiles), 4))
    for i, (x, y) in enumerate(tiles.tolist()):
        for k, (dx, dy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
            wall = _wall_run(geo, x, y, dx, dy)
            rel = xy - xy[i]
            ahead = rel[:, 0] * dx + rel[:, 1] * dy
            side = np.abs(rel[:, 0] * dy + rel[:, 1] * dx)
            mask = (ahead > TOL) & (side < ahead)
            nb = float(ahead[mask].min()) / 2 if mask.any() else math.inf
            out[i, k] = min(wall, nb)
    return out


def _area_cv(grid: RoomGrid, geo: RoomGeometry) -> float:
    tiles = grid.positions(Component.AIR_SUPPLY)
    if len(tiles) <= 1:
        return 0.0
    ys, xs = np.nonzero(geo.ceiling)
    samples = grid.tile_centres(np.stack([xs, ys], axis=1))
    _, owner = cKDTree(grid.tile_centres(tiles)).query(samples)
    areas = np.bincount(owner, minlength=len(tiles)).astype(float)
    return float(areas.std() / areas.mean()) if areas.mean() > 0 else 0.0


def _detector_feasible(grid: RoomGrid) -> tuple[bool, int]:
    """Can some legal detector layout (D2, D3, D5) still cover every D1 point? (§3.4, §4.6)."""
    room = prepare(grid)
    geo = room.geometry
    pts, radius = room.lattice.points, room.lattice.radius
    sites = legal_detector_sites(grid)
    if len(sites) == 0:
        return len(pts) == 0, len(pts)
    bad = int(uncovered(geo, grid.tile_centres(sites), pts, radius).sum())
    return bad == 0, bad


def evaluate_air(grid: RoomGrid) -> StageReport:
    """Check A1-A3 and detector feasibility on the final layout and score it (§7.3, §8)."""
    geo = geometry_of(grid)
    spec = grid.diffuser_spec()
    q, n_req = required_supply(grid)
    n = grid.count(Component.AIR_SUPPLY)
    rules: list[RuleResult] = []
    a1 = n * spec.capacity_l_s >= q - TOL
    more = f"; {n - n_req} above the airflow minimum of {n_req}" if a1 and n > n_req else ""
    rules.append(RuleResult("A1", a1, True,
                            f"{n} diffusers x {spec.capacity_l_s} L/s {'>=' if a1 else '<'} Q_supply {q:.1f} L/s{more}",
                            {"q_supply_l_s": round(q, 3), "n_required": n_req, "n_diffusers": n,
                             "above_minimum": max(0, n - n_req)}))
    bad = misplaced_tiles(grid, Component.AIR_SUPPLY)
    rules.append(RuleResult("A2", not bad, True,
                            "every diffuser on a free ceiling tile" if not bad
                            else f"diffusers on blocked tiles: {bad[:5]}",
                            {"misplaced": [list(p) for p in bad[:20]]}))
    lo, hi = JET_WINDOW
    t50 = spec.t50_at_capacity_m * (q / n) / spec.capacity_l_s if n else 0.0
    lengths = jet_lengths(grid)
    ratio = t50 / lengths if n else np.zeros((0, 4))
    ok = (ratio >= lo - TOL) & (ratio <= hi + TOL)
    frac = float(ok.mean()) if n else 0.0
    cv = _area_cv(grid, geo)
    rules.append(RuleResult("A3", frac == 1.0 and cv <= MAX_AREA_CV + TOL, False,
                            f"{int(ok.sum())} of {ok.size} jets within T50/L {lo}-{hi}; Voronoi area CV {cv:.3f}",
                            {"t50_m": round(t50, 3), "jet_pass_fraction": round(frac, 4), "cv_area": round(cv, 4),
                             "t50_l_min": round(float(ratio.min()), 3) if n else None,
                             "t50_l_max": round(float(ratio.max()), 3) if n else None}))
    beside = _beside_luminaires(grid)
    rules.append(RuleResult("A4", not beside, True,
                            "no luminaire beside a supply diffuser along its throw" if not beside else
                            f"{len(beside)} diffusers throw into the luminaire next to them: {beside[:5]}; move each "
                            "to a tile with no luminaire beside it along a row or column (diagonal is fine)",
                            {"diffusers_beside_luminaires": [list(p) for p in beside[:20]]}))
    feasible, uncovered = _detector_feasible(grid)
    std = grid.detector_spec.title
    rules.append(RuleResult("C_detector_feasibility", feasible, True,
                            f"{std}: a legal detector layout can still cover the ceiling" if feasible else
                            f"{std}: {uncovered} ceiling points cannot be covered by any tile clear of walls and "
                            "air terminals; move a diffuser",
                            {"uncovered_points": uncovered}))
    compliant = all(r.passed for r in rules if r.hard)
    score = 100.0 * compliant + 60.0 * frac + 40.0 * (1.0 - min(1.0, cv / 0.5)) if n else 100.0 * compliant
    infeasible = _infeasibility(grid, n_req) if not compliant else None
    metrics: dict[str, Any] = {
        "q_supply_l_s": round(q, 3),
        "n_required": n_req,
        "n_diffusers": n,
        "t50_m": round(t50, 3),
        "t50_l_fraction": round(frac, 4),
        "cv_area": round(cv, 4),
        "detector_feasible": feasible,
    }
    return StageReport("air_supply", rules, round(score, 4), metrics, infeasible)


def _beside_luminaires(grid: RoomGrid) -> list[tuple[int, int]]:
    """Diffuser tiles with a luminaire in one of the four tiles along their jets (coordination, A4)."""
    in_throw = luminaires_in_throw(grid)
    return [(x, y) for x, y in grid.positions(Component.AIR_SUPPLY).tolist() if in_throw[y, x]]


def _infeasibility(grid: RoomGrid, n_req: int) -> dict[str, str] | None:
    """{"rule", "reason"} when no diffuser layout can be compliant in this room."""
    free = int(np.count_nonzero(grid.arrays.free_for_diffuser)) + grid.count(Component.AIR_SUPPLY)
    if free < n_req:
        return {"rule": "A1", "reason": f"{n_req} supply diffusers are needed but only {free} tiles can take one; "
                "free ceiling tiles or raise the diffuser capacity"}
    bare = grid.without_components(Component.AIR_SUPPLY)
    clear = int(np.count_nonzero(bare.arrays.free_for_diffuser & (luminaires_in_throw(bare) == 0)))
    if clear < n_req:
        return {"rule": "A4", "reason": f"{n_req} supply diffusers are needed but only {clear} free tiles have no "
                "luminaire beside them along a row or column; space the luminaires out or free ceiling tiles"}
    ok, bad = _detector_feasible(bare)
    if not ok:
        return {"rule": "detector_feasibility", "reason": f"{grid.detector_spec.title}: even without supply diffusers "
                f"{bad} ceiling points cannot be covered by a legal detector site"}
    return None
