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
