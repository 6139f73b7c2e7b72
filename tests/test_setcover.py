"""Set-cover reductions shared by the detector model and the D6 check: exact, deterministic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.spatial import cKDTree

from ceiling_grid.geometry import geometry_of
from ceiling_grid.setcover import cover_rows, dominated, reduce_cover, unique_rows
from ceiling_grid.testing import l_shaped_room


def min_cover(a: np.ndarray) -> int | None:
    """Brute force: the fewest columns covering every row (None if impossible)."""
    rows, cols = a.shape
    if rows == 0:
        return 0
    for k in range(1, cols + 1):
        for subset in itertools.combinations(range(cols), k):
            if a[:, list(subset)].any(axis=1).all():
                return k
    return None


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("max_passes", "dedupe"), [(None, False), (2, True)])
def test_reductions_never_change_the_minimum_cover(seed: int, max_passes: int | None, dedupe: bool) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.random((9, 7)) < 0.35).astype(float)
    a[a.sum(axis=1) == 0, rng.integers(0, 7)] = 1.0  # every point coverable
    reduced, kept = reduce_cover(sparse.csr_matrix(a), max_passes=max_passes, dedupe=dedupe)
    assert min_cover(reduced.toarray()) == min_cover(a)
    assert len(kept) == reduced.shape[1] <= a.shape[1] and reduced.shape[0] <= a.shape[0]
    assert set(kept.tolist()) <= set(range(7))


def test_dominated_sites_go_and_ties_keep_the_better_rank() -> None:
    # site 0 covers {0,1}; site 1 covers {0}; sites 2 and 3 both cover {2}
    a = sparse.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=float))
    b = a.tocsc()
    size = np.asarray(b.sum(axis=0)).ravel()
    assert dominated(b, size, np.arange(4)).tolist() == [False, True, False, True]
    assert dominated(b, size, np.array([0, 1, 3, 2])).tolist() == [False, True, True, False]
    _, kept = reduce_cover(a, np.array([0, 1, 3, 2]))
    assert kept.tolist() == [0, 3]


def test_unique_rows_keeps_the_first_of_each_set() -> None:
    a = sparse.csr_matrix(np.array([[1, 0], [0, 1], [1, 0]], dtype=float))
    assert unique_rows(a).toarray().tolist() == [[1, 0], [0, 1]]


def test_cover_rows_are_geodesic_round_the_corner_of_an_l_room() -> None:
    """A site and a point on the two legs of an L, close in a straight line, are not covering each other."""
    room = l_shaped_room(10, 10, 6, 6)  # x >= 2.4 m, y < 3.6 m is outside: the reflex corner is (2.4, 3.6)
    geo = geometry_of(room)
    sites = np.array([[2.0, 0.5]])
    # same leg: 2.69 m; other leg: 4.03 m in a straight line through the wall, 4.78 m round the corner
    points = np.array([[1.0, 3.0], [4.0, 4.0]])
    a = cover_rows(geo, cKDTree(sites), sites, points, 4.4).toarray()
    assert a[:, 0].tolist() == [1.0, 0.0]
    assert cover_rows(geo, cKDTree(sites), sites, points, 4.8).toarray()[:, 0].tolist() == [1.0, 1.0]
