"""Tests for the §2.5 point-by-point photometry model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ceiling_grid.config import DEFAULT_MAINTENANCE_FACTOR
from ceiling_grid.photometry import (
    _corner_general,
    _corner_lambertian,
    _rectangles,
    contribution_matrix,
    corner_flux_fraction,
    direct_illuminance,
    illuminance,
    illuminance_stats,
    rectangle_flux_fraction,
    room_photometry,
    sub_sources,
    work_plane_flux,
)
from ceiling_grid.testing import l_shaped_room, make_room

PHI = 3400.0


def _numeric_flux(src: tuple[float, float], rects: np.ndarray, hm: float, m: float, h: float) -> float:
    """Midpoint-rule flux fraction of a cos^m source onto ``rects`` with step ``h``."""
    total = 0.0
    for x0, y0, x1, y1 in rects:
        xs = np.arange(x0 + h / 2, x1, h)
        ys = np.arange(y0 + h / 2, y1, h)
        gx, gy = np.meshgrid(xs, ys)
        d2 = (gx - src[0]) ** 2 + (gy - src[1]) ** 2 + hm * hm
        total += float(((m + 1) / (2 * math.pi) * hm ** (m + 1) * d2 ** (-(m + 3) / 2)).sum() * h * h)
    return total


def test_lambertian_point_directly_below() -> None:
    """A Lambertian point source gives E = Φ/(π Hm²) directly below it."""
    hm = 1.95
    e = direct_illuminance(np.array([[2.0, 3.0]]), np.array([[2.0, 3.0]]), hm, PHI, 1.0)
    assert e[0] == pytest.approx(PHI / (math.pi * hm * hm), rel=1e-12)


def test_inverse_square_cosine_off_axis() -> None:
    """Off axis the Lambertian source follows E = (Φ/π) Hm² / d⁴."""
    hm, r = 2.0, 1.5
    e = direct_illuminance(np.array([[0.0, 0.0]]), np.array([[r, 0.0]]), hm, PHI, 1.0)
    assert e[0] == pytest.approx(PHI / math.pi * hm**2 / (r * r + hm * hm) ** 2, rel=1e-12)


def test_cos_m_source_below_uses_general_i0() -> None:
    """For cos^m the intensity is I0 = (m+1)Φ/2π, so E below is (m+1)Φ/(2π Hm²)."""
    hm, m = 2.5, 4.0
    e = direct_illuminance(np.array([[0.0, 0.0]]), np.array([[0.0, 0.0]]), hm, PHI, m)
    assert e[0] == pytest.approx((m + 1) * PHI / (2 * math.pi * hm * hm), rel=1e-12)


@pytest.mark.parametrize("m", [1.0, 2.0, 5.5])
def test_infinite_plane_receives_all_flux(m: float) -> None:
    """The flux integral over the whole plane equals Φ (four huge quadrants sum to 1)."""
    big = np.array(1e7)
    assert 4 * float(corner_flux_fraction(big, big, m)) == pytest.approx(1.0, abs=1e-5)


def test_numeric_plane_integral_matches_flux() -> None:
    """A fine numeric sum of direct illuminance over a wide plane approaches Φ."""
    hm, h, half = 1.0, 0.1, 40.0
    xs = np.arange(-half + h / 2, half, h)
    gx, gy = np.meshgrid(xs, xs)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    e = direct_illuminance(np.array([[0.0, 0.0]]), pts, hm, PHI, 1.0)
    # the plane beyond +-40 Hm misses about 1/(1+40²) of the flux
    assert float(e.sum()) * h * h == pytest.approx(PHI, rel=2e-3)


def test_closed_form_matches_quadrature_at_m1() -> None:
    """The Lambertian closed form agrees with the azimuth quadrature used for other exponents."""
    x = np.array([0.3, 1.0, 5.0, -2.0, 40.0])
    y = np.array([0.7, -2.0, 0.1, -1.5, 3.0])
    np.testing.assert_allclose(_corner_lambertian(x, y), _corner_general(x, y, 1.0), rtol=1e-10, atol=1e-12)
    # a 900:1 sliver is the quadrature's worst case: still within 0.1 %
    sliver = _corner_general(np.array([0.01]), np.array([9.0]), 1.0)
    np.testing.assert_allclose(sliver, _corner_lambertian(np.array([0.01]), np.array([9.0])), rtol=1e-3)


@pytest.mark.parametrize("m", [1.0, 2.5])
def test_rectangle_flux_against_fine_numeric_integral(m: float) -> None:
    """Closed-form / quadrature flux on rectangles matches a 2 mm numeric integral to 1e-5."""
    rects = np.array([[0.0, 0.0, 3.0, 2.0], [3.0, 0.0, 4.2, 0.6]])
    src = (1.0, 0.5)
    exact = rectangle_flux_fraction(np.array([src]), rects, 1.5, m)[0]
    assert exact == pytest.approx(_numeric_flux(src, rects, 1.5, m, 0.002), abs=1e-5)


def test_work_plane_flux_l_shape_against_numeric() -> None:
    """Per-luminaire work-plane flux in an L-shaped room matches a fine numeric integral over its tiles."""
    grid = l_shaped_room(8, 6, 3, 3)
    ph = room_photometry(grid)
    tile = np.array([[6, 4]])
    exact = work_plane_flux(grid, tile)[0]
    numeric = np.mean([
        _numeric_flux((float(s[0]), float(s[1])), ph.rects, ph.hm, 1.0, 0.01)
        for s in sub_sources(tile, grid.tile_size_m)
    ]) * PHI
    assert exact == pytest.approx(numeric, rel=1e-4)
    assert 0 < exact < PHI


def test_rectangles_cover_mask_exactly() -> None:
    """The work-plane rectangles tile the ceiling mask (L-cut and column removed) without overlap."""
    grid = l_shaped_room(9, 7, 4, 3, states={(2, 5): "column"})
    ph = room_photometry(grid)
    t = grid.tile_size_m
    painted = np.zeros((grid.height, grid.width), dtype=int)
    for x0, y0, x1, y1 in _rectangles(np.asarray(grid.arrays.ceiling_area), t):
        painted[round(y0 / t) : round(y1 / t), round(x0 / t) : round(x1 / t)] += 1
    np.testing.assert_array_equal(painted, np.asarray(grid.arrays.ceiling_area).astype(int))
    assert len(ph.rects) >= 3


def test_subdivision_converges_to_point_source_far_away() -> None:
    """Far from the panel the 3x3 split equals a point source; close below it differs noticeably."""
    tile = np.array([[0, 0]])
    t = 0.6
    centre = np.array([[0.3, 0.3]])
    far = np.array([[30.3, 0.3]])
    split = direct_illuminance(sub_sources(tile, t, 3), far, 2.0, PHI / 9)[0]
    point = direct_illuminance(centre, far, 2.0, PHI)[0]
    assert split == pytest.approx(point, rel=1e-3)
    near = centre
    split_near = direct_illuminance(sub_sources(tile, t, 3), near, 0.3, PHI / 9)[0]
    point_near = direct_illuminance(centre, near, 0.3, PHI)[0]
    assert split_near < 0.9 * point_near
    finer = direct_illuminance(sub_sources(tile, t, 15), near, 0.3, PHI / 225)[0]
    coarse_err = abs(split_near - finer)
    assert abs(direct_illuminance(sub_sources(tile, t, 9), near, 0.3, PHI / 81)[0] - finer) < coarse_err


def test_illuminance_is_sum_of_contributions() -> None:
    """The model is linear: contribution-matrix rows add up to ``illuminance`` of the whole layout."""
    grid = make_room(12, 9)
    lights = np.array([[2, 2], [6, 4], [9, 7], [3, 6]])
    pts = np.array([[1.0, 1.0], [3.3, 2.9], [6.0, 4.5]])
    rows = contribution_matrix(grid, lights, pts)
    np.testing.assert_allclose(rows.sum(axis=0), illuminance(grid, lights, pts), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_contribution_matrix_on_threads_is_the_same_bit_for_bit(dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows split between threads (uneven block counts included) give exactly the one-thread matrix."""
    import ceiling_grid.photometry as photometry

    monkeypatch.setattr(photometry, "DEFAULT_THREADED_MATRIX_MIN", 1)
    grid = make_room(37, 23)
    ys, xs = np.nonzero(np.ones((23, 37), dtype=bool))
    tiles = np.stack([xs, ys], axis=1)
    pts = np.random.default_rng(2).uniform(0, 13, (211, 2))
    one = contribution_matrix(grid, tiles, pts, dtype=dtype)
    for threads in (2, 3, 7):
        assert np.array_equal(contribution_matrix(grid, tiles, pts, dtype=dtype, threads=threads), one)


def test_indirect_term_matches_split_flux_formula() -> None:
    """E(P) = MF (E_dir + Φ1 / (A_s (1 - ρm))) with Φ1 from the work-plane flux, for one panel."""
    grid = make_room(10, 8)  # 6.0 x 4.8 m, H = 2.7, Hm = 1.95
    light = np.array([[4, 3]])
    p = np.array([[1.0, 1.0]])
    a, per, h = 6.0 * 4.8, 2 * (6.0 + 4.8), 2.7
    phi_wp = work_plane_flux(grid, light)[0]
    phi1 = 0.2 * phi_wp + 0.5 * (PHI - phi_wp)
    a_s = 2 * a + per * h
    rho_m = (a * 0.7 + a * 0.2 + per * h * 0.5) / a_s
    e_dir = direct_illuminance(sub_sources(light, 0.6), p, 1.95, PHI / 9)[0]
    expected = DEFAULT_MAINTENANCE_FACTOR * (e_dir + phi1 / (a_s * (1 - rho_m)))
    assert illuminance(grid, light, p)[0] == pytest.approx(expected, rel=1e-12)


def test_no_lights_gives_zero() -> None:
    """Without luminaires the illuminance is zero everywhere and the stats say so."""
    grid = make_room(5, 5)
    pts = np.array([[1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(illuminance(grid, np.zeros((0, 2)), pts), [0.0, 0.0])
    st = illuminance_stats(grid, np.zeros((0, 2)), pts)
    assert (st.em_lx, st.u0, st.count) == (0.0, 0.0, 0)


def test_equivalent_uf_in_sanity_band_for_regular_layout() -> None:
    """A regular array in a standard office gives an equivalent UF inside [0.45, 1.10] and sane U0/g2."""
    grid = make_room(24, 14)
    xs, ys = np.meshgrid(np.arange(2, 24, 4), np.arange(1, 14, 3))
    lights = np.stack([xs.ravel(), ys.ravel()], axis=1)
    from ceiling_grid.prepared import prepare

    st = illuminance_stats(grid, lights, prepare(grid).calc.points)
    assert st.uf_in_band
    assert 0.45 <= st.equivalent_uf <= 1.10
    assert 0 < st.g2 <= st.u0 <= 1
    assert st.emin_lx <= st.em_lx <= st.emax_lx
