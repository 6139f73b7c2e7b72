"""Tests for geodesic distances inside non-convex rooms (§4.5)."""

from __future__ import annotations

import numpy as np
import pytest

from ceiling_grid.geodesic import geodesic_distances, geodesic_pairs, nearest_geodesic, visible_pairs
from ceiling_grid.geometry import geometry_of
from ceiling_grid.testing import l_shaped_room, make_room


@pytest.fixture
def l_room():
    """10 x 10 tiles (6 m) with the top-right 5 x 5 tiles cut out: reflex corner at (3, 3) m."""
    return geometry_of(l_shaped_room(10, 10, 5, 5))


def test_rectangle_is_euclidean():
    """In a rectangular room the geodesic distance is the straight-line distance."""
    geo = geometry_of(make_room(8, 5))
    a = np.array([[0.3, 0.3], [4.5, 2.7]])
    b = np.array([[4.0, 2.9], [0.0, 0.0], [4.8, 3.0]])
    expected = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    assert np.allclose(geodesic_distances(geo, a, b), expected)


def test_columns_do_not_block(l_room):
    """Column tiles are part of the polygon: distances go straight past them."""
    geo = geometry_of(make_room(8, 8, states={(3, 3): "column", (4, 4): "column"}))
    a, b = np.array([[0.3, 0.3]]), np.array([[4.5, 4.5]])
    assert geodesic_distances(geo, a, b)[0, 0] == pytest.approx(np.hypot(4.2, 4.2))


def test_path_bends_at_reflex_corner(l_room):
    """Without line of sight the path goes via the reflex corner (3, 3)."""
    a, b = np.array([[2.7, 0.3]]), np.array([[5.7, 3.3]])
    assert not visible_pairs(l_room, a, b)[0]
    expected = np.hypot(0.3, 2.7) + np.hypot(2.7, 0.3)
    assert geodesic_distances(l_room, a, b)[0, 0] == pytest.approx(expected)


def test_touching_the_corner_and_walls_is_visible(l_room):
    """Segments that end at the corner or run along a wall keep line of sight."""
    a = np.array([[0.0, 3.0], [3.0, 0.0], [2.0, 2.0]])
    b = np.array([[3.0, 3.0], [3.0, 3.0], [4.0, 4.0]])
    assert visible_pairs(l_room, a, b).all()


def test_no_discontinuity_near_corner(l_room):
    """Points 0.07 m either side of the L corner get nearly equal distances (no flip, §4.5)."""
    src = np.array([[5.7, 3.3], [5.9, 5.9], [0.3, 0.3]])
    pts = np.array([[3.0 - 0.07, 3.0 + 0.07], [3.0 + 0.07, 3.0 + 0.07], [3.0 - 0.07, 3.0 - 0.07]])
    d = geodesic_distances(l_room, src, pts)
    assert np.isfinite(d).all()
    assert (np.ptp(d, axis=1) < 0.3).all()


def test_nearest_and_pairs_agree_with_matrix(l_room):
    """nearest_geodesic and geodesic_pairs agree with the full distance matrix."""
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 6, size=(400, 2))
    pts = pts[l_room.inside(pts)]
    src = pts[:25]
    full = geodesic_distances(l_room, src, pts)
    best, arg = nearest_geodesic(l_room, src, pts)
    assert np.allclose(best, full.min(axis=0))
    assert np.allclose(full[arg, np.arange(len(pts))], best)
    si, ti = np.nonzero(np.ones_like(full, dtype=bool))
    assert np.allclose(geodesic_pairs(l_room, src, pts, si, ti), full[si, ti])


def test_geodesic_not_shorter_than_euclid(l_room):
    """Geodesic distances are never shorter than straight lines and obey the triangle inequality via the corner."""
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 6, size=(300, 2))
    pts = pts[l_room.inside(pts)]
    d = geodesic_distances(l_room, pts[:30], pts)
    e = np.hypot(*(pts[:30, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    assert (d >= e - 1e-9).all()
    corner = np.array([[3.0, 3.0]])
    via = geodesic_distances(l_room, pts[:30], corner) + geodesic_distances(l_room, corner, pts)
    assert (d <= via + 1e-9).all()


@pytest.mark.parametrize("convex", [True, False])
def test_farther_than_is_the_nearest_distance_test(convex: bool, l_room) -> None:
    """farther_than answers exactly as the nearest distance does: random sources and limits (some tied with
    on-grid distances), on a room's read-only lattice (its cells cached) and on a writable copy."""
    from ceiling_grid.geodesic import farther_than
    from ceiling_grid.prepared import prepare

    grid = make_room(30, 22) if convex else l_shaped_room(24, 20, 10, 9)
    geo = geometry_of(grid)
    lattice = prepare(grid).lattice.points
    rng = np.random.default_rng(11)
    for trial in range(12):
        src = rng.uniform(0, 1, (int(rng.integers(1, 40)), 2)) * [grid.width * 0.6, grid.height * 0.6]
        if trial % 2:
            src = np.round(src / 0.3) * 0.3  # on the tile grid: distances tie with the limits below
        for limit in (float(rng.uniform(0.3, 8.0)), 6.3508, 1.2):
            expected = nearest_geodesic(geo, src, lattice)[0] > limit
            assert np.array_equal(farther_than(geo, src, lattice, limit), expected)
            assert np.array_equal(farther_than(geo, src, lattice.copy(), limit), expected)
    assert farther_than(geo, np.zeros((0, 2)), lattice, 5.0).all()


def test_targets_bucketed_ahead_answer_as_on_first_use(monkeypatch) -> None:
    """bucket_targets caches a read-only lattice's cells (a writable array is left alone), and the coverage test
    over them answers as without it, on one query thread or on all of them."""
    from ceiling_grid import geodesic
    from ceiling_grid.prepared import prepare

    grid = make_room(40, 30)
    geo = geometry_of(grid)
    lattice = prepare(grid).lattice.points
    geodesic._CELL_CACHE.pop(id(lattice), None)
    src = np.random.default_rng(3).uniform(0, 18, (9, 2))
    cold = geodesic.farther_than(geo, src, lattice, 4.0)
    geodesic._CELL_CACHE.pop(id(lattice), None)
    geodesic.bucket_targets(geo, lattice)
    assert geodesic._CELL_CACHE[id(lattice)][0]() is lattice
    copy = lattice.copy()
    geodesic.bucket_targets(geo, copy)
    assert id(copy) not in geodesic._CELL_CACHE
    assert np.array_equal(geodesic.farther_than(geo, src, lattice, 4.0), cold)
    monkeypatch.setattr(geodesic, "DEFAULT_THREADED_QUERY_MIN", 1)  # every query threaded: the same answer
    assert np.array_equal(geodesic.farther_than(geo, src, lattice, 4.0), cold)
    assert np.array_equal(geodesic.nearest_geodesic(geo, src, lattice)[0] > 4.0, cold)


def test_nearest_summary_is_the_full_query_summarised() -> None:
    """nearest_summary gives exactly the largest nearest-source distance and the count beyond a limit that
    nearest_geodesic over every target gives: convex rooms through cell bounds, an L room directly."""
    from ceiling_grid.geodesic import nearest_summary
    from ceiling_grid.prepared import prepare
    from ceiling_grid.testing import l_shaped_room, make_room

    rng = np.random.default_rng(3)
    for grid in (make_room(40, 30), l_shaped_room(30, 24, 12, 10)):
        room = prepare(grid)
        geo, pts = room.detection, room.lattice.points
        for k in (1, 4, 9):
            src = grid.tile_centres(np.argwhere(grid.arrays.in_room)[:, ::-1][rng.choice(
                int(grid.arrays.in_room.sum()), size=k, replace=False)])
            d = nearest_geodesic(geo, src, pts)[0]
            for limit in (3.0, 6.4, float(np.median(d)), float(d.max())):
                assert nearest_summary(geo, src, pts, limit) == (float(d.max()), int((d > limit).sum()))
    assert nearest_summary(geo, np.zeros((0, 2)), pts, 1.0) == (np.inf, len(pts))
    assert nearest_summary(geo, src, np.zeros((0, 2)), 1.0) == (0.0, 0)
