"""The one minimum set-cover solver (rules layer), used by the detector model and by the D6 check.

A cover problem is a sparse 0/1 matrix: one row per demand point, one column per candidate site,
1 where the site covers the point (geodesic distance <= radius). The reductions here are exact:
they never change the minimum number of sites. :func:`solve_cover` solves the problem exactly with
HiGHS (``scipy.optimize.milp``) and lazy row generation: solve on a coarse subset of the points, check
every point, add the uncovered ones, repeat. Its work is a deterministic node budget; how it searches
is a :class:`CoverSearch` (the model's ``DESIGN`` and the checker's ``PROOF`` are the two in use).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial import cKDTree

from .geodesic import QUERY_WORKERS, farther_than, geodesic_index, geodesic_pairs
from .geometry import RoomGeometry

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_NODE_BUDGET",
    "DEFAULT_WORK_BUDGET",
    "DESIGN",
    "PROOF",
    "CoverSearch",
    "CoverSolution",
    "cover_rows",
    "dominated",
    "greedy_cover",
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


def cover_rows(geo: RoomGeometry, tree: cKDTree, sites: np.ndarray, points: np.ndarray,
               radius: float) -> sparse.csr_matrix:
    """Coverage matrix (len(points), len(sites)): 1 where the geodesic distance is <= ``radius``.

    ``tree`` is a KD-tree of ``sites``; straight-line neighbours are found with it, then, in a
    non-convex room, pairs whose path must bend round a corner are checked geodesically.
    """
    lists = tree.query_ball_point(points, radius + TOL, workers=QUERY_WORKERS)
    lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    cols = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lens.sum()))
    rows = np.repeat(np.arange(len(points)), lens)
    if not geodesic_index(geo).convex and len(rows):
        ok = geodesic_pairs(geo, sites, points, cols, rows) <= radius + TOL
        rows, cols = rows[ok], cols[ok]
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(points), len(sites)))


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


def _milp(a: sparse.csr_matrix, cost: np.ndarray, *, node_limit: int, upper: int, gap_fraction: float,
          time_limit_s: float) -> _Milp:
    n = a.shape[1]
    options: dict[str, Any] = {"time_limit": max(0.05, time_limit_s), "disp": False, "presolve": True,
                               "node_limit": max(1, int(node_limit)), "mip_rel_gap": gap_fraction / (upper + 1.0)}
    cons = [LinearConstraint(a, lb=np.ones(a.shape[0]), ub=np.inf)]
    res = milp(cost, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, 1), options=options)
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
