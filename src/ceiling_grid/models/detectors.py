"""SmokeDetectorModel: minimum-count smoke-detector layout as an exact set-cover ILP (§5.1), greedy fallback.

The model solves the *design problem* that the checker's D6 reference optimum also solves
(``OPTIMUM_PROBLEM``: "0.1 m lattice, R-0.05 m, legal sites"): the demand points are the D1 points
(the prepared room's ``lattice``: the 0.1 m lattice plus the polygon vertices,
without column interiors; the BS corridor centreline), a point is covered when its geodesic distance to a
detector is at most R - 0.05 m (the §7.4 generator margin), and the candidates are the free detector tiles
passing the wall, air-terminal and (soft, dropped only when it leaves a point uncovered) luminaire
clearances (§4.4, §4.5). The ILP is solved by HiGHS (``scipy.optimize.milp``) with lazy row generation:
solve on a coarse subset of points, check every point, add the uncovered ones, repeat. The final solve
is then optimal for the whole lattice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from .. import setcover
from ..config import DEFAULT_LIMITS, DetectorStandard, Limits
from ..coverage import DESIGN_MARGIN_M, OPTIMUM_PROBLEM, site_clearances
from ..geometry import RoomGeometry
from ..grid import Component, RoomGrid
from ..logs import get_logger
from ..prepared import D1_LATTICE_STEP_M, PreparedRoom, prepare
from ..setcover import DESIGN, cover_rows, greedy_cover, uncovered
from .base import Infeasible, Judge, ModelResult, Stage

__all__ = [
    "DEFAULT_COVER_MARGIN_M",
    "DEFAULT_LATTICE_STEP_M",
    "CandidateSites",
    "CoverProblem",
    "SmokeDetectorModel",
    "candidate_sites",
    "cover_problem",
    "detector_infeasibility",
    "half_spacing_layout",
]

log = get_logger(__name__)

DEFAULT_LATTICE_STEP_M = D1_LATTICE_STEP_M  # the checker's D1 lattice (§7.4): the model covers the same points
DEFAULT_COVER_MARGIN_M = DESIGN_MARGIN_M  # §7.4: generators place so coverage passes with R - 0.05 m
DEFAULT_ILP_NODE_BUDGET = setcover.DEFAULT_NODE_BUDGET  # B&B nodes over all rounds: the deterministic work budget
# Above this many candidates the ILP is skipped (pattern + greedy): a deterministic cost cap. 50 x 50 tiles
# (2304-2500 sites) NFPA/CEN ran into the wall-clock net (> 20 s CPU) with it; 40 x 40 (<= 1600) stays <= ~9 s.
DEFAULT_MODEL_ILP_MAX_CANDIDATES = 2000
# Up to this many candidates the weighted optimum ILP (solve_cover) runs; above it, where that ILP spent its whole
# budget without a proof (33 x 40 to 60 x 40 tiles, 3-4 s each), local search shrinks the pattern cover instead.
DEFAULT_WEIGHTED_MAX_CANDIDATES = 1000
DEFAULT_GRID_MOVE_MARGIN_M = 0.001  # a half-spacing grid with moved crossings must cover every D1 point within R - this
EPS = 1e-9


@dataclass(frozen=True)
class CoverProblem:
    """The demand side of the set cover: points that must lie within ``radius`` of a detector."""

    points: np.ndarray
    radius: float  # design radius: R - 0.05 m
    r_cover: float  # the rule set's R
    step: float
    corridor: bool


def cover_problem(grid: RoomGrid, margin: float = DEFAULT_COVER_MARGIN_M) -> CoverProblem:
    """Demand points and design radius of ``grid``: the checker's D1 points within R - ``margin`` (§7.4)."""
    lattice = prepare(grid).lattice
    return CoverProblem(points=lattice.points, radius=lattice.radius - margin, r_cover=lattice.radius,
                        step=DEFAULT_LATTICE_STEP_M, corridor=lattice.corridor)


@dataclass(frozen=True)
class CandidateSites:
    """Candidate detector tiles after each filter, with the tie-break weight of each final site."""

    tiles: np.ndarray  # (n, 2) int tile (x, y)
    centres: np.ndarray  # (n, 2) metres
    weights: np.ndarray  # (n,) in [0, 1]; lower is preferred among equal counts
    counts: dict[str, int] = field(default_factory=dict)  # survivors after free / wall / air / luminaire
    luminaire_filter: bool = True
    stages: dict[str, np.ndarray] = field(default_factory=dict)  # centres surviving each filter stage


DEFAULT_CLEARANCE_CAP_M = 3.0
DEFAULT_CENTRE_WEIGHT = 0.6  # tie-break weight of distance from the centre vs crowding by walls and trades


def candidate_sites(grid: RoomGrid, *, luminaire_filter: bool = True) -> CandidateSites:
    """Free detector tiles passing wall_min, air_terminal_min and (optionally) luminaire_min (§5.1)."""
    room = prepare(grid)
    ys, xs = np.nonzero(grid.arrays.free_for_detector)
    c = site_clearances(room, grid, np.stack([xs, ys], axis=1))
    counts = {"free": len(c.tiles)}
    stages = {"free": c.centres}
    keep = c.wall_ok.copy()
    counts["wall"] = int(keep.sum())
    stages["wall"] = c.centres[keep]
    keep &= c.air_ok
    counts["air"] = int(keep.sum())
    stages["air"] = c.centres[keep]
    if luminaire_filter:
        keep &= c.luminaire_ok
    counts["luminaire"] = int(keep.sum())
    clearance = c.nearest[keep]
    crowded = 1.0 - np.minimum(clearance, DEFAULT_CLEARANCE_CAP_M) / DEFAULT_CLEARANCE_CAP_M
    # among covers of equal count, prefer sites near the room's centre (a lone detector sits centred, pairs
    # and rows symmetric about it), then those clear of the other trades
    off_centre = _off_centre(room, c.tiles[keep], c.centres[keep])
    weights = DEFAULT_CENTRE_WEIGHT * off_centre + (1.0 - DEFAULT_CENTRE_WEIGHT) * crowded
    return CandidateSites(c.tiles[keep], c.centres[keep], weights, counts, luminaire_filter, stages)


def _off_centre(room: PreparedRoom, tiles: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n,) distance of each site from the centre of its zone over the zone's half-diagonal: the room, or the
    beam pocket it is in when beams are walls (§4.4), so a pocket's detector sits in the pocket's middle."""
    zones, n = room.zones
    out = np.zeros(len(tiles))
    zone_of = zones[tiles[:, 1], tiles[:, 0]] if len(tiles) else np.zeros(0, dtype=np.int64)
    for k in range(1, n + 1):
        ys, xs = np.nonzero(zones == k)
        x0, x1 = xs.min() * room.tile, (xs.max() + 1) * room.tile
        y0, y1 = ys.min() * room.tile, (ys.max() + 1) * room.tile
        half = max(np.hypot(x1 - x0, y1 - y0) / 2, 1e-9)
        mine = zone_of == k
        out[mine] = np.hypot(centres[mine, 0] - (x0 + x1) / 2, centres[mine, 1] - (y0 + y1) / 2) / half
    return out


def detector_infeasibility(grid: RoomGrid, problem: CoverProblem | None = None) -> Infeasible | None:
    """None when every demand point can be covered by some candidate (ignoring the soft luminaire rule);
    otherwise the blocking rule (D5 blocked tiles, D2 walls, D3 air terminals, D1 coverage)."""
    geo = prepare(grid).detection
    problem = problem or cover_problem(grid)
    sites = candidate_sites(grid, luminaire_filter=False)
    existing = grid.tile_centres(grid.positions(Component.SMOKE_DETECTOR))
    pts = problem.points
    if len(existing):
        pts = pts[uncovered(geo, existing, pts, problem.radius)]
    if len(pts) == 0:
        return None
    if len(sites.centres) and not uncovered(geo, sites.centres, pts, problem.radius).any():
        return None
    spec = grid.detector_spec
    std = spec.title
    if len(sites.stages["free"]) == 0:
        return Infeasible("D5", f"{std}: every ceiling tile is blocked (column, sprinkler, access panel, "
                          "equipment or another component); free a tile for a detector")
    checks = (
        ("free", "D1", (f"{{n}} ceiling points are farther than {problem.radius:.2f} m (design radius) from every "
                       "free tile; split the room or free tiles near the far corners")),
        ("wall", "D2", (f"no free tile at least {spec.wall_min_m} m from the walls can cover {{n}} ceiling points "
                       f"within {problem.radius:.2f} m")),
        ("air", "D3", (f"the air-terminal clearance ({spec.air_terminal_min_m} m to the nearest edge) removes every "
                      f"tile that could cover {{n}} ceiling points within {problem.radius:.2f} m; move a diffuser "
                      "or return grille")),
    )
    for stage, rule, why in checks:
        c = sites.stages[stage]
        n = int(uncovered(geo, c, pts, problem.radius).sum()) if len(c) else len(pts)
        if n:
            return Infeasible(rule, f"{std}: " + why.format(n=n))
    return None


# ----- set cover ------------------------------------------------------------------------------------------


@dataclass
class _Cover:
    chosen: np.ndarray
    solver: str
    optimal: bool
    lower_bound: int | None
    rounds: int
    rows: int
    nodes: int = 0
    budget_exhausted: bool = False
    reason: str | None = None
    work: int = 0


def solve_cover(
    geo: RoomGeometry,
    cands: np.ndarray,
    weights: np.ndarray,
    points: np.ndarray,
    radius: float,
    *,
    time_limit: float,
    anchors: np.ndarray | None = None,
    incumbent: np.ndarray | None = None,
    node_budget: int = DEFAULT_ILP_NODE_BUDGET,
) -> _Cover:
    """The design cover: :func:`ceiling_grid.setcover.solve_cover` with weighted ties (``DESIGN``), as a _Cover."""
    out = setcover.solve_cover(geo, cands, points, radius, DESIGN.with_budget(node_budget, time_limit),
                               weights=weights, incumbent=incumbent, anchors=anchors)
    if out.chosen is None:  # every point is coverable (checked first), so the greedy fallback always covers
        raise RuntimeError("set cover found no full cover of coverable points")
    # "highs": the ILP found or proved the count; otherwise the incumbent won and HiGHS only gave the bound
    solver = "highs" if out.from_ilp or out.proven else "pattern+highs_bound"
    return _Cover(out.chosen, solver, out.proven, out.lower_bound, out.rounds, out.rows, out.nodes,
                  out.budget_exhausted, out.reason, out.work)


def _square_targets(box: tuple[float, float, float, float], r: float) -> list[np.ndarray]:
    """Square-grid layouts of the box whose cells fit in a circle of radius r (few best nx)."""
    x0, y0, x1, y1 = box
    lx, ly = x1 - x0, y1 - y0
    out: list[tuple[int, int, int]] = []
    for nx in range(1, int(lx / (r * 0.5)) + 3):
        half = lx / (2 * nx)
        if half >= r:
            continue
        ny = max(1, math.ceil(ly / (2 * math.sqrt(r * r - half * half)) - 1e-9))
        out.append((nx * ny, nx, ny))
    out.sort()
    layouts = []
    for _, nx, ny in out[:3]:
        gx, gy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * lx / nx, y0 + (np.arange(ny) + 0.5) * ly / ny)
        layouts.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
    return layouts


def _staggered_targets(box: tuple[float, float, float, float], r: float) -> list[np.ndarray]:
    """Staggered (hexagonal-like) layouts: rows offset by half a spacing, walls half a row away."""
    x0, y0, x1, y1 = box
    layouts = []
    for transpose in (False, True):
        lx, ly = (x1 - x0, y1 - y0) if not transpose else (y1 - y0, x1 - x0)
        best: np.ndarray | None = None
        for nr in range(1, int(ly / r) + 3):
            dy = ly / nr
            if dy / 2 >= r or dy >= 2 * r:
                continue
            # circumradius of the (sx, dy) isosceles triangle <= r  ->  sx^2/4 <= 2*dy*r - dy^2
            s2 = 2 * dy * r - dy * dy
            if s2 <= 0:
                continue
            sx = min(2 * math.sqrt(s2), 2 * math.sqrt(max(r * r - dy * dy / 4, 0.0)) * 2)
            n_row = max(1, math.ceil(lx / sx - 1e-9))
            sx = lx / n_row
            pts = []
            for k in range(nr):
                yk = (k + 0.5) * dy
                if k % 2 == 0:
                    xs = (np.arange(n_row) + 0.5) * sx
                else:
                    xs = np.concatenate([[sx * 0.25], np.arange(1, n_row) * sx, [lx - sx * 0.25]]) if n_row > 1 else (
                        np.array([lx / 2]))
                pts.append(np.stack([xs, np.full(len(xs), yk)], axis=1))
            layout = np.concatenate(pts)
            if best is None or len(layout) < len(best):
                best = layout
        if best is not None:
            best = best[:, ::-1] if transpose else best
            layouts.append(best + np.array([x0, y0]))
    return layouts


def pattern_cover(
    geo: RoomGeometry, cands: np.ndarray, weights: np.ndarray, points: np.ndarray, radius: float,
    below: int | None = None,
) -> np.ndarray:
    """Regular square / staggered layouts snapped to candidates, gaps filled greedily; the smallest wins.

    With ``below``, only a cover of fewer sites counts: layouts that snap to ``below`` or more are not
    checked, and the result is empty when none is smaller (what a caller with a ``below``-site cover needs)."""
    tree = cKDTree(cands)
    snap = math.sqrt(2.0) * geo.tile / 2
    best: np.ndarray | None = None
    for r in (radius, radius - snap / 2, radius - snap):
        for layout in _square_targets(geo.bbox, r) + _staggered_targets(geo.bbox, r):
            layout = layout[geo.inside(layout)] if len(layout) else layout
            if len(layout) == 0:
                continue
            _, idx = tree.query(layout)
            chosen = np.unique(np.asarray(idx, dtype=np.int64))
            # a layout counts only with fewer sites than the best so far and than ``below``
            limit = min(len(best) if best is not None else math.inf, below if below is not None else math.inf)
            if len(chosen) >= limit:
                continue
            bad = np.nonzero(uncovered(geo, cands[chosen], points, radius))[0]
            if len(bad) and limit < math.inf and len(chosen) + _packing_bound(points[bad], radius) >= limit:
                continue  # filling the gaps needs at least that many more sites: it cannot win
            if len(bad):
                a = cover_rows(geo, tree, cands, points[bad], radius)
                extra = greedy_cover(a, weights)
                chosen = np.union1d(chosen, extra)
            if len(chosen) < limit:
                best = chosen
    return best if best is not None else np.zeros(0, dtype=np.int64)


def _packing_bound(points: np.ndarray, radius: float) -> int:
    """A lower bound on the sites any cover of ``points`` needs: how many of them, taken greedily in order, lie
    more than 2 ``radius`` apart (one site's geodesic disc, never wider than its straight-line one, holds at
    most one such point)."""
    tree = cKDTree(points)
    free = np.ones(len(points), dtype=bool)
    picked = 0
    for i in range(len(points)):
        if free[i]:
            picked += 1
            free[tree.query_ball_point(points[i], 2.0 * radius + 1e-9)] = False
    return picked


def _axis_lines(lo: float, hi: float, coords: np.ndarray, s: float) -> np.ndarray | None:
    """Line positions along one axis for the NFPA half-spacing method, taken from ``coords``: the fewest
    lines with gaps <= ``s`` and both walls <= ``s``/2, and among those the set closest (sum of distances)
    to the evenly spread ideal, so the lines are as even and symmetric as the legal positions allow.
    None when no set of ``coords`` meets the spacing."""
    c = np.unique(np.round(np.asarray(coords, dtype=float), 6))
    start, end = c - lo <= s / 2 + EPS, hi - c <= s / 2 + EPS
    gap = c[None, :] - c[:, None]  # gap[k, j] = c[j] - c[k]
    reach = (gap > EPS) & (gap <= s + EPS)  # reach[k, j]: line j may follow line k
    ok, n = start, 1  # the positions the n-th line can take
    while not (ok & end).any():  # the fewest lines: one more line each round
        ok, n = reach[ok].any(axis=0), n + 1
        if not ok.any():
            return None
    ideal = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    cost = np.where(start, np.abs(c - ideal[0]), np.inf)
    back = np.zeros((n, len(c)), dtype=np.int64)
    for i in range(1, n):
        via = np.where(reach, cost[:, None], np.inf)  # via[k, j]: cost of reaching j from k
        back[i] = via.argmin(axis=0)
        cost = via.min(axis=0) + np.abs(c - ideal[i])
    j = int(np.where(end, cost, np.inf).argmin())
    lines = [j]
    for i in range(n - 1, 0, -1):
        lines.append(int(back[i, lines[-1]]))
    return c[lines[::-1]]


def half_spacing_layout(room: PreparedRoom, sites: CandidateSites, points: np.ndarray | None = None,
                        radius: float | None = None) -> np.ndarray | None:
    """Site indices of an NFPA 72 half-spacing grid (17.7.3.2.3.1(1)): a complete rows x columns grid of
    candidate tiles, gaps <= S, walls <= S/2, in a plain rectangle (no beam pockets, not a corridor);
    None where the rule does not apply or no such grid fits the legal tiles.

    Lines are drawn first along the axis whose lines are clearest of luminaires and air terminals (the
    columns or rows with the most legal tiles), then the other axis takes only positions legal on every one
    of them, so a lit room's grid runs between its luminaire rows. With ``points`` and ``radius``, a crossing
    that is not legal may also move one tile along its line (around a luminaire or a diffuser's clearance)
    when that gives a smaller grid; such a grid is kept only when the discs of ``radius`` cover every point."""
    spec = room.detector_spec
    geo = room.detection
    if (spec.key is not DetectorStandard.NFPA72 or not spec.s_nominal_m or room.lattice.corridor
            or not geo.is_rectangle or len(sites.centres) == 0):  # beams that are walls leave no rectangle
        return None
    s = spec.s_nominal_m
    xy = np.round(sites.centres, 6)
    index = {(float(x), float(y)): i for i, (x, y) in enumerate(xy)}
    lo, hi = np.asarray(geo.bbox[:2]), np.asarray(geo.bbox[2:])
    steps = (0.0,) if points is None or radius is None else (0.0, room.tile)
    best: np.ndarray | None = None
    for step in steps:  # exact crossings first; one-tile moves only where they save detectors
        for first in (0, 1):
            second = 1 - first
            coords, counts = np.unique(xy[:, first], return_counts=True)
            centre = (lo[second] + hi[second]) / 2
            for share in (1.0, 0.8, 0.0):  # the clearest lines first, then any
                lines = _axis_lines(lo[first], hi[first], coords[counts >= share * counts.max()], s)
                if lines is None:
                    continue
                at = {float(c): [_site_near(index, first, a, float(c), step, centre) for a in lines]
                      for c in np.unique(xy[:, second])}
                cross = _axis_lines(lo[second], hi[second],
                                    np.asarray([c for c, found in at.items() if None not in found]), s)
                if cross is None or (best is not None and len(lines) * len(cross) >= len(best)):
                    continue
                chosen = np.array(sorted(i for c in cross for i in at[float(c)] if i is not None), dtype=np.int64)
                if step and points is not None and radius is not None and uncovered(
                        geo, sites.centres[chosen], points, radius).any():
                    continue  # the moved crossings leave a gap in the discs
                best = chosen
    return best


def _site_near(index: dict[tuple[float, float], int], first: int, a: float, c: float, step: float,
               centre: float) -> int | None:
    """The site at line ``a``, cross position ``c``; with ``step``, else one step along the line (towards the
    room's centre line first)."""
    toward = step if c < centre else -step
    for d in ((0.0, toward, -toward) if step else (0.0,)):
        i = index.get(_key(first, a, round(c + d, 6)))
        if i is not None:
            return i
    return None


def _key(first: int, a: float, c: float) -> tuple[float, float]:
    """The (x, y) site key of line position ``a`` on axis ``first`` and cross position ``c``."""
    return (float(a), float(c)) if first == 0 else (float(c), float(a))


@dataclass(frozen=True)
class SmokeDetectorModel:
    """Minimum number of smoke detectors covering the ceiling (exact ILP, greedy for huge rooms)."""

    name: ClassVar[str] = "SmokeDetectorModel"
    stage: ClassVar[Stage] = Stage.SMOKE_DETECTORS
    version: ClassVar[str] = "1.0.0"

    limits: Limits = DEFAULT_LIMITS
    node_budget: int = DEFAULT_ILP_NODE_BUDGET  # deterministic ILP work budget (B&B nodes over all rounds)
    max_ilp_candidates: int = DEFAULT_MODEL_ILP_MAX_CANDIDATES  # deterministic cost cap (also Limits')
    max_weighted_candidates: int = DEFAULT_WEIGHTED_MAX_CANDIDATES  # above: the pattern cover + local search

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        """Add the fewest detectors that cover every ceiling point; pre-placed ones are kept; ``judge`` scores it."""
        start = time.perf_counter()
        geo = prepare(grid).detection
        problem = cover_problem(grid)
        existing = grid.positions(Component.SMOKE_DETECTOR)
        details: dict[str, Any] = {
            "standard": str(grid.detector_standard),
            "design_problem": OPTIMUM_PROBLEM,
            "design_radius_m": round(problem.radius, 4),
            "r_cover_m": problem.r_cover,
            "lattice_step_m": problem.step,
            "corridor_rule": problem.corridor,
            "preplaced": len(existing),
            "n_points": len(problem.points),
        }
        pts = problem.points
        if len(existing):
            pts = pts[uncovered(geo, grid.tile_centres(existing), pts, problem.radius)]
        placed_tiles = np.zeros((0, 2), dtype=np.int64)
        if len(pts):
            # The D4 filter is dropped only when the filtered sites (with the kept detectors) leave a point
            # uncovered: the same rule as the checker's reference_sites.
            sites = candidate_sites(grid, luminaire_filter=True)
            if len(sites.centres) == 0 or uncovered(geo, sites.centres, pts, problem.radius).any():
                sites = candidate_sites(grid, luminaire_filter=False)
                details["luminaire_filter_dropped"] = True
            details["n_candidates"] = len(sites.centres)
            details["candidate_counts"] = sites.counts
            infeasible = None
            if len(sites.centres) == 0 or uncovered(geo, sites.centres, pts, problem.radius).any():
                infeasible = detector_infeasibility(grid, problem) or Infeasible(
                    "D1", "some ceiling points cannot be covered by any candidate tile")
            if infeasible is not None:
                details.update(solver=None, solver_reason=None, optimal=False, lower_bound=None,
                               budget_exhausted=False)
                report = judge(grid)
                log.info("detectors_infeasible", grid_id=grid.grid_id, rule=infeasible.rule)
                return ModelResult(self.name, self.stage, grid, report.score, False, 0, count=len(existing),
                                   infeasible=infeasible, diagnostics=details)
            cap = min(self.limits.ilp_max_candidates, self.max_ilp_candidates)
            use_ilp = len(sites.centres) <= cap
            grid_layout = (half_spacing_layout(prepare(grid), sites, pts, problem.r_cover - DEFAULT_GRID_MOVE_MARGIN_M)
                           if not len(existing) else None)
            # Where neither the ILP nor the local search follows, a pattern matters only if it is no larger than
            # NFPA's grid (a tie keeps the pattern), so larger ones are not checked
            below = (len(grid_layout) + 1 if grid_layout is not None
                     and len(sites.centres) > self.max_weighted_candidates
                     and setcover.local_search_skipped(geo, len(sites.centres), len(pts), problem.radius) else None)
            pattern = pattern_cover(geo, sites.centres, sites.weights, pts, problem.radius, below=below)
            grid_unbeaten = below is not None and not len(pattern)  # no pattern as small as the grid
            if use_ilp and len(sites.centres) <= self.max_weighted_candidates:
                d_vertex, _ = cKDTree(geo.walls[:, 0:2]).query(pts)  # the room's corners start the ILP's rows
                anchors = np.nonzero(d_vertex < 1e-6)[0]
                cover = solve_cover(geo, sites.centres, sites.weights, pts, problem.radius,
                                    time_limit=self.limits.ilp_time_limit_s, anchors=anchors, incumbent=pattern,
                                    node_budget=self.node_budget)
                reason = cover.reason
            elif use_ilp:
                cover = _Cover(pattern, "pattern", False, None, 0, 0)
                reason = (f"{len(sites.centres)} candidates > {self.max_weighted_candidates}: pattern and local "
                          "search (the checker's D6 proves the count when it can)")
            else:
                cover = _Cover(pattern, "pattern+greedy", False, None, 1, 0)
                reason = f"{len(sites.centres)} candidates > ILP candidate limit {cap}"
            if not cover.optimal:  # the ILP's budget ran out (or it was skipped): shrink the cover by local search
                better = setcover.improve_cover(geo, sites.centres, pts, problem.radius, cover.chosen,
                                                weights=sites.weights)
                details["local_search"] = {"dropped": better.dropped, "repairs": better.repairs,
                                           "search_points": better.search_points, "skipped": better.skipped}
                if better.dropped:
                    proven = cover.lower_bound is not None and len(better.chosen) <= cover.lower_bound
                    cover = replace(cover, chosen=better.chosen, solver=f"{cover.solver}+local_search", optimal=proven)
            if grid_layout is not None and (grid_unbeaten or len(grid_layout) < len(cover.chosen)):
                # NFPA's own square-spacing method (D1-alt) needs fewer: the lattice optimum is the
                # R - 0.05 m disc cover on 0.6 m tiles, which can exceed the S x S grid count
                reason = (f"NFPA 72 half-spacing grid: {len(grid_layout)} detectors against "
                          + (f"no {cover.solver} cover of {len(grid_layout)} or fewer" if grid_unbeaten
                             else f"{len(cover.chosen)} from the {cover.solver} cover"))
                cover = replace(cover, chosen=grid_layout, solver="nfpa_half_spacing", optimal=False, lower_bound=None)
            placed_tiles = sites.tiles[cover.chosen]
            lower = cover.lower_bound + len(existing) if cover.lower_bound is not None else None
            details.update(
                solver=cover.solver,
                solver_reason=reason,
                optimal=cover.optimal,
                lower_bound=lower,
                gap=len(cover.chosen) + len(existing) - lower if lower is not None else None,
                budget_exhausted=cover.budget_exhausted,
                node_budget=self.node_budget if use_ilp else 0,
                ilp_nodes=cover.nodes,
                ilp_work=cover.work,
                row_rounds=cover.rounds,
                ilp_rows=cover.rows,
            )
        else:
            details.update(solver="none", solver_reason=None, optimal=True, lower_bound=len(existing),
                           n_candidates=0, budget_exhausted=False)
        new = grid.with_components(Component.SMOKE_DETECTOR, [(int(x), int(y)) for x, y in placed_tiles.tolist()])
        report = judge(new)
        count = len(existing) + len(placed_tiles)
        details.update(placed=len(placed_tiles), metrics=report.metrics)
        log.info("detectors_placed", grid_id=grid.grid_id, count=count, solver=details["solver"],
                 optimal=details["optimal"], seconds=round(time.perf_counter() - start, 4))
        return ModelResult(self.name, self.stage, new, report.score, report.compliant, len(placed_tiles),
                           count=count, diagnostics=details)
