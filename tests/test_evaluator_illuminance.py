"""The checker's own illuminance against the models' fast path, and against brute-force integration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ceiling_grid.evaluator.illuminance import (
    _flux_fraction,
    _point_sources,
    reference_illuminance,
    reference_stats,
    work_plane_edges,
)
from ceiling_grid.geometry import geometry_of
from ceiling_grid.grid import Component, load_room
from ceiling_grid.photometry import illuminance_stats, work_plane_flux
from ceiling_grid.prepared import prepare
from ceiling_grid.runner import PipelineRunner
from ceiling_grid.testing import l_shaped_room, make_room

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "input").glob("*.json"))


@pytest.fixture(scope="module")
def laid_out_samples() -> list:
    with PipelineRunner(max_workers=1) as runner:
        return [runner.run_full_pipeline(load_room(p)).final_grid for p in SAMPLES]


def test_the_two_implementations_agree_on_every_sample_room(laid_out_samples: list) -> None:
    """Em within 0.5 % and U0 within 0.01 (the issue's bound; §7.2 allows 2 % and 0.02)."""
    assert len(laid_out_samples) == 6
    for grid in laid_out_samples:
        lights, points = grid.positions(Component.LIGHT), prepare(grid).calc.points
        fast, ref = illuminance_stats(grid, lights, points), reference_stats(grid, lights, points)
        assert ref.count == fast.count > 0
        assert ref.em_lx == pytest.approx(fast.em_lx, rel=0.005), grid.grid_id
        assert abs(ref.u0 - fast.u0) <= 0.01, grid.grid_id
        assert ref.uf_in_band


def brute_force_work_plane_flux(grid, lights, m: float, step: float = 0.02) -> float:  # type: ignore[no-untyped-def]
    """∫ E_dir dA over the work plane by the midpoint rule on a fine lattice (what §2.5 literally says)."""
    geo = geometry_of(grid)
    hm = grid.mounting_height_m
    x0, y0, x1, y1 = geo.bbox
    gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    cells = np.stack([gx.ravel(), gy.ravel()], axis=1)
    cells = cells[geo.on_ceiling(cells)]
    i0 = (m + 1.0) * (grid.luminaire.flux_lm / 9) / (2.0 * math.pi)
    total = 0.0
    for sx, sy in _point_sources(grid, lights).reshape(-1, 2):
        d2 = (cells[:, 0] - sx) ** 2 + (cells[:, 1] - sy) ** 2 + hm * hm
        total += float((i0 * (hm / np.sqrt(d2)) ** (m + 3.0) / (hm * hm)).sum()) * step * step
    return total


@pytest.mark.parametrize("m", [1.0, 2.0])
def test_work_plane_flux_matches_brute_force_integration_in_an_l_room_with_a_column(m: float) -> None:
    grid = l_shaped_room(10, 8, 4, 3, states={(2, 5): "column"}, luminaire={"cos_exponent": m})
    lights = np.array([[1, 1], [5, 5], [8, 6]])
    sources = _point_sources(grid, lights).reshape(-1, 2)
    edges = work_plane_edges(grid, merge=m == 1.0)
    ours = float(_flux_fraction(sources, edges, grid.mounting_height_m, m).sum()) * grid.luminaire.flux_lm / 9
    assert ours == pytest.approx(brute_force_work_plane_flux(grid, lights, m), rel=2e-3)
    assert ours == pytest.approx(float(work_plane_flux(grid, lights).sum()), rel=1e-6)  # and the fast path


def test_boundary_edges_run_round_the_room_and_its_holes() -> None:
    """Outer boundary counter-clockwise, a column hole clockwise: the signed area is the work-plane area."""
    grid = make_room(6, 4, states={(2, 2): "column"})
    edges = work_plane_edges(grid)
    area = 0.5 * float((edges[:, 0] * edges[:, 3] - edges[:, 2] * edges[:, 1]).sum())
    assert area == pytest.approx(geometry_of(grid).area_m2)
    assert len(edges) == 4 + 4  # merged: a rectangle and a one-tile hole


def test_a_source_far_inside_a_huge_room_puts_all_its_flux_on_the_work_plane() -> None:
    grid = make_room(200, 200, tile_size_m=1.0)
    frac = _flux_fraction(np.array([[100.0, 100.0]]), work_plane_edges(grid), grid.mounting_height_m, 1.0)
    assert frac[0] == pytest.approx(1.0 - grid.mounting_height_m**2 / 100.0**2 / 2, abs=2e-4)


def test_no_lights_no_light() -> None:
    grid = make_room(5, 5)
    assert reference_illuminance(grid, np.zeros((0, 2)), np.array([[1.0, 1.0]])).tolist() == [0.0]
    assert reference_stats(grid, np.zeros((0, 2)), prepare(grid).calc.points).em_lx == 0.0
