"""Tests for the §7.4 detector checks and the §8 detector score."""

from __future__ import annotations

import numpy as np
import pytest

from ceiling_grid.evaluator.detectors import evaluate_detectors
from ceiling_grid.prepared import prepare
from ceiling_grid.testing import l_shaped_room, make_room


def _rule(report, name):
    return next(r for r in report.rules if r.rule == name)


@pytest.mark.parametrize(("tile", "passes"), [(0.6, False), (0.6096, True)])
def test_nfpa_air_terminal_edge_distance(tile, passes):
    """One clear tile to a diffuser: 0.9 m edge distance fails NFPA's 0.9144 m, the 609.6 mm grid passes."""
    room = make_room(12, 10, tile_size_m=tile, detector_standard="nfpa72",
                     components={(7, 5): "air_supply", (5, 5): "smoke_detector"})
    report = evaluate_detectors(room)
    assert _rule(report, "D3").passed is passes
    assert report.metrics["min_air_terminal_clearance_m"] == pytest.approx(1.5 * tile, abs=1e-4)


def test_bs_returns_do_not_count_but_nfpa_returns_do():
    """A return grille next to a detector fails D3 under NFPA but not under BS 5839-1 (supply only)."""
    comps = {(5, 5): "air_return", (4, 5): "smoke_detector"}
    assert not _rule(evaluate_detectors(make_room(10, 10, detector_standard="nfpa72", components=comps)), "D3").passed
    assert _rule(evaluate_detectors(make_room(10, 10, detector_standard="bs5839_1", components=comps)), "D3").passed


def test_empty_room_fails_d1_and_good_layout_passes():
    """No detector fails D1; one central detector in a 6 x 5 office passes with its worst distance reported."""
    empty = evaluate_detectors(make_room(6, 5, detector_standard="bs5839_1"))
    assert not _rule(empty, "D1").passed and empty.score < 100
    good = evaluate_detectors(make_room(6, 5, detector_standard="bs5839_1", components={(2, 2): "smoke_detector"}))
    assert good.compliant and good.score == pytest.approx(200.0)
    assert good.metrics["worst_coverage_m"] == pytest.approx((2.1**2 + 1.5**2) ** 0.5, abs=1e-3)


def test_geodesic_coverage_in_l_room():
    """In an L room, a point in line of Euclidean range but behind the corner is uncovered (geodesic D1)."""
    # 20 x 20 tiles (12 m) with the top-right 10 x 10 cut out; one detector at the far end of the bottom arm.
    room = l_shaped_room(20, 20, 10, 10, detector_standard="cen_ts_54_14",
                         components={(17, 17): "smoke_detector"})
    report = evaluate_detectors(room)
    assert not _rule(report, "D1").passed
    assert report.metrics["worst_coverage_m"] > 6.2


def test_nfpa_half_spacing_alternative():
    """An NFPA 2 x 2 grid at 9.144 m spacing and 4.572 m from the walls passes D1 via the half-spacing method."""
    comps = {(x, y): "smoke_detector" for x in (7, 22) for y in (7, 22)}
    report = evaluate_detectors(make_room(30, 30, tile_size_m=0.6096, detector_standard="nfpa72", components=comps))
    d1 = _rule(report, "D1")
    assert d1.passed
    assert d1.values["uncovered_points"] > 0 and d1.values["half_spacing"]["passed"]


def test_wall_clearance_and_blocked_tile():
    """A BS detector in a wall tile fails D2; a detector on a sprinkler tile fails D5."""
    report = evaluate_detectors(make_room(8, 8, detector_standard="bs5839_1", components={(0, 3): "smoke_detector"}))
    assert not _rule(report, "D2").passed and report.metrics["min_wall_clearance_m"] == pytest.approx(0.3)
    room = make_room(8, 8, states={(4, 4): "sprinkler"}, components={(4, 4): "smoke_detector"})
    assert not _rule(evaluate_detectors(room), "D5").passed


def test_count_metrics_and_over_provisioning():
    """D6 reports the ILP optimum, the area bound and the square count; extra detectors lower the score."""
    one = evaluate_detectors(make_room(10, 10, detector_standard="nfpa72", components={(5, 5): "smoke_detector"}))
    assert one.metrics["n_optimal"] == 1 and one.metrics["n_lower_bound"] == 1
    assert one.metrics["n_square_spacing"] == 1
    many = {(x, y): "smoke_detector" for x in (3, 6) for y in (3, 6)}
    four = evaluate_detectors(make_room(10, 10, detector_standard="nfpa72", components=many))
    assert four.compliant and not _rule(four, "D6").passed
    assert four.score < one.score


def test_bs_corridor_centreline_points():
    """A BS corridor <= 2 m wide is checked on its centreline with R = 7.5 m."""
    room = make_room(50, 3, detector_standard="bs5839_1", room_type="corridor",
                     components={(12, 1): "smoke_detector", (37, 1): "smoke_detector"})
    report = evaluate_detectors(room)
    assert _rule(report, "D1").values["corridor_rule"] is True
    assert report.compliant and report.metrics["worst_coverage_m"] == pytest.approx(7.5)


def test_infeasible_room_is_reported():
    """A room with every tile blocked reports StageReport.infeasible naming D5."""
    room = make_room(4, 4, states={(x, y): "access_panel" for x in range(4) for y in range(4)})
    report = evaluate_detectors(room)
    assert not report.compliant
    assert report.infeasible is not None and report.infeasible["rule"] == "D5"


def test_optimum_does_not_depend_on_the_time_limit():
    """The D6 optimum is bounded by a node budget, so two different safety-net time limits give the same answer."""
    from ceiling_grid.evaluator import detectors as ev

    room = make_room(24, 20, detector_standard="cen_ts_54_14")
    pts, radius = prepare(room).lattice.points, prepare(room).lattice.radius
    sites = room.tile_centres(ev.legal_detector_sites(room, luminaire_rule=True))
    ev._OPTIMUM_CACHE.clear()
    first = ev.optimal_detector_count(room, sites, pts, radius, time_limit_s=200.0)
    ev._OPTIMUM_CACHE.clear()
    second = ev.optimal_detector_count(room, sites, pts, radius, time_limit_s=900.0)
    assert first == second
    assert first[1] is True and first[0] >= 3


def test_d6_uses_the_design_problem_and_the_layout_as_incumbent():
    """D6 solves the R - 0.05 m design problem: a layout feasible for it is proven optimal or beaten, and a
    layout that only passes at exactly R does not count as its incumbent."""
    from ceiling_grid.evaluator import detectors as ev

    # 12.6 m x 1.8 m BS corridor: one detector at the middle tile reaches the end points at 6.3 m <= 7.45 m
    room = make_room(21, 3, detector_standard="bs5839_1", room_type="corridor", components={(10, 1): "smoke_detector"})
    report = evaluate_detectors(room)
    d6 = _rule(report, "D6")
    assert report.metrics["optimum_problem"] == ev.OPTIMUM_PROBLEM and ev.OPTIMUM_PROBLEM in d6.message
    assert d6.values["design_radius_m"] == pytest.approx(7.45)
    assert report.metrics["n_optimal"] == 1 and d6.values["optimal_proven"]
    # 15 m corridor: a detector at 7.5 m from both ends passes D1 exactly but the design problem needs two
    exact = make_room(25, 3, detector_standard="bs5839_1", room_type="corridor",
                      components={(12, 1): "smoke_detector"})
    rep = evaluate_detectors(exact)
    assert rep.compliant and rep.metrics["worst_coverage_m"] == pytest.approx(7.5)
    assert rep.metrics["n_optimal"] == 2


def test_incumbent_must_be_feasible_for_the_design_problem():
    """An incumbent off the candidate sites or short of covering the points gives no upper bound."""
    from ceiling_grid.evaluator import detectors as ev

    room = make_room(10, 10, detector_standard="nfpa72")
    pts, radius = prepare(room).lattice.points, prepare(room).lattice.radius
    sites = room.tile_centres(ev.legal_detector_sites(room))
    geo = prepare(room).detection
    centre = room.tile_centres(np.array([[5, 5]]))
    found = ev._incumbent_index(geo, sites, pts, radius - 0.05, centre)
    assert found is not None and np.allclose(sites[found], centre)
    assert ev._incumbent_index(geo, sites, pts, radius - 0.05, centre + 0.01) is None
    assert ev._incumbent_index(geo, sites, pts, 1.0, centre) is None


def test_too_many_candidates_reports_no_optimum():
    """Above the candidate limit D6 reports n_optimal None and says why."""
    from ceiling_grid.evaluator import detectors as ev

    n = int(np.ceil(np.sqrt(ev.DEFAULT_OPTIMUM_MAX_CANDIDATES))) + 3  # BS: the wall ring is not legal
    room = make_room(n, n, detector_standard="bs5839_1", components={(n // 2, n // 2): "smoke_detector"})
    report = evaluate_detectors(room)
    d6 = _rule(report, "D6")
    assert report.metrics["n_optimal"] is None and d6.values["n_candidates"] > ev.DEFAULT_OPTIMUM_MAX_CANDIDATES
    assert "candidate sites" in d6.values["optimum_reason"]


def test_infeasibility_names_what_took_the_last_legal_tile() -> None:
    """A tiny BS 5839-1 room: walls (D2), a luminaire on the only legal tile (D5), or a diffuser (D3) is blamed."""
    from ceiling_grid.evaluator.detectors import evaluate_detectors

    too_small = evaluate_detectors(make_room(2, 2, detector_standard="bs5839_1")).infeasible
    assert too_small is not None and too_small["rule"] == "D2" and "0.5 m from the walls" in too_small["reason"]
    lit = evaluate_detectors(make_room(3, 3, detector_standard="bs5839_1", components={(1, 1): "light"})).infeasible
    assert lit is not None and lit["rule"] == "D5" and "hold luminaires" in lit["reason"] and "(1, 1)" in lit["reason"]
    aired = evaluate_detectors(make_room(3, 3, detector_standard="bs5839_1", components={(0, 0): "air_supply"}))
    assert aired.infeasible is not None and aired.infeasible["rule"] == "D3"
    assert "air terminal" in aired.infeasible["reason"]


def _beamed(standard: str, depth: float, components: dict) -> object:
    from ceiling_grid.testing import beam_line

    return make_room(16, 10, ceiling_height_m=3.0, detector_standard=standard, components=components,
                     beams=beam_line(depth, x=12, span=range(10)))


@pytest.mark.parametrize("standard", ["bs5839_1", "nfpa72"])
def test_deep_beam_is_a_wall_for_detector_coverage(standard: str) -> None:
    """A 9.6 x 6 m room split by a 0.4 m beam (H = 3 m): one central detector covers the smooth ceiling but not
    the two pockets; one detector in each pocket does (§4.4 beam_as_wall, BS 5839-1 and NFPA 72)."""
    one = {(7, 5): "smoke_detector"}
    assert _rule(evaluate_detectors(_beamed(standard, 0.2, one)), "D1").passed  # shallow: a smooth ceiling
    split = _rule(evaluate_detectors(_beamed(standard, 0.4, one)), "D1")
    assert not split.passed and split.values["zones"] == 2 and split.values["beam_wall_tiles"] == 10
    assert "beam pocket" in split.message
    both = _rule(evaluate_detectors(_beamed(standard, 0.4, {(5, 5): "smoke_detector", (14, 5): "smoke_detector"})),
                 "D1")
    assert both.passed


def test_bs_detector_keeps_half_a_metre_from_a_deep_beam() -> None:
    """BS 5839-1: a beam that is a wall is an obstruction for D2 too (0.3 m from its edge fails 0.5 m)."""
    comps = {(11, 5): "smoke_detector", (14, 5): "smoke_detector"}
    beside = _rule(evaluate_detectors(_beamed("bs5839_1", 0.4, comps)), "D2")
    assert not beside.passed and beside.values["failing"] == [[11, 5]] and beside.values["min_m"] == pytest.approx(0.3)
    assert _rule(evaluate_detectors(_beamed("bs5839_1", 0.2, comps)), "D2").passed


def test_d6_walks_a_wasteful_layout_down_to_the_proven_optimum() -> None:
    """Nine detectors in a 14.4 x 12 m CEN/TS office: D6's decision ILP (a cover with one fewer?) finds smaller
    covers until none exists, and reports the same proven optimum as the optimum ILP without a layout."""
    from ceiling_grid.evaluator import detectors as ev
    from ceiling_grid.models.detectors import cover_problem

    empty = make_room(24, 20, detector_standard="cen_ts_54_14")
    pts, radius = prepare(empty).lattice.points, cover_problem(empty).radius
    sites = empty.tile_centres(ev.legal_detector_sites(empty, luminaire_rule=True))
    ev._OPTIMUM_CACHE.clear()
    optimum, proven = ev.optimal_detector_count(empty, sites, pts, radius)
    assert proven and optimum is not None and 1 < optimum < 9
    nine = {(x, y): "smoke_detector" for x in (4, 12, 19) for y in (3, 10, 16)}
    report = evaluate_detectors(make_room(24, 20, detector_standard="cen_ts_54_14", components=nine))
    d6 = _rule(report, "D6")
    assert report.metrics["n_optimal"] == optimum and d6.values["optimal_proven"] and d6.values["n"] == 9
    assert not d6.passed  # 9 > optimum + 1: over-provisioned


def test_the_detector_report_is_kept_per_room_and_components_and_handed_out_as_copies() -> None:
    """The same room and components get an equal report without a second check (a copy: changing it changes
    nothing kept); another layout, or the same layout under another standard, is checked afresh."""
    from ceiling_grid.evaluator import detectors as ev

    comps = {(4, 3): "smoke_detector", (16, 10): "smoke_detector"}
    room = make_room(22, 15, components=comps)
    ev._REPORT_CACHE.data.clear()
    first = evaluate_detectors(room)
    checks = []
    check = ev._check_detectors
    ev._check_detectors = lambda g: checks.append(g) or check(g)  # type: ignore[assignment]
    try:
        again = evaluate_detectors(make_room(22, 15, components=comps))  # an equal grid, another object
        assert checks == [] and again.to_dict() == first.to_dict() and again is not first
        again.metrics["n"] = -1
        again.rules.clear()
        assert evaluate_detectors(room).to_dict() == first.to_dict()
        moved = evaluate_detectors(make_room(22, 15, components={**comps, (10, 7): "smoke_detector"}))
        other = evaluate_detectors(make_room(22, 15, components=comps, detector_standard="bs5839_1"))
        assert len(checks) == 2 and moved.metrics != first.metrics and other.to_dict() != first.to_dict()
    finally:
        ev._check_detectors = check  # type: ignore[assignment]
