"""Lighting rules: EN 12464-1 calculation grid (§2.2, L1/L2), lumen method (§2.3), spacing rules (§2.4), LPD."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .cache import RoomCache
from .config import DEFAULT_MAINTENANCE_FACTOR, DEFAULT_SHR_MAX, DEFAULT_WALL_BAND_M
from .geometry import geometry_of
from .grid import STATE_CODES, RoomGrid, TileState, room_key

__all__ = [
    "DEFAULT_MIN_EVAL_WIDTH_M",
    "PUBLISHED_UF_K",
    "PUBLISHED_UF_VALUES",
    "CalculationGrid",
    "FixtureRules",
    "array_shapes",
    "calculation_grid",
    "calculation_points",
    "evaluation_band_m",
    "fixture_rules",
    "grid_spacing_m",
    "lpd_w_m2",
    "lumen_method_count",
    "nearest_neighbour_shr",
    "regular_array",
    "room_index",
    "shr_minimum_count",
    "utilisation_factor",
]

RULES_CACHE = RoomCache(32)  # calculation grids and wall runs: read-only arrays, shared by models and checker
DEFAULT_MIN_EVAL_WIDTH_M = 0.6  # L1: the band shrinks so that at least this much width stays
DEFAULT_MAX_GRID_SPACING_M = 10.0  # §2.2: p <= 10 m
DEFAULT_UF_FLOOR = 0.30  # §2.3: extrapolation below K = 0.75 is floored here
# §2.3 published UF row (fluorescent prismatic, reflectances 0.7/0.5/0.2): the conservative reference.
PUBLISHED_UF_K = (0.75, 1.00, 1.25, 1.50, 2.00, 2.50, 3.00, 4.00, 5.00)
PUBLISHED_UF_VALUES = (0.44, 0.50, 0.56, 0.60, 0.65, 0.69, 0.72, 0.75, 0.77)


# ----- §2.2 / L1 / L2: where illuminance is evaluated --------------------------------------

def evaluation_band_m(grid: RoomGrid) -> float:
    """L1 wall band b: 0.5 m, shrunk to (narrow - 0.6)/2 when the narrow side minus 2b is under 0.6 m."""
    narrow = geometry_of(grid).narrow_dimension_m
    b = DEFAULT_WALL_BAND_M
    if narrow - 2 * b < DEFAULT_MIN_EVAL_WIDTH_M:
        b = max(0.0, (narrow - DEFAULT_MIN_EVAL_WIDTH_M) / 2)
    return b


def grid_spacing_m(d: float) -> float:
    """§2.2 maximum grid spacing p = 0.2 x 5^log10(d) (capped at 10 m) for the governing dimension d."""
    return float(min(DEFAULT_MAX_GRID_SPACING_M, 0.2 * 5.0 ** math.log10(d)))


@dataclass(frozen=True)
class CalculationGrid:
    """The L2 calculation grid of a room: points kept inside the evaluation area, and how it was built."""

    points: np.ndarray  # (m, 2) metres
    band_m: float
    bbox: tuple[float, float, float, float]  # evaluation bounding box
    d_m: float
    p_m: float
    nx: int
    ny: int


def calculation_grid(grid: RoomGrid) -> CalculationGrid:
    """Build (and cache per room) the §2.2 grid on the evaluation bounding box (L1 + L2).

    The evaluation area is the ceiling area (columns excluded) minus the wall band b; its bounding
    box is the room's bounding box shrunk by b. d is the longer side when long/short < 2, else the
    shorter side; n = ceil(side / p) cells per axis with points at the cell centroids.
    """
    key = (room_key(grid), "calc_grid")
    cached = RULES_CACHE.get(key, CalculationGrid)
    if cached is not None:
        return cached
    geo = geometry_of(grid)
    b = evaluation_band_m(grid)
    x0, y0, x1, y1 = geo.bbox
    ex0, ey0, ex1, ey1 = x0 + b, y0 + b, x1 - b, y1 - b
    lx, ly = max(ex1 - ex0, 1e-9), max(ey1 - ey0, 1e-9)
    long_, short = max(lx, ly), min(lx, ly)
    d = long_ if long_ / short < 2.0 else short
    p = grid_spacing_m(d)
    nx, ny = max(1, math.ceil(lx / p - 1e-9)), max(1, math.ceil(ly / p - 1e-9))
    xs = ex0 + (np.arange(nx) + 0.5) * lx / nx
    ys = ey0 + (np.arange(ny) + 0.5) * ly / ny
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    grid_pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    on_ceiling = geo.on_ceiling(grid_pts)
    pts = grid_pts[on_ceiling & (geo.distance_to_walls(grid_pts) >= b - 1e-9)] if b > 0 else grid_pts[on_ceiling]
    if len(pts) == 0:
        # [A] The band is sized on the bounding box, so a narrow ring or U can lose every point to it, and a
        # coarse grid can fall entirely on holes. Then the whole ceiling is the task area (§2.2): first the
        # grid points without the band, else the centre of every ceiling tile.
        b = 0.0
        pts = grid_pts[on_ceiling]
        if len(pts) == 0:
            pts = grid.tile_centres(np.argwhere(geo.ceiling)[:, ::-1])
    pts = np.ascontiguousarray(pts)
    pts.setflags(write=False)
    cg = CalculationGrid(pts, b, (ex0, ey0, ex1, ey1), d, p, nx, ny)
    RULES_CACHE.put(key, cg)
    return cg


def calculation_points(grid: RoomGrid) -> np.ndarray:
    """(m, 2) metre calculation points of ``grid`` (§2.2, L1, L2)."""
    return calculation_grid(grid).points


# ----- §2.3: lumen method ------------------------------------------------------------------

def room_index(grid: RoomGrid) -> float:
    """K = 2A / (Hm P) (equals L W / (Hm (L + W)) for a rectangle)."""
    geo = geometry_of(grid)
    return 2.0 * geo.area_m2 / (grid.mounting_height_m * geo.perimeter_m)


def utilisation_factor(k: float) -> float:
    """Published UF at room index ``k``: linear interpolation, linear extrapolation below 0.75 floored at 0.30."""
    ks, ufs = PUBLISHED_UF_K, PUBLISHED_UF_VALUES
    if k < ks[0]:
        slope = (ufs[1] - ufs[0]) / (ks[1] - ks[0])
        return max(DEFAULT_UF_FLOOR, ufs[0] + slope * (k - ks[0]))
    return float(np.interp(k, ks, ufs))


def lumen_method_count(grid: RoomGrid) -> int:
    """N = ceil(E A / (Φ UF MF)) with the published (conservative) UF row and MF = 0.8."""
    geo = geometry_of(grid)
    uf = utilisation_factor(room_index(grid))
    n = grid.room_spec.target_lux * geo.area_m2 / (grid.luminaire.flux_lm * uf * DEFAULT_MAINTENANCE_FACTOR)
    return max(1, math.ceil(n - 1e-9))


# ----- §2.4: spacing -------------------------------------------------------------------------

def shr_minimum_count(grid: RoomGrid, shr_max: float = DEFAULT_SHR_MAX) -> int:
    """N_SHR = ceil(L / (SHR Hm)) x ceil(W / (SHR Hm)) on the room's bounding box."""
    x0, y0, x1, y1 = geometry_of(grid).bbox
    s = shr_max * grid.mounting_height_m
    return math.ceil((x1 - x0) / s - 1e-9) * math.ceil((y1 - y0) / s - 1e-9)


def lpd_w_m2(grid: RoomGrid, count: int | None = None) -> float:
    """Lighting power density in W/m² of ``count`` luminaires (default: the lights on the grid)."""
    from .grid import Component

    n = grid.count(Component.LIGHT) if count is None else count
    return n * grid.luminaire.power_w / geometry_of(grid).area_m2


def nearest_neighbour_shr(grid: RoomGrid, lights_xy: np.ndarray) -> np.ndarray:
    """(n,) nearest-neighbour spacing / Hm of each luminaire (0 when there is only one)."""
    xy = grid.tile_centres(np.asarray(lights_xy).reshape(-1, 2))
    if len(xy) < 2:
        return np.zeros(len(xy))
    dist, _ = cKDTree(xy).query(xy, k=2)
    return np.asarray(dist[:, 1] / grid.mounting_height_m)


def _runs_to_wall(grid: RoomGrid) -> np.ndarray:
    """(4, h, w) in-room tiles from each tile to the wall in +x, -x, +y, -y (tile itself included)."""
    key = (room_key(grid), "runs_to_wall")
    cached = RULES_CACHE.get(key, np.ndarray)
    if cached is not None:
        return cached
    inside = np.asarray(grid.arrays.state != STATE_CODES[TileState.OUTSIDE])
    h, w = inside.shape
    out = np.zeros((4, h, w), dtype=np.int32)
    acc = np.zeros(h, dtype=np.int32)
    for x in range(w - 1, -1, -1):
        acc = np.where(inside[:, x], acc + 1, 0)
        out[0, :, x] = acc
    acc = np.zeros(h, dtype=np.int32)
    for x in range(w):
        acc = np.where(inside[:, x], acc + 1, 0)
        out[1, :, x] = acc
    acc = np.zeros(w, dtype=np.int32)
    for y in range(h - 1, -1, -1):
        acc = np.where(inside[y], acc + 1, 0)
        out[2, y] = acc
    acc = np.zeros(w, dtype=np.int32)
    for y in range(h):
        acc = np.where(inside[y], acc + 1, 0)
        out[3, y] = acc
    out.setflags(write=False)  # cached and shared: read-only
    RULES_CACHE.put(key, out)
    return out


@dataclass(frozen=True)
class FixtureRules:
    """Per-fixture L4 results: nearest-neighbour S/Hm and the wall-offset rule."""

    shr: np.ndarray  # (n,) nearest-neighbour spacing / Hm
    spacing_ok: np.ndarray  # (n,) shr <= SHR_max
    wall_ok: np.ndarray  # (n,) every wall this fixture faces is 0.25 S .. 0.5 S + t away

    @property
    def passing(self) -> np.ndarray:
        return np.asarray(self.spacing_ok & self.wall_ok)

    @property
    def fraction(self) -> float:
        return float(self.passing.mean()) if len(self.shr) else 0.0

    @property
    def max_shr(self) -> float:
        return float(self.shr.max()) if len(self.shr) else 0.0


def fixture_rules(grid: RoomGrid, lights_xy: np.ndarray, shr_max: float = DEFAULT_SHR_MAX) -> FixtureRules:
    """L4 per fixture: S/Hm to the nearest neighbour, and the wall offset along each axis.

    Along each axis direction the wall distance w is measured from the fixture centre to the first
    wall (columns are not walls). A fixture faces that wall when no other fixture lies in the 90°
    cone towards it closer than the wall. The spacing S on that axis is the distance to the nearest
    fixture in the opposite cone; then 0.25 S <= w <= 0.5 S + t must hold. With no fixture in the
    opposite cone (a single row or column) only w <= 0.5 SHR_max Hm + t is required.
    """
    tiles = np.asarray(lights_xy, dtype=np.int64).reshape(-1, 2)
    n = len(tiles)
    t = grid.tile_size_m
    hm = grid.mounting_height_m
    shr = nearest_neighbour_shr(grid, tiles)
    spacing_ok = shr <= shr_max + 1e-9
    wall_ok = np.ones(n, dtype=bool)
    if n == 0:
        return FixtureRules(shr, spacing_ok, wall_ok)
    runs = _runs_to_wall(grid)
    centres = grid.tile_centres(tiles)
    k = min(n, 17)
    if n > 1:
        dist, idx = cKDTree(centres).query(centres, k=k)
        dist, idx = dist[:, 1:], idx[:, 1:]
        rel = centres[idx] - centres[:, None, :]  # (n, k-1, 2)
    else:
        dist = np.zeros((1, 0))
        rel = np.zeros((1, 0, 2))
    # direction d: axis a, sign s. cone: s*rel[a] > 0 and |rel[other]| <= s*rel[a]
    for d_i, (axis, sign) in enumerate(((0, 1), (0, -1), (1, 1), (1, -1))):
        other = 1 - axis
        w = (runs[d_i, tiles[:, 1], tiles[:, 0]] - 0.5) * t
        along = sign * rel[:, :, axis]
        toward = (along > 1e-9) & (np.abs(rel[:, :, other]) <= along + 1e-9)
        away = (along < -1e-9) & (np.abs(rel[:, :, other]) <= -along + 1e-9)
        nearer_than_wall = (toward & (along < w[:, None])).any(axis=1)
        faces = ~nearer_than_wall
        s_away = np.where(away, dist, np.inf).min(axis=1) if dist.shape[1] else np.full(n, np.inf)
        has_s = np.isfinite(s_away)
        lo = np.where(has_s, 0.25 * s_away, 0.0)
        hi = np.where(has_s, 0.5 * s_away, 0.5 * shr_max * hm) + t
        ok = (w >= lo - 1e-9) & (w <= hi + 1e-9)
        wall_ok &= ~faces | ok
    return FixtureRules(shr, spacing_ok, wall_ok)


# ----- regular arrays (used by model A and by the L5 reference) -------------------------------

def array_shapes(grid: RoomGrid, shr_max: float | None = None) -> list[tuple[int, int]]:
    """All (nx, ny) regular-array shapes, sorted by count, then by how well Sx/Sy matches 1, then nx.

    With ``shr_max`` only shapes whose spacings Sx = Lx/nx and Sy = Ly/ny are <= shr_max Hm are kept.
    """
    x0, y0, x1, y1 = geometry_of(grid).bbox
    lx, ly = x1 - x0, y1 - y0
    t = grid.tile_size_m
    max_nx, max_ny = round(lx / t), round(ly / t)
    min_nx = min_ny = 1
    if shr_max is not None:
        s = shr_max * grid.mounting_height_m
        min_nx = min(max_nx, math.ceil(lx / s - 1e-9))
        min_ny = min(max_ny, math.ceil(ly / s - 1e-9))
    nxs = np.arange(min_nx, max_nx + 1)
    nys = np.arange(min_ny, max_ny + 1)
    mx, my = np.meshgrid(nxs, nys, indexing="ij")
    gx, gy = mx.ravel(), my.ravel()
    aspect = np.abs(np.log((lx / gx) / (ly / gy)))
    order = np.lexsort((gx, np.round(aspect, 9), gx * gy))
    return list(zip(gx[order].tolist(), gy[order].tolist(), strict=True))


def regular_array(grid: RoomGrid, nx: int, ny: int, free: np.ndarray | None = None,
                  occupied: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) tiles of an nx x ny array on the room's bounding box, wall offset S/2, snapped to tiles.

    A target outside the room is dropped (L-shapes). A target on a tile that is not ``free`` moves to
    the nearest free, unused tile (ties: lowest row, then column). A target on an ``occupied`` tile
    (a pre-placed light) is already served and adds nothing.
    """
    geo = geometry_of(grid)
    t = grid.tile_size_m
    free = np.asarray(grid.arrays.free_for_light if free is None else free).copy()
    occ = np.zeros_like(free) if occupied is None else np.asarray(occupied)
    x0, y0, x1, y1 = geo.bbox
    lx, ly = x1 - x0, y1 - y0
    xs = x0 + (np.arange(nx) + 0.5) * lx / nx
    ys = y0 + (np.arange(ny) + 0.5) * ly / ny
    fy, fx = np.nonzero(free)
    centres = (np.stack([fx, fy], axis=1) + 0.5) * t
    used = np.zeros(len(fx), dtype=bool)
    index = np.full(free.shape, -1, dtype=np.int64)
    index[fy, fx] = np.arange(len(fx))
    out: list[tuple[int, int]] = []
    for y in ys:
        for x in xs:
            tx = min(free.shape[1] - 1, math.floor(x / t + 1e-9))
            ty = min(free.shape[0] - 1, math.floor(y / t + 1e-9))
            if not geo.in_room[ty, tx]:
                continue
            if occ[ty, tx]:
                continue
            j = index[ty, tx]
            if j < 0 or used[j]:
                if not len(fx) or used.all():
                    continue
                d2 = (centres[:, 0] - x) ** 2 + (centres[:, 1] - y) ** 2
                d2[used] = np.inf
                j = int(np.argmin(d2))  # argmin keeps the first of equal distances (row-major order)
            used[j] = True
            out.append((int(fx[j]), int(fy[j])))
    return np.array(out, dtype=np.int64).reshape(-1, 2)
