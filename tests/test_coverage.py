"""§7.4 clearance rules: edge distances between points and tile squares (D3, D4, the diffuser reserve)."""

from __future__ import annotations

import numpy as np
import pytest


def test_edge_distance_both_ways_matches_brute_force() -> None:
    """Point-to-nearest-tile and tile-to-nearest-point edge distances agree with a direct computation."""
    from ceiling_grid.coverage import edge_distance

    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 6, (40, 2))
    tiles = rng.integers(0, 10, (15, 2))
    t = 0.6

    def dist(p: np.ndarray, tile: np.ndarray) -> float:
        d = np.maximum(np.abs((tile + 0.5) * t - p) - t / 2, 0.0)
        return float(np.hypot(*d))

    per_point = [min(dist(p, c) for c in tiles) for p in pts]
    per_tile = [min(dist(p, c) for p in pts) for c in tiles]
    assert edge_distance(pts, tiles, t, chunk=7) == pytest.approx(per_point)
    assert edge_distance(pts, tiles, t, chunk=7, per_tile=True) == pytest.approx(per_tile)
    assert np.isinf(edge_distance(pts, tiles[:0], t)).all()
    assert np.isinf(edge_distance(pts[:0], tiles, t, per_tile=True)).all()


def test_edge_distance_from_the_nearest_centres_equals_the_dense_one() -> None:
    """The k-nearest path gives exactly the dense distance to the nearest tile edge, both ways round."""
    import numpy as np

    from ceiling_grid.coverage import _edge_distance_dense, edge_distance

    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 30, (4000, 2))
    tiles = rng.integers(0, 50, (700, 2))
    centres = (tiles + 0.5) * 0.6
    assert np.array_equal(edge_distance(pts, tiles, 0.6), _edge_distance_dense(pts, centres, 0.6))
    assert np.array_equal(edge_distance(pts, tiles, 0.6, per_tile=True), _edge_distance_dense(centres, pts, 0.6))


def test_tile_edge_distance_is_the_edge_distance_from_tile_centres() -> None:
    """The half-tile distance transform gives the edge distance from tile centres to the nearest tile: a hand
    case, random sets on both tile sizes (to rounding), and no squares at all."""
    from ceiling_grid.coverage import edge_distance, tile_edge_distance

    t = 0.6
    # from tile (0, 0): the tile (2, 0) is 1.5 tiles away; (5, 3) is hypot(4.5, 2.5) tiles; itself 0
    got = tile_edge_distance(np.array([[0, 0], [2, 0], [7, 9]]), np.array([[2, 0], [5, 3]]), t)
    assert got == pytest.approx([1.5 * t, 0.0, np.hypot(1.5, 5.5) * t])
    rng = np.random.default_rng(8)
    for tile in (0.6, 0.6096):
        for _ in range(20):
            cells = rng.integers(-5, 40, (300, 2))
            squares = rng.integers(0, 30, (int(rng.integers(1, 60)), 2))
            expected = edge_distance((cells + 0.5) * tile, squares, tile)
            assert np.allclose(tile_edge_distance(cells, squares, tile), expected, rtol=0, atol=1e-12)
    assert np.isinf(tile_edge_distance(np.array([[1, 1]]), np.zeros((0, 2)), t)).all()
