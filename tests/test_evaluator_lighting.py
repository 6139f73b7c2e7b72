"""Tests for the lighting evaluator (§7.2 L1-L5 and the §8 score it gives a layout)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ceiling_grid.evaluator.lighting import evaluate_lighting, smallest_passing_regular_array
from ceiling_grid.grid import Component, RoomGrid
from ceiling_grid.lighting import regular_array
from ceiling_grid.prepared import prepare
from ceiling_grid.testing import make_room

METRIC_KEYS = {"em_lx", "emin_lx", "emax_lx", "u0", "count", "lumen_method_count", "lpd_w_m2", "max_shr", "regularity",
               "target_lux", "target_u0"}


def _array(grid: RoomGrid, nx: int, ny: int) -> np.ndarray:
    """The nx x ny regular array on ``grid``'s free light tiles."""
    return regular_array(prepare(grid), nx, ny, grid.arrays.free_for_light)


def _with_lights(grid, tiles):  # type: ignore[no-untyped-def]
    return grid.with_components(Component.LIGHT, [tuple(t) for t in np.asarray(tiles).tolist()])


def _rule(report, name):  # type: ignore[no-untyped-def]
    return next(r for r in report.rules if r.rule == name)


def test_room_without_lights_fails_l3_and_scores_low() -> None:
    """No luminaires: L3 fails, not compliant, score = 10 s_over + 10 s_P = 20 (R = 0)."""
    report = evaluate_lighting(make_room(10, 10))
    assert not _rule(report, "L3").passed
    assert not report.compliant
    assert report.score == pytest.approx(20.0)
    assert set(report.metrics) >= METRIC_KEYS
    assert report.metrics["count"] == 0


def test_regular_array_compliant_and_score_formula() -> None:
    """An 8 x 4 array in the 24 x 14 office passes L1-L4 and G1-G3; the score follows §8 exactly."""
    grid = _with_lights(make_room(24, 14), _array(make_room(24, 14), 8, 4))
    report = evaluate_lighting(grid)
    assert report.compliant
    m = report.metrics
    assert set(m) >= METRIC_KEYS
    assert m["em_lx"] >= 500 and m["u0"] >= 0.6
    s_over = 1 - 0.5 * min(1.0, max(0.0, (m["em_lx"] / 500 - 1) / 0.5))
    assert m["regular"] is True and m["regularity"] == 1.0  # a full, symmetric, evenly spaced array
    bonus = 40 if m["s_p"] >= 1.0 or m["em_lx"] <= 1.5 * 500 else 0  # regular, within the LPD or the s_over band
    assert m["regular_bonus"] is (bonus == 40)
    expected = 100 + bonus + 20 * m["regularity"] * m["s_p"] + 10 + 10 + 10 * s_over + 10 * m["s_p"]
    assert report.score == pytest.approx(expected)
    assert m["lumen_method_count"] == 32
    assert report.stage == "lights"


def test_em_matches_brute_force_reference() -> None:
    """Em agrees (±2 %) with a from-scratch loop over sub-sources and a numeric Φ_wp integral."""
    grid = make_room(8, 6)  # 4.8 x 3.6 m
    lights = [(2, 2), (5, 3)]
    report = evaluate_lighting(_with_lights(grid, lights))
    pts = prepare(grid).calc.points
    hm, phi, t = 1.95, 3400.0, 0.6
    subs = [((x + (i + 0.5) / 3) * t, (y + (j + 0.5) / 3) * t) for x, y in lights for i in range(3) for j in range(3)]
    h = 0.02
    gx, gy = np.meshgrid(np.arange(h / 2, 4.8, h), np.arange(h / 2, 3.6, h))
    phi_wp = sum(float((phi / 9 / math.pi * hm**2 / ((gx - sx) ** 2 + (gy - sy) ** 2 + hm**2) ** 2).sum()) * h * h
                 for sx, sy in subs)
    a, per = 4.8 * 3.6, 2 * (4.8 + 3.6)
    a_s = 2 * a + per * 2.7
    rho = (a * 0.9 + per * 2.7 * 0.5) / a_s
    e_ind = (0.2 * phi_wp + 0.5 * (2 * phi - phi_wp)) / (a_s * (1 - rho))
    e = [0.8 * (sum(phi / 9 / math.pi * hm**2 / ((px - sx) ** 2 + (py - sy) ** 2 + hm**2) ** 2 for sx, sy in subs)
                + e_ind) for px, py in pts]
    assert report.metrics["em_lx"] == pytest.approx(float(np.mean(e)), rel=0.02)
    assert report.metrics["u0"] == pytest.approx(min(e) / float(np.mean(e)), abs=0.02)


def test_over_lighting_lowers_score() -> None:
    """Lighting every tile stays compliant but scores below a right-sized array (s_over, s_P)."""
    base = make_room(12, 10)
    full = evaluate_lighting(_with_lights(base, np.argwhere(np.ones((10, 12)))[:, ::-1]))
    sized = evaluate_lighting(_with_lights(base, _array(base, 4, 3)))
    assert full.compliant and sized.compliant
    assert full.metrics["s_over"] == 0.5
    assert full.score < sized.score


def test_misplaced_light_breaks_compliance() -> None:
    """A pre-placed light on a sprinkler tile fails G1 even when L3 passes."""
    base = make_room(12, 10)
    tiles = _array(base, 4, 3)
    x, y = (int(v) for v in tiles[0])
    grid = make_room(12, 10, states={(x, y): "sprinkler"}, components={(x, y): "light"})
    grid = _with_lights(grid, tiles[1:])
    report = evaluate_lighting(grid)
    assert _rule(report, "L3").passed
    assert not _rule(report, "G1").passed
    assert not report.compliant
    assert report.score < 100


def test_l5_reference_is_smallest_passing_array() -> None:
    """The L5 reference passes L3 and the next-smaller near-square array does not."""
    grid = make_room(24, 14)
    ref = smallest_passing_regular_array(grid)
    assert ref is not None
    passing = evaluate_lighting(_with_lights(grid, _array(grid, ref["nx"], ref["ny"])),
                                include_reference=False)
    assert passing.compliant
    smaller = evaluate_lighting(_with_lights(grid, _array(grid, ref["nx"] - 1, ref["ny"])),
                                include_reference=False)
    assert not smaller.compliant
    l5 = _rule(evaluate_lighting(grid), "L5")
    assert l5.values["regular_array"]["count"] == ref["count"]


def test_l4_refuses_an_unlit_stretch_and_l4b_reports_offsets_and_lpd() -> None:
    """Two lights 9 m apart in a big room: L4 (hard since 2026-12) fails on the gap; L4b stays soft."""
    grid = _with_lights(make_room(20, 10), [(2, 5), (17, 5)])
    report = evaluate_lighting(grid, include_reference=False)
    l4 = _rule(report, "L4")
    assert not l4.passed and l4.hard and not report.compliant
    assert l4.values["gap_fail"] == 2 and l4.values["max_gap_m"] == pytest.approx(9.0)
    assert l4.values["gap_limit_m"] == pytest.approx(1.5 * 1.95 + 0.6)
    assert report.metrics["max_shr"] == pytest.approx(9.0 / 1.95)
    l4b = _rule(report, "L4b")
    assert not l4b.hard and "lpd_w_m2" in l4b.values
    near = evaluate_lighting(_with_lights(make_room(20, 10), [(2, 5), (7, 5)]), include_reference=False)
    assert _rule(near, "L4").passed  # 3.0 m <= 3.525 m: the one tile of snapping is allowed


def test_a_lone_troffer_tile_fails_g1_and_counts_are_luminaires() -> None:
    lum = {"flux_lm": 5000.0, "power_w": 45.0, "length_tiles": 2}
    whole = {(2, 2): "light", (3, 2): "light", (8, 2): "light", (9, 2): "light"}
    report = evaluate_lighting(make_room(12, 6, components=whole, luminaire=lum), include_reference=False)
    g1 = {r.rule: r for r in report.rules}["G1"]
    assert g1.passed and report.metrics["count"] == 2
    assert report.metrics["lpd_w_m2"] == pytest.approx(2 * 45.0 / (12 * 6 * 0.36))
    broken = make_room(12, 6, components={**whole, (5, 4): "light"}, luminaire=lum)
    g1 = {r.rule: r for r in evaluate_lighting(broken, include_reference=False).rules}["G1"]
    assert not g1.passed and g1.values["incomplete"] == [(5, 4)]
    assert "form no whole 2 x 1 luminaire" in g1.message
