"""Tests for the AirSupplyModel (§3, detector feasibility §4.6)."""

from __future__ import annotations

import math

import pytest

from ceiling_grid.evaluator.air import evaluate_air
from ceiling_grid.evaluator.detectors import evaluate_detectors
from ceiling_grid.grid import Component
from ceiling_grid.models.air import AirSupplyModel, supply_airflow
from ceiling_grid.models.base import Stage
from ceiling_grid.models.detectors import SmokeDetectorModel
from ceiling_grid.runner import place
from ceiling_grid.testing import l_shaped_room, make_room


def _diffusers(grid):
    return sorted(map(tuple, grid.positions(Component.AIR_SUPPLY).tolist()))


def test_small_bs_office_keeps_a_detector_site():
    """In the 3.6 x 3.0 m BS office the diffuser moves off-centre so a legal detector tile remains (§4.6)."""
    room = make_room(6, 5, detector_standard="bs5839_1")
    result = place(AirSupplyModel(), room)
    assert result.stage is Stage.AIR_SUPPLY
    assert result.compliant and result.diagnostics["detector_feasible"]
    assert result.count == 1
    assert _diffusers(result.grid) not in ([(2, 2)], [(3, 2)])
    detectors = place(SmokeDetectorModel(), result.grid)
    assert detectors.compliant and evaluate_detectors(detectors.grid).compliant
    assert _diffusers(place(AirSupplyModel(), room).grid) == _diffusers(result.grid)


def test_office_airflow_and_count():
    """A 24 x 14 office needs Q = 5 L/s per m2 (cooling governs) and ceil(Q / 190) diffusers."""
    room = make_room(24, 14)
    q, n, terms = supply_airflow(room)
    area = 14.4 * 8.4
    assert q == pytest.approx(5.0 * area)
    assert terms["voz_l_s"] < q
    assert n == math.ceil(q / 190.0)
    result = place(AirSupplyModel(), room)
    assert result.compliant and result.count >= n
    assert evaluate_air(result.grid).metrics["cv_area"] <= 0.25


def test_ventilation_governs_with_many_occupants():
    """With 200 people in a classroom the ASHRAE 62.1 outdoor air governs: Voz = 5*Pz + 0.6*A."""
    room = make_room(24, 14, room_type="classroom", occupants=200)
    q, n, terms = supply_airflow(room)
    area = 14.4 * 8.4
    assert q == pytest.approx(5.0 * 200 + 0.6 * area)
    assert q > terms["cooling_l_s"] and n == math.ceil(q / 190.0)


def test_preplaced_supply_counts():
    """Pre-placed supply diffusers count towards N and are kept."""
    room = make_room(24, 14, components={(2, 2): "air_supply", (21, 11): "air_supply"})
    result = place(AirSupplyModel(), room)
    assert (2, 2) in _diffusers(result.grid) and (21, 11) in _diffusers(result.grid)
    assert result.placed == result.diagnostics["n_required"] - 2
    assert result.compliant


def test_l_shaped_room_spread():
    """An L-shaped room gets a centroidal spread that passes the air checker."""
    room = l_shaped_room(30, 24, 12, 10, detector_standard="nfpa72")
    result = place(AirSupplyModel(), room)
    report = evaluate_air(result.grid)
    assert report.compliant and report.metrics["cv_area"] <= 0.25
    assert result.diagnostics["strategy"].startswith("lloyd")


def test_no_free_tiles_is_infeasible():
    """A room without free tiles reports A1 infeasible and does not crash."""
    room = make_room(4, 4, states={(x, y): "sprinkler" for x in range(4) for y in range(4)})
    result = place(AirSupplyModel(), room)
    assert not result.compliant and result.placed == 0
    assert result.infeasible.rule == "A1"
