"""Tests for the AirSupplyModel (§3, detector feasibility §4.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ceiling_grid.evaluator.air import evaluate_air
from ceiling_grid.evaluator.detectors import evaluate_detectors
from ceiling_grid.grid import Component
from ceiling_grid.models.air import AirSupplyModel, supply_airflow
from ceiling_grid.models.base import Stage
from ceiling_grid.models.detectors import SmokeDetectorModel
from ceiling_grid.models.lights import LightModelA
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


@pytest.mark.parametrize("detector", [(13, 5), (6, 5), (20, 5), (13, 2)])
def test_diffusers_keep_the_d3_clearance_to_a_detector_placed_before_the_run(detector: tuple[int, int]) -> None:
    """A pre-placed detector: no diffuser lands within its air-terminal clearance, so D3 holds (a bug once)."""
    from ceiling_grid.coverage import edge_distance
    from ceiling_grid.runner import PipelineRunner

    grid = make_room(27, 10, detector_standard="bs5839_1", components={detector: "smoke_detector"})
    with PipelineRunner(max_workers=1) as runner:
        result = runner.run_full_pipeline(grid)
    air = result.final_grid.positions(Component.AIR_SUPPLY)
    gap = edge_distance(result.final_grid.tile_centres(np.array([detector])), air, grid.tile_size_m)
    assert gap[0] >= grid.detector_spec.air_terminal_min_m
    assert result.report.compliant, result.status()


def test_no_diffuser_beside_a_luminaire_along_its_throw() -> None:
    """Diffusers avoid the four tiles next to a luminaire when the room has room for that."""
    for grid in (make_room(24, 14), make_room(20, 12, states={(5, 5): "column"})):
        lit = place(LightModelA(), grid).grid
        placed = place(AirSupplyModel(), lit).grid
        lights = {tuple(t) for t in placed.positions(Component.LIGHT).tolist()}
        for x, y in placed.positions(Component.AIR_SUPPLY).tolist():
            assert not lights & {(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)}, (x, y)


def test_diffusers_above_the_airflow_minimum_say_why() -> None:
    """A 24 x 36 m classroom gets more diffusers than its airflow needs for the throw; the result says so."""
    result = place(AirSupplyModel(), make_room(40, 60, room_type="classroom"))
    d = result.diagnostics
    assert result.count > d["n_required"] and d["above_airflow_minimum"] == result.count - d["n_required"]
    assert "throw" in d["why_more"]
    a1 = next(r for r in evaluate_air(result.grid).rules if r.rule == "A1")
    assert a1.values["above_minimum"] == d["above_airflow_minimum"] and "above the airflow minimum" in a1.message
    plain = place(AirSupplyModel(), make_room(24, 14))
    assert plain.diagnostics["above_airflow_minimum"] == 0 and plain.diagnostics["why_more"] is None


def test_diffusers_in_a_plain_rectangle_are_symmetric() -> None:
    """An unobstructed rectangle gets a diffuser array mirrored about both centre lines."""
    for w, h in ((24, 14), (20, 12), (17, 11)):
        lit = place(LightModelA(), make_room(w, h)).grid
        tiles = {tuple(t) for t in place(AirSupplyModel(), lit).grid.positions(Component.AIR_SUPPLY).tolist()}
        assert tiles and {(w - 1 - x, y) for x, y in tiles} == tiles and {(x, h - 1 - y) for x, y in tiles} == tiles


def test_diffusers_sit_in_the_gaps_between_luminaire_rows() -> None:
    """On a lit rectangle each diffuser is centred (within half a tile) between two luminaire rows and two
    luminaire columns, as on a coordinated plan, and the array keeps its mirror symmetry (30 x 21: three
    across an even 30 tiles cannot mirror, so only the outer columns are checked there)."""
    for w, h in ((24, 14), (20, 12), (30, 21)):
        lit = place(LightModelA(), make_room(w, h)).grid
        lights = lit.positions(Component.LIGHT)
        tiles = place(AirSupplyModel(), lit).grid.positions(Component.AIR_SUPPLY)
        assert len(tiles)
        for axis in (0, 1):
            lines = np.unique(lights[:, axis])
            mids = (lines[:-1] + lines[1:]) / 2
            off = np.abs(tiles[:, axis][:, None] - mids[None, :]).min(axis=1)
            assert (off <= 0.5).all(), (w, h, axis, tiles.tolist(), lines.tolist())
        placed = {tuple(t) for t in tiles.tolist()}
        outer = {(x, y) for x, y in placed if w != 30 or abs(x - (w - 1) / 2) > 1}
        assert {(w - 1 - x, h - 1 - y) for x, y in outer} == outer, (w, h, tiles.tolist())


def test_snapping_searches_near_each_target_and_picks_what_a_full_scan_picks() -> None:
    """_snap bounds each target's search by its nearest tiles' costs; it picks the same tiles, in the same order,
    as scoring every allowed tile: lit rooms, random targets, targets on the centre lines, more targets than tiles."""
    from ceiling_grid.coverage import luminaires_in_throw
    from ceiling_grid.geometry import geometry_of
    from ceiling_grid.models import air

    def full_scan(grid, targets):  # the definition: every allowed tile scored for every target
        free = air.diffuser_tiles(grid, len(targets))
        axis = luminaires_in_throw(grid)
        ys, xs = np.nonzero(free)
        tiles = np.stack([xs, ys], axis=1)
        centres = grid.tile_centres(tiles)
        x0, y0, x1, y1 = geometry_of(grid).bbox
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        penalty = (air.DEFAULT_LIGHT_AXIS_PENALTY_M * axis[ys, xs]
                   + air.DEFAULT_TIE_BREAK_M * np.hypot(*(centres - centre).T)
                   + air.DEFAULT_OFF_GAP_PENALTY_M * air._off_gap_tiles(grid, tiles))
        taken = np.zeros(len(tiles), dtype=bool)
        out = []
        for p in targets:
            on_line = np.abs(p - centre) < 1e-6
            leaves = ((np.abs(centres - centre) > 1e-6) & on_line[None, :]).any(axis=1)
            cost = np.hypot(*(centres - p).T) + penalty + air.DEFAULT_CENTRE_LINE_PENALTY_M * leaves
            cost[taken] = np.inf
            j = int(np.argmin(cost))
            if not np.isfinite(cost[j]):
                break
            taken[j] = True
            out.append((int(tiles[j, 0]), int(tiles[j, 1])))
        return out

    rng = np.random.default_rng(9)
    for grid in (make_room(24, 14), make_room(9, 7), l_shaped_room(20, 16, 8, 7)):
        lit = place(LightModelA(), grid).grid
        x0, y0, x1, y1 = geometry_of(lit).bbox
        for count in (1, 4, 9, 300):
            targets = rng.uniform([x0, y0], [x1, y1], (count, 2))
            targets[: count // 3, 0] = (x0 + x1) / 2  # a third on the vertical centre line
            got = air._snap(lit, targets)
            assert got == full_scan(lit, targets), (lit.grid_id, count)
            assert len(set(got)) == len(got)
