"""The checker's own point-by-point illuminance (§2.5), written apart from the models' fast path.

Nothing here is shared with ``ceiling_grid.photometry`` (the models' contribution matrices, the
rectangle view factors and the room cache): a physics bug in one shows up as a disagreement with
the other (``tests/test_evaluator_illuminance.py`` compares both on every sample room).

* Direct: each luminaire is k x k point sources of Φ/k² (k = 3), intensity I(γ) = I0 cos^m γ with
  I0 = (m + 1) Φ / 2π, so E = I0 cos^(m+3) γ / Hm² at a horizontal point.
* Work-plane flux Φ_wp: the flux a source sends into a polygon is a contour integral over the
  polygon's directed edges. Seen from the source's foot point, an edge at perpendicular distance p,
  walked along s, subtends dθ = p ds / (p² + s²), and the wedge dθ out to ground radius R receives
  (1 - (1 + R²/Hm²)^(-(m+1)/2)) dθ / 2π of the flux. Edges come from the work-plane tiles (shared
  edges cancel; holes run the other way). For m = 1 the edge integral is closed-form; otherwise
  Gauss-Legendre along each tile edge.
* Photometric files: I(C, γ) is interpolated bilinearly in the full 0..360 table by this module's own
  look-up, rotated with the luminaire; each sub-source carries 1/k² of it. The flux into a wedge dθ out
  to γ_R is G(C, γ_R) dθ with G(C, γ) = ∫ I sin γ dγ, tabulated on a 0.25° γ grid, so Φ_wp is the
  same contour integral with G in place of the cos^m closed form.
* Indirect: split flux, E_ind = (ρ_f Φ_wp + ρ_w (Φ_tot - Φ_wp)) / (A_s (1 - ρ_m)), uniform; then
  E = MF (E_dir + E_ind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cache import RoomCache
from ..config import DEFAULT_LUMINAIRE_SUBDIVISION, DEFAULT_MAINTENANCE_FACTOR, DEFAULT_REFLECTANCES
from ..geometry import geometry_of
from ..grid import RoomGrid, room_key
from ..photometric_files import Distribution, expand_full

__all__ = ["UF_SANITY_BAND", "ReferenceStats", "reference_illuminance", "reference_stats", "work_plane_edges"]

UF_SANITY_BAND = (0.45, 1.10)  # §2.5: an equivalent UF outside this band means a broken model
EDGE_NODES = 12  # Gauss-Legendre nodes per tile edge for the work-plane flux
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(EDGE_NODES)
_EDGES = RoomCache(32)  # the checker's own cache of boundary edges per room
_CHUNK_ELEMENTS = 2_000_000  # bounds the (sources x edges x nodes) working arrays
_DIRECT_CHUNK_ELEMENTS = 65_536  # (sources x points) blocks of the direct sum: small enough to stay in cache


@dataclass(frozen=True)
class ReferenceStats:
    """Em, Emin, Emax, U0, g2 and the equivalent UF of one layout on the calculation points."""

    em_lx: float
    emin_lx: float
    emax_lx: float
    u0: float
    g2: float
    equivalent_uf: float
    count: int

    @property
    def uf_in_band(self) -> bool:
        lo, hi = UF_SANITY_BAND
        return self.count == 0 or lo <= self.equivalent_uf <= hi


def _point_sources(grid: RoomGrid, lights: np.ndarray) -> np.ndarray:
    """(n, s, 2) point-source positions (m) of each luminaire: the centres of a k x k split of every tile it
    covers (its first tile ``lights[i]`` and, for a troffer, the next one along its long axis)."""
    k = DEFAULT_LUMINAIRE_SUBDIVISION
    t = grid.tile_size_m
    frac = (np.arange(k) + 0.5) / k
    fx, fy = np.meshgrid(frac, frac)
    cell = np.stack([fx.ravel(), fy.ravel()], axis=1)
    along = np.array([1.0, 0.0]) if grid.luminaire.rotation_deg == 0 else np.array([0.0, 1.0])
    offsets = np.concatenate([cell + i * along for i in range(grid.luminaire.length_tiles)]) * t
    corners = np.asarray(lights, dtype=float).reshape(-1, 2) * t
    return corners[:, None, :] + offsets[None, :, :]


def _sources_per_luminaire(grid: RoomGrid) -> int:
    return DEFAULT_LUMINAIRE_SUBDIVISION**2 * grid.luminaire.length_tiles


_G_STEP_DEG = 0.25  # γ resolution of the checker's cumulative flux table G(C, γ)


class _Table:
    """The checker's own bilinear look-up of a photometric file (full 0..360 table, plan rotation)."""

    def __init__(self, dist: Distribution, rotation_deg: float) -> None:
        self.c, self.gamma, self.cd = expand_full(dist)
        self.rotation = float(rotation_deg)
        fine = np.arange(0.0, 180.0 + _G_STEP_DEG / 2, _G_STEP_DEG)
        self.g_gamma = fine
        dense = np.stack([np.interp(fine, self.gamma, row, left=0.0, right=0.0) for row in self.cd])
        weight = dense * np.sin(np.radians(fine))[None, :]
        cumulative = np.zeros_like(weight)
        cumulative[:, 1:] = np.cumsum(0.5 * (weight[:, 1:] + weight[:, :-1]), axis=1) * math.radians(_G_STEP_DEG)
        self.g = cumulative  # G(C, γ) in cd·sr per radian of azimuth

    def _azimuth(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        return np.asarray(np.mod(np.degrees(np.arctan2(dy, dx)) - self.rotation, 360.0))

    @staticmethod
    def _bilinear(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
        j = np.clip(np.searchsorted(ys, y, side="right") - 1, 0, len(ys) - 2)
        tx = np.clip((x - xs[i]) / (xs[i + 1] - xs[i]), 0.0, 1.0)
        inside = (y >= ys[0]) & (y <= ys[-1])
        ty = np.clip((y - ys[j]) / (ys[j + 1] - ys[j]), 0.0, 1.0)
        v = ((1 - tx) * (1 - ty) * values[i, j] + tx * (1 - ty) * values[i + 1, j]
             + (1 - tx) * ty * values[i, j + 1] + tx * ty * values[i + 1, j + 1])
        return np.where(inside, v, 0.0)

    def candela(self, dx: np.ndarray, dy: np.ndarray, hm: float) -> np.ndarray:
        gamma = np.degrees(np.arctan2(np.hypot(dx, dy), hm))
        return self._bilinear(self.c, self.gamma, self.cd, self._azimuth(dx, dy), gamma)

    def wedge_flux(self, dx: np.ndarray, dy: np.ndarray, hm: float) -> np.ndarray:
        """G(C, γ_R): flux per radian of azimuth inside ground radius R towards (dx, dy)."""
        gamma = np.degrees(np.arctan2(np.hypot(dx, dy), hm))
        return self._bilinear(self.c, self.g_gamma, self.g, self._azimuth(dx, dy), gamma)


def _table(grid: RoomGrid) -> _Table | None:
    lum = grid.luminaire
    if lum.distribution is None:
        return None
    key = (room_key(grid), "candela_table")
    cached = _EDGES.get(key, _Table)
    if cached is None:
        cached = _Table(lum.distribution, lum.rotation_deg)
        _EDGES.put(key, cached)
    return cached


def _direct(grid: RoomGrid, lights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Direct illuminance (lx, before MF) at ``points``: every point source, summed in blocks of sources."""
    table = _table(grid)
    if table is not None:
        return _direct_file(grid, table, lights, points)
    lum = grid.luminaire
    hm = grid.mounting_height_m
    m = lum.cos_exponent
    i0 = (m + 1.0) * (lum.flux_lm / _sources_per_luminaire(grid)) / (2.0 * math.pi)
    sources = _point_sources(grid, lights).reshape(-1, 2)
    total = np.zeros(len(points))
    step = max(1, _DIRECT_CHUNK_ELEMENTS // max(1, len(points)))
    sx, sy = np.ascontiguousarray(sources.T)
    px, py = np.ascontiguousarray(points.T)
    # two (sources, points) work arrays for every block: allocating them per block doubled the time
    work = np.empty((2, min(step, len(sources)), len(points)))
    for lo in range(0, len(sources), step):
        k = min(step, len(sources) - lo)
        d2, dy2 = work[0, :k], work[1, :k]
        np.subtract(sx[lo : lo + k, None], px[None, :], out=d2)
        d2 *= d2
        np.subtract(sy[lo : lo + k, None], py[None, :], out=dy2)
        dy2 *= dy2
        d2 += dy2
        d2 += hm * hm
        # I0 cos^(m+3) / Hm² with cos = Hm / d: Hm^(m+1) I0 / d^(m+3) (for m = 1 without a power call)
        if m == 1.0:
            d2 *= d2
            spread = np.reciprocal(d2, out=d2)
        else:
            spread = np.power(d2, -(m + 3.0) / 2.0, out=d2)
        total += i0 * hm ** (m + 1.0) * spread.sum(axis=0)
    return total


def _direct_file(grid: RoomGrid, table: _Table, lights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Direct illuminance of a photometric file's luminaires: I(C, γ) cos γ / d² per sub-source, I/k² each."""
    hm = grid.mounting_height_m
    share = 1.0 / _sources_per_luminaire(grid)
    sources = _point_sources(grid, lights).reshape(-1, 2)
    total = np.zeros(len(points))
    step = max(1, _CHUNK_ELEMENTS // max(1, len(points)))
    for lo in range(0, len(sources), step):
        block = sources[lo : lo + step]
        dx = points[None, :, 0] - block[:, 0, None]
        dy = points[None, :, 1] - block[:, 1, None]
        d = np.sqrt(dx * dx + dy * dy + hm * hm)
        total += (share * table.candela(dx, dy, hm) * hm / d**3).sum(axis=0)
    return total


def _file_flux_fraction(table: _Table, lumens: float, sources: np.ndarray, edges: np.ndarray,
                        hm: float) -> np.ndarray:
    """(n,) share of each point source's flux inside the polygon: Σ over edges of ∫ G(C, γ_R) dθ / Φ."""
    out = np.zeros(len(sources))
    if len(edges) == 0 or len(sources) == 0:
        return out
    a, length, u, normal = _edge_frame(edges)
    step = max(1, _CHUNK_ELEMENTS // (len(edges) * EDGE_NODES))
    for lo in range(0, len(sources), step):
        rel = a[None, :, :] - sources[lo : lo + step, None, :]
        p = (rel * normal[None]).sum(axis=2)
        s0 = (rel * u[None]).sum(axis=2)
        s = s0[:, :, None] + length[None, :, None] * (0.5 * (_NODES + 1.0))[None, None, :]
        node_x = rel[:, :, 0, None] + u[None, :, 0, None] * (s - s0[:, :, None])
        node_y = rel[:, :, 1, None] + u[None, :, 1, None] * (s - s0[:, :, None])
        r2 = p[:, :, None] ** 2 + s * s
        dtheta = np.where(np.abs(p)[:, :, None] > 1e-12, p[:, :, None] / np.maximum(r2, 1e-300), 0.0)
        weight = 0.5 * _WEIGHTS[None, None, :] * length[None, :, None]
        out[lo : lo + step] = (table.wedge_flux(node_x, node_y, hm) * dtheta * weight).sum(axis=(1, 2)) / lumens
    return out


def work_plane_edges(grid: RoomGrid, merge: bool = True) -> np.ndarray:
    """(e, 4) directed boundary edges of the work plane; cached per room (read-only), see :func:`_boundary`."""
    key = (room_key(grid), f"work_plane_edges:{merge}")
    cached = _EDGES.get(key, np.ndarray)
    if cached is None:
        cached = _boundary(grid, merge)
        cached.setflags(write=False)
        _EDGES.put(key, cached)
    return np.asarray(cached)


def _boundary(grid: RoomGrid, merge: bool) -> np.ndarray:
    """(e, 4) directed boundary edges (x0, y0, x1, y1) of the work plane: room tiles minus columns.

    Every work-plane tile contributes its four edges counter-clockwise; an edge two tiles share
    appears once each way and cancels, so the outer boundary runs counter-clockwise and holes
    clockwise. With ``merge``, collinear edges that continue each other become one.
    """
    mask = np.asarray(geometry_of(grid).ceiling, dtype=bool)
    inside = np.pad(mask, 1)  # a False ring: the grid's edge is a boundary
    core = inside[1:-1, 1:-1]
    parts = []
    # each tile's edge in its counter-clockwise order survives where the tile across it is not work plane
    for (dy, dx), corners in (((-1, 0), (0, 0, 1, 0)), ((0, 1), (1, 0, 1, 1)),
                              ((1, 0), (1, 1, 0, 1)), ((0, -1), (0, 1, 0, 0))):
        ys, xs = np.nonzero(core & ~inside[1 + dy : inside.shape[0] - 1 + dy, 1 + dx : inside.shape[1] - 1 + dx])
        parts.append(np.stack([xs + corners[0], ys + corners[1], xs + corners[2], ys + corners[3]], axis=1))
    unit = np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.int64)
    unit = unit[np.lexsort(unit.T[::-1])]  # sorted as tuples: by x0, then y0, x1, y1
    ordered = [(x0, y0, x1, y1) for x0, y0, x1, y1 in unit.tolist()]
    if merge:
        ordered = _merge_collinear(ordered)
    return np.array(ordered, dtype=float).reshape(-1, 4) * grid.tile_size_m


def _merge_collinear(edges: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join unit edges that run the same way along the same grid line and touch end to start."""
    starts = {(e[0], e[1], e[2] - e[0], e[3] - e[1]): e for e in edges}
    merged: list[tuple[int, int, int, int]] = []
    for e in edges:
        dx, dy = e[2] - e[0], e[3] - e[1]
        if (e[0] - dx, e[1] - dy, dx, dy) in starts:
            continue  # not the first edge of its run
        x1, y1 = e[2], e[3]
        while (x1, y1, dx, dy) in starts:
            x1, y1 = x1 + dx, y1 + dy
        merged.append((e[0], e[1], x1, y1))
    return sorted(merged)


def _edge_frame(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start point, length, unit direction and outward normal (for a CCW boundary) of each edge."""
    a, b = edges[:, 0:2], edges[:, 2:4]
    length = np.hypot(*(b - a).T)
    u = (b - a) / length[:, None]
    return a, length, u, np.stack([u[:, 1], -u[:, 0]], axis=1)


def _flux_fraction(sources: np.ndarray, edges: np.ndarray, hm: float, m: float) -> np.ndarray:
    """(n,) fraction of each point source's flux landing inside the polygon bounded by ``edges``.

    Lambertian (m = 1): the wedge integral along an edge is closed-form, p/q (atan(s1/q) - atan(s0/q))
    with q² = Hm² + p². Other m: Gauss-Legendre along each edge (pass unmerged tile edges).
    """
    out = np.zeros(len(sources))
    if len(edges) == 0 or len(sources) == 0:
        return out
    a, length, u, normal = _edge_frame(edges)
    nodes = 1 if m == 1.0 else EDGE_NODES
    step = max(1, _CHUNK_ELEMENTS // (len(edges) * nodes))
    for lo in range(0, len(sources), step):
        rel = a[None, :, :] - sources[lo : lo + step, None, :]  # (s, e, 2) edge start seen from each foot point
        p = (rel * normal[None]).sum(axis=2)  # signed distance from the foot point to each edge line
        s0 = (rel * u[None]).sum(axis=2)
        if m == 1.0:
            q = np.sqrt(hm * hm + p * p)
            total = (p / q * (np.arctan((s0 + length[None, :]) / q) - np.arctan(s0 / q))).sum(axis=1)
        else:
            s = s0[:, :, None] + length[None, :, None] * (0.5 * (_NODES + 1.0))[None, None, :]
            r2 = p[:, :, None] ** 2 + s * s
            wedge = 1.0 - (1.0 + r2 / (hm * hm)) ** (-(m + 1.0) / 2.0)  # flux share of a wedge out to r
            dtheta = np.where(np.abs(p)[:, :, None] > 1e-12, p[:, :, None] / np.maximum(r2, 1e-300), 0.0)
            weight = 0.5 * _WEIGHTS[None, None, :] * length[None, :, None]
            total = (wedge * dtheta * weight).sum(axis=(1, 2))
        out[lo : lo + step] = total / (2.0 * math.pi)
    return out


def _indirect(grid: RoomGrid, lights: np.ndarray) -> float:
    """The uniform indirect illuminance (lx, before MF) of the split-flux formula."""
    lum = grid.luminaire
    n = len(lights)
    if n == 0:
        return 0.0
    geo = geometry_of(grid)
    sources = _point_sources(grid, lights).reshape(-1, 2)
    table = _table(grid)
    edges = work_plane_edges(grid, merge=lum.cos_exponent == 1.0 and table is None)
    if table is not None:
        frac = _file_flux_fraction(table, lum.flux_lm, sources, edges, grid.mounting_height_m)
    else:
        frac = _flux_fraction(sources, edges, grid.mounting_height_m, lum.cos_exponent)
    phi_tot = lum.flux_lm * n
    phi_wp = float(frac.sum()) * lum.flux_lm / _sources_per_luminaire(grid)
    rho_c, rho_w, rho_f = DEFAULT_REFLECTANCES
    a = geo.area_m2
    walls = geo.perimeter_m * grid.ceiling_height_m
    a_s = 2.0 * a + walls
    rho_m = (a * rho_c + a * rho_f + walls * rho_w) / a_s
    phi_1 = rho_f * phi_wp + rho_w * (phi_tot - phi_wp)
    return phi_1 / (a_s * (1.0 - rho_m))


def reference_illuminance(grid: RoomGrid, lights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Maintained illuminance E(P) = MF (ΣE_dir + E_ind) in lx at ``points`` (metres) from the ``lights`` tiles."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    tiles = np.asarray(lights).reshape(-1, 2)
    if len(tiles) == 0:
        return np.zeros(len(pts))
    return DEFAULT_MAINTENANCE_FACTOR * (_direct(grid, tiles, pts) + _indirect(grid, tiles))


def reference_stats(grid: RoomGrid, lights: np.ndarray, points: np.ndarray) -> ReferenceStats:
    """The headline figures of the ``lights`` tiles on ``points``, from :func:`reference_illuminance`."""
    tiles = np.asarray(lights).reshape(-1, 2)
    values = reference_illuminance(grid, tiles, points)
    if len(values) == 0:
        return ReferenceStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, len(tiles))
    em, emin, emax = float(values.mean()), float(values.min()), float(values.max())
    phi = grid.luminaire.flux_lm * len(tiles)
    uf = em * geometry_of(grid).area_m2 / (phi * DEFAULT_MAINTENANCE_FACTOR) if phi > 0 else 0.0
    return ReferenceStats(em, emin, emax, emin / em if em > 0 else 0.0, emin / emax if emax > 0 else 0.0,
                          uf, len(tiles))
