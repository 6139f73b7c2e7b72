"""Tests for the SmokeDetectorModel (set-cover ILP, §5.1)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceiling_grid.evaluator import detectors as ev
from ceiling_grid.evaluator.detectors import OPTIMUM_PROBLEM, evaluate_detectors
from ceiling_grid.geodesic import nearest_geodesic
from ceiling_grid.geometry import geometry_of
from ceiling_grid.grid import Component
from ceiling_grid.models.base import Stage
from ceiling_grid.models.detectors import SmokeDetectorModel, candidate_sites, cover_problem
from ceiling_grid.prepared import prepare
from ceiling_grid.runner import place
from ceiling_grid.testing import l_shaped_room, make_room

STANDARDS = ["nfpa72", "bs5839_1", "cen_ts_54_14"]


def _tiles(grid, component=Component.SMOKE_DETECTOR):
    return sorted(map(tuple, grid.positions(component).tolist()))


@pytest.mark.parametrize("standard", STANDARDS)
def test_office_is_covered_optimally(standard):
    """A 24 x 14 office gets a compliant layout whose count equals the evaluator's ILP optimum."""
    result = place(SmokeDetectorModel(), make_room(24, 14, detector_standard=standard))
    assert result.diagnostics["design_problem"] == OPTIMUM_PROBLEM
    assert result.stage is Stage.SMOKE_DETECTORS
    assert result.compliant
    assert result.diagnostics["solver"] == "highs" and result.diagnostics["optimal"]
    report = evaluate_detectors(result.grid)
    assert report.compliant
    assert result.count == report.metrics["n_optimal"] == result.diagnostics["lower_bound"]
    assert result.score == pytest.approx(report.score)


def test_model_and_checker_solve_the_same_design_problem():
    """The model's demand points, radius and candidates are the checker's D6 design problem."""
    room = l_shaped_room(20, 16, 8, 6, detector_standard="nfpa72", states={(5, 5): "column"},
                         components={(10, 3): "air_return", (3, 10): "light"})
    problem = cover_problem(room)
    pts, r = prepare(room).lattice.points, prepare(room).lattice.radius
    np.testing.assert_array_equal(problem.points, pts)
    assert problem.radius == pytest.approx(ev.design_radius(r)) == pytest.approx(r - 0.05)
    ref, lum_rule = ev.reference_sites(room, pts, problem.radius)
    sites = candidate_sites(room, luminaire_filter=lum_rule)
    assert sorted(map(tuple, sites.tiles.tolist())) == sorted(map(tuple, ref.tolist()))


def test_l_room_count_equals_checker_optimum():
    """On an L room the model's proven count equals the checker's independently proven design optimum."""
    room = l_shaped_room(30, 24, 12, 10, detector_standard="nfpa72")
    result = place(SmokeDetectorModel(), room)
    ev._OPTIMUM_CACHE.clear()
    ev._REPORT_CACHE.data.clear()  # the checker computes its report again, from nothing kept
    report = evaluate_detectors(result.grid)
    d6 = next(r for r in report.rules if r.rule == "D6")
    assert result.diagnostics["optimal"] and d6.values["optimal_proven"]
    assert result.count == report.metrics["n_optimal"]
    assert report.metrics["optimum_problem"] == OPTIMUM_PROBLEM


def test_deterministic():
    """Two runs on the same room give the same tiles."""
    room = l_shaped_room(20, 16, 8, 6, detector_standard="cen_ts_54_14")
    a = place(SmokeDetectorModel(), room)
    b = place(SmokeDetectorModel(), room)
    assert _tiles(a.grid) == _tiles(b.grid)


def test_ilp_matches_brute_force():
    """On a small room no smaller subset of candidates covers every demand point."""
    room = make_room(30, 6, detector_standard="nfpa72")
    result = place(SmokeDetectorModel(), room)
    n = result.count
    geo = geometry_of(room)
    problem = cover_problem(room)
    sites = candidate_sites(room)
    assert n >= 2
    for combo in itertools.combinations(range(len(sites.centres)), n - 1):
        d, _ = nearest_geodesic(geo, sites.centres[list(combo)], problem.points)
        assert (d > problem.radius).any()


def test_l_shaped_room_uses_geodesic_coverage():
    """An L-shaped room is covered with geodesic distances and passes the checker."""
    room = l_shaped_room(30, 30, 18, 18, detector_standard="bs5839_1")
    result = place(SmokeDetectorModel(), room)
    assert result.compliant and evaluate_detectors(result.grid).compliant


@pytest.mark.parametrize(("tiles", "count"), [(47, 2), (50, 3)])
def test_bs_corridor_centreline_rule(tiles, count):
    """A BS corridor uses the centreline rule at 7.5 - 0.05 m: 28.2 m needs two detectors, 30 m needs three."""
    room = make_room(tiles, 3, detector_standard="bs5839_1", room_type="corridor")
    result = place(SmokeDetectorModel(), room)
    assert result.diagnostics["corridor_rule"] is True
    assert result.count == count and result.diagnostics["optimal"]
    assert all(y == 1 for _, y in _tiles(result.grid))
    assert evaluate_detectors(result.grid).compliant


def test_columns_are_not_used():
    """Detectors never land on column tiles and the room is still covered."""
    cols = {(x, y): "column" for x in (7, 8, 15, 16) for y in (6, 7)}
    room = make_room(24, 14, detector_standard="nfpa72", states=cols)
    result = place(SmokeDetectorModel(), room)
    assert result.compliant
    assert not set(_tiles(result.grid)) & set(cols)


def test_preplaced_return_and_detector_are_kept():
    """A pre-placed detector is kept and counts; new detectors clear the return grille by 0.9144 m (NFPA)."""
    room = make_room(30, 14, detector_standard="nfpa72",
                     components={(3, 3): "smoke_detector", (20, 7): "air_return"})
    result = place(SmokeDetectorModel(), room)
    assert (3, 3) in _tiles(result.grid)
    assert _tiles(result.grid, Component.AIR_RETURN) == [(20, 7)]
    assert result.diagnostics["preplaced"] == 1 and result.count == result.placed + 1
    report = evaluate_detectors(result.grid)
    assert report.compliant
    assert report.metrics["min_air_terminal_clearance_m"] >= 0.9144 - 1e-9


def test_all_tiles_blocked_is_infeasible():
    """A room whose every tile is a sprinkler reports D5 instead of crashing."""
    room = make_room(5, 5, states={(x, y): "sprinkler" for x in range(5) for y in range(5)})
    result = place(SmokeDetectorModel(), room)
    assert not result.compliant and result.placed == 0
    assert result.infeasible.rule == "D5"


def test_too_small_for_wall_clearance_is_infeasible():
    """A 1.2 m x 1.2 m BS room has no tile 0.5 m from the walls: D2 infeasible."""
    result = place(SmokeDetectorModel(), make_room(2, 2, detector_standard="bs5839_1"))
    assert not result.compliant
    assert result.infeasible.rule == "D2"
    assert evaluate_detectors(result.grid).infeasible is not None


def test_luminaire_filter_dropped_only_when_needed():
    """The soft 0.3 m luminaire filter is dropped (and reported) when it makes the room infeasible."""
    lights = {(x, y): "light" for x in range(6) for y in range(5) if (x, y) != (2, 2)}
    room = make_room(6, 5, detector_standard="cen_ts_54_14", components=lights, tile_size_m=0.5)
    result = place(SmokeDetectorModel(), room)  # 0.5 m tiles: the free tile is 0.25 m from the fittings
    assert result.compliant and result.diagnostics.get("luminaire_filter_dropped") is True
    assert _tiles(result.grid) == [(2, 2)]
    plain = place(SmokeDetectorModel(), make_room(6, 5, detector_standard="cen_ts_54_14", tile_size_m=0.5))
    assert "luminaire_filter_dropped" not in plain.diagnostics


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    w=st.integers(2, 16),
    h=st.integers(2, 12),
    standard=st.sampled_from(STANDARDS),
    blocked=st.sets(st.tuples(st.integers(0, 15), st.integers(0, 11)), max_size=12),
    returns=st.sets(st.tuples(st.integers(0, 15), st.integers(0, 11)), max_size=2),
    cut=st.booleans(),
)
def test_compliant_layouts_pass_the_checker(w, h, standard, blocked, returns, cut):
    """Whatever layout the model reports compliant also passes evaluate_detectors."""
    states = {t: "sprinkler" for t in blocked if t[0] < w and t[1] < h}
    comps = {t: "air_return" for t in returns if t[0] < w and t[1] < h and t not in states}
    kwargs = {"detector_standard": standard, "states": states, "components": comps}
    room = (l_shaped_room(w, h, w // 2, h // 2, **kwargs) if cut and w > 3 and h > 3
            else make_room(w, h, **kwargs))
    result = place(SmokeDetectorModel(), room)
    report = evaluate_detectors(result.grid)
    if result.compliant:
        assert report.compliant
    else:
        assert result.infeasible is not None
    np.testing.assert_array_equal(room.arrays.state, result.grid.arrays.state)


def test_same_room_same_tiles_whatever_the_time_limit():
    """A mid-size room gives identical tiles under two different (large) wall-clock safety nets."""
    from ceiling_grid.config import Limits

    room = make_room(30, 24, detector_standard="cen_ts_54_14")
    a = place(SmokeDetectorModel(limits=Limits(ilp_time_limit_s=120.0)), room)
    b = place(SmokeDetectorModel(limits=Limits(ilp_time_limit_s=600.0)), room)
    assert _tiles(a.grid) == _tiles(b.grid)
    for r in (a, b):
        assert r.diagnostics["budget_exhausted"] is False and r.diagnostics["solver_reason"] is None
        assert r.diagnostics["optimal"] and r.diagnostics["lower_bound"] == r.count and r.diagnostics["gap"] == 0
        assert r.compliant


def test_exhausted_node_budget_is_reported():
    """With a one-node ILP budget on a 30 x 30 office the model still covers the room and says why it is unproven
    (CEN/TS: under NFPA 72 the half-spacing grid would take over from the greedy fallback)."""
    room = make_room(30, 30, detector_standard="cen_ts_54_14")
    result = place(SmokeDetectorModel(node_budget=1), room)
    assert result.compliant and evaluate_detectors(result.grid).compliant
    d = result.diagnostics
    assert d["lower_bound"] is not None and d["lower_bound"] <= result.count
    if not d["optimal"]:
        assert d["budget_exhausted"] is True and "budget" in d["solver_reason"]
        assert d["gap"] == result.count - d["lower_bound"] > 0


def test_candidate_cap_uses_the_pattern_path():
    """Above the model's ILP candidate cap the layout comes from the pattern path, compliant and unproven."""
    room = make_room(24, 14, detector_standard="nfpa72")
    result = place(SmokeDetectorModel(max_ilp_candidates=100), room)
    assert result.compliant and result.diagnostics["solver"] == "pattern+greedy"
    assert result.diagnostics["optimal"] is False and "candidate limit 100" in result.diagnostics["solver_reason"]


def test_a_lone_detector_sits_at_the_centre_when_the_rules_allow() -> None:
    """One detector covers a 10 x 10 office with a diffuser and a luminaire off centre; of the legal tiles it
    takes one at the centre, not the one farthest from the other trades."""
    trades = {(7, 4): "air_supply", (2, 2): "light"}
    result = place(SmokeDetectorModel(), make_room(10, 10, detector_standard="nfpa72", components=trades))
    assert result.count == 1
    (x, y), = result.grid.positions(Component.SMOKE_DETECTOR).tolist()
    assert {x, y} <= {4, 5}


@pytest.mark.parametrize("standard", ["bs5839_1", "nfpa72", "cen_ts_54_14"])
def test_model_puts_a_detector_in_every_beam_pocket(standard: str) -> None:
    """Two 0.45 m beams (H = 3 m) cut a 12 x 6 m room into three pockets: the model covers each from inside
    itself, keeps clear of the beams as walls, and the evaluator passes it (§4.4 beam_as_wall)."""
    from ceiling_grid.testing import beam_line

    beams = {**beam_line(0.45, x=6, span=range(10)), **beam_line(0.45, x=13, span=range(10))}
    room = make_room(20, 10, ceiling_height_m=3.0, detector_standard=standard, beams=beams)
    result = place(SmokeDetectorModel(), room)
    assert result.compliant, result.infeasible
    xs = result.grid.positions(Component.SMOKE_DETECTOR)[:, 0]
    assert {int((x > 6) + (x > 13)) for x in xs.tolist()} == {0, 1, 2}
    smooth = place(SmokeDetectorModel(), make_room(20, 10, ceiling_height_m=3.0, detector_standard=standard))
    assert smooth.count < result.count


def test_big_nfpa_rectangle_never_needs_more_than_the_square_spacing_count() -> None:
    """A 36 x 36 m NFPA office: the R - 0.05 m disc cover on 0.6 m tiles needs 20, NFPA's own half-spacing
    method (D1-alt) 4 x 4 = 16. The model takes the 16: a full grid, gaps <= S, walls <= S/2, symmetric about
    both centre lines, and the independent checker passes it."""
    from ceiling_grid.models.detectors import half_spacing_layout

    room = make_room(60, 60, detector_standard="nfpa72")
    result = place(SmokeDetectorModel(), room)
    assert result.diagnostics["solver"] == "nfpa_half_spacing"
    # no local search follows at this size, so the pattern cover only had to be ruled out below 17
    assert "half-spacing grid: 16 detectors against no pattern+greedy cover of 16 or fewer" in (
        result.diagnostics["solver_reason"])
    report = evaluate_detectors(result.grid)
    assert report.compliant
    assert result.count == report.metrics["n_square_spacing"] == 16
    tiles = result.grid.positions(Component.SMOKE_DETECTOR)
    xs, ys = sorted(set(tiles[:, 0].tolist())), sorted(set(tiles[:, 1].tolist()))
    assert len(xs) * len(ys) == len(tiles)
    for lines in (xs, ys):
        assert [59 - v for v in reversed(lines)] == lines  # mirrored about the centre line
        gaps = np.diff([-0.5, *lines, 59.5]) * 0.6
        assert gaps[1:-1].max() <= 9.144 and max(gaps[0], gaps[-1]) <= 4.572
    bs = make_room(60, 60, detector_standard="bs5839_1")
    assert half_spacing_layout(prepare(bs), candidate_sites(bs)) is None  # an NFPA method only


@pytest.mark.parametrize(("width", "height", "standard"), [(60, 60, "nfpa72"), (40, 30, "bs5839_1"),
                                                          (33, 21, "cen_ts_54_14")])
def test_pattern_cover_below_a_bound_is_the_same_cover_or_none(width: int, height: int, standard: str) -> None:
    """``below=k`` skips the layouts that cannot end under k (snapped count, or a packing bound on the gaps):
    the cover is the unbounded one when that has fewer than k sites, and empty otherwise."""
    from ceiling_grid.models.detectors import pattern_cover

    room = make_room(width, height, detector_standard=standard)
    geo, sites, problem = prepare(room).detection, candidate_sites(room), cover_problem(room)
    free = pattern_cover(geo, sites.centres, sites.weights, problem.points, problem.radius)
    assert len(free) and (nearest_geodesic(geo, sites.centres[free], problem.points)[0] <= problem.radius + 1e-9).all()
    for k in (len(free) + 1, len(free) + 5):
        bounded = pattern_cover(geo, sites.centres, sites.weights, problem.points, problem.radius, below=k)
        assert bounded.tolist() == free.tolist()
    for k in (len(free), len(free) - 1, 1):
        assert len(pattern_cover(geo, sites.centres, sites.weights, problem.points, problem.radius, below=k)) == 0


def test_packing_bound_never_exceeds_the_fewest_sites() -> None:
    """Points more than 2R apart need a site each; the bound counts such points, so it is at most the optimum
    (here a brute-force minimum over a small site set)."""
    from ceiling_grid.models.detectors import _packing_bound

    rng = np.random.default_rng(7)
    for _ in range(20):
        points = rng.uniform(0, 12, size=(25, 2))
        sites = rng.uniform(0, 12, size=(12, 2))
        radius = 3.0
        near = np.hypot(*(points[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) <= radius
        need = next((k for k in range(1, 13) for c in itertools.combinations(range(12), k)
                     if near[:, list(c)].any(axis=1).all()), None)
        lb = _packing_bound(points, radius)
        assert lb >= 1
        if need is not None:
            assert lb <= need


def test_half_spacing_grid_runs_between_the_luminaire_rows() -> None:
    """Luminaires on every fourth column and row (tiles 2, 6, ...): lines clear of them along one axis need 5
    (4 would have to reach tile 52 from tile 7 in gaps of 15, through luminaire-free columns only: 7, 21, 36, 51
    falls short), and the cross lines may then sit anywhere: 5 x 4 = 20, every tile clear of the luminaires."""
    from ceiling_grid.models.detectors import half_spacing_layout

    lights = {(x, y): "light" for x in range(2, 60, 4) for y in range(2, 60, 4)}
    room = make_room(60, 60, detector_standard="nfpa72", components=lights)
    sites = candidate_sites(room)
    chosen = half_spacing_layout(prepare(room), sites)
    assert chosen is not None and len(chosen) == 20
    tiles = sites.tiles[chosen]
    assert not {(int(x), int(y)) for x, y in tiles.tolist()} & set(lights)
    xs, ys = set(tiles[:, 0].tolist()), set(tiles[:, 1].tolist())
    assert len(xs) * len(ys) == 20 and (all(x % 4 != 2 for x in xs) or all(y % 4 != 2 for y in ys))


def test_half_spacing_crossings_step_one_tile_around_a_luminaire() -> None:
    """The same lit room as above: with the D1 points, a crossing on a luminaire moves one tile along its line,
    so 4 x 4 = 16 detectors do (one moved), not 20; the moved grid is kept only because the discs of R still
    cover every point, and the model's result passes the independent checker."""
    from ceiling_grid.models.detectors import DEFAULT_GRID_MOVE_MARGIN_M, cover_problem, half_spacing_layout

    lights = {(x, y): "light" for x in range(2, 60, 4) for y in range(2, 60, 4)}
    room = make_room(60, 60, detector_standard="nfpa72", components=lights)
    sites, problem = candidate_sites(room), cover_problem(room)
    chosen = half_spacing_layout(prepare(room), sites, problem.points, problem.r_cover - DEFAULT_GRID_MOVE_MARGIN_M)
    assert chosen is not None and len(chosen) == 16
    tiles = {(int(x), int(y)) for x, y in sites.tiles[chosen].tolist()}
    assert not tiles & set(lights)
    exact_only = half_spacing_layout(prepare(room), sites, problem.points, 5.0)  # discs too small for any move
    assert exact_only is not None and len(exact_only) == 20
    result = place(SmokeDetectorModel(), room)
    assert result.count == 16 and result.diagnostics["solver"] == "nfpa_half_spacing"
    assert evaluate_detectors(result.grid).compliant


def test_above_the_weighted_ilp_limit_local_search_shrinks_the_pattern_cover() -> None:
    """Past ``max_weighted_candidates`` the model skips the optimum ILP: the pattern's 6 detectors in an
    18 x 18 m CEN/TS room come down to the ILP's proven 5 by local search, and the layout passes the checker."""
    room = make_room(30, 30, detector_standard="cen_ts_54_14")
    exact = place(SmokeDetectorModel(), room)
    assert exact.diagnostics["solver"] == "highs" and exact.diagnostics["optimal"] and exact.count == 5
    searched = place(SmokeDetectorModel(max_weighted_candidates=0), room)
    d = searched.diagnostics
    assert d["solver"] == "pattern+local_search" and d["local_search"]["dropped"] == 1
    assert searched.count == exact.count and not d["optimal"]
    assert searched.compliant and evaluate_detectors(searched.grid).compliant
