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


# ----- photometric files: the models' look-up and the checker's, each on its own --------------------

def _file_room(width: int, height: int, rows: list[list[float]], c_angles: list[float], gamma: list[float],
               rotation: int = 0, **kwargs: object):  # type: ignore[no-untyped-def]
    """A room whose luminaire is the given IES table (absolute candela), as if loaded from its file."""
    from ceiling_grid.grid import parse_room
    from ceiling_grid.photometric_files import parse_ies
    from ceiling_grid.testing import ies_text, room_payload

    dist = parse_ies(ies_text(c_angles, gamma, rows), "test.ies")
    lum = {"photometry": "test.ies", "distribution": dist, "rotation_deg": rotation}
    return parse_room(room_payload(width, height, luminaire=lum, **kwargs), "file-room")


def _lambertian_file_room(width: int, height: int, **kwargs: object):  # type: ignore[no-untyped-def]
    from ceiling_grid.testing import lambertian_table

    gamma, cd = lambertian_table(3400.0, 2.5)
    return _file_room(width, height, [cd], [0.0], gamma, **kwargs)


def _elongated(c: float, g: float) -> float:
    """Bilateral about C0-C180, wide along C90 and tilted towards C0: asymmetric in x, not in y."""
    cr, gr = math.radians(c), math.radians(g)
    wide = 1.0 + 0.6 * math.sin(cr) ** 2 * math.sin(gr)
    return 500.0 * math.cos(gr) * wide * (1.0 + 0.3 * math.cos(cr) * math.sin(gr))


@pytest.mark.parametrize("shape", ["rectangle", "l_shape"])
def test_a_lambertian_file_gives_the_built_in_em_within_half_a_percent(shape: str) -> None:
    outside = [(x, y) for y in range(6) for x in range(14, 20)] if shape == "l_shape" else []
    built_in = make_room(20, 12, outside=outside)
    from_file = _lambertian_file_room(20, 12, outside=outside)
    lights = np.array([(x, y) for x in range(2, 14, 4) for y in range(1, 12, 4)])
    pts = prepare(built_in).calc.points
    for stats in (illuminance_stats, reference_stats):
        a, b = stats(built_in, lights, pts), stats(from_file, lights, pts)
        assert b.em_lx == pytest.approx(a.em_lx, rel=0.005)
        assert b.u0 == pytest.approx(a.u0, rel=0.005)


@pytest.mark.parametrize("rotation", [0, 90])
def test_models_and_checker_agree_on_an_asymmetric_file(rotation: int) -> None:
    cs = [float(c) for c in range(0, 181, 15)]
    gamma = [float(g) for g in range(0, 91, 5)]
    room = _file_room(16, 10, [[_elongated(c, g) for g in gamma] for c in cs], cs, gamma, rotation)
    lights = np.array([(3, 2), (8, 5), (12, 7)])
    pts = prepare(room).calc.points
    from ceiling_grid.photometry import illuminance

    fast, ref = illuminance(room, lights, pts), reference_illuminance(room, lights, pts)
    assert np.max(np.abs(fast - ref) / ref) < 0.005
    assert work_plane_flux(room, lights).sum() == pytest.approx(
        _reference_wp_flux(room, lights), rel=0.002)


def _reference_wp_flux(room, lights) -> float:  # type: ignore[no-untyped-def]
    """Φ_wp by brute force: direct illuminance on a 0.05 m grid over the work plane, times the cell area."""
    from ceiling_grid.evaluator.illuminance import _direct

    h = 0.05
    mask = np.asarray(geometry_of(room).ceiling, dtype=bool)
    n = round(room.tile_size_m / h)
    fine = np.kron(mask, np.ones((n, n), dtype=bool))
    ys, xs = np.nonzero(fine)
    pts = np.stack([(xs + 0.5) * h, (ys + 0.5) * h], axis=1)
    return float(_direct(room, np.asarray(lights), pts).sum() * h * h)


def test_rotation_turns_the_distribution_with_the_luminaire() -> None:
    cs = [float(c) for c in range(0, 181, 15)]
    gamma = [float(g) for g in range(0, 91, 5)]
    rows = [[_elongated(c, g) for g in gamma] for c in cs]
    flat, turned = _file_room(15, 15, rows, cs, gamma, 0), _file_room(15, 15, rows, cs, gamma, 90)
    centre = 7.5 * 0.6
    along_x = np.array([[centre + 1.5, centre], [centre - 1.5, centre]])
    along_y = np.array([[centre, centre + 1.5], [centre, centre - 1.5]])
    light = np.array([(7, 7)])
    for fn in (reference_illuminance,):
        assert fn(flat, light, along_x) == pytest.approx(fn(turned, light, along_y), rel=1e-6)
        assert fn(flat, light, along_x)[0] > fn(flat, light, along_x)[1] * 1.05  # tilted towards C0 (+x)
    from ceiling_grid.photometry import illuminance

    assert illuminance(flat, light, along_x) == pytest.approx(illuminance(turned, light, along_y), rel=1e-6)


@pytest.mark.parametrize("rotation", [0, 90])
def test_a_troffer_is_two_half_panels_in_models_and_checker(rotation: int) -> None:
    """A 2-tile luminaire of Φ splits over its footprint exactly like two 1-tile panels of Φ/2 side by side."""
    from ceiling_grid.photometry import illuminance

    troffer = make_room(14, 10, luminaire={"flux_lm": 5000.0, "length_tiles": 2, "rotation_deg": rotation})
    halves = make_room(14, 10, luminaire={"flux_lm": 2500.0})
    anchors = np.array([(2, 2), (7, 5), (10, 7)])
    second = anchors + (np.array([1, 0]) if rotation == 0 else np.array([0, 1]))
    pts = prepare(troffer).calc.points
    for fn in (illuminance, reference_illuminance):
        assert fn(troffer, anchors, pts) == pytest.approx(fn(halves, np.concatenate([anchors, second]), pts),
                                                          rel=1e-9)
    assert reference_stats(troffer, anchors, pts).count == 3
    assert work_plane_flux(troffer, anchors).sum() == pytest.approx(
        work_plane_flux(halves, np.concatenate([anchors, second])).sum(), rel=1e-9)
