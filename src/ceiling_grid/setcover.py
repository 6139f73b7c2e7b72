"""The one minimum set-cover solver (rules layer), used by the detector model and by the D6 check.

A cover problem is a sparse 0/1 matrix: one row per demand point, one column per candidate site,
1 where the site covers the point (geodesic distance <= radius). The reductions here are exact:
they never change the minimum number of sites. :func:`solve_cover` solves the problem exactly with
HiGHS (``scipy.optimize.milp``) and lazy row generation: solve on a coarse subset of the points, check
every point, add the uncovered ones, repeat. Its work is a deterministic node budget; how it searches
is a :class:`CoverSearch` (the model's ``DESIGN`` and the checker's ``PROOF`` are the two in use).
Where that budget runs out, :func:`improve_cover` shrinks a known cover by local search (drop a site,
move the others to close the gap); it never proves anything, it only finds smaller covers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial import cKDTree

from .geodesic import farther_than, geodesic_index, geodesic_pairs, nearest_geodesic
from .geometry import RoomGeometry

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_NODE_BUDGET",
    "DEFAULT_WORK_BUDGET",
    "DESIGN",
    "LOCAL_SEARCH",
    "PROOF",
    "CoverSearch",
    "CoverSolution",
    "ImprovedCover",
    "LocalSearch",
    "cover_rows",
    "dominated",
    "greedy_cover",
    "improve_cover",
    "local_search_skipped",
    "prove_cover",
    "reduce_cover",
    "solve_cover",
    "uncovered",
    "unique_rows",
]

TOL = 1e-9
DEFAULT_NODE_BUDGET = 400  # branch-and-bound nodes over all rounds: the deterministic work budget
DEFAULT_MAX_ROUNDS = 40  # row-generation rounds before the budget counts as used up
DEFAULT_WORK_BUDGET = 40_000  # coverage-matrix entries summed over the MIPs: the deterministic cost cap
DEFAULT_TIME_LIMIT_S = 120.0  # wall-clock safety net only; the node and work budgets decide the answer
DEFAULT_NEW_ROWS_PER_RADIUS = 8.0  # one new point per cell of side radius / this in each round


def _cover_pairs(geo: RoomGeometry, tree: cKDTree, sites: np.ndarray, points: np.ndarray,
                 radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(point index, site index) of every pair within geodesic ``radius``: straight-line neighbours from
    ``tree`` (a KD-tree of ``sites``, pairs found in C, no Python list per point), then, in a non-convex room,
    the pairs whose path must bend round a corner are checked geodesically."""
    pairs = tree.sparse_distance_matrix(cKDTree(points), radius + TOL, output_type="coo_matrix")
    cols, rows = pairs.row.astype(np.int64), pairs.col.astype(np.int64)
    if not geodesic_index(geo).convex and len(rows):
        ok = geodesic_pairs(geo, sites, points, cols, rows) <= radius + TOL
        rows, cols = rows[ok], cols[ok]
    return rows, cols


def cover_rows(geo: RoomGeometry, tree: cKDTree, sites: np.ndarray, points: np.ndarray,
               radius: float) -> sparse.csr_matrix:
    """Coverage matrix (len(points), len(sites)): 1 where the geodesic distance is <= ``radius``.

    ``tree`` is a KD-tree of ``sites`` (see :func:`_cover_pairs`); each row's columns are sorted.
    """
    rows, cols = _cover_pairs(geo, tree, sites, points, radius)
    a = sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(points), len(sites)))
    a.sort_indices()
    return a


def unique_rows(a: sparse.csr_matrix) -> sparse.csr_matrix:
    """``a`` without repeated rows (a point with the same site set as an earlier one adds nothing)."""
    a = sparse.csr_matrix(a)
    a.sort_indices()
    seen: set[bytes] = set()
    keep = np.zeros(a.shape[0], dtype=bool)
    for i in range(a.shape[0]):
        key = a.indices[a.indptr[i] : a.indptr[i + 1]].tobytes()
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return a if keep.all() else a[keep].tocsr()


def dominated(b: sparse.csc_matrix, size: np.ndarray, rank: np.ndarray, *, superset: bool = False,
              chunk: int = 512) -> np.ndarray:
    """Columns of ``b`` whose row set lies inside another column's (``superset``: contains another's).

    Among equal sets the one with the worse (higher) ``rank`` goes; ``size`` is each column's count.
    """
    out = np.zeros(b.shape[1], dtype=bool)
    bt = b.T.tocsr()
    for s in range(0, b.shape[1], chunk):
        c = (bt[s : s + chunk] @ b).tocoo()  # overlaps of columns s.. with every column
        j = c.row + s
        k = c.col
        tie = (size[k] == size[j]) & (rank[k] < rank[j])
        if superset:
            m = (c.data == size[k]) & (j != k) & ((size[k] < size[j]) | tie)
        else:
            m = (c.data == size[j]) & (j != k) & ((size[k] > size[j]) | tie)
        out[j[m]] = True
    return out


def reduce_cover(a: sparse.csr_matrix, rank: np.ndarray | None = None, *, max_passes: int | None = None,
                 dedupe: bool = False) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Drop dominated sites and redundant points; returns the reduced matrix and the kept columns.

    A site whose points are a subset of another site's can be swapped for it without raising the
    count (among equal sets the lower ``rank`` stays; default: the lower index); a point whose sites
    include every site of another point is covered whenever that one is. Passes repeat until nothing
    changes, or ``max_passes``; ``dedupe`` also drops repeated rows before each step.
    """
    a = sparse.csr_matrix(a, dtype=np.float64)
    cols = np.arange(a.shape[1])
    rank_all = np.arange(a.shape[1]) if rank is None else np.asarray(rank)
    passes = 0
    while max_passes is None or passes < max_passes:
        passes += 1
        shape = a.shape
        if dedupe:
            a = unique_rows(a)
        b = a.tocsc()
        size = np.asarray(b.sum(axis=0)).ravel()
        keep = (size > 0) & ~dominated(b, size, rank_all[cols])
        a, cols = a[:, keep].tocsr(), cols[keep]
        if dedupe:
            a = unique_rows(a)
        rt = a.T.tocsc()  # rows as columns
        rsize = np.asarray(rt.sum(axis=0)).ravel()
        a = a[~dominated(rt, rsize, np.arange(a.shape[0]), superset=True)].tocsr()
        if a.shape == shape:
            break
    return a, cols


def uncovered(geo: RoomGeometry, sites: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """(len(points),) True where no site lies within geodesic ``radius`` (no sites: every point)."""
    return farther_than(geo, sites, points, radius + TOL)


def greedy_cover(a: sparse.csr_matrix, weights: np.ndarray | None = None) -> np.ndarray:
    """Greedy set cover (max new points, ties to the lower weight then lower index) + reverse delete."""
    n_rows, n = a.shape
    w = np.zeros(n) if weights is None else np.asarray(weights, dtype=float)
    csc = a.tocsc()
    gain = np.asarray(a.sum(axis=0)).ravel()
    covered = np.zeros(n_rows, dtype=bool)
    chosen: list[int] = []
    key_tie = w / (w.max(initial=0.0) + 1.0) * 0.5  # < 1: only breaks ties
    while not covered.all():
        j = int(np.argmax(gain - key_tie))
        if gain[j] <= 0:
            break
        chosen.append(j)
        new = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = new[~covered[new]]
        covered[new] = True
        if len(new):
            gain -= np.asarray(a[new].sum(axis=0)).ravel().astype(gain.dtype)
    # reverse delete: drop sites whose every point is covered twice, worst weight first
    mult = np.asarray(a[:, chosen].sum(axis=1)).ravel() if chosen else np.zeros(n_rows)
    for j in sorted(chosen, key=lambda k: (-w[k], -k)):
        pts = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        if len(pts) == 0 or (mult[pts] >= 2).all():
            mult[pts] -= 1
            chosen.remove(j)
    return np.array(sorted(chosen), dtype=np.int64)


def weight_rank(weights: np.ndarray) -> np.ndarray:
    """Rank of each site for tie-breaks: lower weight first, then lower index."""
    order = np.lexsort((np.arange(len(weights)), weights))
    rank = np.empty(len(weights), dtype=np.int64)
    rank[order] = np.arange(len(weights))
    return rank


@dataclass(frozen=True)
class CoverSearch:
    """How :func:`solve_cover` searches. The answer depends only on these and the problem, never on time.

    ``tie_break`` > 0 adds ``tie_break * weight / (n + 1)`` to each site's unit cost, so HiGHS prefers
    lighter sites among covers of the minimum count (a preference: the count is what is proven, and the
    exact dominance reductions may drop a light site for a heavier one that covers more; 0: unit costs).
    ``prove``: only HiGHS may answer (the D6 optimum): when a budget stops it, the incumbent stands unproven and the
    reason says which budget; otherwise the search falls back to the greedy cover (the design model). Every
    round solves its subset of points uncapped: a subset's optimum bounds the whole problem's from below, so
    a full cover whose count meets that bound is proven. ``initial_cell`` and
    ``new_rows_per_radius`` size the row-generation rounds (cells of side radius / these);
    ``gap_fraction`` / (upper + 1) is the relative MIP gap, below the absolute gap that proves a count.
    ``work_budget`` caps the entries of the (reduced) coverage matrices handed to HiGHS, summed over the
    rounds: a MIP that would pass it is not started. Node counts alone do not bound the work, because HiGHS
    spends most of a hard round at the root (1-25 s at 40 x 60 tiles); entries are known before the solve.
    """

    node_budget: int = DEFAULT_NODE_BUDGET
    work_budget: int = DEFAULT_WORK_BUDGET
    max_rounds: int = DEFAULT_MAX_ROUNDS
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    tie_break: float = 0.0
    prove: bool = False
    initial_cell: float = 3.0
    new_rows_per_radius: float = DEFAULT_NEW_ROWS_PER_RADIUS
    gap_fraction: float = 0.99
    presolve_passes: int | None = None
    dedupe: bool = False

    def with_budget(self, node_budget: int, time_limit_s: float | None = None) -> CoverSearch:
        """This search with another node budget (and safety net)."""
        return replace(self, node_budget=node_budget,
                       time_limit_s=self.time_limit_s if time_limit_s is None else time_limit_s)


DESIGN = CoverSearch(tie_break=0.25, initial_cell=4.0, gap_fraction=0.7)  # the detector model: weighted ties
PROOF = CoverSearch(prove=True, presolve_passes=2, dedupe=True)  # the D6 check: unit costs, prove the count
DECIDE = CoverSearch(prove=True, initial_cell=2.0, new_rows_per_radius=1.0, max_rounds=60,
                     presolve_passes=2)  # prove_cover: is there a cover with one site fewer?


@dataclass(frozen=True)
class CoverSolution:
    """What :func:`solve_cover` found: the chosen sites (None: no full cover) and how sure it is.

    ``proven``: no cover with fewer sites exists. ``lower_bound``: a proven minimum count (None: none
    known). ``from_ilp``: HiGHS found ``chosen`` (else the incumbent or the greedy cover). ``reason``
    says why the count is not proven, when it is not.
    """

    chosen: np.ndarray | None
    proven: bool
    lower_bound: int | None
    from_ilp: bool
    rounds: int
    rows: int
    nodes: int
    budget_exhausted: bool
    safety_hit: bool
    reason: str | None
    work: int = 0  # coverage-matrix entries handed to HiGHS

    @property
    def count(self) -> int | None:
        return None if self.chosen is None else len(self.chosen)


@dataclass(frozen=True)
class _Milp:
    x: np.ndarray | None  # chosen columns (None: HiGHS found no solution)
    bound: float | None  # dual bound, valid for these rows
    nodes: int
    safety_hit: bool  # the wall-clock net stopped HiGHS


def _highs(a: sparse.csr_matrix, cost: np.ndarray, *, node_limit: int, time_limit_s: float,
           at_most: int | None = None, **options: Any) -> Any:
    """HiGHS on "cover every row of ``a`` with 0/1 columns" (and at most ``at_most`` of them); scipy's result."""
    n = a.shape[1]
    opts: dict[str, Any] = {"time_limit": max(0.05, time_limit_s), "disp": False, "presolve": True,
                            "node_limit": max(1, int(node_limit)), **options}
    cons = [LinearConstraint(a, lb=np.ones(a.shape[0]), ub=np.inf)]
    if at_most is not None:
        cons.append(LinearConstraint(sparse.csr_matrix(np.ones((1, n))), lb=0, ub=at_most))
    return milp(cost, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, 1), options=opts)


def _milp(a: sparse.csr_matrix, cost: np.ndarray, *, node_limit: int, upper: int, gap_fraction: float,
          time_limit_s: float) -> _Milp:
    res = _highs(a, cost, node_limit=node_limit, time_limit_s=time_limit_s, mip_rel_gap=gap_fraction / (upper + 1.0))
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    b = getattr(res, "mip_dual_bound", None)
    bound = float(b) if b is not None and np.isfinite(b) else None
    x = np.nonzero(res.x > 0.5)[0] if res.x is not None else None
    return _Milp(x, bound, nodes, res.status == 1)  # status 1: the time (not node) limit


def _initial_subset(points: np.ndarray, radius: float, cell: float, anchors: np.ndarray) -> np.ndarray:
    keys = np.floor(points / max(radius / cell, 1e-3)).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.unique(np.concatenate([first, anchors]).astype(np.int64))


def solve_cover(  # noqa: C901 - one row-generation loop with its budget, proof and fallback exits
    geo: RoomGeometry,
    sites: np.ndarray,
    points: np.ndarray,
    radius: float,
    search: CoverSearch = PROOF,
    *,
    weights: np.ndarray | None = None,
    incumbent: np.ndarray | None = None,
    anchors: np.ndarray | None = None,
) -> CoverSolution:
    """Minimum number of ``sites`` within geodesic ``radius`` of every one of ``points``.

    ``weights`` (in [0, 1], lower preferred) steer the choice between covers of equal count when
    ``search.tie_break`` > 0. ``incumbent`` (site indices of a known full cover) bounds the answer: it
    is kept when HiGHS cannot beat it within the budget. ``anchors`` are point indices solved from the
    first round (e.g. polygon vertices). Deterministic: the same inputs and search give the same answer;
    ``search.time_limit_s`` is a wall-clock safety net whose expiry is reported (``safety_hit``).
    """
    sites = np.asarray(sites, dtype=float).reshape(-1, 2)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    w = np.zeros(len(sites)) if weights is None else np.asarray(weights, dtype=float)
    if len(points) == 0:
        return CoverSolution(np.zeros(0, dtype=np.int64), True, 0, False, 0, 0, 0, False, False, None, 0)
    if len(sites) == 0:
        return CoverSolution(None, False, None, False, 0, 0, 0, False, False, "no legal detector site", 0)
    deadline = time.perf_counter() + search.time_limit_s
    tree = cKDTree(sites)
    rank = weight_rank(w)
    budget_reason = (f"deterministic ILP budget used up ({search.node_budget} nodes, {search.max_rounds} rounds) "
                     "before the count was proven")
    work_reason = (f"deterministic ILP work budget used up ({search.work_budget} coverage-matrix entries) "
                   "before the count was proven")
    safety_reason = f"wall-clock safety net ({search.time_limit_s:g} s) expired; raise Limits.ilp_time_limit_s"
    subset = _initial_subset(points, radius, search.initial_cell,
                             np.zeros(0, dtype=np.int64) if anchors is None else np.asarray(anchors))
    best: np.ndarray | None = None
    if incumbent is not None and len(incumbent) and not uncovered(geo, sites[incumbent], points, radius).any():
        best = np.unique(np.asarray(incumbent, dtype=np.int64))
    best_from_ilp = proven = exhausted = safety = False
    lower: float | None = None
    nodes_left = max(0, int(search.node_budget))
    rounds = rows = nodes = work = 0
    reason: str | None = None
    ilp_on = True
    proof_margin = max(search.tie_break - 1e-9, 1e-6)  # bound above count - 1 + this proves the count
    while True:
        rounds += 1
        a = unique_rows(cover_rows(geo, tree, sites, points[subset], radius))
        rows = a.shape[0]
        x: np.ndarray | None = None
        from_ilp = False
        if ilp_on and (nodes_left <= 0 or rounds > search.max_rounds):
            ilp_on, exhausted, reason = False, True, budget_reason
        elif ilp_on and time.perf_counter() >= deadline:
            ilp_on, exhausted, safety, reason = False, True, True, safety_reason
        if ilp_on:
            ar, kept = reduce_cover(a, rank, max_passes=search.presolve_passes, dedupe=search.dedupe)
            if work + ar.nnz > search.work_budget:
                ilp_on, exhausted, reason = False, True, work_reason
        if ilp_on:
            work += ar.nnz
            upper = len(best) if best is not None else len(greedy_cover(ar, w[kept]))
            cost = 1.0 + search.tie_break * w[kept] / (ar.shape[1] + 1.0)
            out = _milp(ar, cost, node_limit=nodes_left, upper=upper, gap_fraction=search.gap_fraction,
                        time_limit_s=deadline - time.perf_counter())
            nodes += out.nodes
            nodes_left -= max(1, out.nodes)
            if out.bound is not None:
                lower = out.bound if lower is None else max(lower, out.bound)  # valid: fewer rows than the full set
            if out.safety_hit:
                ilp_on, exhausted, safety, reason = False, True, True, safety_reason
            if out.x is not None:
                x, from_ilp = kept[out.x], True
                proven = out.bound is not None and out.bound > len(x) - 1 + proof_margin
        if x is None:
            if search.prove:
                break  # the proof needs HiGHS: the incumbent (if any) stands unproven
            x = greedy_cover(a, w)
        bad = np.nonzero(uncovered(geo, sites[x], points, radius))[0]
        if len(bad) == 0:
            if best is None or len(x) < len(best) or (from_ilp and len(x) == len(best)):
                best, best_from_ilp = x, from_ilp
            break  # proven, or the budget stopped HiGHS on rows that already cover everything
        proven = False
        if best is not None and lower is not None and len(best) <= math.ceil(lower - search.tie_break - 1e-6):
            break  # the incumbent already meets the proven bound
        keys = np.floor(points[bad] / max(radius / search.new_rows_per_radius, 1e-3)).astype(np.int64)
        _, first = np.unique(keys, axis=0, return_index=True)  # one new point per cell: small rounds
        subset = np.union1d(subset, bad[first])
    lb = None
    if lower is not None:
        lb = max(int(np.ceil(lower - search.tie_break - 1e-6)), 1)  # cost = count + tie-break < count + budget
    optimal = (proven and (best_from_ilp or search.prove)) or (best is not None and lb is not None and len(best) <= lb)
    if optimal:
        exhausted, reason = False, None
    elif reason is None and search.prove:
        reason = budget_reason  # HiGHS stopped at the node limit without a proof
    return CoverSolution(best, bool(optimal), lb, best_from_ilp, rounds, rows, nodes, exhausted, safety, reason, work)


# ----- local search: shrink a known cover -------------------------------------------------------------

DEFAULT_SEARCH_STEP_M = 0.3  # the local search scores coverage on this lattice (plus every point it missed)
DEFAULT_MOVE_WINDOWS_M = (1.9, 3.2)  # a site moves within the first distance; the second when the first is stuck
DEFAULT_REPAIR_BUDGET = 14  # repair runs over the whole search: the deterministic work budget
DEFAULT_MAX_MOVES = 200  # moves in one repair run
DEFAULT_CHECKS_PER_REPAIR = 3  # full-lattice checks per repair: each adds the points the search lattice missed
DEFAULT_SEARCH_ENTRIES = 3_500_000  # the search lattice's coverage matrix may hold this many entries, or no search
DEFAULT_ALIGN_GAP_M = 2.5  # after a search, sites whose y (or x) differ by at most this try to share one line
DEFAULT_ALIGN_PASSES = 3  # rows then columns, this many times while something moves


@dataclass(frozen=True)
class LocalSearch:
    """How :func:`improve_cover` searches. The answer depends only on these and the problem, never on time.

    A *repair* moves one site at a time, within ``windows[i]`` of where it is, to the site that leaves the
    fewest search points uncovered (ties: the lower weight, then the lower index), until nothing is left
    uncovered, no move helps, or ``max_moves``. A cover it finds is checked on every point; the points the
    search lattice missed join it and the repair goes on (``checks`` times at most). ``repair_budget``
    caps the repair runs; ``max_entries`` the search lattice's coverage matrix (bigger rooms are left as
    they are, estimated from the site density before anything is built). A cover the search shrank is then
    lined up: sites within ``align_gap`` of each other in y (then x) move onto one line where every point
    stays covered, ``align_passes`` times at most.
    """

    search_step: float = DEFAULT_SEARCH_STEP_M
    windows: tuple[float, ...] = DEFAULT_MOVE_WINDOWS_M
    repair_budget: int = DEFAULT_REPAIR_BUDGET
    max_moves: int = DEFAULT_MAX_MOVES
    checks: int = DEFAULT_CHECKS_PER_REPAIR
    max_entries: int = DEFAULT_SEARCH_ENTRIES
    align_gap: float = DEFAULT_ALIGN_GAP_M
    align_passes: int = DEFAULT_ALIGN_PASSES


LOCAL_SEARCH = LocalSearch()


@dataclass(frozen=True)
class ImprovedCover:
    """What :func:`improve_cover` did: the cover (every point checked), the sites it dropped, the work."""

    chosen: np.ndarray
    dropped: int
    repairs: int
    search_points: int
    skipped: str | None = None  # why no search ran (too big), else None


class _SearchCover:
    """One local search's problem, and the coverage of its search lattice by every site (CSC: a site's column
    lists the search points it covers). ``tie`` (< 1) breaks ties between moves that leave equal counts."""

    def __init__(self, geo: RoomGeometry, sites: np.ndarray, points: np.ndarray, radius: float, tie: np.ndarray,
                 search_points: np.ndarray):
        self.geo, self.sites, self.points, self.radius, self.tie = geo, sites, points, radius, tie
        self.tree = cKDTree(sites)
        self.a = self._matrix(search_points)

    def _matrix(self, points: np.ndarray) -> sparse.csc_matrix:
        """(points, sites) int8 coverage: 3M entries fit in about 60 MB."""
        pi, si = _cover_pairs(self.geo, self.tree, self.sites, points, self.radius)
        return sparse.csc_matrix((np.ones(len(si), dtype=np.int8), (pi, si)), shape=(len(points), len(self.sites)))

    def missed(self, chosen: list[int]) -> np.ndarray:
        """Indices of the problem's points (all of them) that ``chosen`` leaves uncovered."""
        return np.nonzero(uncovered(self.geo, self.sites[chosen], self.points, self.radius))[0]

    def add(self, missed: np.ndarray) -> None:
        """Score these of the problem's points too (points the search lattice missed)."""
        self.a = sparse.vstack([self.a, self._matrix(self.points[missed])]).tocsc()

    def covered_by(self, j: int) -> np.ndarray:
        """Search points that site ``j`` covers."""
        out: np.ndarray = self.a.indices[self.a.indptr[j] : self.a.indptr[j + 1]]
        return out

    def counts(self, chosen: list[int]) -> np.ndarray:
        """(points,) how many chosen sites cover each search point."""
        cnt = np.zeros(self.a.shape[0], dtype=np.int32)
        for j in chosen:
            cnt[self.covered_by(j)] += 1
        return cnt


def _repair(cov: _SearchCover, chosen: list[int], window: float, max_moves: int,
            frozen: frozenset[int] = frozenset()) -> tuple[list[int], int]:
    """Move single sites (within ``window``; not the positions in ``frozen``) while it shrinks the uncovered
    search points; (sites, left)."""
    chosen = list(chosen)
    cnt = cov.counts(chosen)
    left = int((cnt == 0).sum())
    a = cov.a
    for _ in range(max_moves):
        if not left:
            break
        best: tuple[float, int, int] | None = None  # (uncovered after - tie, position in chosen, new site)
        taken = set(chosen)
        for i, j in enumerate(chosen):
            if i in frozen:
                continue
            near = np.asarray([k for k in cov.tree.query_ball_point(cov.sites[j], window, return_sorted=True)
                               if k not in taken], dtype=np.int64)
            if not len(near):
                continue
            mine = cov.covered_by(j)
            zero = cnt == 0
            zero[mine[cnt[mine] == 1]] = True  # uncovered once j leaves
            starts, ends = a.indptr[near], a.indptr[near + 1]
            idx = np.concatenate([a.indices[s:e] for s, e in zip(starts, ends, strict=True)])
            gain = np.bincount(np.repeat(np.arange(len(near)), ends - starts), weights=zero[idx], minlength=len(near))
            after = zero.sum() - gain + cov.tie[near]
            m = int(np.argmin(after))
            if after[m] < left and (best is None or after[m] < best[0]):
                best = (float(after[m]), i, int(near[m]))
        if best is None:
            break
        _, i, k = best
        cnt[cov.covered_by(chosen[i])] -= 1
        cnt[cov.covered_by(k)] += 1
        chosen[i] = k
        left = int((cnt == 0).sum())
    return chosen, left


def _search_size(geo: RoomGeometry, n_points: int, search: LocalSearch) -> int:
    """How many points the search lattice holds, about (estimated before it is built)."""
    return min(n_points, math.ceil(geo.area_m2 / search.search_step**2))


def local_search_skipped(geo: RoomGeometry, n_sites: int, n_points: int, radius: float,
                         search: LocalSearch = LOCAL_SEARCH) -> str | None:
    """Why :func:`improve_cover` would leave a cover of this problem as it is (too big to search), else None;
    estimated from the room's area and site density, before any work."""
    per_point = n_sites * min(math.pi * radius * radius / max(geo.area_m2, 1e-9), 1.0)  # sites per point
    n_search = _search_size(geo, n_points, search)
    if n_search * per_point > search.max_entries:
        return f"local search skipped: about {n_search * per_point:,.0f} coverage entries > {search.max_entries:,}"
    return None


def improve_cover(geo: RoomGeometry, sites: np.ndarray, points: np.ndarray, radius: float, chosen: np.ndarray,
                  search: LocalSearch = LOCAL_SEARCH, *, weights: np.ndarray | None = None) -> ImprovedCover:
    """A cover of ``points`` by fewer of ``sites`` than ``chosen`` (a full cover), when local search finds one.

    Drop the site whose points are least often covered by it alone, repair the gap by moving the others
    (:class:`LocalSearch`), check every point; repeat while it works, trying the other sites to drop when
    one fails. Deterministic; ``weights`` (lower preferred, in [0, 1]) break ties between moves.
    """
    sites = np.asarray(sites, dtype=float).reshape(-1, 2)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    best = np.unique(np.asarray(chosen, dtype=np.int64))
    if len(best) <= 1 or len(points) == 0:
        return ImprovedCover(best, 0, 0, 0)
    skipped = local_search_skipped(geo, len(sites), len(points), radius, search)
    if skipped is not None:
        return ImprovedCover(best, 0, 0, _search_size(geo, len(points), search), skipped=skipped)
    keys = np.floor(points / search.search_step).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    w = np.zeros(len(sites)) if weights is None else np.asarray(weights, dtype=float)
    tie = 0.5 * w / (w.max(initial=0.0) + 1.0)  # < 1: only breaks ties between equal counts
    cov = _SearchCover(geo, sites, points, radius, tie, points[np.sort(first)])
    current = [int(j) for j in best]
    spent = [0]  # repair runs so far
    while spent[0] < search.repair_budget and len(current) > 1:
        found = _one_fewer(cov, current, search, spent)
        if found is None:
            break
        current = found
    if len(current) < len(best):
        current = _align(cov, current, search)
    return ImprovedCover(np.array(sorted(current), dtype=np.int64), len(best) - len(current), spent[0],
                         cov.a.shape[0])


def _one_fewer(cov: _SearchCover, current: list[int], search: LocalSearch, spent: list[int]) -> list[int] | None:
    """A full cover with one site fewer than ``current``, or None within the budget (``spent`` counts repairs).

    Sites are dropped in turn, the one that alone covers the fewest search points first; each gap is repaired
    in the nearer window, then the wider one."""
    cnt = cov.counts(current)
    alone = [int((cnt[cov.covered_by(j)] == 1).sum()) for j in current]
    for drop in np.argsort(alone, kind="stable"):
        trial = [j for i, j in enumerate(current) if i != drop]
        for window in search.windows:
            for _ in range(search.checks):
                if spent[0] >= search.repair_budget:
                    return None
                spent[0] += 1
                trial, left = _repair(cov, trial, window, search.max_moves)
                if left:
                    break
                missed = cov.missed(trial)
                if not len(missed):
                    return trial
                cov.add(missed)  # the search lattice missed these: score them from now on
    return None


def _line_groups(values: np.ndarray, gap: float) -> list[np.ndarray]:
    """Positions (indices into ``values``) grouped where sorted neighbours are at most ``gap`` apart."""
    order = np.argsort(values, kind="stable")
    breaks = np.nonzero(np.diff(values[order]) > gap)[0] + 1
    return [g for g in np.split(order, breaks) if len(g) > 1]


def _align(cov: _SearchCover, chosen: list[int], search: LocalSearch) -> list[int]:
    """Line the sites up where coverage allows: sites whose y (then x) lie within ``align_gap`` of each other
    move onto one shared line, the member's line nearest the group's mean first, and the other sites may move
    (nearer window) to close a gap it opens; a move stands only when every point stays covered. A local-search
    cover comes out scattered; a designer draws rows and columns."""
    sites = cov.sites
    index = {(round(float(x), 6), round(float(y), 6)): j for j, (x, y) in enumerate(sites)}
    current = list(chosen)
    for _ in range(search.align_passes):
        moved = False
        for axis in (1, 0):
            for group in _line_groups(sites[current, axis], search.align_gap):
                coords = sites[current, axis]
                lines = np.unique(np.round(coords[group], 6)).tolist()
                mean = float(coords[group].mean())
                for line in sorted(lines, key=lambda v: (abs(v - mean), v)) if len(lines) > 1 else ():
                    trial = _on_line(index, sites, current, group, axis, line)
                    if trial is None:
                        continue
                    if (cov.counts(trial) == 0).any():
                        trial, left = _repair(cov, trial, search.windows[0], search.max_moves,
                                              frozen=frozenset(int(i) for i in group))
                        if left:
                            continue
                    if not len(cov.missed(trial)):
                        current, moved = trial, True
                        break
        if not moved:
            break
    return current


def _on_line(index: dict[tuple[float, float], int], sites: np.ndarray, current: list[int], group: np.ndarray,
             axis: int, line: float) -> list[int] | None:
    """``current`` with the sites at positions ``group`` moved onto ``line`` (None: a target is no site, or taken)."""
    trial = list(current)
    for i in group:
        at = sites[current[i]].copy()
        at[axis] = line
        j = index.get((round(float(at[0]), 6), round(float(at[1]), 6)))
        if j is None:
            return None
        trial[i] = j
    return trial if len(set(trial)) == len(trial) else None


# ----- decision: is there a cover with one site fewer? ----------------------------------------------------


def _feasible(a: sparse.csr_matrix, k: int, *, node_limit: int, time_limit_s: float) -> _Milp:
    """A cover of ``a``'s rows by at most ``k`` columns (HiGHS stops at the first one), or None."""
    res = _highs(a, np.zeros(a.shape[1]), node_limit=node_limit, time_limit_s=time_limit_s, at_most=k)
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    x = np.nonzero(res.x > 0.5)[0] if res.x is not None else None
    infeasible = res.status == 2  # proven: no cover of these rows with k columns
    return _Milp(x, float(k + 1) if infeasible else None, nodes, res.status == 1)


def prove_cover(geo: RoomGeometry, sites: np.ndarray, points: np.ndarray, radius: float, chosen: np.ndarray,
                search: CoverSearch = DECIDE, *, anchors: np.ndarray | None = None) -> CoverSolution:
    """Prove that ``chosen`` (a full cover) has the fewest sites, or find a smaller cover on the way.

    Each round asks HiGHS for a cover of a subset of the points with one site fewer than the best known.
    None exists: no smaller cover of the subset, so none of all the points, and the count is proven.
    One exists and covers every point: it is the new best, and the question is asked again one lower.
    It misses points: the farthest missed point of each cell (side radius / ``new_rows_per_radius``) joins
    the subset. A feasibility question is much cheaper than an optimum on the same rows: HiGHS stops at
    the first cover, and only the last round has to exhaust the search. Same budgets as :func:`solve_cover`.
    """
    sites = np.asarray(sites, dtype=float).reshape(-1, 2)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    best = np.unique(np.asarray(chosen, dtype=np.int64))
    if len(points) == 0 or len(best) == 0:
        return CoverSolution(best, True, len(best), False, 0, 0, 0, False, False, None, 0)
    deadline = time.perf_counter() + search.time_limit_s
    tree = cKDTree(sites)
    subset = _initial_subset(points, radius, search.initial_cell,
                             np.zeros(0, dtype=np.int64) if anchors is None else np.asarray(anchors))
    nodes_left = max(0, int(search.node_budget))
    rounds = rows = nodes = work = 0
    proven = from_ilp = exhausted = safety = False
    reason: str | None = None
    while len(best) > 1:
        if nodes_left <= 0 or rounds >= search.max_rounds:
            exhausted, reason = True, (f"deterministic ILP budget used up ({search.node_budget} nodes, "
                                       f"{search.max_rounds} rounds) before the count was proven")
            break
        if time.perf_counter() >= deadline:
            exhausted = safety = True
            reason = f"wall-clock safety net ({search.time_limit_s:g} s) expired; raise Limits.ilp_time_limit_s"
            break
        rounds += 1
        a = unique_rows(cover_rows(geo, tree, sites, points[subset], radius))
        rows = a.shape[0]
        ar, kept = reduce_cover(a, max_passes=search.presolve_passes, dedupe=True)
        if work + ar.nnz > search.work_budget:
            exhausted, reason = True, (f"deterministic ILP work budget used up ({search.work_budget} "
                                       "coverage-matrix entries) before the count was proven")
            break
        work += ar.nnz
        out = _feasible(ar, len(best) - 1, node_limit=nodes_left, time_limit_s=deadline - time.perf_counter())
        nodes += out.nodes
        nodes_left -= max(1, out.nodes)
        if out.bound is not None:
            proven = True
            break
        if out.x is None:  # a limit stopped HiGHS before it decided
            safety = out.safety_hit
            exhausted, reason = True, ("wall-clock safety net expired" if safety else
                                       f"deterministic ILP budget used up ({search.node_budget} nodes)")
            break
        x = kept[out.x]
        bad = np.nonzero(uncovered(geo, sites[x], points, radius))[0]
        if not len(bad):
            best, from_ilp = np.unique(x), True
            continue
        d, _ = nearest_geodesic(geo, sites[x], points[bad])
        order = np.argsort(-d, kind="stable")  # the farthest missed point of each cell
        keys = np.floor(points[bad[order]] / max(radius / search.new_rows_per_radius, 1e-3)).astype(np.int64)
        _, first = np.unique(keys, axis=0, return_index=True)
        subset = np.union1d(subset, bad[order[first]])
    proven = proven or len(best) <= 1
    return CoverSolution(best, proven, len(best) if proven else None, from_ilp, rounds, rows, nodes,
                         exhausted and not proven, safety, None if proven else reason, work)
