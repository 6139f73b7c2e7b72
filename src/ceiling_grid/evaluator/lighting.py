"""§7.2 lighting rules L1-L5 and the §8 lighting score, recomputed from the layout alone."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import numpy as np

from ..cache import RoomCache
from ..grid import STATE_CODES, Component, RoomGrid, TileState, room_key
from ..lighting import (
    array_shapes,
    fixture_rules,
    lpd_w_m2,
    lumen_count,
    lumen_method_count,
    regular_array,
    regularity,
    shr_minimum_count,
)
from ..prepared import prepare
from ..scoring import lighting_score
from .geometry_rules import evaluate_geometry, misplaced_tiles
from .illuminance import ReferenceStats, reference_stats
from .report import RuleResult, StageReport

__all__ = ["adopt_l5_reference", "evaluate_lighting", "smallest_passing_regular_array"]

_L5_MAX_ASPECT = 1.5  # L5 reference arrays: Sx/Sy within [1/1.5, 1.5]
_L5_UF_BOUND = 1.5  # optimistic equivalent UF: no array below E A / (Φ MF 1.5) fixtures can pass
_L5_RECHECK = 6  # levels below the bisection result that are re-checked
_L5_LINEAR_LEVELS = 40  # up to this many levels above the bound are scanned one by one instead
_L5_CACHE = RoomCache(64)  # the checker's own cache: room digest -> frozen L5 reference


def _l3_pass(stats: ReferenceStats, target_lux: float, target_u0: float) -> bool:
    return stats.count > 0 and stats.em_lx >= target_lux and stats.u0 >= target_u0


def smallest_passing_regular_array(grid: RoomGrid) -> dict[str, Any] | None:  # noqa: C901 - one bracketing search
    """L5 reference: the smallest near-square regular array (no pre-placed lights) that passes L3.

    Shapes are limited to spacing ratios Sx/Sy within [1/1.5, 1.5] or one row/column (the best shape per
    count). Starting at an optimistic lower bound (equivalent UF 1.5), the count doubles until an
    array passes, then bisection narrows it and the few levels just below are re-checked (pass/fail
    is close to, not exactly, monotone in the count). Cached per room; ``None`` when nothing passes.
    """
    key = _l5_key(grid)
    cached = _L5_CACHE.get(key, MappingProxyType)
    if cached is not None:
        return dict(cached) if cached else None
    room = prepare(grid)
    spec = room.room_spec
    free = np.asarray(grid.arrays.state == STATE_CODES[TileState.CEILING])
    n_free = int(free.sum())
    points = room.calc.points
    best_by_count: dict[int, tuple[int, int]] = {}
    x0, y0, x1, y1 = room.geometry.bbox
    for nx, ny in array_shapes(room):
        aspect = abs(math.log(((x1 - x0) / nx) / ((y1 - y0) / ny)))
        if nx == 1 or ny == 1 or aspect <= math.log(_L5_MAX_ASPECT) + 1e-9:
            best_by_count.setdefault(nx * ny, (nx, ny))
    counts = sorted(c for c in best_by_count if c <= n_free)
    memo: dict[int, tuple[bool, int, ReferenceStats]] = {}

    def check(i: int) -> bool:
        if i not in memo:
            nx, ny = best_by_count[counts[i]]
            tiles = regular_array(room, nx, ny, free=free)
            st = reference_stats(grid, tiles, points)
            memo[i] = (_l3_pass(st, spec.target_lux, spec.target_u0), len(tiles), st)
        return memo[i][0]

    result: dict[str, Any] = {}
    if counts and len(points):
        lo = int(np.searchsorted(counts, lumen_count(room, _L5_UF_BOUND)))
        lo = min(lo, len(counts) - 1)
        start = hi = lo
        while not check(hi) and hi < len(counts) - 1:
            lo = hi + 1
            hi = min(len(counts) - 1, int(np.searchsorted(counts, 2 * counts[hi])))
        if check(hi):
            while lo < hi:
                mid = (lo + hi) // 2
                if check(mid):
                    hi = mid
                else:
                    lo = mid + 1
            if hi - start <= _L5_LINEAR_LEVELS:  # small rooms: scan every level from the bound
                hi = next(i for i in range(start, hi + 1) if check(i))
            else:
                for i in range(hi - 1, max(-1, hi - 1 - _L5_RECHECK), -1):
                    if check(i):
                        hi = i
            _ok, n, st = memo[hi]
            nx, ny = best_by_count[counts[hi]]
            result = {"nx": nx, "ny": ny, "count": n, "em_lx": round(st.em_lx, 1), "u0": round(st.u0, 3)}
    _L5_CACHE.put(key, MappingProxyType(dict(result)))  # frozen: callers get copies
    return result or None


def adopt_l5_reference(grid: RoomGrid, reference: dict[str, Any] | None) -> None:
    """Cache the L5 reference that :func:`smallest_passing_regular_array` found for ``grid``'s room in another
    process (frozen, as it caches its own)."""
    _L5_CACHE.put(_l5_key(grid), MappingProxyType(dict(reference or {})))


def _l5_key(grid: RoomGrid) -> tuple[str, str]:
    return (room_key(grid), "l5_reference")


def evaluate_lighting(grid: RoomGrid, *, include_reference: bool = True) -> StageReport:
    """Check L1-L5 and G1 (lights) on ``grid`` with the §2.5 reference model and score it (§8).

    ``include_reference=False`` skips the L5 "smallest passing regular array" search (it does not
    change the score; search models use it to save time).
    """
    room = prepare(grid)
    spec = room.room_spec
    cg = room.calc
    lights, stray = grid.light_anchors()  # one first tile per luminaire (the tile itself for 1 x 1)
    n = len(lights)
    stats = reference_stats(grid, lights, cg.points)
    rules_l4 = fixture_rules(room, lights)
    lpd = lpd_w_m2(room, n)
    n_lumen = lumen_method_count(room)
    rules: list[RuleResult] = []

    l1 = len(cg.points) > 0
    rules.append(RuleResult(
        "L1", l1, True,
        f"evaluation area = ceiling minus a {cg.band_m:.2f} m wall band, columns excluded"
        if l1 else "the evaluation area is empty; the room is too small or fully blocked",
        {"band_m": round(cg.band_m, 4), "bbox_m": [round(v, 4) for v in cg.bbox]},
    ))
    rules.append(RuleResult(
        "L2", l1, True,
        f"p = 0.2 x 5^log10({cg.d_m:.2f}) = {cg.p_m:.3f} m, {cg.nx} x {cg.ny} cells, {len(cg.points)} points kept",
        {"d_m": round(cg.d_m, 4), "p_m": round(cg.p_m, 4), "nx": cg.nx, "ny": cg.ny, "points": len(cg.points)},
    ))
    l3 = l1 and _l3_pass(stats, spec.target_lux, spec.target_u0)
    if n == 0:
        msg3 = f"no luminaires: Em = 0 lx < {spec.target_lux:g} lx; place lights"
    elif l3:
        msg3 = f"Em = {stats.em_lx:.1f} lx >= {spec.target_lux:g} lx and U0 = {stats.u0:.3f} >= {spec.target_u0:g}"
    else:
        msg3 = (f"Em = {stats.em_lx:.1f} lx (target {spec.target_lux:g}), U0 = {stats.u0:.3f} "
                f"(target {spec.target_u0:g}); add or move luminaires")
    rules.append(RuleResult("L3", l3, True, msg3, {
        "em_lx": round(stats.em_lx, 2), "emin_lx": round(stats.emin_lx, 2), "emax_lx": round(stats.emax_lx, 2),
        "u0": round(stats.u0, 4), "g2": round(stats.g2, 4),
    }))
    n_gap_bad = int((~rules_l4.gap_ok).sum())
    l4 = n > 0 and n_gap_bad == 0
    if n == 0:
        msg4 = "no luminaires"
    elif l4:
        msg4 = (f"every gap along a row or column <= {rules_l4.gap_limit_m:.2f} m (1.5 Hm + one tile); "
                f"largest {rules_l4.max_gap_m:.2f} m")
    else:
        msg4 = (f"{n_gap_bad} fixtures have a neighbour along their row or column farther than "
                f"{rules_l4.gap_limit_m:.2f} m (largest gap {rules_l4.max_gap_m:.2f} m): an unlit stretch; "
                "add a fixture in the gap or use a regular array")
    rules.append(RuleResult("L4", l4, True, msg4, {
        "max_gap_m": round(rules_l4.max_gap_m, 4), "gap_limit_m": round(rules_l4.gap_limit_m, 4),
        "gap_fail": n_gap_bad, "max_shr": round(rules_l4.max_shr, 4)}))
    n_wall_bad = int((~rules_l4.wall_ok).sum())
    lpd_ok = lpd <= spec.lpd_limit_w_m2
    l4b = n_wall_bad == 0 and lpd_ok and stats.uf_in_band and n > 0
    rules.append(RuleResult(
        "L4b", l4b, False,
        f"{n_wall_bad} fixtures outside the wall-offset window (0.25 S .. 0.5 S + t); LPD {lpd:.2f} W/m² "
        f"(limit {spec.lpd_limit_w_m2:.2f}); equivalent UF {stats.equivalent_uf:.2f} (band 0.45-1.10)",
        {"wall_offset_fail": n_wall_bad, "lpd_w_m2": round(lpd, 3), "lpd_limit_w_m2": round(spec.lpd_limit_w_m2, 3),
         "equivalent_uf": round(stats.equivalent_uf, 4), "uf_in_band": stats.uf_in_band},
    ))
    reg = regularity(room, lights, rules_l4.wall_ok)
    rules.append(RuleResult(
        "L6", True, False,
        (f"{reg.rows} rows x {reg.columns} columns, {'full' if reg.complete else 'incomplete'}; symmetry "
         f"x {reg.symmetry_x:.2f} y {reg.symmetry_y:.2f}; aligned {reg.aligned:.2f}; largest gap deviation "
         f"{reg.max_gap_deviation_tiles:.1f} tiles; regularity {reg.score:.2f}"
         + (" (a regular array)" if reg.regular else "")) if n else "no luminaires",
        reg.as_dict(),
    ))
    reference = smallest_passing_regular_array(grid) if include_reference else None
    ref_n = reference["count"] if reference else None
    plausible = None
    if ref_n is not None:
        plausible = min(ref_n, n_lumen) <= n <= max(ref_n, n_lumen)
    rules.append(RuleResult(
        "L5", True, False,
        f"N = {n} vs lumen-method N = {n_lumen}"
        + (f" and smallest passing regular array N = {ref_n}" if ref_n is not None else ""),
        {"count": n, "lumen_method_count": n_lumen, "regular_array": reference, "plausible": plausible,
         "shr_minimum_count": shr_minimum_count(room)},
    ))
    bad = misplaced_tiles(grid, Component.LIGHT)
    loose = [tuple(t) for t in stray.tolist()]
    if bad:
        msg_g1 = f"{len(bad)} luminaire tiles on tiles that forbid them, e.g. {bad[:5]}; move them to ceiling tiles"
    elif loose:
        sx, sy = grid.luminaire.size_tiles
        msg_g1 = (f"{len(loose)} light tiles form no whole {sx} x {sy} luminaire, e.g. {loose[:5]}; each troffer "
                  "covers two tiles along its long axis")
    else:
        msg_g1 = "every luminaire stands on free ceiling tiles"
    rules.append(RuleResult("G1", not bad and not loose, True, msg_g1, {"misplaced": bad, "incomplete": loose}))
    geo_rules = {r.rule: r for r in evaluate_geometry(grid).rules}
    rules.append(geo_rules["G2"])
    rules.append(geo_rules["G3"])

    compliant = all(r.passed for r in rules if r.hard)
    terms = lighting_score(compliant, stats.em_lx, stats.u0, lpd, reg.score, reg.regular,
                           spec.target_lux, spec.target_u0, spec.lpd_limit_w_m2)
    metrics = {
        "em_lx": stats.em_lx, "emin_lx": stats.emin_lx, "emax_lx": stats.emax_lx, "u0": stats.u0, "g2": stats.g2,
        "count": n, "lumen_method_count": n_lumen, "lpd_w_m2": lpd, "max_shr": rules_l4.max_shr,
        "target_lux": spec.target_lux, "target_u0": spec.target_u0, "equivalent_uf": stats.equivalent_uf,
        "points": len(cg.points), "s_e": terms.s_e, "s_u": terms.s_u, "s_over": terms.s_over,
        "s_p": terms.s_p, "regularity": reg.score, "regular": reg.regular, "regular_bonus": terms.regular_bonus,
        "max_gap_m": rules_l4.max_gap_m,
    }
    infeasible = None
    if not l3 and n > 0 and not bool(grid.arrays.free_for_light.any()):
        infeasible = {"rule": "L3", "reason": "no free ceiling tile is left for another luminaire"}
    return StageReport("lights", rules, score=round(terms.score, 9), metrics=metrics, infeasible=infeasible)
