"""Set-cover building blocks (rules layer) shared by the detector model and the D6 check.

A cover problem is a sparse 0/1 matrix: one row per demand point, one column per candidate site,
1 where the site covers the point (geodesic distance <= radius). The reductions here are exact:
they never change the minimum number of sites.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from .geodesic import geodesic_index, geodesic_pairs
from .geometry import RoomGeometry

__all__ = ["cover_rows", "dominated", "reduce_cover", "unique_rows"]

TOL = 1e-9


def cover_rows(geo: RoomGeometry, tree: cKDTree, sites: np.ndarray, points: np.ndarray,
               radius: float) -> sparse.csr_matrix:
    """Coverage matrix (len(points), len(sites)): 1 where the geodesic distance is <= ``radius``.

    ``tree`` is a KD-tree of ``sites``; straight-line neighbours are found with it, then, in a
    non-convex room, pairs whose path must bend round a corner are checked geodesically.
    """
    lists = tree.query_ball_point(points, radius + TOL)
    lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    cols = np.fromiter((j for x in lists for j in x), dtype=np.int64, count=int(lens.sum()))
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
