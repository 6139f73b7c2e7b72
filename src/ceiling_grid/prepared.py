"""A room prepared once for every rule (rules layer): its geometry, §2.2 calculation grid, §7.4 lattice.

:func:`prepare` derives from a room's tiles and parameters (never its components) everything the
lighting, coverage and clearance rules measure with, and caches it as one frozen value. A stage
prepares its input once and hands the :class:`PreparedRoom` down; placing components never changes
it, so the layouts a model tries and the checks that judge them all share the same one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

from .cache import RoomCache
from .config import DEFAULT_WALL_BAND_M, DetectorStandardSpec, RoomTypeSpec
from .geometry import RoomGeometry, geometry_from_masks, geometry_of
from .grid import STATE_CODES, RoomGrid, TileState, room_key

__all__ = [
    "BS_CORRIDOR_RADIUS_M",
    "D1_LATTICE_STEP_M",
    "DEFAULT_MIN_EVAL_WIDTH_M",
    "CalculationGrid",
    "CoverageLattice",
    "PreparedRoom",
    "grid_spacing_m",
    "prepare",
]

DEFAULT_MIN_EVAL_WIDTH_M = 0.6  # L1: the band shrinks so that at least this much width stays
DEFAULT_MAX_GRID_SPACING_M = 10.0  # §2.2: p <= 10 m
D1_LATTICE_STEP_M = 0.1  # §7.4 D1
BS_CORRIDOR_RADIUS_M = 7.5  # §7.4 D1: BS corridor end points
TOL = 1e-9

_PREPARED = RoomCache(32)  # frozen prepared rooms, by room digest and detector rule set


@dataclass(frozen=True)
class CalculationGrid:
    """The L2 calculation grid of a room: points kept inside the evaluation area, and how it was built."""

    points: np.ndarray  # (m, 2) metres, read-only
    band_m: float
    bbox: tuple[float, float, float, float]  # evaluation bounding box
    d_m: float
    p_m: float
    nx: int
    ny: int


@dataclass(frozen=True)
class CoverageLattice:
    """The §7.4 D1 demand points, their coverage radius R, and whether the BS corridor rule applies."""

    points: np.ndarray  # (m, 2) metres, read-only
    radius: float
    corridor: bool


@dataclass(frozen=True, eq=False)
class PreparedRoom:
    """One room's derived values and the parameters its rules read (no components: see :func:`prepare`).

    ``calc``, ``lattice`` and ``wall_runs`` are computed on first use and then fixed (read-only arrays).
    """

    key: str
    width: int
    height: int
    tile: float
    ceiling_height_m: float
    work_plane_m: float
    room_type: str
    room_spec: RoomTypeSpec
    detector_spec: DetectorStandardSpec
    flux_lm: float
    power_w: float
    cos_exponent: float
    geometry: RoomGeometry
    in_room: np.ndarray  # (h, w) tiles inside the polygon (columns included), read-only
    beam_depth: np.ndarray  # (h, w) depth of the downstand beam over each tile in metres (0: none), read-only
    light_size: tuple[int, int] = (1, 1)  # tiles one luminaire covers along x and y (a troffer: (2, 1) or (1, 2))

    @property
    def mounting_height_m(self) -> float:
        """Hm: luminaire (ceiling) height above the reference plane."""
        return self.ceiling_height_m - self.work_plane_m

    def tile_centres(self, xy: np.ndarray) -> np.ndarray:
        """Centres in metres of the (n, 2) tiles ``xy``."""
        return (np.asarray(xy, dtype=float) + 0.5) * self.tile

    def light_centres(self, anchors: np.ndarray) -> np.ndarray:
        """Centres in metres of the luminaires whose first tiles are ``anchors`` (tile centres for 1 x 1)."""
        half = np.array(self.light_size, dtype=float) / 2.0
        return (np.asarray(anchors, dtype=float).reshape(-1, 2) + half) * self.tile

    def anchor_mask(self, tiles: np.ndarray) -> np.ndarray:
        """(h, w) where a luminaire can start: every tile of its footprint is True in ``tiles``."""
        tiles = np.asarray(tiles, dtype=bool)
        sx, sy = self.light_size
        out = tiles.copy()
        for dy in range(sy):
            for dx in range(sx):
                if dx or dy:
                    shifted = np.zeros_like(tiles)
                    shifted[: tiles.shape[0] - dy, : tiles.shape[1] - dx] = tiles[dy:, dx:]
                    out &= shifted
        return out

    @cached_property
    def light_in_room(self) -> np.ndarray:
        """(h, w) first tiles of a luminaire whose whole footprint lies in the room (read-only)."""
        out = self.anchor_mask(self.in_room)
        out.setflags(write=False)
        return out

    @cached_property
    def tile_bbox(self) -> tuple[int, int, int, int]:
        """(x0, x1, y0, y1): the first and last tile column and row inside the room."""
        iy, ix = np.nonzero(self.in_room)
        return int(ix.min()), int(ix.max()), int(iy.min()), int(iy.max())

    @cached_property
    def calc(self) -> CalculationGrid:
        """The §2.2 grid on the evaluation bounding box (L1 + L2)."""
        return _calculation_grid(self)

    @cached_property
    def beam_walls(self) -> np.ndarray:
        """(h, w) beam tiles that are walls for detector zoning under this rule set (§4.4 ``beam_as_wall``)."""
        return _beam_walls(self)

    @cached_property
    def detection(self) -> RoomGeometry:
        """The polygon detector coverage (D1) and wall clearance (D2) are measured in: the room less the beams
        that are walls, so each beam pocket is covered from inside itself (the room's geometry when none are)."""
        walls = self.beam_walls
        if not walls.any():
            return self.geometry
        geo = self.geometry
        return geometry_from_masks(geo.in_room & ~walls, geo.ceiling & ~walls, self.tile)

    @cached_property
    def zones(self) -> tuple[np.ndarray, int]:
        """(labels, count): the detector zones, the connected parts of :attr:`detection` (one per beam pocket;
        one for a room without beams that are walls); labels are 1..count on in-zone tiles, 0 elsewhere."""
        labels, count = ndimage.label(self.detection.in_room)
        labels.setflags(write=False)
        return labels, int(count)

    @cached_property
    def lattice(self) -> CoverageLattice:
        """The §7.4 D1 lattice (or the BS corridor centreline)."""
        return _coverage_lattice(self)

    @cached_property
    def is_bs_corridor(self) -> bool:
        """BS 5839-1 corridor rule applies: a rectangular corridor no wider than the standard's limit."""
        limit = self.detector_spec.corridor_max_width_m
        geo = self.geometry
        return (limit is not None and self.room_type == "corridor" and geo.is_rectangle
                and geo.narrow_dimension_m <= limit + TOL)

    @cached_property
    def wall_runs(self) -> np.ndarray:
        """(4, h, w) in-room tiles from each tile to the wall in +x, -x, +y, -y (tile itself included)."""
        return _runs_to_wall(self.in_room)


def prepare(grid: RoomGrid) -> PreparedRoom:
    """The prepared room of ``grid``'s tiles and parameters, built once per process and cached (frozen)."""
    key = (room_key(grid), f"prepared:{grid.detector_standard}")
    cached = _PREPARED.get(key, PreparedRoom)
    if cached is not None:
        return cached
    in_room = np.array(grid.arrays.state != STATE_CODES[TileState.OUTSIDE])
    in_room.setflags(write=False)
    beam_depth = np.where(grid.arrays.is_state(TileState.BEAM), grid.arrays.beam_depth, 0.0)
    beam_depth.setflags(write=False)
    lum = grid.luminaire
    room = PreparedRoom(
        key=key[0], width=grid.width, height=grid.height, tile=grid.tile_size_m,
        ceiling_height_m=grid.ceiling_height_m, work_plane_m=grid.effective_work_plane_m,
        room_type=grid.room_type, room_spec=grid.room_spec, detector_spec=grid.detector_spec,
        flux_lm=lum.flux_lm, power_w=lum.power_w, cos_exponent=lum.cos_exponent,
        geometry=geometry_of(grid), in_room=in_room, beam_depth=beam_depth, light_size=lum.size_tiles,
    )
    _PREPARED.put(key, room)
    return room


# ----- §2.2 / L1 / L2: where illuminance is evaluated --------------------------------------

def evaluation_band_m(room: PreparedRoom) -> float:
    """L1 wall band b: 0.5 m, shrunk to (narrow - 0.6)/2 when the narrow side minus 2b is under 0.6 m."""
    narrow = room.geometry.narrow_dimension_m
    b = DEFAULT_WALL_BAND_M
    if narrow - 2 * b < DEFAULT_MIN_EVAL_WIDTH_M:
        b = max(0.0, (narrow - DEFAULT_MIN_EVAL_WIDTH_M) / 2)
    return b


def grid_spacing_m(d: float) -> float:
    """§2.2 maximum grid spacing p = 0.2 x 5^log10(d) (capped at 10 m) for the governing dimension d."""
    return float(min(DEFAULT_MAX_GRID_SPACING_M, 0.2 * 5.0 ** math.log10(d)))


def _calculation_grid(room: PreparedRoom) -> CalculationGrid:
    """The evaluation area is the ceiling area (columns excluded) minus the wall band b; its bounding
    box is the room's bounding box shrunk by b. d is the longer side when long/short < 2, else the
    shorter side; n = ceil(side / p) cells per axis with points at the cell centroids."""
    geo = room.geometry
    b = evaluation_band_m(room)
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
            pts = room.tile_centres(np.argwhere(geo.ceiling)[:, ::-1])
    pts = np.ascontiguousarray(pts)
    pts.setflags(write=False)
    return CalculationGrid(pts, b, (ex0, ey0, ex1, ey1), d, p, nx, ny)


# ----- §7.4 D1: where detector coverage is checked ------------------------------------------

def _axis(lo: float, hi: float, h: float) -> np.ndarray:
    """``lo, lo + h, ...`` up to ``hi``, with ``hi`` itself always included."""
    n = math.floor((hi - lo) / h + 1e-9)
    v = lo + h * np.arange(n + 1)
    return np.append(v, hi) if hi - v[-1] > 1e-9 else v


def _coverage_lattice(room: PreparedRoom) -> CoverageLattice:
    geo = room.detection
    h = D1_LATTICE_STEP_M
    x0, y0, x1, y1 = room.geometry.bbox
    if room.is_bs_corridor:
        if x1 - x0 >= y1 - y0:
            xs = _axis(x0, x1, h)
            pts = np.stack([xs, np.full(len(xs), (y0 + y1) / 2)], axis=1)
        else:
            ys = _axis(y0, y1, h)
            pts = np.stack([np.full(len(ys), (x0 + x1) / 2), ys], axis=1)
        pts = np.ascontiguousarray(pts[geo.inside(pts)])  # a beam that is a wall cuts the centreline
        pts.setflags(write=False)
        return CoverageLattice(pts, BS_CORRIDOR_RADIUS_M, True)
    xs, ys = _axis(x0, x1, h), _axis(y0, y1, h)
    iy, ix = np.nonzero(geo.inside_lattice(xs, ys))  # row by row, as a meshgrid's ravel
    pts = np.stack([xs[ix], ys[iy]], axis=1)
    vertices = np.unique(np.concatenate([geo.walls[:, 0:2], geo.walls[:, 2:4]]), axis=0)
    pts = np.concatenate([pts, vertices])
    pts = np.ascontiguousarray(pts[~geo.in_column(pts)])
    pts.setflags(write=False)
    return CoverageLattice(pts, room.detector_spec.r_cover_m, False)


# ----- §4.4 beam_as_wall: which downstand beams zone the detectors -----------------------------

def _beam_walls(room: PreparedRoom) -> np.ndarray:
    """Beam tiles deep enough to be walls (BS/CEN: > 0.1 H; NFPA: >= 0.1 H and >= 0.4 H from parallel beams)."""
    spec = room.detector_spec
    limit = spec.beam_wall_ratio * room.ceiling_height_m
    depth = room.beam_depth
    deep = (depth >= limit - TOL) if spec.beam_wall_inclusive else (depth > limit + TOL)
    deep &= depth > 0
    if deep.any() and spec.beam_pocket_spacing_ratio is not None:
        deep &= _pocket_beams(deep, room.tile, spec.beam_pocket_spacing_ratio * room.ceiling_height_m)
    out = np.ascontiguousarray(deep)
    out.setflags(write=False)
    return out


def _pocket_beams(deep: np.ndarray, tile: float, min_spacing_m: float) -> np.ndarray:
    """The deep beams that form pockets: each at least ``min_spacing_m`` centre to centre from every parallel
    beam beside it. A beam is one 4-connected run of deep tiles; it runs along its longer side."""
    labels, n = ndimage.label(deep)
    beams = []
    for k in range(1, n + 1):
        ys, xs = np.nonzero(labels == k)
        along_x = np.ptp(xs) >= np.ptp(ys)
        pos = (float(ys.mean()) if along_x else float(xs.mean())) * tile
        span = (xs.min(), xs.max()) if along_x else (ys.min(), ys.max())
        beams.append((k, along_x, pos, span))
    keep = np.zeros(n + 1, dtype=bool)
    for k, along_x, pos, (lo, hi) in beams:
        keep[k] = all(abs(pos - p2) >= min_spacing_m - TOL for k2, ax2, p2, (lo2, hi2) in beams
                      if k2 != k and ax2 == along_x and lo2 <= hi and lo <= hi2)
    return np.asarray(keep[labels] & deep)


def _runs_to_wall(inside: np.ndarray) -> np.ndarray:
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
    out.setflags(write=False)
    return out
