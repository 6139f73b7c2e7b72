"""Point-by-point illuminance of §2.5: cos^m sub-sources per panel plus a split-flux indirect term, vectorised."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .cache import RoomCache
from .config import DEFAULT_LUMINAIRE_SUBDIVISION, DEFAULT_MAINTENANCE_FACTOR, DEFAULT_REFLECTANCES
from .geometry import geometry_of
from .grid import RoomGrid, footprint_tiles, room_key
from .photometric_files import Distribution, expand_full

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "DEFAULT_UF_SANITY_BAND",
    "IlluminanceStats",
    "RoomPhotometry",
    "contribution_matrix",
    "corner_flux_fraction",
    "direct_illuminance",
    "illuminance",
    "illuminance_stats",
    "rectangle_flux_fraction",
    "room_key",
    "room_photometry",
    "sub_sources",
    "work_plane_flux",
]

DEFAULT_CHUNK_ELEMENTS = 131_072  # sources x points per numpy block (1 MB of float64: stays in cache)
DEFAULT_THREADED_MATRIX_MIN = 1_000_000  # luminaires x points from which contribution_matrix's threads pay
DEFAULT_UF_SANITY_BAND = (0.45, 1.10)  # §2.5: equivalent UF outside this band means a broken model
_GAUSS_NODES = 32  # per angular piece, for the cos^m (m != 1) flux integral
_CACHE_SIZE = 16


ROOM_CACHE = RoomCache(_CACHE_SIZE)  # the fast path's own cache (models and photometry constants)


def _rectangles(mask: np.ndarray, tile: float) -> np.ndarray:
    """Cover the True tiles of ``mask`` by disjoint axis-aligned rectangles (x0, y0, x1, y1) in metres.

    Row runs are merged with identical runs of the next rows, so a rectangle room is one rectangle.
    """
    open_runs: dict[tuple[int, int], int] = {}  # (start, stop) -> first row
    rects: list[tuple[float, float, float, float]] = []
    h = mask.shape[0]
    for r in range(h + 1):
        runs: set[tuple[int, int]] = set()
        if r < h and mask[r].any():
            padded = np.concatenate([[False], mask[r], [False]]).astype(np.int8)
            d = np.diff(padded)
            runs = set(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))
        for run in [k for k in open_runs if k not in runs]:
            r0 = open_runs.pop(run)
            rects.append((run[0] * tile, r0 * tile, run[1] * tile, r * tile))
        for run in runs:
            open_runs.setdefault(run, r)
    return np.array(sorted(rects), dtype=float).reshape(-1, 4)


class CandelaLookup:
    """I(C, γ) of a photometric file: bilinear over the full 0..360 table (scipy), rotated in plan.

    The evaluator interpolates the same table with its own code (``evaluator.illuminance``).
    """

    def __init__(self, dist: Distribution, rotation_deg: float) -> None:
        from scipy.interpolate import RegularGridInterpolator

        c, gamma, table = expand_full(dist)
        self.rotation_deg = float(rotation_deg)
        self.lumens = dist.lumens()
        self._rgi = RegularGridInterpolator((c, gamma), table, method="linear", bounds_error=False, fill_value=0.0)

    def intensity(self, dx: np.ndarray, dy: np.ndarray, hm: float) -> np.ndarray:
        """Candela towards the offsets (dx, dy) (m) on a plane ``hm`` below the luminaire."""
        c = np.mod(np.degrees(np.arctan2(dy, dx)) - self.rotation_deg, 360.0)
        gamma = np.degrees(np.arctan2(np.hypot(dx, dy), hm))
        return np.asarray(self._rgi(np.stack([c, gamma], axis=-1)))

    def illuminance(self, dx: np.ndarray, dy: np.ndarray, hm: float) -> np.ndarray:
        """Direct horizontal illuminance (lx) at the offsets (dx, dy): E = I(C, γ) cos γ / d² = I hm / d³."""
        d2 = dx * dx + dy * dy + hm * hm
        return np.asarray(self.intensity(dx, dy, hm) * hm / (d2 * np.sqrt(d2)))


@dataclass(frozen=True)
class SummedFlux:
    """A file luminaire's flux-fraction summed-area table around its foot point (see ``_summed_flux_table``)."""

    table: np.ndarray
    cell_m: float
    nx: int
    ny: int


@dataclass(frozen=True)
class RoomPhotometry:
    """Per-room constants of the §2.5 model (computed once per room and cached)."""

    hm: float  # luminaire height above the reference plane
    tile: float
    flux_lm: float
    power_w: float
    cos_exponent: float
    k: int  # k x k sub-sources per panel
    mf: float
    floor_area_m2: float  # work-plane area (ceiling tiles; columns excluded)
    perimeter_m: float
    wall_height_m: float
    reflectances: tuple[float, float, float]  # ceiling, walls, floor
    rects: np.ndarray  # work-plane rectangles (x0, y0, x1, y1)
    candela: CandelaLookup | None = None  # a photometric file's table; None: the cos^m model
    summed_flux: SummedFlux | None = None
    size: tuple[int, int] = (1, 1)  # tiles one luminaire covers along x and y

    @property
    def sources_per_luminaire(self) -> int:
        """k x k sub-sources on each tile of the footprint."""
        return self.k * self.k * self.size[0] * self.size[1]

    @property
    def sphere_factor(self) -> float:
        """1 / (A_s (1 - rho_m)) of the split-flux formula."""
        rc, rw, rf = self.reflectances
        a = self.floor_area_m2
        wall = self.perimeter_m * self.wall_height_m
        a_s = 2.0 * a + wall
        rho_m = (a * rc + a * rf + wall * rw) / a_s
        return 1.0 / (a_s * (1.0 - rho_m))

    def indirect_per_luminaire(self, flux_on_work_plane: np.ndarray) -> np.ndarray:
        """E_ind (lx, before MF) each luminaire adds, given its direct flux on the work plane (linear in flux)."""
        _, rw, rf = self.reflectances
        phi1 = rf * flux_on_work_plane + rw * (self.flux_lm - flux_on_work_plane)
        return phi1 * self.sphere_factor


def room_photometry(grid: RoomGrid) -> RoomPhotometry:
    """The cached per-room constants of ``grid`` (work-plane rectangles, areas, luminaire data)."""
    key = (room_key(grid), "photometry")
    cached = ROOM_CACHE.get(key, RoomPhotometry)
    if cached is not None:
        return cached
    geo = geometry_of(grid)
    lum = grid.luminaire
    lookup = CandelaLookup(lum.distribution, lum.rotation_deg) if lum.distribution is not None else None
    ph = RoomPhotometry(
        hm=grid.mounting_height_m,
        tile=grid.tile_size_m,
        flux_lm=lum.flux_lm,
        power_w=lum.power_w,
        cos_exponent=lum.cos_exponent,
        k=DEFAULT_LUMINAIRE_SUBDIVISION,
        mf=DEFAULT_MAINTENANCE_FACTOR,
        floor_area_m2=geo.area_m2,
        perimeter_m=geo.perimeter_m,
        wall_height_m=grid.ceiling_height_m,
        reflectances=DEFAULT_REFLECTANCES,
        rects=_rectangles(geo.ceiling, grid.tile_size_m),
        candela=lookup,
        size=lum.size_tiles,
        summed_flux=(None if lookup is None else _summed_flux_table(
            lookup, grid.tile_size_m, DEFAULT_LUMINAIRE_SUBDIVISION, grid.mounting_height_m,
            grid.width * grid.tile_size_m, grid.height * grid.tile_size_m)),
    )
    ROOM_CACHE.put(key, ph)
    return ph


def sub_sources(lights_xy: np.ndarray, tile: float, k: int = DEFAULT_LUMINAIRE_SUBDIVISION,
                size: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(n*k*k*sx*sy, 2) point-source positions in metres: every tile of each luminaire's footprint (anchor
    first) split into k x k equal cells, one source per centre; a luminaire's sources are contiguous."""
    xy = np.asarray(footprint_tiles(lights_xy, size), dtype=float).reshape(-1, 2)
    offs = (np.arange(k) + 0.5) / k  # fractions of the tile
    ox, oy = np.meshgrid(offs, offs, indexing="xy")
    local = np.stack([ox.ravel(), oy.ravel()], axis=1)  # (k*k, 2)
    return ((xy[:, None, :] + local[None, :, :]) * tile).reshape(-1, 2)


def _direct_kernel(src: np.ndarray, pts: np.ndarray, hm: float, flux_each: float, m: float) -> np.ndarray:
    """(len(src), len(pts)) direct illuminance of cos^m point sources of ``flux_each`` lm at height ``hm``."""
    d2, dy = np.empty((2, len(src), len(pts)))
    (sx, sy), (px, py) = np.ascontiguousarray(src.T), np.ascontiguousarray(pts.T)  # strided columns are slow
    np.subtract(sx[:, None], px[None, :], out=d2)
    np.multiply(d2, d2, out=d2)
    np.subtract(sy[:, None], py[None, :], out=dy)
    np.multiply(dy, dy, out=dy)
    return _spread(d2, dy, hm, flux_each, m)


def _squared_offsets(coords: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(table, row): ``table[row[i]]`` is ``(coords[i] - targets) ** 2``, computed once per distinct coordinate
    with the same float operations as :func:`_direct_kernel` (so a row taken from it is the same bit for bit)."""
    unique, row = np.unique(coords, return_inverse=True)
    table = np.subtract(unique[:, None], targets[None, :])
    np.multiply(table, table, out=table)
    return table, row


def _spread(d2: np.ndarray, dy: np.ndarray, hm: float, flux_each: float, m: float) -> np.ndarray:
    """The cos^m direct illuminance from squared offsets along x (``d2``, overwritten with the result) and y."""
    # E = I0 cos^(m+3) / hm^2 with I0 = (m+1) flux / (2 pi) and cos = hm / d, so E = scale / d^(m+3)
    scale = (m + 1.0) * flux_each / (2.0 * math.pi) * hm ** (m + 1.0)
    d2 += dy
    d2 += hm * hm
    if m == 1.0:
        np.multiply(d2, d2, out=d2)
        np.divide(scale, d2, out=d2)
        return np.asarray(d2)
    np.power(d2, -(m + 3.0) / 2.0, out=d2)
    d2 *= scale
    return np.asarray(d2)


def _file_kernel(src: np.ndarray, pts: np.ndarray, hm: float, lookup: CandelaLookup, share: float) -> np.ndarray:
    """(len(src), len(pts)) direct illuminance of point sources each carrying ``share`` of the file's intensity."""
    dx = np.subtract.outer(pts[:, 0], src[:, 0]).T
    dy = np.subtract.outer(pts[:, 1], src[:, 1]).T
    return np.asarray(share * lookup.illuminance(dx, dy, hm))


def _kernel(ph: RoomPhotometry, src: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Direct illuminance of the sub-sources ``src`` (one k x k share of a luminaire each) at ``pts``."""
    per = ph.sources_per_luminaire
    if ph.candela is not None:
        return _file_kernel(src, pts, ph.hm, ph.candela, 1.0 / per)
    return _direct_kernel(src, pts, ph.hm, ph.flux_lm / per, ph.cos_exponent)


def direct_illuminance(
    sources: np.ndarray, points: np.ndarray, hm: float, flux_each: float, m: float = 1.0,
    chunk: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """Summed direct illuminance (lx, no MF) at ``points`` from cos^m point ``sources`` (both (n, 2) metres)."""
    src = np.asarray(sources, dtype=float).reshape(-1, 2)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    out = np.zeros(len(pts))
    if len(src) == 0 or len(pts) == 0:
        return out
    step = max(1, chunk // len(pts))
    for s in range(0, len(src), step):
        out += _direct_kernel(src[s : s + step], pts, hm, flux_each, m).sum(axis=0)
    return out


def _corner_lambertian(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed flux fraction of a Lambertian point source (unit height) onto the rectangle [0, x] x [0, y].

    The closed-form view factor from a parallel differential area to a rectangle whose corner lies
    below the source; odd in x and in y, so any rectangle follows by inclusion-exclusion.
    """
    ax = np.sqrt(1.0 + x * x)
    ay = np.sqrt(1.0 + y * y)
    return np.asarray((x / ax * np.arctan(y / ax) + y / ay * np.arctan(x / ay)) / (2.0 * math.pi))


_GL_T, _GL_W = np.polynomial.legendre.leggauss(_GAUSS_NODES)


def _corner_general(x: np.ndarray, y: np.ndarray, m: float) -> np.ndarray:
    """As :func:`_corner_lambertian` for a cos^m source, by Gauss-Legendre over the azimuth.

    In polar coordinates the radial integral is exact: a wedge dθ out to ground radius R receives
    (1 - cos^(m+1) γ_R) dθ / 2π. The azimuth integral is split where the ray meets the rectangle corner.
    """
    sx, sy = np.sign(x), np.sign(y)
    ax_, ay_ = np.abs(x), np.abs(y)
    theta_c = np.arctan2(ay_, ax_)[..., None]
    # piece 1: theta in [0, theta_c], boundary x = ax_ (R = ax_/cos)
    t1 = 0.5 * theta_c * (_GL_T + 1.0)
    r1 = ax_[..., None] / np.cos(t1)
    f1 = 1.0 - (1.0 + r1 * r1) ** (-(m + 1.0) / 2.0)
    i1 = 0.5 * theta_c[..., 0] * (f1 * _GL_W).sum(axis=-1)
    # piece 2: theta in [theta_c, pi/2], boundary y = ay_ (R = ay_/sin)
    half = math.pi / 2.0
    t2 = theta_c + 0.5 * (half - theta_c) * (_GL_T + 1.0)
    r2 = ay_[..., None] / np.sin(t2)
    f2 = 1.0 - (1.0 + r2 * r2) ** (-(m + 1.0) / 2.0)
    i2 = 0.5 * (half - theta_c[..., 0]) * (f2 * _GL_W).sum(axis=-1)
    out = sx * sy * (i1 + i2) / (2.0 * math.pi)
    return np.where((ax_ == 0) | (ay_ == 0), 0.0, out)


def corner_flux_fraction(x: np.ndarray, y: np.ndarray, m: float = 1.0) -> np.ndarray:
    """Signed fraction of a cos^m source's flux landing on [0, x] x [0, y] (coordinates in units of the height)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if m == 1.0:
        return _corner_lambertian(x, y)
    return _corner_general(x, y, m)


def rectangle_flux_fraction(sources: np.ndarray, rects: np.ndarray, hm: float, m: float = 1.0) -> np.ndarray:
    """(n,) fraction of each source's flux landing on the union of the disjoint ``rects`` (exact up to quadrature)."""
    src = np.asarray(sources, dtype=float).reshape(-1, 2)
    out = np.zeros(len(src))
    if len(src) == 0 or len(rects) == 0:
        return out
    step = max(1, DEFAULT_CHUNK_ELEMENTS // (4 * len(rects) * (1 if m == 1.0 else 2 * _GAUSS_NODES)))
    for s in range(0, len(src), step):
        sx = src[s : s + step, 0:1]
        sy = src[s : s + step, 1:2]
        x0 = (rects[None, :, 0] - sx) / hm
        y0 = (rects[None, :, 1] - sy) / hm
        x1 = (rects[None, :, 2] - sx) / hm
        y1 = (rects[None, :, 3] - sy) / hm
        frac = (
            corner_flux_fraction(x1, y1, m)
            - corner_flux_fraction(x0, y1, m)
            - corner_flux_fraction(x1, y0, m)
            + corner_flux_fraction(x0, y0, m)
        )
        out[s : s + step] = frac.sum(axis=1)
    return out


def work_plane_flux(grid: RoomGrid, lights_xy: np.ndarray) -> np.ndarray:
    """(n,) direct flux (lm, before MF) each luminaire puts on the work plane inside the room."""
    ph = room_photometry(grid)
    xy = np.asarray(lights_xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros(0)
    src = sub_sources(xy, ph.tile, ph.k, ph.size)
    per = ph.sources_per_luminaire
    if ph.summed_flux is not None:
        frac = _file_plane_fraction(ph.summed_flux, ph.rects, src).reshape(len(xy), per)
    else:
        frac = rectangle_flux_fraction(src, ph.rects, ph.hm, ph.cos_exponent).reshape(len(xy), per)
    return np.asarray(frac.mean(axis=1) * ph.flux_lm)


def _summed_flux_table(lookup: CandelaLookup, tile: float, k: int, hm: float, width_m: float,
                       height_m: float) -> SummedFlux:
    """Summed-area table of a file luminaire's direct flux fraction on the reference plane around its foot point.

    Cells are tile/(2k) wide, so every sub-source-to-tile-edge offset is a whole number of cells and a
    rectangle's flux is four look-ups. Each cell's flux is its centre illuminance times its area
    (midpoint rule, §2.5's 0.1 m grid for a 0.6 m tile).
    """
    h = tile / (2 * k)
    nx, ny = round(width_m / h), round(height_m / h)
    cx = (np.arange(-nx, nx) + 0.5) * h
    cy = (np.arange(-ny, ny) + 0.5) * h
    dx, dy = np.meshgrid(cx, cy, indexing="ij")
    flux = lookup.illuminance(dx, dy, hm) * (h * h) / lookup.lumens
    table = np.zeros((2 * nx + 1, 2 * ny + 1))
    table[1:, 1:] = flux.cumsum(axis=0).cumsum(axis=1)
    table.setflags(write=False)
    return SummedFlux(table, h, nx, ny)


def _file_plane_fraction(sat: SummedFlux, rects: np.ndarray, src: np.ndarray) -> np.ndarray:
    """(n,) share of each sub-source's flux landing on the work-plane ``rects`` (summed-area look-ups)."""
    table, h, nx, ny = sat.table, sat.cell_m, sat.nx, sat.ny
    out = np.zeros(len(src))
    if len(src) == 0 or len(rects) == 0:
        return out

    def idx(rel: np.ndarray, n: int) -> np.ndarray:
        return np.clip(np.rint(rel / h).astype(np.int64) + n, 0, 2 * n)

    step = max(1, DEFAULT_CHUNK_ELEMENTS // (4 * len(rects)))
    for s in range(0, len(src), step):
        sx, sy = src[s : s + step, 0:1], src[s : s + step, 1:2]
        x0, x1 = idx(rects[None, :, 0] - sx, nx), idx(rects[None, :, 2] - sx, nx)
        y0, y1 = idx(rects[None, :, 1] - sy, ny), idx(rects[None, :, 3] - sy, ny)
        out[s : s + step] = (table[x1, y1] - table[x0, y1] - table[x1, y0] + table[x0, y0]).sum(axis=1)
    return out


def illuminance(grid: RoomGrid, lights_xy: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Maintained illuminance E(P) = MF (sum E_dir + E_ind) in lx at ``points`` (m, 2 metres).

    ``lights_xy`` are the (n, 2) first tiles of every luminaire (pre-placed ones included): the tiles
    themselves for 1 x 1 panels, the anchors of ``RoomGrid.light_anchors`` for troffers.
    """
    ph = room_photometry(grid)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    xy = np.asarray(lights_xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros(len(pts))
    src = sub_sources(xy, ph.tile, ph.k, ph.size)
    direct = np.zeros(len(pts))
    step = max(1, DEFAULT_CHUNK_ELEMENTS // max(1, len(pts)))
    for s in range(0, len(src), step):
        direct += _kernel(ph, src[s : s + step], pts).sum(axis=0)
    phi_tot = ph.flux_lm * len(xy)
    phi_wp = float(work_plane_flux(grid, xy).sum())
    _, rw, rf = ph.reflectances
    e_ind = (rf * phi_wp + rw * (phi_tot - phi_wp)) * ph.sphere_factor
    return ph.mf * (direct + e_ind)


def contribution_matrix(grid: RoomGrid, tiles_xy: np.ndarray, points: np.ndarray,
                        dtype: type = np.float64, threads: int = 1) -> np.ndarray:
    """(n, m) maintained illuminance each candidate luminaire tile adds at each point.

    The model of §2.5 is linear in the luminaire set (E_ind is linear in Φ_tot and Φ_wp), so the
    illuminance of any layout is the sum of its rows. Used by search models; the evaluator calls
    :func:`illuminance` directly. ``threads`` > 1 splits the rows between threads (numpy lets go of the
    GIL inside each block), where the matrix has at least ``DEFAULT_THREADED_MATRIX_MIN`` elements; every
    row is computed alone, so the result is the same bit for bit.
    """
    ph = room_photometry(grid)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    xy = np.asarray(tiles_xy, dtype=float).reshape(-1, 2)
    kk = ph.sources_per_luminaire
    out: np.ndarray = np.empty((len(xy), len(pts)), dtype=dtype)
    if len(xy) == 0 or len(pts) == 0:
        return out
    e_ind = ph.indirect_per_luminaire(work_plane_flux(grid, xy))
    step = max(1, DEFAULT_CHUNK_ELEMENTS // (kk * len(pts)))
    sources = sub_sources(xy, ph.tile, ph.k, ph.size)  # a luminaire's kk sources are contiguous
    if ph.candela is None:  # the sources share a few x and y values: square each offset once, then take rows
        (ax, ix), (ay, iy) = (_squared_offsets(sources[:, i], np.ascontiguousarray(pts[:, i])) for i in (0, 1))
        flux_each = ph.flux_lm / kk

    def rows(lo: int, hi: int) -> None:
        # one scratch space for every block of the cos^m kernel (a photometric file's kernel computes its own)
        work = np.empty((2, min(step, hi - lo) * kk, len(pts))) if ph.candela is None else None
        for s in range(lo, hi, step):
            e = min(s + step, hi)
            if work is None:
                block = _kernel(ph, sources[s * kk : e * kk], pts)
            else:
                d2, dy = work[0, : (e - s) * kk], work[1, : (e - s) * kk]
                np.take(ax, ix[s * kk : e * kk], axis=0, out=d2)
                np.take(ay, iy[s * kk : e * kk], axis=0, out=dy)
                block = _spread(d2, dy, ph.hm, flux_each, ph.cos_exponent)
            block = block.reshape(-1, kk, len(pts)).sum(axis=1)
            block += e_ind[s:e, None]
            block *= ph.mf
            out[s:e] = block

    blocks = -(-len(xy) // step)
    threads = min(threads, blocks) if len(xy) * len(pts) >= DEFAULT_THREADED_MATRIX_MIN else 1
    if threads <= 1:
        rows(0, len(xy))
        return out
    cuts = [round(i * blocks / threads) * step for i in range(threads)] + [len(xy)]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="contribution") as pool:
        for f in [pool.submit(rows, lo, hi) for lo, hi in itertools.pairwise(cuts)]:
            f.result()
    return out


@dataclass(frozen=True)
class IlluminanceStats:
    """Headline figures of a layout on a calculation grid."""

    em_lx: float
    emin_lx: float
    emax_lx: float
    u0: float  # Emin / Em
    g2: float  # Emin / Emax
    equivalent_uf: float  # Em A / (Φ_tot MF); §2.5 sanity band [0.45, 1.10]
    count: int

    @property
    def uf_in_band(self) -> bool:
        lo, hi = DEFAULT_UF_SANITY_BAND
        return self.count == 0 or lo <= self.equivalent_uf <= hi


def stats_from_values(grid: RoomGrid, values: np.ndarray, count: int) -> IlluminanceStats:
    """Em/Emin/Emax/U0/g2/equivalent UF of the illuminance ``values`` produced by ``count`` luminaires."""
    ph = room_photometry(grid)
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return IlluminanceStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, count)
    em, emin, emax = float(v.mean()), float(v.min()), float(v.max())
    u0 = emin / em if em > 0 else 0.0
    g2 = emin / emax if emax > 0 else 0.0
    phi = ph.flux_lm * count
    uf = em * ph.floor_area_m2 / (phi * ph.mf) if phi > 0 else 0.0
    return IlluminanceStats(em, emin, emax, u0, g2, uf, count)


def illuminance_stats(grid: RoomGrid, lights_xy: np.ndarray, points: np.ndarray) -> IlluminanceStats:
    """Em, Emin, Emax, U0, g2 and the equivalent UF of the luminaires ``lights_xy`` on ``points``."""
    xy = np.asarray(lights_xy).reshape(-1, 2)
    return stats_from_values(grid, illuminance(grid, xy, points), len(xy))
