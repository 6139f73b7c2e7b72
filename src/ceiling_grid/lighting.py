"""Lighting rules on a prepared room: lumen method (§2.3), spacing rules (§2.4, L4), LPD, regular arrays.

The calculation grid (§2.2, L1/L2) is part of the prepared room (:mod:`ceiling_grid.prepared`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .config import DEFAULT_MAINTENANCE_FACTOR, DEFAULT_SHR_MAX
from .prepared import PreparedRoom

__all__ = [
    "PUBLISHED_UF_K",
    "PUBLISHED_UF_VALUES",
    "FixtureRules",
    "array_shapes",
    "fixture_rules",
    "lpd_w_m2",
    "lumen_method_count",
    "nearest_neighbour_shr",
    "regular_array",
    "room_index",
    "shr_minimum_count",
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


def lumen_method_count(room: PreparedRoom) -> int:
    """N = ceil(E A / (Φ UF MF)) with the published (conservative) UF row and MF = 0.8."""
    uf = utilisation_factor(room_index(room))
    n = room.room_spec.target_lux * room.geometry.area_m2 / (room.flux_lm * uf * DEFAULT_MAINTENANCE_FACTOR)
    return max(1, math.ceil(n - 1e-9))


# ----- §2.4: spacing -------------------------------------------------------------------------

def shr_minimum_count(room: PreparedRoom, shr_max: float = DEFAULT_SHR_MAX) -> int:
    """N_SHR = ceil(L / (SHR Hm)) x ceil(W / (SHR Hm)) on the room's bounding box."""
    x0, y0, x1, y1 = room.geometry.bbox
    s = shr_max * room.mounting_height_m
    return math.ceil((x1 - x0) / s - 1e-9) * math.ceil((y1 - y0) / s - 1e-9)


def lpd_w_m2(room: PreparedRoom, count: int) -> float:
    """Lighting power density in W/m² of ``count`` luminaires."""
    return count * room.power_w / room.geometry.area_m2


def nearest_neighbour_shr(room: PreparedRoom, lights_xy: np.ndarray) -> np.ndarray:
    """(n,) nearest-neighbour spacing / Hm of each luminaire (0 when there is only one)."""
    xy = room.tile_centres(np.asarray(lights_xy).reshape(-1, 2))
    if len(xy) < 2:
        return np.zeros(len(xy))
    dist, _ = cKDTree(xy).query(xy, k=2)
    return np.asarray(dist[:, 1] / room.mounting_height_m)


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
    shr = nearest_neighbour_shr(room, tiles)
    spacing_ok = shr <= shr_max + 1e-9
    wall_ok = np.ones(n, dtype=bool)
    if n == 0:
        return FixtureRules(shr, spacing_ok, wall_ok)
    runs = room.wall_runs
    centres = room.tile_centres(tiles)
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

def array_shapes(room: PreparedRoom, shr_max: float | None = None) -> list[tuple[int, int]]:
    """All (nx, ny) regular-array shapes, sorted by count, then by how well Sx/Sy matches 1, then nx.

    With ``shr_max`` only shapes whose spacings Sx = Lx/nx and Sy = Ly/ny are <= shr_max Hm are kept.
    """
    x0, y0, x1, y1 = room.geometry.bbox
    lx, ly = x1 - x0, y1 - y0
    t = room.tile
    max_nx, max_ny = round(lx / t), round(ly / t)
    min_nx = min_ny = 1
    if shr_max is not None:
        s = shr_max * room.mounting_height_m
        min_nx = min(max_nx, math.ceil(lx / s - 1e-9))
        min_ny = min(max_ny, math.ceil(ly / s - 1e-9))
    nxs = np.arange(min_nx, max_nx + 1)
    nys = np.arange(min_ny, max_ny + 1)
    mx, my = np.meshgrid(nxs, nys, indexing="ij")
    gx, gy = mx.ravel(), my.ravel()
    aspect = np.abs(np.log((lx / gx) / (ly / gy)))
    order = np.lexsort((gx, np.round(aspect, 9), gx * gy))
    return list(zip(gx[order].tolist(), gy[order].tolist(), strict=True))


def regular_array(room: PreparedRoom, nx: int, ny: int, free: np.ndarray,
                  occupied: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) tiles of an nx x ny array on the room's bounding box, wall offset S/2, snapped to tiles.

    A target outside the room is dropped (L-shapes). A target on a tile that is not ``free`` moves to
    the nearest free, unused tile (ties: lowest row, then column). A target on an ``occupied`` tile
    (a pre-placed light) is already served and adds nothing.
    """
    geo = room.geometry
    t = room.tile
    free = np.array(free)
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
