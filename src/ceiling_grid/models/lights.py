"""Three competing light-placement models (§5.2): symmetric regular array, seeded local search, greedy coverage."""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import time
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from ..cache import RoomCache
from ..config import DEFAULT_SHR_MAX
from ..grid import Component, RoomGrid, footprint_tiles, room_key
from ..lighting import (
    GrowingGaps,
    Regularity,
    array_shapes,
    array_variants,
    axis_symmetric,
    fixture_rules,
    gaps_hold_without,
    gaps_ok,
    lpd_w_m2,
    lumen_count,
    lumen_method_count,
    regular_array,
    regularity,
)
from ..logs import get_logger
from ..photometry import contribution_matrix
from ..prepared import PreparedRoom, prepare
from ..scoring import lighting_score
from .base import Infeasible, Judge, ModelResult, Stage

__all__ = ["DEFAULT_DESIGN_MARGIN", "DEFAULT_SEED", "PROBLEM_CACHE", "LightModelA", "LightModelB", "LightModelC"]

log = get_logger(__name__)

PROBLEM_CACHE = RoomCache(8)  # the light models' own cache: frozen prepared rooms (contribution matrices)
LUMEN_CACHE = RoomCache(8)  # model A's array search per prepared room: model B starts from the same one

DEFAULT_DESIGN_MARGIN = 0.002  # models aim 0.2 % above the Em and U0 targets (float-order safety vs the evaluator)
DEFAULT_SEED = 12464
DEFAULT_MAX_ARRAY_TRIES = 400  # model A: regular arrays tried above the optimistic lower bound
DEFAULT_OPTIMISTIC_UF = 1.5  # model A: the count search starts at the lumen-method N with this (high) UF
DEFAULT_SA_RADIUS_TILES = 3  # model B: a move shifts one fixture by at most this many tiles per axis
DEFAULT_SA_ATTEMPTS = 12  # model B: annealing runs (each one tries to drop one more fixture)
DEFAULT_MAX_LEVELS_SCORED = 30  # candidate layouts whose §8 score is estimated before the final check
_JUDGED = 5  # the best candidate layouts by proxy score that the evaluator judges (until one complies)
_REMOVE_BATCH_DIV = 25  # model B: big layouts drop up to n/25 separated fixtures per greedy step
_GREEDY_BATCH = 32  # model C: candidates re-scored together in the lazy greedy
_L4_VIOLATION = 1e-6  # model A: an array that meets L3 but breaks the hard L4 gap ranks just behind passing ones
_FLOAT32_ABOVE = 5_000_000  # contribution matrices larger than this use float32
# the shared light problem is built before the models' workers start, while the other cores are idle
DEFAULT_PREPARE_THREADS = min(os.cpu_count() or 1, 4)
DEFAULT_MAX_MATRIX_ELEMENTS = 30_000_000  # candidates x points; above it candidates thin to a tile lattice


@dataclass(frozen=True)
class _Prepared:
    """What every light model of one room starts from; cached per process, so every array is read-only."""

    points: np.ndarray
    existing: np.ndarray  # (n0, 2) first tiles of the pre-placed luminaires
    free: np.ndarray  # (nf, 2) candidate first tiles (every free one, or a lattice of them in huge rooms)
    index: np.ndarray  # (h, w) candidate index, -1 elsewhere
    v: np.ndarray  # (nf, P) lx each candidate luminaire adds at each point
    v_mean: np.ndarray  # (nf,) each row's mean: what the candidate adds to Em
    e0: np.ndarray  # (P,) lx of the pre-placed lights
    free_mask: np.ndarray  # (h, w) every tile a light may cover
    stride: int  # candidate lattice step in tiles (1 = every free tile)

    def __post_init__(self) -> None:
        for name in ("points", "existing", "free", "index", "v", "v_mean", "e0", "free_mask"):
            getattr(self, name).setflags(write=False)


class _Problem:
    """One model run's search state over a :class:`_Prepared` room; :meth:`ensure` grows it locally."""

    def __init__(self, grid: RoomGrid, room: PreparedRoom, prepared: _Prepared, key: tuple[str, str]) -> None:
        spec = grid.room_spec
        self.key = key  # the prepared room's cache key
        self.grid = grid
        self.room = room
        self.target = spec.target_lux
        self.target_u0 = spec.target_u0
        self.points = prepared.points
        self.existing = prepared.existing
        self.free_mask = prepared.free_mask
        self.stride = prepared.stride
        self.e0 = prepared.e0
        self.e0_mean = float(prepared.e0.mean()) if len(prepared.e0) else 0.0
        self.n_base = len(prepared.free)  # rows of the lattice itself; rows after it were added by ensure
        self.free = prepared.free
        self.index = prepared.index
        self.v = prepared.v
        self.v_mean = prepared.v_mean

    def ensure(self, tiles: np.ndarray) -> np.ndarray:
        """Candidate indices of free ``tiles``, adding rows (to this run's copy) for tiles off the lattice."""
        tiles = np.asarray(tiles, dtype=np.int64).reshape(-1, 2)
        if len(tiles) == 0:
            return np.zeros(0, dtype=np.int64)
        missing = tiles[self.index[tiles[:, 1], tiles[:, 0]] < 0]
        if len(missing):
            missing = np.unique(missing, axis=0)
            rows = contribution_matrix(self.grid, missing, self.points, dtype=self.v.dtype.type)
            index = self.index.copy()
            index[missing[:, 1], missing[:, 0]] = len(self.free) + np.arange(len(missing))
            self.index = index
            self.free = np.concatenate([self.free, missing])
            self.v = np.concatenate([self.v, rows])
            self.v_mean = np.concatenate([self.v_mean, rows.mean(axis=1, dtype=np.float64)])
        return np.asarray(self.index[tiles[:, 1], tiles[:, 0]])

    def tiles(self, idx: np.ndarray) -> np.ndarray:
        """First tiles of the candidates ``idx``."""
        return np.asarray(self.free[np.asarray(idx, dtype=np.int64)])

    def conflicts(self, j: int) -> np.ndarray:
        """Candidates whose footprint shares a tile with candidate ``j``'s (``j`` itself included)."""
        sx, sy = self.room.light_size
        x, y = (int(v) for v in self.free[j])
        if (sx, sy) == (1, 1):
            return np.array([j], dtype=np.int64)
        h, w = self.index.shape
        near = [int(self.index[y + dy, x + dx]) for dy in range(1 - sy, sy) for dx in range(1 - sx, sx)
                if 0 <= x + dx < w and 0 <= y + dy < h]
        return np.array([k for k in near if k >= 0], dtype=np.int64)

    def overlapping(self, idx: np.ndarray) -> bool:
        """Whether two of the candidates ``idx`` (or one and a pre-placed light) share a tile."""
        size = self.room.light_size
        if size == (1, 1):
            return False
        tiles = footprint_tiles(np.concatenate([self.existing, self.tiles(idx)]).reshape(-1, 2), size)
        return len(np.unique(tiles, axis=0)) < len(tiles)

    def illuminance(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        return np.asarray(self.e0 + (self.v[idx].sum(axis=0, dtype=np.float64) if len(idx) else 0.0))

    def dimmer_than(self, idx: np.ndarray, em: float) -> bool:
        """Whether layout ``idx``'s Em is surely below ``em``: from the rows' means, without summing the rows
        (the two sums differ only by rounding, far inside the 1e-9 kept here)."""
        return self.e0_mean + float(self.v_mean[idx].sum()) < em * (1.0 - 1e-9)

    def violation(self, e: np.ndarray, margin: float = DEFAULT_DESIGN_MARGIN) -> np.ndarray:
        """Relative shortfall against L3 (0 = passes with margin); ``e`` is (P,) or (k, P)."""
        em = e.mean(axis=-1)
        emin = e.min(axis=-1)
        u0 = np.where(em > 0, emin / np.maximum(em, 1e-300), 0.0)
        return np.asarray(np.maximum(0.0, 1.0 + margin - em / self.target) + np.maximum(
            0.0, 1.0 + margin - u0 / self.target_u0
        ))

    def slack(self, e: np.ndarray) -> np.ndarray:
        """How far above both L3 targets ``e`` is (relative; larger = more spare light and uniformity)."""
        em = e.mean(axis=-1)
        u0 = np.where(em > 0, e.min(axis=-1) / np.maximum(em, 1e-300), 0.0)
        return np.asarray(np.minimum(em / self.target - 1.0, u0 / self.target_u0 - 1.0))


def _problem(grid: RoomGrid) -> _Problem:
    """A fresh search state for ``grid`` over its prepared room (built once per process and room)."""
    existing = grid.light_anchors()[0]
    free_mask = np.array(grid.arrays.free_for_light)
    digest = hashlib.blake2b(existing.tobytes() + free_mask.tobytes(), digest_size=16).hexdigest()
    key = (room_key(grid), "light_problem:" + digest)
    room = prepare(grid)
    prepared = PROBLEM_CACHE.get(key, _Prepared)
    if prepared is None:
        prepared = _prepare(grid, room, existing, free_mask)
        PROBLEM_CACHE.put(key, prepared)
    return _Problem(grid, room, prepared, key)


def _prepare(grid: RoomGrid, room: PreparedRoom, existing: np.ndarray, free_mask: np.ndarray) -> _Prepared:
    points = room.calc.points
    n_free = int(free_mask.sum())
    stride = 1
    if n_free * len(points) > DEFAULT_MAX_MATRIX_ELEMENTS:
        stride = math.ceil(math.sqrt(n_free * len(points) / DEFAULT_MAX_MATRIX_ELEMENTS))
    cand = room.anchor_mask(free_mask)  # first tiles whose whole footprint is free
    if stride > 1:
        h, w = free_mask.shape
        cand &= (np.arange(h)[:, None] % stride == stride // 2) & (np.arange(w)[None, :] % stride == stride // 2)
    fy, fx = np.nonzero(cand)
    free = np.stack([fx, fy], axis=1).astype(np.int64)
    index = np.full(free_mask.shape, -1, dtype=np.int64)
    index[fy, fx] = np.arange(len(free))
    dtype = np.float32 if len(free) * len(points) > _FLOAT32_ABOVE else np.float64
    v = contribution_matrix(grid, free, points, dtype=dtype, threads=DEFAULT_PREPARE_THREADS)
    e0 = contribution_matrix(grid, existing, points).sum(axis=0) if len(existing) else np.zeros(len(points))
    if stride > 1:
        log.info("light_candidates_thinned", grid_id=grid.grid_id, stride=stride, candidates=len(free))
    return _Prepared(np.array(points), np.array(existing), free, index, v, v.mean(axis=1, dtype=np.float64),
                     np.asarray(e0), free_mask, stride)


@dataclass(frozen=True)
class _Proxy:
    """The §8 score the evaluator would give one candidate layout, from the contribution matrix: ``bound`` is
    cheap (every wall offset taken as met, L4's gaps as holding), :meth:`score` adds L4 (:func:`fixture_rules`)."""

    pb: _Problem
    tiles: np.ndarray  # pre-placed and candidate anchor tiles
    l3: bool
    em: float
    u0: float
    lpd: float
    reg: Regularity  # with every wall offset taken as met
    bound: float  # the score with L4 taken as met: never below :meth:`score`

    def score(self) -> float:
        rules = fixture_rules(self.pb.room, self.tiles)
        reg = replace(self.reg, wall_offset_ok=float(np.mean(rules.wall_ok)))
        return _score(self.pb, self.l3 and bool(rules.gap_ok.all()), self.em, self.u0, self.lpd, reg)


def _score(pb: _Problem, ok: bool, em: float, u0: float, lpd: float, reg: Regularity) -> float:
    spec = pb.room.room_spec
    return lighting_score(ok, em, u0, lpd, reg.score, reg.regular, spec.target_lux, spec.target_u0,
                          spec.lpd_limit_w_m2).score


def _proxy(pb: _Problem, idx: np.ndarray) -> _Proxy:
    """The cheap part of the proxy score of candidate layout ``idx``, and its upper bound."""
    e = pb.illuminance(idx)
    em = float(e.mean()) if len(e) else 0.0
    u0 = float(e.min()) / em if em > 0 else 0.0
    tiles = np.concatenate([pb.existing, pb.tiles(idx)]).reshape(-1, 2)
    lpd = lpd_w_m2(pb.room, len(tiles))
    reg = regularity(pb.room, tiles, np.ones(len(tiles), dtype=bool))  # wall_ok only sets wall_offset_ok
    l3 = bool(pb.violation(e, margin=0.0) <= 0) and len(tiles) > 0
    return _Proxy(pb, tiles, l3, em, u0, lpd, reg, _score(pb, l3, em, u0, lpd, reg))


def _best_by_proxy(pb: _Problem, cands: list[np.ndarray], k: int) -> list[int]:
    """Indices of the ``k`` best ``cands`` by proxy score (ties: fewer fixtures, then earlier), best first.

    Branch and bound: full scores are computed in order of the cheap upper bounds, until the k-th best so
    far beats every bound left (a candidate layout's L4 check costs several times its bound)."""
    proxies = [_proxy(pb, c) for c in cands]
    order = sorted(range(len(cands)), key=lambda i: (-proxies[i].bound, len(cands[i]), i))
    scores: dict[int, float] = {}
    for pos, i in enumerate(order):
        scores[i] = proxies[i].score()
        if (len(scores) >= k and pos + 1 < len(order)
                and sorted(scores.values(), reverse=True)[k - 1] > proxies[order[pos + 1]].bound):
            break
    return [i for _, _, i in sorted((-sc, len(cands[i]), i) for i, sc in scores.items())][:k]


def _finish(model: str, pb: _Problem, candidates: list[np.ndarray], diag: dict[str, Any],
            started: float, judge: Judge) -> ModelResult:
    """Rank candidate layouts by the proxy score, let ``judge`` score the best few, and build the result."""
    grid = pb.grid
    unique: dict[bytes, np.ndarray] = {}
    for c in candidates:
        c = np.sort(np.asarray(c, dtype=np.int64))
        unique.setdefault(c.tobytes(), c)
    cands = [c for c in unique.values() if not pb.overlapping(c)]
    if len(cands) > DEFAULT_MAX_LEVELS_SCORED:
        # the first three (a model's starting arrays) always stay; the rest are thinned evenly
        keep = np.unique(np.concatenate([np.arange(3), np.linspace(0, len(cands) - 1, DEFAULT_MAX_LEVELS_SCORED)
                                         .round().astype(int)]))
        cands = [cands[i] for i in keep]
    best_grid, best_report, best_idx = grid, None, np.zeros(0, dtype=np.int64)
    for i in _best_by_proxy(pb, cands, _JUDGED):
        tiles = footprint_tiles(pb.tiles(cands[i]), pb.room.light_size)
        new_grid = grid.with_components(Component.LIGHT, [tuple(t) for t in tiles.tolist()])
        report = judge(new_grid)
        if best_report is None or report.score > best_report.score:
            best_grid, best_report, best_idx = new_grid, report, cands[i]
        if report.compliant:
            break
    if best_report is None:
        best_report = judge(grid)
    m = best_report.metrics
    diagnostics: dict[str, Any] = {
        "em_lx": round(m["em_lx"], 2), "u0": round(m["u0"], 4), "lpd_w_m2": round(m["lpd_w_m2"], 3),
        "emin_lx": round(m["emin_lx"], 2), "lumen_method_count": m["lumen_method_count"],
        "preplaced": len(pb.existing), "candidates_scored": len(cands), **diag,
    }
    infeasible = None
    if not best_report.compliant:
        reason = diag.get("infeasible_reason") or "no layout found that meets Em and U0 on the calculation grid"
        infeasible = Infeasible("L3", str(reason))
    diagnostics.pop("infeasible_reason", None)
    log.info("light_model_done", model=model, grid_id=grid.grid_id, score=round(best_report.score, 3),
             count=m["count"], compliant=best_report.compliant,
             elapsed_s=round(time.perf_counter() - started, 4))
    return ModelResult(model, Stage.LIGHTS, best_grid, best_report.score, best_report.compliant,
                       len(best_idx), count=int(m["count"]), max_shr=round(float(m["max_shr"]), 4),
                       infeasible=infeasible, diagnostics=diagnostics)


class _LightProblem:
    """What the light models share: one prepared problem per room (contribution matrix, candidates)."""

    relative_cost: ClassVar[float] = 1.0  # the executor starts the costliest model first when they race

    def warm(self, grid: RoomGrid) -> None:
        """Build ``grid``'s light problem now (cached), so that workers forked afterwards share it."""
        _problem(grid)


# ----- model A: lumen-method regular array ---------------------------------------------------

@dataclass(frozen=True)
class _LumenArray:
    """What :func:`_lumen_array` found in one prepared room (frozen: it is kept per process)."""

    idx: np.ndarray
    diag: MappingProxyType[str, Any]
    edges: tuple[np.ndarray, ...]


def _lumen_array(pb: _Problem, shr_max: float = DEFAULT_SHR_MAX, max_tries: int = DEFAULT_MAX_ARRAY_TRIES,
                 edges: list[np.ndarray] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The smallest regular array (S <= SHR Hm) that passes L3, else the least-violating one tried.

    Counts start at an optimistic lumen-method bound (utilisation factor ``DEFAULT_OPTIMISTIC_UF``),
    so the array is never larger than the photometry needs; the published-UF lumen-method N is only
    reported. Shapes that can be symmetric in this room (the parity rule of :func:`symmetric_shape`)
    are tried first. A smaller array that meets L3 only without the design margin, and the smallest
    passing array of the other shapes, are appended to ``edges``: the judge decides between them.
    Kept per process and room (models A and B both start here; on the full candidate lattice an index
    means the same tile in every run, so a kept answer is exact).
    """
    key = (pb.key[0], f"lumen:{pb.key[1]}:{shr_max!r}:{max_tries}:{pb.target!r}:{pb.target_u0!r}")
    found = LUMEN_CACHE.get(key, _LumenArray) if pb.stride == 1 else None
    if found is None:
        found_edges: list[np.ndarray] = []
        idx, diag = _search_lumen_array(pb, shr_max, max_tries, found_edges)
        for a in (idx, *found_edges):
            a.setflags(write=False)
        frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in diag.items()}
        found = _LumenArray(idx, MappingProxyType(frozen), tuple(found_edges))
        if pb.stride == 1:
            LUMEN_CACHE.put(key, found)
    if edges is not None:
        edges.extend(e.copy() for e in found.edges)
    return found.idx.copy(), {k: list(v) if isinstance(v, tuple) else v for k, v in found.diag.items()}


def _search_lumen_array(pb: _Problem, shr_max: float, max_tries: int, edges: list[np.ndarray],
                        ) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`_lumen_array`'s search itself."""
    room = pb.room
    n_lumen = lumen_method_count(room)
    n0 = max(lumen_count(room, DEFAULT_OPTIMISTIC_UF) - len(pb.existing), 1)
    occupied = np.zeros(pb.index.shape, dtype=bool)
    if len(pb.existing):
        occupied[pb.existing[:, 1], pb.existing[:, 0]] = True
    shapes = [s for s in array_shapes(room, shr_max=shr_max) if s[0] * s[1] >= n0]
    sym = [{n: axis_symmetric(room, axis, n) for n in {s[axis] for s in shapes}} for axis in (0, 1)]  # per count
    mirrors = [sym[0][nx] and sym[1][ny] for nx, ny in shapes]  # symmetric_shape, one axis at a time
    best, tries = _first_passing(pb, [s for s, m in zip(shapes, mirrors, strict=True) if m], occupied, max_tries, edges)
    # The smallest passing array of any shape competes too when it is smaller (an odd count in an even
    # room is half a tile off centre, but may be what the LPD limit allows): the judge scores both.
    other, more = _first_passing(pb, [s for s, m in zip(shapes, mirrors, strict=True) if not m], occupied,
                                 max_tries)
    tries += more
    if other is not None and other[0] <= 0 and (
            best is None or best[0] > 0 or len(other[1]) < len(best[1])):
        edges.append(other[1])
    if other is not None and (best is None or (best[0] > 0 and other[0] < best[0])):
        best = other  # a symmetric shape that passes is kept over one that passes with more slack
    if best is None:
        return np.zeros(0, dtype=np.int64), {"arrays_tried": 0, "shape": None, "lumen_n": n_lumen}
    viol, idx, shape = best
    diag: dict[str, Any] = {"arrays_tried": tries, "shape": list(shape), "lumen_n": n_lumen}
    if viol > 0:
        diag["infeasible_reason"] = (
            f"no regular array up to {tries} shapes meets L3 on the free tiles ({int(pb.free_mask.sum())} free)"
        )
    return idx, diag


def _array_violation(pb: _Problem, idx: np.ndarray, edges: list[np.ndarray] | None) -> float:
    """Array ``idx``'s L3 violation (``_L4_VIOLATION`` when only L4's gap fails); the first near miss (passes
    without the design margin) goes to ``edges``."""
    e = pb.illuminance(idx)
    viol = float(pb.violation(e))
    if viol <= 0 and not _gaps_ok(pb, idx):
        return _L4_VIOLATION  # obstacles pushed a fixture past the L4 gap: try the next shape
    if viol > 0 and edges is not None and not edges and float(pb.violation(e, margin=0.0)) <= 0:
        edges.append(idx)
    return viol


_Tried = tuple[float, int, np.ndarray, tuple[int, int]]  # (violation, try number, candidate indices, shape)


def _least_violating(pb: _Problem, best: _Tried | None, dim: list[tuple[int, np.ndarray, tuple[int, int]]],
                     ) -> tuple[float, np.ndarray, tuple[int, int]] | None:
    """The least-violating array tried, the earliest on a tie, as if the ``dim`` ones had been summed too."""
    out = best
    for order, idx, shape in dim:
        viol = float(pb.violation(pb.illuminance(idx)))
        if out is None or (viol, order) < (out[0], out[1]):
            out = (viol, order, idx, shape)
    return None if out is None else (out[0], out[2], out[3])


def _first_passing(pb: _Problem, shapes: list[tuple[int, int]], occupied: np.ndarray, max_tries: int,
                   edges: list[np.ndarray] | None = None,
                   ) -> tuple[tuple[float, np.ndarray, tuple[int, int]] | None, int]:
    """(the first of ``shapes`` whose array passes L3, else the least-violating; shapes tried).

    An array whose Em is surely short of the target (:meth:`_Problem.dimmer_than`) fails without its
    illuminance being summed; its violation is computed only if the least-violating array is asked for."""
    best: _Tried | None = None
    dim: list[tuple[int, np.ndarray, tuple[int, int]]] = []  # (try, idx, shape) of the arrays surely too dim
    tries = 0
    n_free = int(pb.free_mask.sum())
    for nx, ny in shapes:
        variants = array_variants(pb.room, nx, ny)
        passing: tuple[float, np.ndarray, tuple[int, int]] | None = None
        for inward in variants:  # the other symmetric snapping when one misses L3 or L6
            tiles = regular_array(pb.room, nx, ny, free=pb.free_mask, occupied=occupied, inward=inward)
            idx = pb.ensure(tiles)
            tries += 1
            # below this Em the array fails L3, and (without the margin) cannot be the near-miss edge either
            em_floor = pb.target * (1.0 if edges is not None and not edges else 1.0 + DEFAULT_DESIGN_MARGIN)
            if pb.dimmer_than(idx, em_floor):
                dim.append((tries, idx, (nx, ny)))
            else:
                viol = _array_violation(pb, idx, edges)
                if best is None or viol < best[0]:
                    best = (viol, tries, idx, (nx, ny))
                if viol <= 0:
                    if len(variants) == 1 or regularity(pb.room, tiles).regular:
                        return (viol, idx, (nx, ny)), tries
                    if inward == variants[0]:
                        passing = (viol, idx, (nx, ny))  # an L's wings unevenly snapped: try the other snapping
                    elif edges is not None:
                        edges.append(idx)  # the other snapping passes only unevenly: the judge weighs it, A goes on
            if tries >= max_tries or len(idx) >= n_free:
                return passing or _least_violating(pb, best, dim), tries
        if passing is not None:
            return passing, tries
    return _least_violating(pb, best, dim), tries


@dataclass(frozen=True)
class LightModelA(_LightProblem):
    """Regular array (§2.3, §2.4, §5.2a): the smallest aspect-matched nx x ny array with S <= 1.5 Hm and
    wall offset S/2, snapped symmetrically to tiles (parity-symmetric shapes first), that passes L3;
    the count search starts at an optimistic lumen-method bound."""

    name: ClassVar[str] = "LightModelA"
    stage: ClassVar[Stage] = Stage.LIGHTS
    version: ClassVar[str] = "1.0"
    shr_max: float = DEFAULT_SHR_MAX

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        started = time.perf_counter()
        pb = _problem(grid)
        edges: list[np.ndarray] = []
        idx, diag = _lumen_array(pb, self.shr_max, edges=edges)
        return _finish(self.name, pb, [idx, *edges], diag, started, judge)


# ----- model B: greedy removal + simulated annealing from model A -----------------------------

def _greedy_remove(pb: _Problem, idx: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """Remove fixtures whose removal leaves the most slack while L3 still passes.

    Small layouts lose one fixture per step. Large ones (n >= 2 x ``_REMOVE_BATCH_DIV``) drop a batch
    of up to n / ``_REMOVE_BATCH_DIV`` well-separated fixtures (more than 2 Hm apart) per step; a
    batch that breaks L3 is halved until it holds (one feasible removal always does).
    """
    idx = np.asarray(idx, dtype=np.int64)
    sep2 = (2.0 * pb.grid.mounting_height_m / pb.grid.tile_size_m) ** 2  # in tiles²
    while len(idx) > 1:
        e = pb.illuminance(idx)
        without = e[None, :] - pb.v[idx]
        ok = pb.violation(without) <= 0
        if not ok.any():
            break
        slack = np.where(ok, pb.slack(without), -np.inf)
        order = np.argsort(-slack, kind="stable")
        want = max(1, len(idx) // _REMOVE_BATCH_DIV)
        picked: list[int] = []
        xy = pb.free[idx].astype(float)
        for pos in order:
            if not ok[pos] or len(picked) >= want:
                break
            if picked and (((xy[picked] - xy[pos]) ** 2).sum(axis=1) <= sep2).any():
                continue
            picked.append(int(pos))
        while len(picked) > 1 and float(pb.violation(pb.illuminance(np.delete(idx, picked)))) > 0:
            picked = picked[: len(picked) // 2]
        idx = np.delete(idx, picked)
        levels.append(idx.copy())
    return idx


def _anneal(pb: _Problem, idx: np.ndarray, rng: np.random.Generator, iterations: int,
            radius: int) -> tuple[np.ndarray, bool, int]:
    """Move fixtures to nearby free tiles (Metropolis, linear cooling) until L3 passes; deterministic per seed."""
    idx = np.asarray(idx, dtype=np.int64).copy()
    if len(idx) == 0:
        return idx, False, 0
    used = np.zeros(len(pb.free), dtype=bool)
    used[idx] = True
    sx, sy = pb.room.light_size
    cover = None  # troffers: how many fixtures cover each tile (a move must land on uncovered tiles)
    if (sx, sy) != (1, 1):
        cover = np.zeros(pb.index.shape, dtype=np.int32)
        for fx, fy in pb.tiles(idx).tolist():
            cover[fy : fy + sy, fx : fx + sx] += 1
    e = pb.illuminance(idx)
    f = float(pb.violation(e))
    h, w = pb.index.shape
    t0 = 0.02
    for it in range(iterations):
        if f <= 0:
            return idx, True, it
        temp = t0 * (1.0 - it / iterations) + 1e-6
        i = int(rng.integers(len(idx)))
        x, y = pb.free[idx[i]]
        dx, dy = (int(v) for v in rng.integers(-radius, radius + 1, size=2))
        nx_, ny_ = x + dx, y + dy
        if not (0 <= nx_ < w and 0 <= ny_ < h):
            continue
        j = int(pb.index[ny_, nx_])
        if j < 0 or used[j]:
            continue
        if cover is not None:  # the new footprint must be free of every fixture but this one
            cover[y : y + sy, x : x + sx] -= 1
            clash = bool(cover[ny_ : ny_ + sy, nx_ : nx_ + sx].any())
            cover[y : y + sy, x : x + sx] += 1
            if clash:
                continue
        e_new = e - pb.v[idx[i]] + pb.v[j]
        f_new = float(pb.violation(e_new))
        if f_new <= f or rng.random() < math.exp(-(f_new - f) / temp):
            used[idx[i]] = False
            used[j] = True
            if cover is not None:
                cover[y : y + sy, x : x + sx] -= 1
                cover[ny_ : ny_ + sy, nx_ : nx_ + sx] += 1
            idx[i] = j
            e, f = e_new, f_new
    return idx, f <= 0, iterations


@dataclass(frozen=True)
class LightModelB(_LightProblem):
    """Local search from model A (§5.2b): greedy removal while L3 holds, then seeded simulated
    annealing on tile positions with one fixture fewer; keeps the best-scoring level, model A's
    arrays included (so it never scores below model A)."""

    name: ClassVar[str] = "LightModelB"
    stage: ClassVar[Stage] = Stage.LIGHTS
    version: ClassVar[str] = "1.0"
    seed: int = DEFAULT_SEED
    radius_tiles: int = DEFAULT_SA_RADIUS_TILES
    attempts: int = DEFAULT_SA_ATTEMPTS

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        started = time.perf_counter()
        pb = _problem(grid)
        edges: list[np.ndarray] = []
        start, diag_a = _lumen_array(pb, edges=edges)
        rng = np.random.default_rng(self.seed)
        levels: list[np.ndarray] = [start.copy(), *edges]  # model A's arrays stay candidates
        diag: dict[str, Any] = {"seed": self.seed, "start_count": len(start) + len(pb.existing),
                                "sa_runs": 0, "sa_successes": 0, "sa_iterations": 0}
        if float(pb.violation(pb.illuminance(start))) > 0:
            # start infeasible: anneal at the same count first
            moved, ok, its = _anneal(pb, start, rng, 4000, self.radius_tiles)
            diag["sa_runs"] += 1
            diag["sa_iterations"] += its
            if ok:
                levels.append(moved)
                start = moved
                diag["sa_successes"] += 1
            else:
                diag["infeasible_reason"] = diag_a.get("infeasible_reason")
                return _finish(self.name, pb, levels, diag, started, judge)
        idx = _greedy_remove(pb, start, levels)
        for _ in range(self.attempts):
            if len(idx) <= 1:
                break
            e = pb.illuminance(idx)
            drop = int(np.argmax(pb.slack(e[None, :] - pb.v[idx])))
            trial = np.delete(idx, drop)
            iterations = int(min(3000, max(300, 40 * len(trial))))
            moved, ok, its = _anneal(pb, trial, rng, iterations, self.radius_tiles)
            diag["sa_runs"] += 1
            diag["sa_iterations"] += its
            if not ok:
                break
            diag["sa_successes"] += 1
            levels.append(moved.copy())
            idx = _greedy_remove(pb, moved, levels)
        return _finish(self.name, pb, levels, diag, started, judge)


# ----- model C: greedy coverage ----------------------------------------------------------------

def _gaps_ok(pb: _Problem, idx: np.ndarray) -> bool:
    """Every fixture's neighbours along its row and column are within SHR_max Hm + t (hard L4)."""
    tiles = np.concatenate([pb.existing, pb.tiles(idx)]).reshape(-1, 2)
    return bool(gaps_ok(pb.room, tiles).all())


_FILL_BATCH_DIV = 8  # _fill_gaps adds one fixture per this many open gaps before it checks again
_PRUNE_REBUILD = 32  # model C's pruning rebuilds its KD-tree once this many fixtures are gone from it
_UB_ROWS = 2048  # the lazy greedy's first gains go this many candidates at a time (no candidates x points temporary)


def _fill_gaps(pb: _Problem, idx: np.ndarray, taken: np.ndarray) -> tuple[np.ndarray, bool]:
    """Add the candidate farthest from every fixture until no row or column has an unlit stretch (L4); the
    layout, and whether its L4 gaps hold (no more candidates can leave some open)."""
    n_cand = len(taken)
    centres = pb.room.light_centres(pb.free[:n_cand])
    far: np.ndarray | None = None  # distance from each candidate to the nearest fixture, kept up to date
    tree: cKDTree | None = None
    gaps = GrowingGaps(pb.room, np.concatenate([pb.existing, pb.tiles(idx)]).reshape(-1, 2))
    while not taken.all():
        failing = gaps.failing
        if failing == 0:
            break
        if far is None:
            lit = pb.room.light_centres(gaps.tiles)
            far = np.full(n_cand, np.inf) if len(lit) == 0 else cKDTree(lit).query(centres)[0]
        # farthest-point additions, a batch per check when many gaps are open (reverse pruning, latest first,
        # takes back any the last batch did not need)
        added = []
        for _ in range(max(1, failing // _FILL_BATCH_DIV)):
            if taken.all():
                break
            j = int(np.argmax(np.where(taken, -np.inf, far)))
            _take(pb, taken, j)
            idx = np.append(idx, j)
            added.append(j)
            if np.isfinite(far[j]):  # only candidates within far[j] (the largest open one) can get nearer
                if tree is None:
                    tree = cKDTree(centres)
                near = np.asarray(tree.query_ball_point(centres[j], far[j]), dtype=np.int64)
                far[near] = np.minimum(far[near], np.hypot(*(centres[near] - centres[j]).T))
            else:
                far = np.minimum(far, np.hypot(*(centres - centres[j]).T))
        gaps.add(pb.tiles(np.array(added, dtype=np.int64)))
    return idx, gaps.failing == 0


def _take(pb: _Problem, taken: np.ndarray, j: int) -> None:
    """Mark candidate ``j`` and every lattice candidate overlapping it as no longer available."""
    near = pb.conflicts(j)
    taken[near[near < len(taken)]] = True


def _lazy_greedy(pb: _Problem, need: float, e: np.ndarray, taken: np.ndarray) -> tuple[list[int], int]:
    """Candidates chosen by largest covered deficit until every point reaches ``need`` (``e`` and ``taken``
    are updated in place), and how many gains were evaluated.

    Lazy greedy: a candidate's gain, sum over points of min(its lux, the deficit), only shrinks, so a stale
    gain is an upper bound. Every choice lowers every bound by at least ``drop``, the least any candidate
    can lose (the least lux any candidate gives a point, ``floor``, against that point's new deficit); the
    heap keeps gain + all drops so far, which orders it the same and lowers every bound at once.
    """
    deficit = np.maximum(need - e, 0.0)
    chosen: list[int] = []
    n_cand = len(taken)
    recomputed = 0
    if n_cand and len(pb.points):
        v = pb.v[:n_cand]
        ub = np.concatenate([np.minimum(v[s:s + _UB_ROWS], deficit[None, :]).sum(axis=1)
                             for s in range(0, n_cand, _UB_ROWS)])
        floor = v.min(axis=0).astype(np.float64)
        dropped = 0.0  # every bound's fall so far
        live = np.nonzero(ub > 0)[0]
        heap = list(zip((-ub[live]).tolist(), live.tolist(), strict=True))
        heapq.heapify(heap)
        pop, push = heapq.heappop, heapq.heappush
        short = deficit.sum() > 1e-9  # changes only when a candidate is taken
        while short and heap:
            # re-score a batch of the best upper bounds at once
            batch = [pop(heap)[1] for _ in range(min(_GREEDY_BATCH, len(heap)))]
            batch = [j for j in batch if not taken[j]]  # troffers: dropped once a chosen one overlaps them
            if not batch:
                continue
            gains = np.minimum(v[batch], deficit[None, :]).sum(axis=1)
            recomputed += len(batch)
            bound = -heap[0][0] - dropped if heap else 0.0
            best = int(np.argmax(gains))
            gain = gains.tolist()
            take = gain[best] > 0 and gain[best] >= bound - 1e-12
            for k, j in enumerate(batch):
                if (take and k == best) or gain[k] <= 0:
                    continue
                push(heap, (-(gain[k] + dropped), j))
            if take:
                j = batch[best]
                chosen.append(j)
                _take(pb, taken, j)
                e += v[j]
                left = np.maximum(need - e, 0.0)
                dropped += float(np.minimum(deficit - left, np.maximum(floor - left, 0.0)).sum())
                deficit = left
                short = deficit.sum() > 1e-9
    return chosen, recomputed


@dataclass(frozen=True)
class LightModelC(_LightProblem):
    """Coverage model (§5.2c): lazy-greedy choice of tiles until every calculation point reaches the
    target (largest covered deficit first), unlit stretches filled (L4), then reverse pruning while
    L3 and L4 still hold."""

    name: ClassVar[str] = "LightModelC"
    stage: ClassVar[Stage] = Stage.LIGHTS
    version: ClassVar[str] = "1.0"
    relative_cost: ClassVar[float] = 3.0  # measured: 2-4x model A or B in large rooms
    margin: float = DEFAULT_DESIGN_MARGIN

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        started = time.perf_counter()
        pb = _problem(grid)
        need = pb.target * (1.0 + self.margin)
        e = pb.e0.astype(np.float64).copy()
        n_cand = pb.n_base  # lattice rows only, so the result never depends on what other models added
        taken = np.zeros(n_cand, dtype=bool)
        chosen, recomputed = _lazy_greedy(pb, need, e, taken)
        idx = np.array(chosen, dtype=np.int64)
        # U0 repair: light the darkest point until both targets hold (rarely needed once Emin >= Et)
        while float(pb.violation(pb.illuminance(idx))) > 0 and not taken.all():
            dark = int(np.argmin(pb.illuminance(idx)))
            col = np.where(taken, -np.inf, pb.v[:n_cand, dark])
            j = int(np.argmax(col))
            _take(pb, taken, j)
            idx = np.append(idx, j)
        idx, gaps_hold = _fill_gaps(pb, idx, taken)  # then each removal only needs its neighbourhood re-checked
        levels = [idx.copy()]
        # reverse pruning: drop fixtures, latest first, while L3 and the L4 gaps still hold
        e = pb.illuminance(idx)  # kept up to date: a removal subtracts one fixture's contribution
        # the layout's fixtures as of the last KD-tree (pre-placed first, then idx's order), and which of them
        # are gone since: removals go from the end, so position pos of idx stays fixture len(existing) + pos
        lit = np.concatenate([pb.existing, pb.tiles(idx)]).reshape(-1, 2)
        gone = np.zeros(len(lit), dtype=bool)
        tree: cKDTree | None = None  # of lit's centres: trial removals share it until _PRUNE_REBUILD are gone
        for pos in range(len(idx) - 1, -1, -1):
            if len(idx) < 2:
                break
            e_trial = e - pb.v[idx[pos]]
            if float(pb.violation(e_trial)) > 0:
                continue
            trial = np.delete(idx, pos)
            if gaps_hold:
                if tree is None or gone.sum() >= _PRUNE_REBUILD:
                    lit, gone = lit[~gone], np.zeros(int((~gone).sum()), dtype=bool)
                    tree = cKDTree(pb.room.light_centres(lit))
                ok = gaps_hold_without(pb.room, lit, len(pb.existing) + pos, tree=tree, gone=gone)
            else:
                ok = _gaps_ok(pb, trial)
            if ok:
                idx, gaps_hold, e = trial, True, e_trial
                gone[len(pb.existing) + pos] = True
                levels.append(idx.copy())
        diag: dict[str, Any] = {"greedy_count": len(chosen) + len(pb.existing),
                                "gain_evaluations": recomputed, "pruned": len(levels) - 1}
        if float(pb.violation(pb.illuminance(idx))) > 0:
            diag["infeasible_reason"] = (
                f"even with every candidate tile lit ({len(pb.free)} of {int(pb.free_mask.sum())} free) "
                "Em/U0 stay below target"
            )
        return _finish(self.name, pb, levels, diag, started, judge)
