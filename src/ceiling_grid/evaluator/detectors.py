"""§7.4 smoke-detector checks (D1-D6) and the §8 detector score, recomputed from the final layout alone."""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ..cache import RoomCache
from ..config import DetectorStandard
from ..coverage import (
    DESIGN_MARGIN_M,
    OPTIMUM_PROBLEM,
    design_radius,
    site_clearances,
)
from ..geodesic import nearest_summary
from ..geometry import RoomGeometry
from ..grid import COMPONENT_CODES, Component, RoomGrid, TileState, room_key
from ..prepared import BS_CORRIDOR_RADIUS_M, PreparedRoom, prepare
from ..setcover import DECIDE, DEFAULT_WORK_BUDGET, PROOF, prove_cover, solve_cover, uncovered
from .geometry_rules import misplaced_tiles
from .report import RuleResult, StageReport

__all__ = [
    "DESIGN_MARGIN_M",
    "OPTIMUM_PROBLEM",
    "design_radius",
    "evaluate_detectors",
    "legal_detector_sites",
    "optimal_detector_count",
    "optimum_with_reason",
    "reference_sites",
    "square_spacing_count",
]

DEFAULT_OPTIMUM_MAX_CANDIDATES = 2000  # D6: compute the ILP optimum only up to this many candidates
DEFAULT_OPTIMUM_TIME_LIMIT_S = 120.0  # wall-clock safety net only; the node and work budgets decide the answer
DEFAULT_OPTIMUM_NODE_BUDGET = 400  # D6: branch-and-bound nodes over all rounds (deterministic work budget)
DEFAULT_OPTIMUM_MAX_ROUNDS = 40
DEFAULT_OPTIMUM_WORK_BUDGET = DEFAULT_WORK_BUDGET  # D6: coverage-matrix entries handed to HiGHS over all rounds
DEFAULT_DECISION_WORK_SHARE = 2  # D6 with the layout as incumbent: the decision ILP gets 1/this of the work budget
DEFAULT_PRESOLVE_PASSES = 2  # D6: dominance-reduction rounds before each MIP
TOL = 1e-9


def legal_detector_sites(grid: RoomGrid, *, luminaire_rule: bool = False) -> np.ndarray:
    """Tiles (n, 2) where a detector would pass D2, D3, D5 (and D4 when asked).

    Free detector tiles and the tiles that hold detectors now both count."""
    arrays = grid.arrays
    here = arrays.component == COMPONENT_CODES[Component.SMOKE_DETECTOR]
    ok_state = arrays.free_for_detector | (here & arrays.is_state(TileState.CEILING, TileState.CUT_TILE))
    ys, xs = np.nonzero(ok_state)
    c = site_clearances(prepare(grid), grid, np.stack([xs, ys], axis=1))
    keep = c.wall_ok & c.air_ok
    if luminaire_rule:
        keep &= c.luminaire_ok
    return np.asarray(c.tiles[keep])


def square_spacing_count(grid: RoomGrid) -> int:
    """Detectors in a square-spacing layout of the bounding box (NFPA S = 9.144 m; else R*sqrt(2))."""
    room = prepare(grid)
    spec = room.detector_spec
    x0, y0, x1, y1 = room.geometry.bbox
    s = spec.s_nominal_m or spec.r_cover_m * math.sqrt(2.0)
    if room.is_bs_corridor:
        return max(1, math.ceil(max(x1 - x0, y1 - y0) / (2 * BS_CORRIDOR_RADIUS_M) - 1e-9))
    return max(1, math.ceil((x1 - x0) / s - 1e-9)) * max(1, math.ceil((y1 - y0) / s - 1e-9))


def _grid_cover_count(lx: float, ly: float, r: float) -> int:
    """Textbook count: min nx*ny with sqrt((lx/2nx)^2 + (ly/2ny)^2) <= r (§5.1)."""
    best = None
    for nx in range(1, 10_000):
        half = lx / (2 * nx)
        if half >= r:
            continue
        ny = max(1, math.ceil(ly / (2 * math.sqrt(r * r - half * half)) - 1e-9))
        best = nx * ny if best is None else min(best, nx * ny)
        if ny == 1:
            break
    return best or 1


_OPTIMUM_CACHE: dict[bytes, tuple[int | None, bool, str | None]] = {}
_REPORT_CACHE = RoomCache(16)  # the checker's own cache: (room, components) -> its detector report
_SAFETY_NET_HITS = [0]  # D6 answers cut short by the wall clock so far (their reports are not kept either)
_OPTIMUM_CACHE_SIZE = 64


def reference_sites(grid: RoomGrid, points: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """Candidate tiles of the D6 design problem and whether the D4 luminaire filter is applied.

    Legal sites (D2, D3, D5) that also clear the luminaires by the rule set's ``luminaire_min_m`` (D4); the
    D4 filter is dropped only when those sites cannot cover every point within ``radius`` (as in the model)."""
    sites = legal_detector_sites(grid, luminaire_rule=True)
    if len(sites) and not uncovered(prepare(grid).detection, grid.tile_centres(sites), points, radius).any():
        return sites, True
    return legal_detector_sites(grid, luminaire_rule=False), False


def optimal_detector_count(
    grid: RoomGrid,
    sites_xy: np.ndarray,
    points: np.ndarray,
    radius: float,
    time_limit_s: float = DEFAULT_OPTIMUM_TIME_LIMIT_S,
    node_budget: int = DEFAULT_OPTIMUM_NODE_BUDGET,
    incumbent_xy: np.ndarray | None = None,
    work_budget: int = DEFAULT_OPTIMUM_WORK_BUDGET,
) -> tuple[int | None, bool]:
    """ILP optimum of covering ``points`` with sites (geodesic <= radius), by lazy constraint generation.

    Returns (count, proven_optimal); (None, False) when not coverable or not proven within the work
    budget (see :func:`optimum_with_reason`)."""
    count, proven, _reason = optimum_with_reason(grid, sites_xy, points, radius, time_limit_s, node_budget,
                                                 incumbent_xy, work_budget)
    return count, proven


def optimum_with_reason(
    grid: RoomGrid,
    sites_xy: np.ndarray,
    points: np.ndarray,
    radius: float,
    time_limit_s: float = DEFAULT_OPTIMUM_TIME_LIMIT_S,
    node_budget: int = DEFAULT_OPTIMUM_NODE_BUDGET,
    incumbent_xy: np.ndarray | None = None,
    work_budget: int = DEFAULT_OPTIMUM_WORK_BUDGET,
) -> tuple[int | None, bool, str | None]:
    """(count, proven, reason): the exact minimum number of ``sites_xy`` covering ``points`` within ``radius``.

    ``incumbent_xy`` is an optional known layout; when it is a subset of the sites and covers every
    point it bounds the optimum from above, and the ILP only has to prove that no smaller cover exists
    (or find one). The work is deterministic (``node_budget`` branch-and-bound nodes and ``work_budget``
    coverage-matrix entries over at most
    ``DEFAULT_OPTIMUM_MAX_ROUNDS`` row-generation rounds), so the same problem always gets the same
    answer; ``time_limit_s`` is a wall-clock safety net only (an answer cut short by it is not memoised).
    ``reason`` says why the count is None. Answers are memoised on the problem and the incumbent size.
    """
    geo = prepare(grid).detection
    sites_xy = np.asarray(sites_xy, dtype=float).reshape(-1, 2)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    incumbent = _incumbent_index(geo, sites_xy, points, radius, incumbent_xy)
    upper = None if incumbent is None else len(incumbent)
    digest = hashlib.blake2b(digest_size=20)
    for part in (geo.walls, geo.in_room, sites_xy, points):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(repr((radius, node_budget, work_budget, grid.tile_size_m, upper)).encode())
    key = digest.digest()
    if key in _OPTIMUM_CACHE:
        return _OPTIMUM_CACHE[key]
    answer, safety_hit = _optimal_detector_count(geo, sites_xy, points, radius, time_limit_s, node_budget,
                                                 incumbent, work_budget)
    if safety_hit:  # not deterministic: do not memoise
        _SAFETY_NET_HITS[0] += 1
        return answer
    if len(_OPTIMUM_CACHE) >= _OPTIMUM_CACHE_SIZE:
        _OPTIMUM_CACHE.pop(next(iter(_OPTIMUM_CACHE)))
    _OPTIMUM_CACHE[key] = answer
    return answer


def _incumbent_index(
    geo: RoomGeometry, sites_xy: np.ndarray, points: np.ndarray, radius: float, incumbent_xy: np.ndarray | None
) -> np.ndarray | None:
    """Site indices of ``incumbent_xy`` when it is a feasible solution of the cover problem (on sites, covers all)."""
    if incumbent_xy is None or len(incumbent_xy) == 0 or len(sites_xy) == 0:
        return None
    inc = np.unique(np.round(np.asarray(incumbent_xy, dtype=float).reshape(-1, 2), 6), axis=0)
    d, idx = cKDTree(sites_xy).query(inc)
    if (d > 1e-6).any():
        return None
    if len(points) and uncovered(geo, inc, points, radius).any():
        return None
    return np.unique(np.asarray(idx, dtype=np.int64))


def _optimal_detector_count(
    geo: RoomGeometry,
    sites_xy: np.ndarray,
    points: np.ndarray,
    radius: float,
    time_limit_s: float,
    node_budget: int,
    incumbent: np.ndarray | None,
    work_budget: int,
) -> tuple[tuple[int | None, bool, str | None], bool]:
    """((count, proven, reason), safety_net_hit): the shared solver in proof mode (``setcover.PROOF``)."""
    if len(points) and len(sites_xy) and incumbent is None and uncovered(geo, sites_xy, points, radius).any():
        return (None, False, f"the legal sites cannot cover every point within {radius:g} m"), False
    if incumbent is not None:  # a known cover: only "is there one with a site fewer?" needs answering
        # a feasibility round on the same entries takes about twice an optimum round's time here (HiGHS
        # searches for a cover instead of stopping at the LP bound): half the entries, about the same time
        decide = replace(DECIDE, node_budget=node_budget, work_budget=work_budget // DEFAULT_DECISION_WORK_SHARE,
                         time_limit_s=time_limit_s)
        out = prove_cover(geo, sites_xy, points, radius, incumbent, decide)
    else:
        search = replace(PROOF, node_budget=node_budget, work_budget=work_budget, time_limit_s=time_limit_s,
                         max_rounds=DEFAULT_OPTIMUM_MAX_ROUNDS, presolve_passes=DEFAULT_PRESOLVE_PASSES)
        out = solve_cover(geo, sites_xy, points, radius, search)
    if out.proven and out.count is not None:
        return (out.count, True, None), False
    return (None, False, out.reason), out.safety_hit


def _half_spacing(grid: RoomGrid, geo: RoomGeometry, xy: np.ndarray) -> tuple[bool, dict[str, Any]]:
    """NFPA half-spacing method on a rectangular room: a complete row/column grid, gaps <= S, walls <= S/2."""
    spec = grid.detector_spec
    s = spec.s_nominal_m or 0.0
    x0, y0, x1, y1 = geo.bbox
    if len(xy) == 0:
        return False, {"reason": "no detectors"}
    xs = np.unique(np.round(xy[:, 0], 6))
    ys = np.unique(np.round(xy[:, 1], 6))
    full_grid = len(xs) * len(ys) == len(xy)
    gx = float(np.diff(np.concatenate([[x0], xs, [x1]]))[1:-1].max()) if len(xs) > 1 else 0.0
    gy = float(np.diff(np.concatenate([[y0], ys, [y1]]))[1:-1].max()) if len(ys) > 1 else 0.0
    wall = max(xs[0] - x0, x1 - xs[-1], ys[0] - y0, y1 - ys[-1])
    ok = full_grid and gx <= s + TOL and gy <= s + TOL and wall <= s / 2 + TOL
    values = {"complete_grid": full_grid, "max_gap_m": round(max(gx, gy), 4), "max_wall_m": round(float(wall), 4)}
    return bool(ok), values


def evaluate_detectors(grid: RoomGrid) -> StageReport:
    """Check D1-D6 on the final layout and score it (§7.4, §8); kept per process for the same room and
    components (the detector stage's own check is the final check's detector part)."""
    key = (room_key(grid), f"detector_report:{grid.detector_standard}:"
           + hashlib.blake2b(np.ascontiguousarray(grid.arrays.component).tobytes(), digest_size=16).hexdigest())
    kept = _REPORT_CACHE.get(key, StageReport)
    if kept is not None:
        return copy.deepcopy(kept)
    cut_short = _SAFETY_NET_HITS[0]
    report = _check_detectors(grid)
    if _SAFETY_NET_HITS[0] == cut_short:  # a D6 stopped by the wall clock is not kept, as in optimal_detector_count
        _REPORT_CACHE.put(key, copy.deepcopy(report))  # never handed out: callers get copies
    return report


def _check_detectors(grid: RoomGrid) -> StageReport:
    """:func:`evaluate_detectors` itself: check D1-D6 on the final layout and score it (§7.4, §8).

    D1 is the exact check: every point of the prepared room's ``lattice`` within R, no tolerance. D6 compares N
    with the exact optimum of the *design problem* (``OPTIMUM_PROBLEM``), the one the detector model
    solves: the same points, radius R - ``DESIGN_MARGIN_M`` (§7.4 generator margin) and the legal sites
    (D2, D3, D5, plus D4 unless that leaves a point uncovered). Above ``DEFAULT_OPTIMUM_MAX_CANDIDATES``
    sites the optimum is not computed (``n_optimal`` None, the reason in the D6 values).
    """
    room = prepare(grid)
    geo = room.detection
    spec = grid.detector_spec
    tiles = grid.positions(Component.SMOKE_DETECTOR)
    xy = grid.tile_centres(tiles)
    n = len(xy)
    pts, radius, corridor = room.lattice.points, room.lattice.radius, room.lattice.corridor
    rules: list[RuleResult] = []

    # D1 coverage (geodesic, no tolerance)
    if n:
        worst, n_bad = nearest_summary(geo, xy, pts, radius + TOL)
    else:
        worst, n_bad = math.inf, len(pts)
    d1 = n_bad == 0
    d1_values: dict[str, Any] = {"radius_m": radius, "worst_m": round(worst, 4) if math.isfinite(worst) else None,
                                 "uncovered_points": n_bad, "points": len(pts), "corridor_rule": corridor,
                                 **_beam_zoning(room)}
    alt_ok = False
    if spec.key is DetectorStandard.NFPA72 and geo.is_rectangle and not corridor:
        alt_ok, alt_values = _half_spacing(grid, geo, xy)
        d1_values["half_spacing"] = {"passed": alt_ok, **alt_values}
    passed = d1 or alt_ok
    rules.append(RuleResult(
        "D1", passed, True,
        f"every ceiling point within {radius} m of a detector (worst {d1_values['worst_m']} m)" if d1 else
        ("half-spacing method passes (NFPA 72 17.7.3.2.3.1(1))" if alt_ok else
         f"{n_bad} of {len(pts)} ceiling points are farther than {radius} m from every detector"
         + _pocket_hint(room, math.isinf(worst))),
        d1_values))

    # D2 walls, D3 air terminals, D4 luminaires, D5 blocked tiles
    placed = site_clearances(room, grid, tiles)
    wall, air, lum = placed.wall, placed.air, placed.luminaire
    d2_bad = tiles[~placed.wall_ok].tolist()
    d3_bad = tiles[~placed.air_ok].tolist()
    d4_ok = placed.luminaire_ok
    d5_bad = misplaced_tiles(grid, Component.SMOKE_DETECTOR)
    rules.append(RuleResult("D2", not d2_bad, True,
                            f"all detectors >= {spec.wall_min_m} m from walls" if not d2_bad else
                            f"{len(d2_bad)} detectors closer than {spec.wall_min_m} m to a wall: {d2_bad[:5]}",
                            {"min_m": _rounded_min(wall), "limit_m": spec.wall_min_m, "failing": d2_bad[:20]}))
    rules.append(RuleResult("D3", not d3_bad, True,
                            f"all detectors >= {spec.air_terminal_min_m} m from air-terminal edges" if not d3_bad else
                            f"{len(d3_bad)} detectors closer than {spec.air_terminal_min_m} m to an air terminal: "
                            f"{d3_bad[:5]}",
                            {"min_m": _rounded_min(air), "limit_m": spec.air_terminal_min_m,
                             "returns_count": spec.clear_of_returns, "failing": d3_bad[:20]}))
    d4_frac = float(d4_ok.mean()) if n else 1.0
    rules.append(RuleResult("D4", bool(d4_ok.all()), False,
                            f"{int(d4_ok.sum())} of {n} detectors >= {spec.luminaire_min_m:g} m from luminaire edges",
                            {"min_m": _rounded_min(lum), "pass_fraction": round(d4_frac, 4)}))
    rules.append(RuleResult("D5", not d5_bad, True,
                            "no detector on a blocked tile" if not d5_bad
                            else f"detectors on blocked tiles: {d5_bad[:5]}",
                            {"failing": [list(p) for p in d5_bad[:20]]}))

    # D6 count vs optimum, lower bound and square spacing
    x0, y0, x1, y1 = geo.bbox
    n_lb = max(1, math.ceil(geo.area_m2 / (math.pi * radius * radius) - 1e-9)) if not corridor else max(
        1, math.ceil(max(x1 - x0, y1 - y0) / (2 * radius) - 1e-9))
    n_square = square_spacing_count(grid)
    # The D6 reference optimum solves the design problem (OPTIMUM_PROBLEM): the D1 points, the design
    # radius R - 0.05 m and the legal sites; the layout under check is its incumbent when it is feasible.
    r_design = design_radius(radius)
    sites, lum_rule = reference_sites(grid, pts, r_design)
    n_opt: int | None = None
    proven = False
    why: str | None
    if len(sites) > DEFAULT_OPTIMUM_MAX_CANDIDATES:
        why = f"{len(sites)} candidate sites > {DEFAULT_OPTIMUM_MAX_CANDIDATES}: optimum not computed"
    else:
        n_opt, proven, why = optimum_with_reason(grid, grid.tile_centres(sites), pts, r_design, incumbent_xy=xy)
    n_grid = (max(1, math.ceil(max(x1 - x0, y1 - y0) / (2 * radius) - 1e-9)) if corridor
              else _grid_cover_count(x1 - x0, y1 - y0, radius))
    n_expected = n_opt if n_opt is not None else n_grid
    over = n > n_expected + 1
    rules.append(RuleResult("D6", not over, False,
                            f"N = {n}; ILP optimum {n_opt} ({OPTIMUM_PROBLEM}"
                            + (f": {why}" if why else "") + f"); lower bound {n_lb}; square spacing {n_square}"
                            + ("; over-provisioned" if over else ""),
                            {"n": n, "n_optimal": n_opt, "optimal_proven": proven, "optimum_problem": OPTIMUM_PROBLEM,
                             "optimum_reason": why, "design_radius_m": round(r_design, 4),
                             "n_candidates": len(sites), "luminaire_rule": lum_rule, "n_lower_bound": n_lb,
                             "n_square_spacing": n_square, "n_grid_cover": n_grid, "n_expected": n_expected}))

    compliant = all(r.passed for r in rules if r.hard)
    infeasible = None
    if not compliant and n_opt is None:
        infeasible = _infeasibility(grid, geo, pts, radius)
    score = 100.0 * compliant + 80.0 * (min(1.0, n_expected / n) if n else 0.0) + 20.0 * d4_frac
    metrics = {
        "n_detectors": n,
        "worst_coverage_m": d1_values["worst_m"],
        "min_wall_clearance_m": _rounded_min(wall),
        "min_air_terminal_clearance_m": _rounded_min(air),
        "min_luminaire_clearance_m": _rounded_min(lum),
        "n_optimal": n_opt,
        "optimum_problem": OPTIMUM_PROBLEM,
        "n_lower_bound": n_lb,
        "n_square_spacing": n_square,
        "n_expected": n_expected,
        "coverage_radius_m": radius,
        "standard": str(spec.key),
    }
    return StageReport("smoke_detectors", rules, round(score, 4), metrics, infeasible)


def _pocket_hint(room: PreparedRoom, unreachable: bool) -> str:
    """What to do when a beam pocket has no detector of its own."""
    if not (unreachable and room.beam_walls.any()):
        return ""
    depth = room.detector_spec.beam_wall_ratio * room.ceiling_height_m
    return (f"; a beam pocket has no detector (beams at least {depth:.2f} m deep are walls for detector zoning, "
            "§4.4): put one in every pocket")


def _beam_zoning(room: PreparedRoom) -> dict[str, Any]:
    """The §4.4 beam_as_wall figures D1 reports: beam tiles with a depth, those that are walls, the pockets."""
    if not (room.beam_depth > 0).any():
        return {}
    _labels, pockets = room.zones
    return {"beam_tiles_with_depth": int((room.beam_depth > 0).sum()), "beam_wall_tiles": int(room.beam_walls.sum()),
            "beam_wall_depth_m": round(room.detector_spec.beam_wall_ratio * room.ceiling_height_m, 4),
            "zones": int(pockets)}


def _rounded_min(v: np.ndarray) -> float | None:
    if len(v) == 0:
        return None
    m = float(v.min())
    return round(m, 4) if math.isfinite(m) else None


def _why_no_site(grid: RoomGrid) -> dict[str, str]:
    """The rule that removes the last legal detector site: walls (D2), their occupants (D5), air terminals (D3)."""
    spec = grid.detector_spec
    arrays = grid.arrays
    ceiling = arrays.is_state(TileState.CEILING, TileState.CUT_TILE)
    if not ceiling.any():
        return {"rule": "D5", "reason": f"{spec.title}: every ceiling tile is blocked for detectors"}
    ys, xs = np.nonzero(ceiling)
    c = site_clearances(prepare(grid), grid, np.stack([xs, ys], axis=1))
    if not c.wall_ok.any():
        return {"rule": "D2", "reason": f"{spec.title}: no ceiling tile is {spec.wall_min_m} m from the walls; the "
                "room is too small for a detector under this rule set"}
    wall_tiles = c.tiles[c.wall_ok]
    free = arrays.free_for_detector[wall_tiles[:, 1], wall_tiles[:, 0]]
    if not free.any():
        taken = [tuple(t) for t in wall_tiles.tolist()]
        by_light = all(arrays.component[y, x] == COMPONENT_CODES[Component.LIGHT] for x, y in taken)
        what = "luminaires" if by_light else "other components"
        return {"rule": "D5", "reason": f"{spec.title}: the only tiles {spec.wall_min_m} m from the walls "
                f"({', '.join(map(str, taken[:4]))}) hold {what}; move one to free a tile for a detector"}
    return {"rule": "D3", "reason": f"{spec.title}: every free tile {spec.wall_min_m} m from the walls is within "
            f"{spec.air_terminal_min_m} m of an air terminal; move a diffuser or return grille"}


def _infeasibility(grid: RoomGrid, geo: RoomGeometry, pts: np.ndarray, radius: float) -> dict[str, str] | None:
    """{"rule", "reason"} when no legal detector layout can pass D1 (every legal site together fails)."""
    spec = grid.detector_spec
    sites = legal_detector_sites(grid)
    if len(sites) == 0:
        return _why_no_site(grid)
    bad = int(uncovered(geo, grid.tile_centres(sites), pts, radius).sum())
    if bad:
        return {"rule": "D1", "reason": f"{spec.title}: {bad} ceiling points are farther than {radius} m from every "
                "tile that passes the wall and air-terminal clearances"}
    return None
