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


def _instance(seed: int, convex: bool) -> tuple:
    """A small random cover problem in a real room: sites on tile centres, points inside, brute-force matrix."""
    from ceiling_grid.geodesic import nearest_geodesic
    from ceiling_grid.testing import make_room

    room = make_room(10, 8) if convex else l_shaped_room(10, 8, 5, 4)
    geo = geometry_of(room)
    rng = np.random.default_rng(seed)
    free = np.argwhere(room.arrays.ceiling_area)[:, ::-1]
    sites = room.tile_centres(free[rng.choice(len(free), 9, replace=False)])
    pts = room.tile_centres(free[rng.choice(len(free), 14, replace=False)]) + rng.uniform(-0.2, 0.2, (14, 2))
    radius = 2.2
    a = np.stack([nearest_geodesic(geo, sites[j : j + 1], pts)[0] <= radius + 1e-9 for j in range(len(sites))], 1)
    keep = a.any(axis=1)
    return geo, sites, pts[keep], radius, a[keep]


@pytest.mark.parametrize("convex", [True, False], ids=["rectangle", "l_shape"])
@pytest.mark.parametrize("seed", range(6))
def test_solver_finds_and_proves_the_brute_force_minimum(seed: int, convex: bool) -> None:
    """Both searches (the model's weighted DESIGN and the checker's PROOF) reach the true minimum and cover all."""
    from ceiling_grid.setcover import DESIGN, PROOF, solve_cover, uncovered

    geo, sites, pts, radius, a = _instance(seed, convex)
    best = min_cover(a.astype(float))
    weights = np.linspace(0.0, 1.0, len(sites))
    for search in (DESIGN, PROOF):
        out = solve_cover(geo, sites, pts, radius, search, weights=weights)
        assert out.proven and out.count == best and out.lower_bound == best
        assert out.chosen is not None and not uncovered(geo, sites[out.chosen], pts, radius).any()
        again = solve_cover(geo, sites, pts, radius, search, weights=weights)
        assert again.chosen is not None and again.chosen.tolist() == out.chosen.tolist()


def test_proof_with_an_incumbent_and_without_budget() -> None:
    """A known optimal cover is proven (no cover of a subset beats it); with no budget PROOF says why and
    DESIGN falls back."""
    from ceiling_grid.setcover import DESIGN, PROOF, solve_cover

    geo, sites, pts, radius, a = _instance(1, False)
    exact = solve_cover(geo, sites, pts, radius, PROOF)
    assert exact.chosen is not None
    with_incumbent = solve_cover(geo, sites, pts, radius, PROOF, incumbent=exact.chosen)
    assert with_incumbent.proven and with_incumbent.count == exact.count
    none = solve_cover(geo, sites, pts, radius, PROOF.with_budget(0))
    assert not none.proven and none.chosen is None and none.budget_exhausted
    assert none.reason is not None and "budget used up" in none.reason
    greedy = solve_cover(geo, sites, pts, radius, DESIGN.with_budget(0))
    assert greedy.chosen is not None and not greedy.from_ilp and greedy.budget_exhausted
    assert a[:, greedy.chosen].any(axis=1).all()



def test_the_work_budget_stops_the_ilp_before_a_mip_that_would_pass_it() -> None:
    """A MIP whose coverage matrix would take the entries past ``work_budget`` is not started: the answer is the
    greedy cover (DESIGN) or no proof (PROOF), the same on every call, and the reason names the work budget."""
    from dataclasses import replace

    from ceiling_grid.setcover import DESIGN, PROOF, solve_cover, uncovered

    geo, sites, pts, radius, _a = _instance(2, True)
    full = solve_cover(geo, sites, pts, radius, PROOF)
    assert full.proven and 0 < full.work <= PROOF.work_budget
    for search in (DESIGN, PROOF):
        tight = replace(search, work_budget=full.work - 1)
        out = solve_cover(geo, sites, pts, radius, tight)
        assert out.budget_exhausted and not out.safety_hit and out.work < full.work
        assert out.reason is not None and "work budget" in out.reason
        assert solve_cover(geo, sites, pts, radius, tight).work == out.work
    greedy = solve_cover(geo, sites, pts, radius, replace(DESIGN, work_budget=0))
    assert greedy.chosen is not None and not greedy.from_ilp and greedy.work == 0
    assert not uncovered(geo, sites[greedy.chosen], pts, radius).any()


@pytest.mark.parametrize("convex", [True, False], ids=["rectangle", "l_shape"])
@pytest.mark.parametrize("seed", range(6))
def test_local_search_shrinks_a_wasteful_cover_and_never_beats_the_minimum(seed: int, convex: bool) -> None:
    """From every site, local search drops sites while every point stays covered: never below the brute-force
    minimum, never above the start, the same on every call."""
    from ceiling_grid.setcover import improve_cover, uncovered

    geo, sites, pts, radius, a = _instance(seed, convex)
    best = min_cover(a.astype(float))
    assert best is not None
    start = np.arange(len(sites))
    out = improve_cover(geo, sites, pts, radius, start)
    assert best <= len(out.chosen) < len(start) and out.dropped == len(start) - len(out.chosen)
    assert not uncovered(geo, sites[out.chosen], pts, radius).any()
    assert improve_cover(geo, sites, pts, radius, start).chosen.tolist() == out.chosen.tolist()


def test_local_search_moves_sites_to_close_the_gap_a_dropped_site_leaves() -> None:
    """Three detectors in a 12 x 4.8 m strip where two suffice only once they move apart: dropping any one
    leaves a gap that only moving the other two closes."""
    from ceiling_grid.setcover import improve_cover, uncovered
    from ceiling_grid.testing import make_room

    room = make_room(20, 8)  # 12.0 x 4.8 m
    geo = geometry_of(room)
    xs, ys = np.meshgrid(np.arange(0.05, 12.0, 0.1), np.arange(0.05, 4.8, 0.1))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    sites = room.tile_centres(np.argwhere(room.arrays.ceiling_area)[:, ::-1])
    radius = 4.3  # two tiles, at x = 3.3 and 8.7 (y = 2.1), reach every corner of both halves (4.27 m)
    start = np.array([int(np.argmin(np.hypot(*(sites - c).T))) for c in ((1.5, 2.1), (6.3, 2.7), (10.5, 2.1))])
    assert not uncovered(geo, sites[start], pts, radius).any()
    out = improve_cover(geo, sites, pts, radius, start)
    assert len(out.chosen) == 2 and not uncovered(geo, sites[out.chosen], pts, radius).any()
    assert not set(out.chosen.tolist()) <= set(start.tolist())  # the survivors moved
    skipped = improve_cover(geo, sites, pts, radius, start, replace_search(max_entries=10))
    assert skipped.skipped is not None and "skipped" in skipped.skipped and skipped.chosen.tolist() == sorted(start)


def replace_search(**changes: object) -> object:
    from dataclasses import replace

    from ceiling_grid.setcover import LOCAL_SEARCH

    return replace(LOCAL_SEARCH, **changes)


@pytest.mark.parametrize("convex", [True, False], ids=["rectangle", "l_shape"])
@pytest.mark.parametrize("seed", range(6))
def test_the_decision_ilp_proves_the_minimum_or_finds_it_from_a_worse_cover(seed: int, convex: bool) -> None:
    """prove_cover proves an optimal incumbent; from every site it walks down to the minimum and proves it;
    with no budget it proves nothing and says which budget stopped it."""
    from ceiling_grid.setcover import DECIDE, prove_cover, solve_cover, uncovered

    geo, sites, pts, radius, a = _instance(seed, convex)
    best = min_cover(a.astype(float))
    optimal = solve_cover(geo, sites, pts, radius).chosen
    assert optimal is not None and len(optimal) == best
    proof = prove_cover(geo, sites, pts, radius, optimal)
    assert proof.proven and proof.count == best == proof.lower_bound and not proof.from_ilp
    walked = prove_cover(geo, sites, pts, radius, np.arange(len(sites)))
    assert walked.proven and walked.count == best and (walked.from_ilp or len(sites) == best)
    assert walked.chosen is not None and not uncovered(geo, sites[walked.chosen], pts, radius).any()
    if best > 1:
        stopped = prove_cover(geo, sites, pts, radius, optimal, DECIDE.with_budget(0))
        assert not stopped.proven and stopped.budget_exhausted and stopped.lower_bound is None
        assert stopped.reason is not None and "budget used up" in stopped.reason
