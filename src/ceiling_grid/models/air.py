"""AirSupplyModel: supply-air diffusers sized by ASHRAE 62.1 / cooling airflow and spread evenly (§3).

Q_supply = max(q*A, Voz) with Voz = (Rp*Pz + Ra*Az) / Ez; N = ceil(Q / q_max), pre-placed supply
diffusers count. Rectangular rooms get the aspect-matched nx x ny array with the best T50/L window
(§3.3); other shapes (or rooms with pre-placed diffusers) get a centroidal (Lloyd) spread. Targets snap
to free tiles, avoiding tiles next to a luminaire on a jet axis. The layout must leave the room
detector-feasible for the active rule set (§3.4, §4.6): if it does not, diffusers move (single-tile
moves, least displacement first) and, failing that, detector sites are reserved before placing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from ..coverage import edge_distance, luminaires_in_throw
from ..geometry import RoomGeometry, geometry_of
from ..grid import Component, RoomGrid
from ..lighting import axis_tiles
from ..logs import get_logger
from ..prepared import prepare
from ..setcover import uncovered
from .base import Infeasible, Judge, ModelResult, Stage
from .detectors import (
    DEFAULT_LATTICE_STEP_M,
    candidate_sites,
    cover_problem,
    detector_infeasibility,
    solve_cover,
)

__all__ = ["AirSupplyModel", "supply_airflow"]

log = get_logger(__name__)

DEFAULT_LLOYD_ITERATIONS = 25
DEFAULT_JET_WINDOW = (0.7, 1.3)  # T50/L acceptance (§3.3)
DEFAULT_TIE_BREAK_M = 1e-6  # per metre from the room's centre: breaks ties between equally near tiles
DEFAULT_CENTRE_LINE_PENALTY_M = 1.0  # leaving the centre line a target sits on (the array would lose its mirror;
# outweighs DEFAULT_OFF_GAP_PENALTY_M: symmetry first, then the gaps between luminaire rows)
DEFAULT_OFF_GAP_PENALTY_M = 0.7  # per tile off the midline between luminaire rows (and columns): diffusers
# sit in the gaps between the fittings, as on a coordinated ceiling plan
DEFAULT_LIGHT_AXIS_PENALTY_M = 0.15  # soft: per luminaire beside the diffuser on a jet axis (§3.3)
DEFAULT_MAX_REPAIR_CHECKS = 400  # feasibility checks spent on moving diffusers before reserving sites
DEFAULT_REPAIR_ALTERNATIVES = 24  # nearest free tiles tried per diffuser


def supply_airflow(grid: RoomGrid) -> tuple[float, int, dict[str, float]]:
    """(Q_supply in L/s, diffusers required, the terms) for the room (§3.1, §3.2)."""
    geo = geometry_of(grid)
    spec = grid.room_spec
    area = geo.area_m2
    people = float(grid.occupants) if grid.occupants is not None else spec.occupancy_per_m2 * area
    vbz = spec.rp_l_s_person * people + spec.ra_l_s_m2 * area
    voz = vbz / spec.ez
    cooling = spec.supply_l_s_m2 * area
    q = max(cooling, voz)
    q_max = grid.diffuser_spec().capacity_l_s
    n = max(1, math.ceil(q / q_max - 1e-9))
    return q, n, {"area_m2": area, "people": people, "vbz_l_s": vbz, "voz_l_s": voz, "cooling_l_s": cooling}


def _array_choice(lx: float, ly: float, n: int, t50_per_flow: float, q: float) -> tuple[int, int]:
    """nx x ny array (>= n units, little waste) maximising the T50/L pass fraction, then aspect match."""
    lo, hi = DEFAULT_JET_WINDOW
    best: tuple[Any, ...] | None = None
    extra = max(1, n // 4)
    for nx in range(1, n + extra + 1):
        for ny in range(1, n + extra + 1):
            total = nx * ny
            if total < n or total > n + extra:
                continue
            t50 = t50_per_flow * q / total
            lxd, lyd = lx / (2 * nx), ly / (2 * ny)
            frac = 0.5 * (lo <= t50 / lxd <= hi) + 0.5 * (lo <= t50 / lyd <= hi)
            key = (-frac, total, abs(math.log(lxd / lyd)), nx)
            if best is None or key < best:
                best = (*key, nx, ny)
    if best is None:  # pragma: no cover - nx = ny = 1 .. n always yields a shape
        return 1, n
    return int(best[-2]), int(best[-1])


def _lloyd(samples: np.ndarray, fixed: np.ndarray, n_new: int) -> np.ndarray:
    """Centroidal spread of ``n_new`` generators over ``samples`` with ``fixed`` generators (deterministic)."""
    seeds: list[np.ndarray] = []
    gens = fixed.copy()
    for _ in range(n_new):  # farthest-point initialisation
        if len(gens):
            d, _ = cKDTree(gens).query(samples)
            p = samples[int(np.argmax(d))]
        else:
            p = samples[int(np.argmin(((samples - samples.mean(axis=0)) ** 2).sum(axis=1)))]
        seeds.append(p)
        gens = np.vstack([gens, p[None]]) if len(gens) else p[None].copy()
    movable = np.array(seeds, dtype=float).reshape(-1, 2)
    for _ in range(DEFAULT_LLOYD_ITERATIONS):
        allg = np.vstack([fixed, movable]) if len(fixed) else movable
        _, owner = cKDTree(allg).query(samples)
        new = movable.copy()
        for i in range(len(movable)):
            mine = samples[owner == len(fixed) + i]
            if len(mine):
                new[i] = mine.mean(axis=0)
        if np.allclose(new, movable, atol=1e-6):
            break
        movable = new
    return movable


def _targets(grid: RoomGrid, geo: RoomGeometry, n_new: int, existing: np.ndarray, q: float) -> np.ndarray:
    if n_new <= 0:
        return np.zeros((0, 2))
    x0, y0, x1, y1 = geo.bbox
    if geo.is_rectangle and len(existing) == 0:
        spec = grid.diffuser_spec()
        nx, ny = _array_choice(x1 - x0, y1 - y0, n_new, spec.t50_at_capacity_m / spec.capacity_l_s, q)
        # the cell centres, snapped to tiles symmetrically (as the luminaire arrays are)
        t = grid.tile_size_m
        tx0, tx1, ty0, ty1 = prepare(grid).tile_bbox
        cols = axis_tiles(tx0, tx1 - tx0 + 1, nx)
        rows = axis_tiles(ty0, ty1 - ty0 + 1, ny)
        gx, gy = np.meshgrid((np.array(cols) + 0.5) * t, (np.array(rows) + 0.5) * t)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)
    ys_, xs_ = np.nonzero(geo.ceiling)
    samples = grid.tile_centres(np.stack([xs_, ys_], axis=1))
    return _lloyd(samples, grid.tile_centres(existing), n_new)


def _within_d3(grid: RoomGrid, detectors_xy: np.ndarray) -> np.ndarray:
    """(h, w) tiles whose edge is closer than the D3 air-terminal clearance to one of the detector centres."""
    h, w = grid.arrays.state.shape
    gy, gx = np.mgrid[0:h, 0:w]
    tiles = np.stack([gx.ravel(), gy.ravel()], axis=1)
    d = edge_distance(detectors_xy, tiles, grid.tile_size_m, per_tile=True)  # inf without detectors
    return np.asarray((d < grid.detector_spec.air_terminal_min_m - 1e-9).reshape(h, w))


def diffuser_tiles(grid: RoomGrid, needed: int = 0) -> np.ndarray:
    """(h, w) tiles a new diffuser may take: free, clear of the detectors already there (D3), and not
    beside a luminaire (its throw) while at least ``needed`` such tiles remain."""
    placed = grid.tile_centres(grid.positions(Component.SMOKE_DETECTOR))
    free = np.array(grid.arrays.free_for_diffuser, dtype=bool) & ~_within_d3(grid, placed)
    clear = free & (luminaires_in_throw(grid) == 0)
    return np.asarray(clear if int(clear.sum()) >= max(needed, 1) else free)


def _gap_midlines(lines: np.ndarray) -> np.ndarray:
    """Tile coordinates halfway between neighbouring luminaire lines (rows or columns), as floats."""
    lines = np.unique(lines)
    gaps = np.diff(lines)
    return np.asarray((lines[:-1] + lines[1:])[gaps >= 2] / 2.0, dtype=float)


def _off_gap_tiles(grid: RoomGrid, tiles: np.ndarray) -> np.ndarray:
    """(n,) tiles from each tile to the nearest midline between luminaire rows, plus the same for columns:
    0 for a diffuser centred in the gap between four fittings (an axis with fewer than two lines adds 0)."""
    lights = grid.positions(Component.LIGHT)
    out = np.zeros(len(tiles))
    for axis in (0, 1):
        mids = _gap_midlines(lights[:, axis]) if len(lights) else np.zeros(0)
        if len(mids):
            # a midline on a tile edge (an even gap) has both tiles beside it as centred as the grid allows
            slack = np.where(mids % 1.0 > 0.25, 0.5, 0.0)
            off = np.maximum(np.abs(tiles[:, axis][:, None].astype(float) - mids[None, :]) - slack[None, :], 0.0)
            out += off.min(axis=1)
    return out


def _snap(grid: RoomGrid, targets: np.ndarray, forbidden: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Assign each target to the nearest allowed diffuser tile (one per tile, see :func:`diffuser_tiles`),
    preferring tiles off the luminaires' throw axes and in the gaps between luminaire rows and columns."""
    free = diffuser_tiles(grid, len(targets))
    if forbidden is not None:
        free &= ~forbidden
    axis_lights = luminaires_in_throw(grid)
    ys, xs = np.nonzero(free)
    tiles = np.stack([xs, ys], axis=1)
    if len(tiles) == 0:
        return []
    centres = grid.tile_centres(tiles)
    x0, y0, x1, y1 = geometry_of(grid).bbox
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    # equal distances go to the tile nearer the room's centre, so mirrored targets snap to mirrored tiles
    inward = DEFAULT_TIE_BREAK_M * np.hypot(*(centres - centre).T)
    penalty = (DEFAULT_LIGHT_AXIS_PENALTY_M * axis_lights[ys, xs] + inward
               + DEFAULT_OFF_GAP_PENALTY_M * _off_gap_tiles(grid, tiles))
    taken = np.zeros(len(tiles), dtype=bool)

    def cost_of(idx: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Each tile's cost for target ``p``; a target on a centre line stays on it when it can (a move off it
        breaks the mirror symmetry); taken tiles cost inf."""
        c = centres[idx]
        on_line = np.abs(p - centre) < 1e-6
        leaves = ((np.abs(c - centre) > 1e-6) & on_line[None, :]).any(axis=1)
        cost = np.hypot(*(c - p).T) + penalty[idx] + DEFAULT_CENTRE_LINE_PENALTY_M * leaves
        cost[taken[idx]] = np.inf
        return np.asarray(cost)

    tree = cKDTree(centres)
    out: list[tuple[int, int]] = []
    for p in targets:
        # every penalty is >= 0, so no tile farther than some tile's cost can cost less: the nearest few
        # bound the search, and the tiles within that bound (in index order, as argmin breaks ties) decide
        near = np.atleast_1d(np.asarray(tree.query(p, k=min(_SNAP_NEAREST, len(tiles)))[1], dtype=np.int64))
        bound = float(cost_of(near, p).min())
        idx = (np.array(sorted(tree.query_ball_point(p, bound + 1e-9)), dtype=np.int64) if np.isfinite(bound)
               else np.arange(len(tiles)))
        cost = cost_of(idx, p)
        k = int(np.argmin(cost))
        if not np.isfinite(cost[k]):
            break
        j = int(idx[k])
        taken[j] = True
        out.append((int(tiles[j, 0]), int(tiles[j, 1])))
    return out


_SNAP_NEAREST = 8  # _snap bounds each target's search by the cheapest of its nearest few tiles


def _uncovered_count(grid: RoomGrid) -> int:
    """Demand points no remaining detector candidate can cover (0 = detector-feasible)."""
    geo = prepare(grid).detection
    problem = cover_problem(grid)
    pts = problem.points
    existing = grid.tile_centres(grid.positions(Component.SMOKE_DETECTOR))
    if len(existing):  # else every point, as the lattice itself (its cells are kept: a copy's are not)
        pts = pts[uncovered(geo, existing, pts, problem.radius)]
    if len(pts) == 0:
        return 0
    sites = candidate_sites(grid, luminaire_filter=False)
    return int(uncovered(geo, sites.centres, pts, problem.radius).sum())


def _repair(base: RoomGrid, tiles: list[tuple[int, int]], targets: np.ndarray) -> tuple[list[tuple[int, int]], int]:
    """Move single diffusers (least displacement first) until the room is detector-feasible."""
    checks = 0
    current = list(tiles)
    bad = _uncovered_count(base.with_components(Component.AIR_SUPPLY, current))
    free = diffuser_tiles(base, len(current))
    ys, xs = np.nonzero(free)
    all_tiles = np.stack([xs, ys], axis=1)
    centres = base.tile_centres(all_tiles)
    while bad > 0 and checks < DEFAULT_MAX_REPAIR_CHECKS:
        best: tuple[int, float, int, tuple[int, int]] | None = None
        for i, _tile in enumerate(current):
            anchor = targets[i] if i < len(targets) else base.tile_centres(np.array([current[i]]))[0]
            order = np.argsort(np.hypot(*(centres - anchor).T), kind="stable")
            tried = 0
            for j in order:
                cand = (int(all_tiles[j, 0]), int(all_tiles[j, 1]))
                if cand in current:
                    continue
                tried += 1
                if tried > DEFAULT_REPAIR_ALTERNATIVES or checks >= DEFAULT_MAX_REPAIR_CHECKS:
                    break
                trial = [*current[:i], cand, *current[i + 1:]]
                checks += 1
                n_bad = _uncovered_count(base.with_components(Component.AIR_SUPPLY, trial))
                disp = float(np.hypot(*(centres[j] - anchor)))
                key = (n_bad, disp, i, cand)
                if n_bad < bad and (best is None or key < best):
                    best = key
                if n_bad == 0:
                    break
            if best is not None and best[0] == 0:
                break
        if best is None:
            break
        current[best[2]] = best[3]
        bad = best[0]
    return current, bad


def _reserve_sites(base: RoomGrid) -> np.ndarray | None:
    """Tiles forbidden to diffusers so that a detector cover of ``base`` stays legal (None if none exists)."""
    geo = prepare(base).detection
    problem = cover_problem(base)
    sites = candidate_sites(base, luminaire_filter=False)
    if len(sites.centres) == 0 or detector_infeasibility(base, problem) is not None:
        return None
    pts = problem.points
    existing = base.tile_centres(base.positions(Component.SMOKE_DETECTOR))
    pts = pts[uncovered(geo, existing, pts, problem.radius)]
    reserved = existing
    if len(pts):
        cover = solve_cover(geo, sites.centres, sites.weights, pts, problem.radius, time_limit=5.0)
        reserved = np.vstack([existing, sites.centres[cover.chosen]]) if len(existing) else sites.centres[cover.chosen]
    return _within_d3(base, reserved)


@dataclass(frozen=True)
class AirSupplyModel:
    """Supply diffusers: ASHRAE 62.1 / cooling airflow, even spread, detector feasibility kept (§3, §4.6)."""

    name: ClassVar[str] = "AirSupplyModel"
    stage: ClassVar[Stage] = Stage.AIR_SUPPLY
    version: ClassVar[str] = "1.0.0"

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        """Add supply diffusers to ``grid``; pre-placed ones count towards N and stay; ``judge`` scores it."""
        start = time.perf_counter()
        geo = geometry_of(grid)
        q, n_req, terms = supply_airflow(grid)
        existing = grid.positions(Component.AIR_SUPPLY)
        n_new = max(0, n_req - len(existing))
        infeasible: Infeasible | None = None
        details: dict[str, Any] = {
            "q_supply_l_s": round(q, 3),
            "n_required": n_req,
            "preplaced": len(existing),
            "lattice_step_m": DEFAULT_LATTICE_STEP_M,
            **{k: round(v, 3) for k, v in terms.items()},
        }
        targets = _targets(grid, geo, n_new, existing, q)
        tiles = _snap(grid, targets)
        strategy = "array" if geo.is_rectangle and len(existing) == 0 else "lloyd"
        if len(tiles) < len(targets):
            infeasible = Infeasible("A1", f"only {len(tiles)} free tiles for {len(targets)} new supply diffusers; "
                                    "free ceiling tiles or use larger diffusers")
        bad = _uncovered_count(grid.with_components(Component.AIR_SUPPLY, tiles))
        if bad and not _uncovered_count(grid):  # the diffusers, not the room, leave points no detector covers
            tiles, bad = _repair(grid, tiles, targets)
            strategy += "+moved"
            if bad:
                forbidden = _reserve_sites(grid)
                if forbidden is not None:
                    tiles_r = _snap(grid, targets, forbidden)
                    if len(tiles_r) == len(targets):
                        bad_r = _uncovered_count(grid.with_components(Component.AIR_SUPPLY, tiles_r))
                        if bad_r < bad:
                            tiles, bad = tiles_r, bad_r
                            strategy = strategy.replace("+moved", "+reserved")
        if bad and infeasible is None:
            blocked = detector_infeasibility(grid.with_components(Component.AIR_SUPPLY, tiles))
            infeasible = Infeasible("detector_feasibility", blocked.reason if blocked else (
                f"{bad} ceiling points cannot be covered by any legal detector site after the diffuser clearance"))
        new = grid.with_components(Component.AIR_SUPPLY, tiles)
        report = judge(new)
        count = len(existing) + len(tiles)
        extra = count - n_req
        details.update(strategy=strategy, placed=len(tiles), detector_feasible=bad == 0, metrics=report.metrics,
                       above_airflow_minimum=max(0, extra),
                       why_more=(f"{extra} more than the airflow needs, so that every jet's T50/L stays in "
                                 f"{DEFAULT_JET_WINDOW[0]}-{DEFAULT_JET_WINDOW[1]} (throw)") if extra > 0 else None)
        log.info("diffusers_placed", grid_id=grid.grid_id, count=count, strategy=strategy,
                 detector_feasible=bad == 0, seconds=round(time.perf_counter() - start, 4))
        compliant = report.compliant and infeasible is None
        return ModelResult(self.name, self.stage, new, report.score, compliant, len(tiles), count=count,
                           infeasible=infeasible, diagnostics=details)
