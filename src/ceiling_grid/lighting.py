"""Lighting rules on a prepared room: lumen method (§2.3), spacing rules (§2.4, L4), LPD, regular arrays.

The calculation grid (§2.2, L1/L2) is part of the prepared room (:mod:`ceiling_grid.prepared`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .config import DEFAULT_MAINTENANCE_FACTOR, DEFAULT_SHR_MAX
from .prepared import PreparedRoom

__all__ = [
    "PUBLISHED_UF_K",
    "PUBLISHED_UF_VALUES",
    "FixtureRules",
    "GrowingGaps",
    "Regularity",
    "array_shapes",
    "axis_tiles",
    "fixture_rules",
    "gap_limit_m",
    "lpd_w_m2",
    "lumen_count",
    "lumen_method_count",
    "nearest_neighbour_shr",
    "regular_array",
    "regularity",
    "room_index",
    "shr_minimum_count",
    "symmetric_shape",
    "utilisation_factor",
]

DEFAULT_UF_FLOOR = 0.30  # §2.3: extrapolation below K = 0.75 is floored here
# §2.3 published UF row (fluorescent prismatic, reflectances 0.7/0.5/0.2): the conservative reference.
PUBLISHED_UF_K = (0.75, 1.00, 1.25, 1.50, 2.00, 2.50, 3.00, 4.00, 5.00)
PUBLISHED_UF_VALUES = (0.44, 0.50, 0.56, 0.60, 0.65, 0.69, 0.72, 0.75, 0.77)


# ----- §2.3: lumen method ------------------------------------------------------------------

def room_index(room: PreparedRoom) -> float:
    """K = 2A / (Hm P) (equals L W / (Hm (L + W)) for a rectangle)."""
    geo = room.geometry
    return 2.0 * geo.area_m2 / (room.mounting_height_m * geo.perimeter_m)


def utilisation_factor(k: float) -> float:
    """Published UF at room index ``k``: linear interpolation, linear extrapolation below 0.75 floored at 0.30."""
    ks, ufs = PUBLISHED_UF_K, PUBLISHED_UF_VALUES
    if k < ks[0]:
        slope = (ufs[1] - ufs[0]) / (ks[1] - ks[0])
        return max(DEFAULT_UF_FLOOR, ufs[0] + slope * (k - ks[0]))
    return float(np.interp(k, ks, ufs))


def lumen_count(room: PreparedRoom, uf: float) -> int:
    """N = ceil(E A / (Φ UF MF)) at utilisation factor ``uf`` and MF = 0.8 (at least 1)."""
    n = room.room_spec.target_lux * room.geometry.area_m2 / (room.flux_lm * uf * DEFAULT_MAINTENANCE_FACTOR)
    return max(1, math.ceil(n - 1e-9))


def lumen_method_count(room: PreparedRoom) -> int:
    """The §2.3 lumen-method N with the published (conservative) UF row."""
    return lumen_count(room, utilisation_factor(room_index(room)))


# ----- §2.4: spacing -------------------------------------------------------------------------

def shr_minimum_count(room: PreparedRoom, shr_max: float = DEFAULT_SHR_MAX) -> int:
    """N_SHR = ceil(L / (SHR Hm)) x ceil(W / (SHR Hm)) on the room's bounding box."""
    x0, y0, x1, y1 = room.geometry.bbox
    s = shr_max * room.mounting_height_m
    return math.ceil((x1 - x0) / s - 1e-9) * math.ceil((y1 - y0) / s - 1e-9)


def lpd_w_m2(room: PreparedRoom, count: int) -> float:
    """Lighting power density in W/m² of ``count`` luminaires."""
    return count * room.power_w / room.geometry.area_m2


def gap_limit_m(room: PreparedRoom, shr_max: float = DEFAULT_SHR_MAX) -> float:
    """Hard L4: the longest allowed gap between neighbouring fixtures along a row or column, SHR_max Hm + one tile."""
    return shr_max * room.mounting_height_m + room.tile


def nearest_neighbour_shr(room: PreparedRoom, lights_xy: np.ndarray) -> np.ndarray:
    """(n,) nearest-neighbour spacing / Hm of each luminaire (0 when there is only one)."""
    xy = room.light_centres(np.asarray(lights_xy).reshape(-1, 2))
    if len(xy) < 2:
        return np.zeros(len(xy))
    dist, _ = cKDTree(xy).query(xy, k=2)
    return np.asarray(dist[:, 1] / room.mounting_height_m)


@dataclass(frozen=True)
class FixtureRules:
    """Per-fixture L4 results: nearest-neighbour S/Hm, the gaps to the neighbours along the rows and
    columns (hard L4), and the wall-offset rule (soft L4b)."""

    shr: np.ndarray  # (n,) nearest-neighbour spacing / Hm
    spacing_ok: np.ndarray  # (n,) shr <= SHR_max
    wall_ok: np.ndarray  # (n,) every wall this fixture faces is 0.25 S .. 0.5 S + t away
    gap_ok: np.ndarray  # (n,) every neighbour along a row or column is <= SHR_max Hm + t away
    max_gap_m: float  # the largest such gap (0 with fewer than two fixtures)
    gap_limit_m: float  # SHR_max Hm + t

    @property
    def passing(self) -> np.ndarray:
        return np.asarray(self.spacing_ok & self.wall_ok)

    @property
    def fraction(self) -> float:
        return float(self.passing.mean()) if len(self.shr) else 0.0

    @property
    def max_shr(self) -> float:
        return float(self.shr.max()) if len(self.shr) else 0.0


_NEIGHBOURS = 16  # fixture_rules looks at each fixture's 16 nearest neighbours


def fixture_rules(room: PreparedRoom, lights_xy: np.ndarray, shr_max: float = DEFAULT_SHR_MAX) -> FixtureRules:
    """L4 per fixture: S/Hm to the nearest neighbour, and the wall offset along each axis.

    Along each axis direction the wall distance w is measured from the fixture centre to the first
    wall (columns are not walls). A fixture faces that wall when no other fixture lies in the 90°
    cone towards it closer than the wall. The spacing S on that axis is the distance to the nearest
    fixture in the opposite cone; then 0.25 S <= w <= 0.5 S + t must hold. With no fixture in the
    opposite cone (a single row or column) only w <= 0.5 SHR_max Hm + t is required.
    """
    tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
    n = len(tiles)
    t = room.tile
    hm = room.mounting_height_m
    wall_ok = np.ones(n, dtype=bool)
    gap_ok = np.ones(n, dtype=bool)
    gap_limit = gap_limit_m(room, shr_max)
    max_gap = 0.0
    dist, rel = _neighbours(room.light_centres(tiles))
    shr = dist[:, 0] / hm if n > 1 else np.zeros(n)  # as nearest_neighbour_shr, from the same query
    spacing_ok = shr <= shr_max + 1e-9
    if n == 0:
        return FixtureRules(shr, spacing_ok, wall_ok, gap_ok, max_gap, gap_limit)
    w, ahead, away = _cones(room, tiles, rel)  # (4, n) and (4, n, k): +x, -x, +y, -y
    faces = ~ahead.any(axis=2)  # no neighbour in the cone before the wall: the fixture faces that wall
    if dist.shape[1]:
        gap = _cone_gap(ahead, dist)
        seen = np.isfinite(gap)
        if seen.any():
            max_gap = float(gap[seen].max())
        gap_ok = np.asarray(~_too_long(gap, gap_limit).any(axis=0))
        s_away = np.where(away, dist[None], np.inf).min(axis=2)
    else:
        s_away = np.full(w.shape, np.inf)
    has_s = np.isfinite(s_away)
    lo, hi = _offset_window(s_away, t)
    lo = np.where(has_s, lo, 0.0)
    hi = np.where(has_s, hi, 0.5 * shr_max * hm + t)  # a single row or column: only w <= 0.5 SHR_max Hm + t
    ok = (w >= lo - 1e-9) & (w <= hi + 1e-9)
    wall_ok = np.asarray((~faces | ok).all(axis=0))
    return FixtureRules(shr, spacing_ok, wall_ok, gap_ok, max_gap, gap_limit)


def gaps_ok(room: PreparedRoom, lights_xy: np.ndarray, shr_max: float = DEFAULT_SHR_MAX) -> np.ndarray:
    """(n,) hard L4 alone: :func:`fixture_rules`' ``gap_ok`` without the spacing and wall-offset rules."""
    tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
    if len(tiles) < 2:
        return np.ones(len(tiles), dtype=bool)
    dist, rel = _neighbours(room.light_centres(tiles))
    return ~_gap_failures(room, tiles, dist, rel, gap_limit_m(room, shr_max))


def _neighbours(centres: np.ndarray, tree: cKDTree | None = None,
                of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distances (m, k) and offsets (m, k, 2) from the fixtures ``of`` (default: all) to their ``_NEIGHBOURS``
    nearest others among ``centres`` (``tree``: a KD-tree of ``centres``, built here when not given)."""
    n = len(centres)
    sel = np.arange(n) if of is None else np.asarray(of, dtype=np.int64)
    if n < 2:
        return np.zeros((len(sel), 0)), np.zeros((len(sel), 0, 2))
    dist, idx = (cKDTree(centres) if tree is None else tree).query(centres[sel], k=min(n, _NEIGHBOURS + 1))
    dist, idx = np.asarray(dist).reshape(len(sel), -1), np.asarray(idx).reshape(len(sel), -1)
    return dist[:, 1:], centres[idx[:, 1:]] - centres[sel][:, None, :]


def _gap_failures(room: PreparedRoom, tiles: np.ndarray, dist: np.ndarray, rel: np.ndarray,
                  limit: float) -> np.ndarray:
    """(n,) hard L4 fails: some neighbour ahead along a row or column, before the wall, is farther than ``limit``."""
    _w, ahead, _away = _cones(room, tiles, rel)
    return np.asarray(_too_long(_cone_gap(ahead, dist), limit).any(axis=0))


def _cone_gap(ahead: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(4, n) distance to the nearest neighbour ahead in each direction's cone (inf where there is none)."""
    return np.asarray(np.where(ahead, dist[None], np.inf).min(axis=2, initial=np.inf))


def _too_long(gap: np.ndarray, limit: float) -> np.ndarray:
    """A neighbour ahead, farther than the L4 gap limit."""
    return np.asarray(np.isfinite(gap) & (gap > limit + 1e-9))


def _offset_window(s: np.ndarray | float, t: float) -> tuple[np.ndarray | float, np.ndarray | float]:
    """L4b: the wall offsets allowed at spacing ``s``, 0.25 S .. 0.5 S + t (metres, or tiles with t = 1)."""
    return 0.25 * s, 0.5 * s + t


_AXES = np.array([0, 0, 1, 1])  # the four directions +x, -x, +y, -y: the axis of each
_SIGNS = np.array([1.0, -1.0, 1.0, -1.0])  # and its sign


def _cones(room: PreparedRoom, tiles: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the four directions +x, -x, +y, -y at once: each fixture's distance to the wall (m), (4, n), and which
    of its neighbours (``rel``: (n, k, 2) offsets) lie ahead in the 90° cone before that wall, and which in the
    opposite cone, (4, n, k)."""
    half_extra = (np.array(room.light_size, dtype=float) - 1.0) / 2.0  # centre beyond the anchor tile's centre
    w = (room.wall_runs[:, tiles[:, 1], tiles[:, 0]] - 0.5 - (_SIGNS * half_extra[_AXES])[:, None]) * room.tile
    by_axis = np.moveaxis(rel, 2, 0)  # (2, n, k)
    # direction d: axis a, sign s. cone: s*rel[a] > 0 and |rel[other]| <= s*rel[a]
    along = _SIGNS[:, None, None] * by_axis[_AXES]
    across = np.abs(by_axis[1 - _AXES])
    toward = (along > 1e-9) & (across <= along + 1e-9)
    away = (along < -1e-9) & (across <= -along + 1e-9)
    return w, toward & (along < w[:, :, None]), away  # ahead: neighbours along this row/column, before the wall


class GrowingGaps:
    """The hard L4 gap verdict of every fixture of a growing layout (:func:`gaps_ok`), kept up to date as
    fixtures are added: a fixture is re-checked only when a new one comes as near as its farthest neighbour
    considered, the only way its nearest neighbours (and so its gaps) can change."""

    def __init__(self, room: PreparedRoom, lights_xy: np.ndarray, shr_max: float = DEFAULT_SHR_MAX) -> None:
        self.room = room
        self.tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
        self.limit = gap_limit_m(room, shr_max)
        self.bad = np.zeros(len(self.tiles), dtype=bool)  # (n,) the fixture's gaps fail L4
        self._reach = np.full(len(self.tiles), np.inf)  # distance to each fixture's farthest neighbour considered
        self._check(np.arange(len(self.tiles)), self.room.light_centres(self.tiles))

    @property
    def failing(self) -> int:
        """How many fixtures have a gap longer than the L4 limit."""
        return int(self.bad.sum())

    def add(self, lights_xy: np.ndarray) -> None:
        """Add fixtures (anchor tiles) and re-check the ones they can affect."""
        new = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
        old = len(self.tiles)
        self.tiles = np.concatenate([self.tiles, new])
        self.bad = np.concatenate([self.bad, np.zeros(len(new), dtype=bool)])
        self._reach = np.concatenate([self._reach, np.full(len(new), np.inf)])
        centres = self.room.light_centres(self.tiles)
        stale = np.zeros(0, dtype=np.int64)
        if old and len(new):
            d = cKDTree(centres[old:]).query(centres[:old])[0]  # each old fixture's nearest new one
            stale = np.nonzero(d <= self._reach[:old] + 1e-9)[0]
        self._check(np.concatenate([stale, np.arange(old, len(self.tiles))]), centres)

    def _check(self, sel: np.ndarray, centres: np.ndarray) -> None:
        if len(self.tiles) < 2:
            self.bad[:] = False
            return
        if len(sel) == 0:
            return
        dist, rel = _neighbours(centres, cKDTree(centres), sel)
        self.bad[sel] = _gap_failures(self.room, self.tiles[sel], dist, rel, self.limit)
        self._reach[sel] = dist[:, -1] if len(self.tiles) > _NEIGHBOURS else np.inf


def gaps_hold_without(room: PreparedRoom, lights_xy: np.ndarray, drop: int,
                      shr_max: float = DEFAULT_SHR_MAX, tree: cKDTree | None = None,
                      gone: np.ndarray | None = None) -> bool:
    """Whether the hard L4 gaps still hold once fixture ``drop`` is removed, given that they hold now.

    Only a fixture within the gap limit of the removed one can lose the neighbour that kept its gap short,
    so only those are re-checked, against their nearest neighbours as :func:`fixture_rules` sees them (the
    same cones). ``tree``, a KD-tree of all of ``lights_xy``'s centres, serves every trial removal from one
    layout: the ``_NEIGHBOURS`` nearest once one fixture is gone are the nearest but the removed one of one
    more, so pruning a large layout costs O(1) per trial, not a tree per trial. ``gone`` (a mask over
    ``lights_xy``) marks fixtures already removed, so the same tree serves several removals in a row.
    """
    tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
    n = len(tiles)
    gone = np.zeros(n, dtype=bool) if gone is None else np.asarray(gone, dtype=bool)
    n_gone = int(gone.sum())
    if n - n_gone - 1 < 2:
        return True
    tree = cKDTree(room.light_centres(tiles)) if tree is None else tree
    centres = tree.data
    limit = gap_limit_m(room, shr_max)
    near = np.array(sorted(tree.query_ball_point(centres[drop], limit + 1e-9)), dtype=np.int64)
    affected = near[(near != drop) & ~gone[near]]
    if len(affected) == 0:
        return True
    # itself, the removed one, the ones already gone, then the rest
    dist, idx = tree.query(centres[affected], k=min(n, _NEIGHBOURS + 2 + n_gone))
    dist, idx = np.asarray(dist).reshape(len(affected), -1), np.asarray(idx).reshape(len(affected), -1)
    m = min(n - n_gone - 2, _NEIGHBOURS)  # as many as fixture_rules takes among the ones left
    keep = (idx != affected[:, None]) & (idx != drop) & ~gone[idx]
    keep &= np.cumsum(keep, axis=1) <= m
    dist = dist[keep].reshape(len(affected), m)
    rel = centres[idx[keep].reshape(len(affected), m)] - centres[affected][:, None, :]
    return not _gap_failures(room, tiles[affected], dist, rel, limit).any()


# ----- regular arrays (used by model A and by the L5 reference) -------------------------------

def array_shapes(room: PreparedRoom, shr_max: float | None = None) -> list[tuple[int, int]]:
    """All (nx, ny) regular-array shapes, sorted by count, then by how well Sx/Sy matches 1, then nx.

    With ``shr_max`` only shapes whose spacings Sx = Lx/nx and Sy = Ly/ny are within L4 (shr_max Hm + one
    tile, :func:`gap_limit_m`) are kept.
    """
    x0, y0, x1, y1 = room.geometry.bbox
    lx, ly = x1 - x0, y1 - y0
    t = room.tile
    sx, sy = room.light_size
    max_nx, max_ny = max(1, round(lx / (t * sx))), max(1, round(ly / (t * sy)))
    min_nx = min_ny = 1
    if shr_max is not None:
        s = gap_limit_m(room, shr_max)  # L4: SHR_max Hm, plus the one tile of snapping it allows
        min_nx = min(max_nx, math.ceil(lx / s - 1e-9))
        min_ny = min(max_ny, math.ceil(ly / s - 1e-9))
    nxs = np.arange(min_nx, max_nx + 1)
    nys = np.arange(min_ny, max_ny + 1)
    mx, my = np.meshgrid(nxs, nys, indexing="ij")
    gx, gy = mx.ravel(), my.ravel()
    aspect = np.abs(np.log((lx / gx) / (ly / gy)))
    order = np.lexsort((gx, np.round(aspect, 9), gx * gy))
    return list(zip(gx[order].tolist(), gy[order].tolist(), strict=True))


def axis_tiles(lo: int, span: int, count: int, size: int = 1, inward: bool = False) -> list[int]:
    """First tiles of ``count`` equally spaced luminaires ``size`` tiles long across ``span`` tiles from ``lo``,
    snapped symmetrically.

    The ideal centres sit at (i + 1/2)·span/count. A 1-tile luminaire's centre snaps to a tile centre; one
    that falls on a tile boundary goes to the tile on its wall's side. A 2-tile luminaire's centre snaps to
    the nearest tile boundary (ties towards its wall). The right half mirrors the left, so the row is
    symmetric whenever it can be: an odd count needs an odd span for 1-tile and an even span for 2-tile
    luminaires (the middle one centred on the room's centre line). When the outer lines' wall-side tie
    puts them outside the L4b wall-offset window (2 across 4 tiles: 0.5 tile from the wall, 3 apart), they
    take the inner tile instead (1.5 tiles from the wall, 1 apart) where that is inside it. ``inward`` asks
    for the inner tile whenever it is inside the window (the other of the two symmetric snappings, which
    :func:`array_variants` offers when the first one misses L3).
    """
    if size == 2:
        return _boundary_tiles(lo, span, count)
    out = _tile_snap(span, count, inward=False)
    if count >= 2 and (inward or not _offset_in_window(out)):
        inner = _tile_snap(span, count, inward=True)
        if _offset_in_window(inner):
            out = inner
    return [lo + k for k in out]


def _tile_snap(span: int, count: int, inward: bool) -> list[int]:
    """:func:`axis_tiles` from 0; ``inward``: the outer lines' boundary tie goes to the tile nearer the centre."""
    out = [0] * count
    for i in range((count + 1) // 2):
        if 2 * i + 1 == count:
            k = (span - 1) // 2  # the middle one: the centre tile (left of centre in an even span)
        else:
            ideal = (i + 0.5) * span / count
            k = math.floor(ideal + 1e-9)
            if abs(ideal - round(ideal)) < 1e-9:
                k = round(ideal) if inward and i == 0 else max(0, round(ideal) - 1)  # else the tile nearer the wall
        out[i] = k
        out[count - 1 - i] = span - 1 - k
    return out


def _offset_in_window(tiles: list[int]) -> bool:
    """L4b in tiles for the first line: its centre 0.25 S .. 0.5 S + 1 from the wall, S the gap to the next."""
    lo, hi = _offset_window(tiles[1] - tiles[0], 1.0)
    return bool(lo - 1e-9 <= tiles[0] + 0.5 <= hi + 1e-9)


def _boundary_tiles(lo: int, span: int, count: int) -> list[int]:
    """:func:`axis_tiles` for 2-tile luminaires: centres on tile boundaries 1 .. span - 1, mirrored."""
    out = [0] * count
    for i in range((count + 1) // 2):
        ideal = (i + 0.5) * span / count
        b = min(max(math.floor(ideal + 0.5 - 1e-9), 1), max(1, span - 1))
        out[i] = lo + b - 1
        out[count - 1 - i] = lo + span - b - 1
    return out


def axis_segments(room: PreparedRoom, axis: int) -> list[tuple[int, int]]:
    """(first tile, tiles) of each wing band along ``axis`` (0: x, 1: y): the room's tile extent cut at every
    re-entrant corner, so an L, U or T room's wings each get their own band (a rectangle has one)."""
    x0, x1, y0, y1 = room.tile_bbox
    lo, hi = (x0, x1 + 1) if axis == 0 else (y0, y1 + 1)
    corners = room.geometry.reflex_corners
    cuts = sorted({round(c / room.tile) for c in corners[:, axis].tolist()} if len(corners) else set())
    edges = [lo, *(c for c in cuts if lo < c < hi), hi]
    return [(a, b - a) for a, b in itertools.pairwise(edges)]


def _segment_counts(segments: list[tuple[int, int]], count: int) -> list[int]:
    """Lines per band for ``count`` lines across the whole extent: the same spacing in every band."""
    if len(segments) == 1:
        return [count]
    spacing = sum(span for _, span in segments) / count
    return [max(0, round(span / spacing)) for _, span in segments]


def axis_lines(room: PreparedRoom, axis: int, count: int, inward: bool = False) -> list[int]:
    """Tiles of the array lines along ``axis`` for ``count`` lines across the room's extent: each wing band
    gets its share at the common spacing, snapped symmetrically within the band (:func:`axis_tiles`, with its
    ``inward`` choice), so the wings' arrays share their lines and sit S/2 from the walls between the wings."""
    segments = axis_segments(room, axis)
    out: list[int] = []
    for (lo, span), n in zip(segments, _segment_counts(segments, count), strict=True):
        out.extend(axis_tiles(lo, span, n, room.light_size[axis], inward) if n else [])
    return out


def array_variants(room: PreparedRoom, nx: int, ny: int) -> list[tuple[bool, bool]]:
    """The (inward x, inward y) snappings of an nx x ny array that give different lines, the default first.

    Where an outer line's ideal centre falls on a tile boundary, both neighbouring tiles are symmetric
    snappings; the one nearer the centre can pass L3 where the wall-side one does not (a 2-across array in
    8 tiles: lines 2 and 5 rather than 1 and 6).
    """
    lines = {(axis, inward): axis_lines(room, axis, n, inward)
             for axis, n in ((0, nx), (1, ny)) for inward in (False, True)}
    xs = [False] + ([True] if lines[(0, True)] != lines[(0, False)] else [])
    ys = [False] + ([True] if lines[(1, True)] != lines[(1, False)] else [])
    return [(ix, iy) for ix in xs for iy in ys]


def symmetric_shape(room: PreparedRoom, nx: int, ny: int) -> bool:
    """Whether an nx x ny array can be symmetric here: an odd count in a band needs an odd number of tiles
    across it for 1-tile luminaires, an even number for 2-tile ones (in every wing band of an L, U or T room)."""
    return axis_symmetric(room, 0, nx) and axis_symmetric(room, 1, ny)


def axis_symmetric(room: PreparedRoom, axis: int, count: int) -> bool:
    """:func:`symmetric_shape` along one axis: ``count`` lines across it can mirror in every wing band."""
    segments = axis_segments(room, axis)
    size = room.light_size[axis]
    return all(n % 2 == 0 or span % 2 == size % 2
               for (_, span), n in zip(segments, _segment_counts(segments, count), strict=True))


def regular_array(room: PreparedRoom, nx: int, ny: int, free: np.ndarray,
                  occupied: np.ndarray | None = None, inward: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """(n, 2) tiles of an nx x ny array on the room's bounding box: wall offset S/2, symmetric snapping.

    Rows and columns come from :func:`axis_lines` (one band per wing of an L, U or T room; the whole
    extent in a rectangle; ``inward`` per axis, see :func:`array_variants`). A target outside the room is
    dropped. A line with a blocked target first
    moves one tile, whole, where that clears it (:func:`_shift_blocked_lines`), so the array stays aligned.
    A target still on a tile that is not ``free`` moves to the nearest free, unused tile that keeps its row
    or its column (first towards the room's centre line, so symmetric obstacles keep the array
    symmetric), else to the nearest free tile. A target on an ``occupied`` tile (a pre-placed light)
    is already served and adds nothing.
    """
    free = np.array(free, dtype=bool)
    occ = np.zeros_like(free) if occupied is None else np.asarray(occupied, dtype=bool)
    x0, x1, y0, y1 = room.tile_bbox
    sx, sy = room.light_size
    start_ok = room.anchor_mask(free)  # first tiles whose whole footprint is free
    in_room = room.light_in_room
    cols, rows = _shift_blocked_lines(room, axis_lines(room, 0, nx, inward[0]), axis_lines(room, 1, ny, inward[1]),
                                      start_ok, occ, in_room)
    ty, tx = (g.ravel() for g in np.meshgrid(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                                             indexing="ij"))  # row by row, as the lines run
    keep = in_room[ty, tx] & ~occ[ty, tx]
    tx, ty = tx[keep], ty[keep]
    targets = list(zip(tx.tolist(), ty.tolist(), strict=True))
    used = np.zeros_like(free)  # tiles taken, footprints included
    placed: dict[int, tuple[int, int]] = {}
    blocked: list[int] = []
    if sx == sy == 1 and len(set(cols)) == len(cols) and len(set(rows)) == len(rows):
        ok = start_ok[ty, tx]  # distinct one-tile targets never overlap each other: one look-up for all
        used[ty[ok], tx[ok]] = True
        placed = {k: targets[k] for k in np.flatnonzero(ok).tolist()}
        blocked = np.flatnonzero(~ok).tolist()
    else:
        for k, (x, y) in enumerate(targets):
            if start_ok[y, x] and not used[y : y + sy, x : x + sx].any():
                used[y : y + sy, x : x + sx] = True
                placed[k] = (x, y)
            else:
                blocked.append(k)
    centre = ((x0 + x1 - (sx - 1)) / 2, (y0 + y1 - (sy - 1)) / 2)  # the centre lines, in first-tile terms
    for k in blocked:
        x, y = targets[k]
        open_ = room.anchor_mask(free & ~used)
        spot = _move_in_line(x, y, open_, *centre)
        if spot is None:
            fy, fx = np.nonzero(open_)
            if len(fx) == 0:
                continue
            d2 = (fx - x) ** 2 + (fy - y) ** 2
            j = int(np.argmin(d2))  # argmin keeps the first of equal distances (row-major order)
            spot = (int(fx[j]), int(fy[j]))
        used[spot[1] : spot[1] + sy, spot[0] : spot[0] + sx] = True
        placed[k] = spot
    return np.array([placed[k] for k in sorted(placed)], dtype=np.int64).reshape(-1, 2)


def _shift_blocked_lines(room: PreparedRoom, cols: list[int], rows: list[int], free: np.ndarray,
                         occ: np.ndarray, in_room: np.ndarray) -> tuple[list[int], list[int]]:
    """Move each row or column holding a blocked target by one tile, whole, when every target on the moved
    line is free and none is lost (towards the room's centre first, so symmetric obstacles keep the array
    symmetric; the shorter of the two lines through a blocked target first). A one-tile move that leaves no
    gap to the next line shorter than two tiles, or more than a tile shorter than it was, keeps the spacing
    even within the L6 tolerance. ``free`` and ``in_room`` are in first-tile terms (whole footprints)."""
    lines = {0: list(cols), 1: list(rows)}
    h, w = free.shape
    most = math.floor(gap_limit_m(room) / room.tile + 1e-9)  # the L4 gap limit, in tiles

    def targets(line: int, axis: int) -> list[tuple[int, int]]:  # (x, y) of the targets on one line
        pts = [(line, y) for y in lines[1]] if axis == 0 else [(x, line) for x in lines[0]]
        return [(x, y) for x, y in pts if 0 <= x < w and 0 <= y < h and in_room[y, x] and not occ[y, x]]

    def shift(line: int, axis: int) -> bool:
        x0, x1, y0, y1 = room.tile_bbox
        centre, size = ((x0 + x1) / 2, w) if axis == 0 else ((y0 + y1) / 2, h)
        step = 1 if line < centre else -1
        n = len(targets(line, axis))
        others = [v for v in lines[axis] if v != line]
        lo = max((v for v in others if v < line), default=None)
        hi = min((v for v in others if v > line), default=None)

        least = room.light_size[axis] + 1  # a free tile between two luminaires' footprints

        def spaced(new: int) -> bool:  # no pair of adjacent lines, no gap more than a tile shorter, none over L4
            return all(max(least, abs(line - v) - 1) <= abs(new - v) <= max(most, abs(line - v))
                       for v in (lo, hi) if v is not None)

        for new in (line + step, line - step):
            if 0 <= new < size and new not in lines[axis] and spaced(new) and len(targets(new, axis)) == n and all(
                    free[y, x] for x, y in targets(new, axis)):
                lines[axis][lines[axis].index(line)] = new
                return True
        return False

    tried: set[tuple[int, int]] = set()
    while True:
        ys, xs = (g.ravel() for g in np.meshgrid(np.asarray(lines[1], dtype=np.int64),
                                                 np.asarray(lines[0], dtype=np.int64), indexing="ij"))  # row-major
        at = np.flatnonzero(in_room[ys, xs] & ~occ[ys, xs] & ~free[ys, xs])
        hit = next(((int(xs[i]), int(ys[i])) for i in at if (int(xs[i]), int(ys[i])) not in tried), None)
        if hit is None:
            break
        tried.add(hit)
        x, y = hit
        for _n, axis, line in sorted(((len(targets(x, 0)), 0, x), (len(targets(y, 1)), 1, y))):
            if shift(line, axis):
                break
    return sorted(lines[0]), sorted(lines[1])


def _move_in_line(x: int, y: int, open_: np.ndarray, cx: float, cy: float) -> tuple[int, int] | None:
    """The nearest open tile in row ``y`` or column ``x``: towards the centre line first, then away."""
    h, w = open_.shape
    sx = 1 if x < cx else -1
    sy = 1 if y < cy else -1
    column_first = x == cx  # on the vertical centre line: a move along the row would break the symmetry
    for d in range(1, max(w, h)):
        row = [(x + sx * d, y), (x - sx * d, y)]
        col = [(x, y + sy * d), (x, y - sy * d)]
        for cx_, cy_ in (col + row) if column_first else (row + col):
            if 0 <= cx_ < w and 0 <= cy_ < h and open_[cy_, cx_]:
                return cx_, cy_
    return None


# ----- L6: regularity -------------------------------------------------------------------------

DEFAULT_CROSSING_TOLERANCE_TILES = 1  # a fixture moved one tile off a row x column crossing still serves it
DEFAULT_EVEN_TILES = 1.0  # gaps may deviate this much from their line's mean and still count as even
_EVENNESS_FADE_TILES = 3.0  # beyond it, evenness falls linearly to 0 over this many more tiles


def _gap_deviation(in_room: np.ndarray, tiles: np.ndarray, axis: int) -> float:
    """Largest |gap - mean gap| (tiles) over the runs of at least three fixtures along each row (``axis`` 0) or
    column (1). A run ends where the stretch to the next fixture leaves the room (a U's notch, an L's cut):
    the wings either side are separate arrays, not one line with a wide gap."""
    along, across = tiles[:, axis], tiles[:, 1 - axis]
    order = np.lexsort((along, across))  # line by line, in order along each line
    a, k = along[order], across[order]
    strips = in_room if axis == 0 else in_room.T  # strips[k, :]: line k across the room
    outside = np.cumsum(~strips, axis=1)  # tiles outside the room up to and including each position
    # pair i (fixture i -> i + 1) continues a run: same line, and every tile from one to the next in the room
    joined = (k[1:] == k[:-1]) & (outside[k[1:], a[1:]] - outside[k[:-1], a[:-1]] + ~strips[k[:-1], a[:-1]] == 0)
    if not joined.any():
        return 0.0
    run = np.cumsum(~joined)[joined]  # the pairs of one run share an id, in order
    gaps = (a[1:] - a[:-1])[joined].astype(float)
    _, first, counts = np.unique(run, return_index=True, return_counts=True)
    means = np.repeat(np.add.reduceat(gaps, first) / counts, counts)
    runs_of_three = np.repeat(counts >= 2, counts)  # three fixtures make two gaps
    return float(np.abs(gaps - means)[runs_of_three].max()) if runs_of_three.any() else 0.0


@dataclass(frozen=True)
class Regularity:
    """L6: how much a layout looks like a designer's array (rows, columns, symmetry, even gaps, offsets)."""

    fixtures: int
    rows: int
    columns: int
    complete: bool  # every row x column crossing inside the room holds a fixture (within one tile)
    symmetry_x: float  # fraction of fixtures mirrored about the vertical centre line of their wing band (by a
    # fixture, or by a tile outside the room; a rectangle has one band, an L's wings are not asked to mirror
    # each other)
    symmetry_y: float  # the same about the horizontal centre line
    aligned: float  # fraction of fixtures that share a row and a column with others
    max_gap_deviation_tiles: float  # largest deviation of a gap from its row's or column's mean
    wall_offset_ok: float  # fraction of fixtures inside the L4b wall-offset window

    @property
    def evenness(self) -> float:
        over = max(0.0, self.max_gap_deviation_tiles - DEFAULT_EVEN_TILES)
        return max(0.0, 1.0 - over / _EVENNESS_FADE_TILES)

    @property
    def score(self) -> float:
        """R in [0, 1]: the mean of symmetry (x, y), alignment, evenness and wall offsets (0 without fixtures)."""
        if self.fixtures == 0:
            return 0.0
        return (self.symmetry_x + self.symmetry_y + self.aligned + self.evenness + self.wall_offset_ok) / 5.0

    @property
    def regular(self) -> bool:
        """A full, symmetric, evenly spaced array with every wall offset in its window."""
        return (self.complete and self.symmetry_x == 1.0 and self.symmetry_y == 1.0 and self.aligned == 1.0
                and self.max_gap_deviation_tiles <= DEFAULT_EVEN_TILES + 1e-9 and self.wall_offset_ok == 1.0)

    def as_dict(self) -> dict[str, object]:
        return {"fixtures": self.fixtures, "rows": self.rows, "columns": self.columns, "complete": self.complete,
                "symmetry_x": round(self.symmetry_x, 4), "symmetry_y": round(self.symmetry_y, 4),
                "aligned_fraction": round(self.aligned, 4),
                "max_gap_deviation_tiles": round(self.max_gap_deviation_tiles, 3),
                "wall_offset_ok_fraction": round(self.wall_offset_ok, 4), "score": round(self.score, 4),
                "regular": self.regular}


def _occupancy(room: PreparedRoom, tiles: np.ndarray) -> np.ndarray:
    """(h, w) True on the (first) tiles of the fixtures."""
    grid = np.zeros((room.height, room.width), dtype=bool)
    grid[tiles[:, 1], tiles[:, 0]] = True
    return grid


def _band_mirror(room: PreparedRoom, axis: int) -> list[int]:
    """First tile -> the first tile of its mirror image about the centre of its wing band along ``axis``
    (:func:`axis_segments`), for luminaires ``room.light_size[axis]`` tiles long (kept inside the room)."""
    size = room.width if axis == 0 else room.height
    length = room.light_size[axis]
    out = list(range(size))
    for lo, span in axis_segments(room, axis):
        for i in range(lo, lo + span):
            out[i] = min(max(2 * lo + span - length - i, 0), size - 1)
    return out


def regularity(room: PreparedRoom, lights_xy: np.ndarray, wall_ok: np.ndarray | None = None) -> Regularity:
    """L6 of the fixtures on tiles ``lights_xy``; ``wall_ok`` is L4b per fixture (default: computed)."""
    tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
    n = len(tiles)
    if n == 0:
        return Regularity(0, 0, 0, False, 0.0, 0.0, 0.0, 0.0, 0.0)
    if wall_ok is None:
        wall_ok = fixture_rules(room, tiles).wall_ok
    xs, ys = tiles[:, 0], tiles[:, 1]
    row_at, row = np.unique(ys, return_inverse=True)  # fixtures on the same tile row share a line; k-th row's tile
    col_at, col = np.unique(xs, return_inverse=True)
    row, col = row.reshape(-1), col.reshape(-1)
    n_rows, n_cols = int(row.max()) + 1, int(col.max()) + 1
    row_size = np.bincount(row)[row]
    col_size = np.bincount(col)[col]
    aligned = ((row_size >= 2) | (n_cols == 1)) & ((col_size >= 2) | (n_rows == 1))
    occupancy = _occupancy(room, tiles)
    in_room = room.light_in_room
    mirror_x, mirror_y = np.array(_band_mirror(room, 0)), np.array(_band_mirror(room, 1))
    matched = occupancy | ~in_room  # the mirror holds a fixture, or the room has no ceiling there
    ux, uy = np.nonzero(occupancy.T)  # each occupied tile once
    # exact mirrors only: an odd count across an even span (its middle line half a tile off) is not symmetric,
    # which is what makes the parity rule prefer 2 or 4 across (a one-tile tolerance let a 5 x 3 with rows
    # 1.8/1.8/1.2/1.8 m beat the classroom's even 4 x 4)
    sym_x = matched[uy, mirror_x[ux]].mean()
    sym_y = matched[mirror_y[uy], ux].mean()
    # every row x column crossing inside the room has a fixture within the tolerance (a dilated occupancy grid)
    near = ndimage.maximum_filter(occupancy, size=2 * DEFAULT_CROSSING_TOLERANCE_TILES + 1, mode="constant")
    ry, cx = np.meshgrid(row_at, col_at, indexing="ij")
    inside = in_room[ry, cx]
    complete = bool(near[ry, cx][inside].all())
    deviation = max(_gap_deviation(room.in_room, tiles, 0), _gap_deviation(room.in_room, tiles, 1))
    return Regularity(n, n_rows, n_cols, complete, float(sym_x), float(sym_y), float(aligned.mean()), deviation,
                      float(np.mean(wall_ok)))
