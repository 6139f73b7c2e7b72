"""Room geometry: walls of the tile union, wall distances, inside tests, reflex corners, columns as holes."""

from __future__ import annotations

import numpy as np

from ceiling_grid.evaluator.geometry_rules import evaluate_geometry
from ceiling_grid.geometry import geometry_of, point_segment_distance
from ceiling_grid.testing import l_shaped_room, make_room


def test_rectangle_walls_area_perimeter() -> None:
    """A 10x5 room of 0.6 m tiles is a 6 x 3 m rectangle with four merged walls."""
    geo = geometry_of(make_room(10, 5))
    assert len(geo.walls) == 4
    assert abs(geo.area_m2 - 18.0) < 1e-9
    assert abs(geo.perimeter_m - 18.0) < 1e-9
    assert geo.is_rectangle and len(geo.reflex_corners) == 0


def test_l_shape_has_one_reflex_corner_and_six_walls() -> None:
    """Cutting a corner out gives six walls and one re-entrant corner at the cut."""
    geo = geometry_of(l_shaped_room(10, 8, 4, 3))
    assert len(geo.walls) == 6
    assert np.allclose(geo.reflex_corners, [[3.6, 1.8]])
    assert not geo.is_rectangle
    assert abs(geo.area_m2 - (80 - 12) * 0.36) < 1e-9


def test_wall_distance_and_inside() -> None:
    """Distances are to the nearest wall segment; boundary points count as inside, outside tiles do not."""
    geo = geometry_of(l_shaped_room(10, 8, 4, 3))
    d = geo.distance_to_walls(np.array([[0.3, 0.3], [3.0, 2.4]]))
    assert np.allclose(d, [0.3, np.hypot(0.6, 0.6)])
    inside = geo.inside(np.array([[0.0, 0.0], [5.0, 0.5], [6.0, 4.8], [3.6, 1.8]]))
    assert inside.tolist() == [True, False, True, True]


def test_columns_are_holes_not_walls() -> None:
    """A column keeps the outer walls unchanged but its interior is not ceiling."""
    room = make_room(6, 6, states={(2, 2): "column"})
    geo = geometry_of(room)
    assert len(geo.walls) == 4
    assert geo.in_column(np.array([[1.5, 1.5]])).tolist() == [True]
    assert geo.in_column(np.array([[1.2, 1.5]])).tolist() == [False]  # on the column's edge
    assert abs(geo.area_m2 - 35 * 0.36) < 1e-9


def test_point_segment_distance_matches_brute_force() -> None:
    """The vectorised distance agrees with a dense sampling of each segment."""
    rng = np.random.default_rng(7)
    segs = rng.uniform(0, 5, size=(6, 4))
    pts = rng.uniform(-1, 6, size=(50, 2))
    t = np.linspace(0, 1, 4001)
    samples = segs[:, None, 0:2] + t[None, :, None] * (segs[:, None, 2:4] - segs[:, None, 0:2])
    brute = np.sqrt(((pts[:, None, None, :] - samples[None]) ** 2).sum(-1)).min(axis=(1, 2))
    assert np.allclose(point_segment_distance(pts, segs), brute, atol=2e-3)


def test_geometry_rules_flag_misplaced_and_split_rooms() -> None:
    """G1 fails for a light on a sprinkler tile; G3 fails for a room in two parts."""
    bad = make_room(5, 5, states={(1, 1): "sprinkler"}, components={(1, 1): "light"})
    g1 = {r.rule: r for r in evaluate_geometry(bad).rules}["G1"]
    assert not g1.passed and g1.values["misplaced"] == {"light": [(1, 1)]}
    split = make_room(5, 3, outside=[(2, 0), (2, 1), (2, 2)])
    g3 = {r.rule: r for r in evaluate_geometry(split).rules}["G3"]
    assert not g3.passed and g3.values["parts"] == 2


def test_a_perimeter_column_keeps_the_wall_line_behind_it() -> None:
    """A point on the outer wall line at a column that touches the grid's edge is not inside the column,
    so the D1 lattice keeps it (it was dropped once, hiding a 6.26 m coverage gap under CEN/TS)."""
    from ceiling_grid.prepared import prepare

    grid = make_room(10, 10, states={(0, 5): "column", (9, 0): "column"})
    geo = geometry_of(grid)
    t = grid.tile_size_m
    wall_line = np.array([[0.0, 5.5 * t], [10 * t, 0.5 * t], [9.5 * t, 0.0]])
    assert not geo.in_column(wall_line).any()
    assert geo.in_column(np.array([[0.5 * t, 5.5 * t], [9.5 * t, 0.5 * t]])).all()  # their interiors are
    lattice = {tuple(p) for p in np.round(prepare(grid).lattice.points, 6).tolist()}
    assert (0.0, round(5.5 * t, 6)) in lattice


def test_lattice_lookup_agrees_with_the_point_lookup() -> None:
    """inside_lattice(xs, ys) is inside() of every lattice point, in meshgrid order, on the walls included."""
    from ceiling_grid.prepared import prepare

    for grid in (l_shaped_room(14, 11, 6, 5), make_room(9, 6, outside=[(0, 0), (8, 5)])):
        geo = prepare(grid).geometry
        x0, y0, x1, y1 = geo.bbox
        xs, ys = np.linspace(x0 - 0.3, x1 + 0.3, 97), np.linspace(y0 - 0.3, y1 + 0.3, 71)
        xs[10] = geo.tile * 3  # exactly on tile edges
        gx, gy = np.meshgrid(xs, ys)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        for eps in (1e-9, 0.0, 0.2):
            lattice = geo.inside_lattice(xs, ys, eps)
            assert lattice.shape == (71, 97)
            assert np.array_equal(lattice.ravel(), geo.inside(points, eps))
            assert 0 < lattice.sum() < lattice.size
