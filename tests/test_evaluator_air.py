"""Tests for the §7.3 diffuser checks and the §8 diffuser score."""

from __future__ import annotations

import pytest

from ceiling_grid.evaluator.air import evaluate_air, jet_lengths, required_supply
from ceiling_grid.testing import make_room


def _rule(report, name):
    return next(r for r in report.rules if r.rule == name)


def test_a1_counts_capacity():
    """Too few diffusers fail A1; enough pass it."""
    room = make_room(24, 14, components={(6, 4): "air_supply"})
    q, n = required_supply(room)
    assert n == 4 and q == pytest.approx(5.0 * 14.4 * 8.4)
    assert not _rule(evaluate_air(room), "A1").passed
    full = make_room(24, 14, components={(x, y): "air_supply" for x in (6, 17) for y in (3, 10)})
    report = evaluate_air(full)
    assert report.compliant and report.score >= 100


def test_a2_blocked_tile():
    """A diffuser on a sprinkler tile fails A2 (G1)."""
    room = make_room(8, 8, states={(4, 4): "sprinkler"}, components={(4, 4): "air_supply"})
    assert not _rule(evaluate_air(room), "A2").passed


@pytest.mark.parametrize("tile", [(2, 2), (3, 2)])
def test_centred_diffuser_in_small_bs_office_is_detector_infeasible(tile):
    """A centred diffuser in the 3.6 x 3.0 m BS office leaves no legal detector tile (§4.6)."""
    report = evaluate_air(make_room(6, 5, detector_standard="bs5839_1", components={tile: "air_supply"}))
    assert not report.compliant
    assert not _rule(report, "C_detector_feasibility").passed
    assert report.infeasible is None  # moving the diffuser would fix it


def test_jet_lengths_to_walls_and_neighbours():
    """L_dir is the wall distance for a lone diffuser and half the spacing between two in a row."""
    lone = make_room(5, 5, components={(2, 2): "air_supply"})
    assert jet_lengths(lone)[0] == pytest.approx([1.5, 1.5, 1.5, 1.5])
    pair = make_room(10, 5, components={(2, 2): "air_supply", (7, 2): "air_supply"})
    lengths = jet_lengths(pair)
    assert lengths[0] == pytest.approx([1.5, 1.5, 1.5, 1.5])
    assert lengths[1] == pytest.approx([1.5, 1.5, 1.5, 1.5])


def test_score_rewards_even_spread():
    """An uneven pair of diffusers scores lower than an even pair (Voronoi CV term)."""
    even = evaluate_air(make_room(20, 6, components={(5, 3): "air_supply", (14, 3): "air_supply"}))
    uneven = evaluate_air(make_room(20, 6, components={(1, 3): "air_supply", (3, 3): "air_supply"}))
    assert even.metrics["cv_area"] < uneven.metrics["cv_area"]
    assert even.score > uneven.score


def test_no_free_tile_reports_infeasible():
    """A room with every tile blocked reports A1 infeasible."""
    report = evaluate_air(make_room(3, 3, states={(x, y): "sprinkler" for x in range(3) for y in range(3)}))
    assert report.infeasible is not None and report.infeasible["rule"] == "A1"


def test_a4_reports_a_diffuser_throwing_into_a_luminaire() -> None:
    """A4 (coordination, hard): a luminaire in a tile along a diffuser's throw fails and is named; diagonal is fine."""
    beside = evaluate_air(make_room(12, 10, components={(5, 5): "air_supply", (6, 5): "light"}))
    a4 = next(r for r in beside.rules if r.rule == "A4")
    assert not a4.passed and a4.hard and a4.values["diffusers_beside_luminaires"] == [[5, 5]]
    assert not beside.compliant and "diagonal is fine" in a4.message
    diagonal = evaluate_air(make_room(12, 10, components={(5, 5): "air_supply", (6, 6): "light"}))
    assert next(r for r in diagonal.rules if r.rule == "A4").passed


def test_a4_infeasible_when_every_free_tile_is_in_line_with_a_luminaire() -> None:
    """A 3 x 1 room with a luminaire in the middle: both other tiles have it beside them, so no diffuser can go
    in without throwing into it; the reason says what to do."""
    report = evaluate_air(make_room(3, 1, components={(1, 0): "light", (0, 0): "air_supply"}))
    assert not report.compliant
    assert report.infeasible is not None and report.infeasible["rule"] == "A4"
    assert "space the luminaires out" in report.infeasible["reason"]
