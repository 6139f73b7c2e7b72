"""SmokeDetectorModel: minimum-count smoke-detector layout as an exact set-cover ILP (§5.1), greedy fallback.

The model solves the *design problem* that the checker's D6 reference optimum also solves
(``OPTIMUM_PROBLEM``: "0.1 m lattice, R-0.05 m, legal sites"): the demand points are the D1 points
(:func:`ceiling_grid.coverage.coverage_points`: the 0.1 m lattice plus the polygon vertices,
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
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import structlog
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial import cKDTree

from ..config import DEFAULT_LIMITS, Limits
from ..coverage import (
    DESIGN_MARGIN_M,
    OPTIMUM_PROBLEM,
    coverage_points,
    edge_distance,
    is_bs_corridor,
    wall_clearance,
)
from ..geodesic import nearest_geodesic
from ..geometry import RoomGeometry, geometry_of
from ..grid import Component, RoomGrid
from ..setcover import cover_rows, reduce_cover, unique_rows
from .base import Judge, ModelResult, Stage

__all__ = [
    "DEFAULT_COVER_MARGIN_M",
    "DEFAULT_LATTICE_STEP_M",
    "CandidateSites",
    "CoverProblem",
    "SmokeDetectorModel",
    "candidate_sites",
    "cover_problem",
    "detector_infeasibility",
    "edge_distance",
    "is_bs_corridor",
]

log = structlog.get_logger(__name__)

DEFAULT_LATTICE_STEP_M = 0.1  # the checker's D1 lattice step (§7.4): the model covers the same points
DEFAULT_COVER_MARGIN_M = DESIGN_MARGIN_M  # §7.4: generators place so coverage passes with R - 0.05 m
DEFAULT_MAX_ROW_ROUNDS = 40  # row-generation rounds before giving up on the ILP
DEFAULT_ILP_NODE_BUDGET = 400  # branch-and-bound nodes over all rounds: the deterministic work budget
# Above this many candidates the ILP is skipped (pattern + greedy): a deterministic cost cap. 50 x 50 tiles
# (2304-2500 sites) NFPA/CEN ran into the wall-clock net (> 20 s CPU) with it; 40 x 40 (<= 1600) stays <= ~9 s.
DEFAULT_MODEL_ILP_MAX_CANDIDATES = 2000
DEFAULT_NEW_ROWS_PER_RADIUS = 8.0
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
    pts, r, corridor = coverage_points(grid)
    return CoverProblem(points=pts, radius=r - margin, r_cover=r, step=DEFAULT_LATTICE_STEP_M, corridor=corridor)


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


def candidate_sites(grid: RoomGrid, *, luminaire_filter: bool = True) -> CandidateSites:
    """Free detector tiles passing wall_min, air_terminal_min and (optionally) luminaire_min (§5.1)."""
    geo = geometry_of(grid)
    spec = grid.detector_spec
    arrays = grid.arrays
    t = grid.tile_size_m
    ys, xs = np.nonzero(arrays.free_for_detector)
    tiles = np.stack([xs, ys], axis=1).astype(np.int64)
    centres = grid.tile_centres(tiles)
    counts = {"free": len(tiles)}
    stages = {"free": centres}
    wall = wall_clearance(grid, geo, centres)
    keep = wall >= spec.wall_min_m - EPS
    counts["wall"] = int(keep.sum())
    stages["wall"] = centres[keep]
    terminals = [Component.AIR_SUPPLY] + ([Component.AIR_RETURN] if spec.clear_of_returns else [])
    air_xy = np.concatenate([grid.positions(c) for c in terminals])
    air = edge_distance(centres, air_xy, t)
    keep &= air >= spec.air_terminal_min_m - EPS
    counts["air"] = int(keep.sum())
    stages["air"] = centres[keep]
    lum = edge_distance(centres, grid.positions(Component.LIGHT), t)
    if luminaire_filter:
        keep &= lum >= spec.luminaire_min_m - EPS
    counts["luminaire"] = int(keep.sum())
    clearance = np.minimum(np.minimum(wall, air), lum)[keep]
    weights = 1.0 - np.minimum(clearance, DEFAULT_CLEARANCE_CAP_M) / DEFAULT_CLEARANCE_CAP_M
    return CandidateSites(tiles[keep], centres[keep], weights, counts, luminaire_filter, stages)


def _uncovered(geo: RoomGeometry, sites: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    d, _ = nearest_geodesic(geo, sites, points)
    return d > radius + EPS


def detector_infeasibility(grid: RoomGrid, problem: CoverProblem | None = None) -> dict[str, Any] | None:
    """None when every demand point can be covered by some candidate (ignoring the soft luminaire rule);
    otherwise ``{"rule", "reason"}`` naming the rule (D5 blocked tiles, D2 walls, D3 air terminals, D1 coverage)."""
    geo = geometry_of(grid)
    problem = problem or cover_problem(grid)
    sites = candidate_sites(grid, luminaire_filter=False)
    existing = grid.tile_centres(grid.positions(Component.SMOKE_DETECTOR))
    pts = problem.points
    if len(existing):
        pts = pts[_uncovered(geo, existing, pts, problem.radius)]
    if len(pts) == 0:
        return None
    if len(sites.centres) and not _uncovered(geo, sites.centres, pts, problem.radius).any():
        return None
    spec = grid.detector_spec
    std = spec.title
    if len(sites.stages["free"]) == 0:
        return {"rule": "D5", "reason": f"{std}: every ceiling tile is blocked (column, sprinkler, access panel, "
                "equipment or another component); free a tile for a detector"}
    checks = (
        ("free", "D1", f"{{n}} ceiling points are farther than {problem.radius:.2f} m (design radius) from every "
                       "free tile; split the room or free tiles near the far corners"),
        ("wall", "D2", f"no free tile at least {spec.wall_min_m} m from the walls can cover {{n}} ceiling points "
                       f"within {problem.radius:.2f} m"),
        ("air", "D3", f"the air-terminal clearance ({spec.air_terminal_min_m} m to the nearest edge) removes every "
                      f"tile that could cover {{n}} ceiling points within {problem.radius:.2f} m; move a diffuser "
                      "or return grille"),
    )
    for stage, rule, why in checks:
        c = sites.stages[stage]
        n = int(_uncovered(geo, c, pts, problem.radius).sum()) if len(c) else len(pts)
        if n:
            return {"rule": rule, "reason": f"{std}: " + why.format(n=n)}
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


def _initial_subset(points: np.ndarray, radius: float, n_vertices_first: np.ndarray) -> np.ndarray:
    cell = max(radius / 4.0, 1e-3)
    keys = np.floor(points / cell).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.unique(np.concatenate([first, n_vertices_first]))


def _weight_rank(weights: np.ndarray) -> np.ndarray:
    """Rank of each site for tie-breaks: lower weight first, then lower index."""
    order = np.lexsort((np.arange(len(weights)), weights))
    rank = np.empty(len(weights), dtype=np.int64)
    rank[order] = np.arange(len(weights))
    return rank


def _greedy(a: sparse.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """Greedy set cover (max new points, ties to the lower weight then lower index) + reverse delete."""
    n_rows, _n = a.shape
    csc = a.tocsc()
    gain = np.asarray(a.sum(axis=0)).ravel()
    covered = np.zeros(n_rows, dtype=bool)
    chosen: list[int] = []
    key_tie = weights / (weights.max() + 1.0) * 0.5  # < 1: only breaks ties
    while not covered.all():
        j = int(np.argmax(gain - key_tie))
        if gain[j] <= 0:
            break
        chosen.append(j)
        new = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = new[~covered[new]]
        covered[new] = True
        if len(new):
            gain -= np.asarray(a[new].sum(axis=0)).ravel().astype(gain.dtype)
    # reverse delete: drop sites whose every point is covered twice, worst weight first
    mult = np.asarray(a[:, chosen].sum(axis=1)).ravel() if chosen else np.zeros(n_rows)
    for j in sorted(chosen, key=lambda k: (-weights[k], -k)):
        pts = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        if len(pts) == 0 or (mult[pts] >= 2).all():
            mult[pts] -= 1
            chosen.remove(j)
    return np.array(sorted(chosen), dtype=np.int64)


TIE_BREAK_BUDGET = 0.25  # the tie-break adds < this to the objective, so the count always dominates


@dataclass
class _IlpOutcome:
    x: np.ndarray | None  # chosen columns of the best solution HiGHS found (None: none)
    proven: bool  # the count of x is proven minimal for these rows
    bound: float | None  # HiGHS dual bound (valid for these rows)
    nodes: int
    safety_hit: bool  # the wall-clock safety net stopped HiGHS
    infeasible: bool = False  # no cover of these rows within the cap: the incumbent is optimal


def _ilp(
    a: sparse.csr_matrix, weights: np.ndarray, *, node_limit: int, upper: int, safety_s: float,
    cap: int | None = None,
) -> _IlpOutcome:
    """Exact minimum-count cover of the rows of ``a``; ties go to the lower total weight.

    The work is bounded by ``node_limit`` branch-and-bound nodes (deterministic: HiGHS gives the same
    answer for the same model and options); ``safety_s`` is a wall-clock net that should never fire.
    The MIP stops once the count is proven: with an incumbent of count N and a tie-break below
    ``TIE_BREAK_BUDGET``, an absolute gap under 1 - budget rules out N - 1. ``upper`` (a known cover
    size) bounds the incumbent so the relative gap passed to HiGHS stays below that. ``cap`` (one less
    than a known full cover) limits the count: an infeasible MIP then proves that cover optimal.
    """
    n = a.shape[1]
    cost = 1.0 + TIE_BREAK_BUDGET * weights / (n + 1.0)
    options: dict[str, Any] = {"time_limit": max(0.05, safety_s), "disp": False, "presolve": True,
                               "node_limit": max(1, int(node_limit)), "mip_rel_gap": 0.7 / (upper + 1.0)}
    cons = [LinearConstraint(a, lb=np.ones(a.shape[0]), ub=np.inf)]
    if cap is not None:
        cons.append(LinearConstraint(np.ones((1, n)), lb=0, ub=cap))
    res = milp(cost, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, 1), options=options)
    if res.status == 2:
        return _IlpOutcome(None, False, None, int(getattr(res, "mip_node_count", 0) or 0), False, True)
    b = getattr(res, "mip_dual_bound", None)
    bound = float(b) if b is not None and np.isfinite(b) else None
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    x = np.nonzero(res.x > 0.5)[0] if res.x is not None else None
    proven = x is not None and bound is not None and bound > len(x) - 1 + TIE_BREAK_BUDGET - 1e-9
    return _IlpOutcome(x, proven, bound, nodes, res.status == 1)  # status 1: time (not node) limit


def solve_cover(
    geo: RoomGeometry,
    cands: np.ndarray,
    weights: np.ndarray,
    points: np.ndarray,
    radius: float,
    *,
    use_ilp: bool,
    time_limit: float,
    anchors: np.ndarray | None = None,
    incumbent: np.ndarray | None = None,
    node_budget: int = DEFAULT_ILP_NODE_BUDGET,
    max_rounds: int = DEFAULT_MAX_ROW_ROUNDS,
) -> _Cover:
    """Minimum set cover of ``points`` by ``cands`` (radius, geodesic) with lazy row generation.

    Deterministic: the ILP work is bounded by ``node_budget`` branch-and-bound nodes over at most
    ``max_rounds`` row-generation rounds; ``time_limit`` (seconds of wall clock) is only a safety net,
    and its expiry is reported (``budget_exhausted``, ``reason``). ``incumbent`` (a known full cover,
    e.g. :func:`pattern_cover`) is kept when the ILP cannot beat it within the budget. Every point must
    be coverable (check with :func:`detector_infeasibility` first).
    """
    deadline = time.perf_counter() + time_limit
    tree = cKDTree(cands)
    anchors = np.zeros(0, dtype=np.int64) if anchors is None else anchors
    subset = _initial_subset(points, radius, anchors)
    best: np.ndarray | None = None
    if incumbent is not None and len(incumbent) and not _uncovered(geo, cands[incumbent], points, radius).any():
        best = np.unique(np.asarray(incumbent, dtype=np.int64))
    best_from_ilp = False
    lower: float | None = None
    nodes_left = max(0, int(node_budget))
    rounds = 0
    rows = 0
    nodes = 0
    reason: str | None = None
    exhausted = False
    ilp_on = use_ilp
    proven = False
    while True:
        rounds += 1
        a = unique_rows(cover_rows(geo, tree, cands, points[subset], radius))
        rows = a.shape[0]
        x: np.ndarray | None = None
        from_ilp = False
        if ilp_on and (nodes_left <= 0 or rounds > max_rounds):
            ilp_on, exhausted = False, True
            reason = (f"deterministic ILP budget used up ({node_budget} nodes, {max_rounds} rounds) before the "
                      "count was proven")
        elif ilp_on and time.perf_counter() >= deadline:
            ilp_on, exhausted = False, True
            reason = f"wall-clock safety net ({time_limit:g} s) expired; raise Limits.ilp_time_limit_s"
        if ilp_on:
            ar, kept = reduce_cover(a, _weight_rank(weights))  # dominated sites and redundant points out
            upper_known = len(best) if best is not None else len(_greedy(ar, weights[kept]))
            out = _ilp(ar, weights[kept], node_limit=nodes_left, upper=upper_known,
                       safety_s=deadline - time.perf_counter(), cap=None)
            if out.infeasible and best is not None:  # no cover of even these points beats the incumbent
                lower = float(len(best))
                nodes += out.nodes
                break
            out.x = kept[out.x] if out.x is not None else None
            nodes += out.nodes
            nodes_left -= max(1, out.nodes)
            if out.bound is not None:
                lower = out.bound if lower is None else max(lower, out.bound)  # valid: fewer rows than the full set
            if out.safety_hit:
                ilp_on, exhausted = False, True
                reason = f"wall-clock safety net ({time_limit:g} s) expired; raise Limits.ilp_time_limit_s"
            x, from_ilp = out.x, out.x is not None
            if x is not None:
                proven = out.proven  # only the last round (which covers every point) matters
        if x is None:
            x = _greedy(a, weights)
        bad = np.nonzero(_uncovered(geo, cands[x], points, radius))[0]
        if len(bad) == 0:
            if best is None or len(x) < len(best) or (from_ilp and len(x) == len(best)):
                best, best_from_ilp = x, from_ilp
            break
        if best is not None and lower is not None and len(best) <= math.ceil(lower - TIE_BREAK_BUDGET - 1e-6):
            break  # the incumbent already meets the proven bound
        # one new point per cell of side radius / DEFAULT_NEW_ROWS_PER_RADIUS: small rounds, small MIPs
        # (a skipped point comes back in a later round if it is still uncovered)
        keys = np.floor(points[bad] / max(radius / DEFAULT_NEW_ROWS_PER_RADIUS, 1e-3)).astype(np.int64)
        _, first = np.unique(keys, axis=0, return_index=True)
        bad = bad[first]
        subset = np.union1d(subset, bad)
    assert best is not None
    lb = None
    if lower is not None:
        lb = int(np.ceil(lower - TIE_BREAK_BUDGET - 1e-6))  # cost = count + tie-break < count + budget
        lb = max(lb, 1 if len(points) else 0)
    optimal = use_ilp and ((proven and best_from_ilp) or (lb is not None and len(best) <= lb))
    if optimal:
        exhausted, reason = False, None
    # "highs": the ILP found or proved the count; otherwise the incumbent won and HiGHS only gave the bound
    solver = "greedy" if not use_ilp else ("highs" if best_from_ilp or optimal else "pattern+highs_bound")
    return _Cover(best, solver, bool(optimal), lb, rounds, rows, nodes, exhausted, reason)


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
    geo: RoomGeometry, cands: np.ndarray, weights: np.ndarray, points: np.ndarray, radius: float
) -> np.ndarray:
    """Regular square / staggered layouts snapped to candidates, gaps filled greedily; the smallest wins."""
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
            if best is not None and len(chosen) >= len(best):
                continue
            bad = np.nonzero(_uncovered(geo, cands[chosen], points, radius))[0]
            if len(bad):
                a = cover_rows(geo, tree, cands, points[bad], radius)
                extra = _greedy(a, weights)
                chosen = np.union1d(chosen, extra)
            if best is None or len(chosen) < len(best):
                best = chosen
    return best if best is not None else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class SmokeDetectorModel:
    """Minimum number of smoke detectors covering the ceiling (exact ILP, greedy for huge rooms)."""

    name: ClassVar[str] = "SmokeDetectorModel"
    stage: ClassVar[Stage] = Stage.SMOKE_DETECTORS
    version: ClassVar[str] = "1.0.0"

    limits: Limits = DEFAULT_LIMITS
    node_budget: int = DEFAULT_ILP_NODE_BUDGET  # deterministic ILP work budget (B&B nodes over all rounds)
    max_ilp_candidates: int = DEFAULT_MODEL_ILP_MAX_CANDIDATES  # deterministic cost cap (also Limits')

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        """Add the fewest detectors that cover every ceiling point; pre-placed ones are kept; ``judge`` scores it."""
        start = time.perf_counter()
        geo = geometry_of(grid)
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
            pts = pts[_uncovered(geo, grid.tile_centres(existing), pts, problem.radius)]
        placed_tiles = np.zeros((0, 2), dtype=np.int64)
        if len(pts):
            # The D4 filter is dropped only when the filtered sites (with the kept detectors) leave a point
            # uncovered: the same rule as the checker's reference_sites.
            sites = candidate_sites(grid, luminaire_filter=True)
            if len(sites.centres) == 0 or _uncovered(geo, sites.centres, pts, problem.radius).any():
                sites = candidate_sites(grid, luminaire_filter=False)
                details["luminaire_filter_dropped"] = True
            details["n_candidates"] = len(sites.centres)
            details["candidate_counts"] = sites.counts
            infeasible = None
            if len(sites.centres) == 0 or _uncovered(geo, sites.centres, pts, problem.radius).any():
                infeasible = detector_infeasibility(grid, problem) or {
                    "rule": "D1", "reason": "some ceiling points cannot be covered by any candidate tile"}
            if infeasible is not None:
                details["infeasible"] = infeasible
                details.update(solver=None, solver_reason=None, optimal=False, lower_bound=None,
                               budget_exhausted=False)
                report = judge(grid)
                log.info("detectors_infeasible", grid_id=grid.grid_id, rule=infeasible["rule"])
                return ModelResult(self.name, self.stage, grid, report.score, False, 0, details)
            d_vertex, _ = cKDTree(geo.walls[:, 0:2]).query(pts)
            anchors = np.nonzero(d_vertex < 1e-6)[0]
            cap = min(self.limits.ilp_max_candidates, self.max_ilp_candidates)
            use_ilp = len(sites.centres) <= cap
            pattern = pattern_cover(geo, sites.centres, sites.weights, pts, problem.radius)
            if use_ilp:
                cover = solve_cover(geo, sites.centres, sites.weights, pts, problem.radius, use_ilp=True,
                                    time_limit=self.limits.ilp_time_limit_s, anchors=anchors, incumbent=pattern,
                                    node_budget=self.node_budget)
                reason = cover.reason
            else:
                cover = _Cover(pattern, "pattern+greedy", False, None, 1, 0)
                reason = f"{len(sites.centres)} candidates > ILP candidate limit {cap}"
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
                row_rounds=cover.rounds,
                ilp_rows=cover.rows,
            )
        else:
            details.update(solver="none", solver_reason=None, optimal=True, lower_bound=len(existing),
                           n_candidates=0, budget_exhausted=False)
        new = grid.with_components(Component.SMOKE_DETECTOR, [(int(x), int(y)) for x, y in placed_tiles.tolist()])
        report = judge(new)
        details.update(
            count=len(existing) + len(placed_tiles),
            placed=len(placed_tiles),
            seconds=round(time.perf_counter() - start, 4),
            metrics=report.metrics,
        )
        log.info("detectors_placed", grid_id=grid.grid_id, count=details["count"], solver=details["solver"],
                 optimal=details["optimal"], seconds=details["seconds"])
        return ModelResult(self.name, self.stage, new, report.score, report.compliant, len(placed_tiles), details)
