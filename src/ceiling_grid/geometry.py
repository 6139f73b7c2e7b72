"""Room geometry in metres: wall segments, distance to walls, inside tests, area and perimeter.

The room polygon is the union of in-room tiles (columns included: a column is a hole for
calculation and coverage points, not a wall, §4.5 / §7.1 G3). Walls are its boundary edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cache import RoomCache
from .grid import RoomGrid, room_key

__all__ = [
    "RoomGeometry",
    "geometry_from_masks",
    "geometry_of",
    "point_segment_distance",
]

_GEOMETRY = RoomCache(64)  # one frozen geometry per room (tile states and size), shared by every layer above


def point_segment_distance(points: np.ndarray, segments: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Distance from every point (n, 2) to its nearest segment (m, 4: x0, y0, x1, y1)."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(segments) == 0:
        return np.full(len(points), np.inf)
    a = segments[:, 0:2]
    ab = segments[:, 2:4] - a
    ab2 = np.maximum((ab * ab).sum(axis=1), 1e-18)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = points[start : start + chunk, None, :]
        t = np.clip(((p - a) * ab).sum(axis=2) / ab2, 0.0, 1.0)
        closest = a + t[..., None] * ab
        d2 = ((p - closest) ** 2).sum(axis=2)
        out[start : start + chunk] = np.sqrt(d2.min(axis=1))
    return out


def _merge_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of True in each row of ``mask``: (row, start, stop)."""
    runs: list[tuple[int, int, int]] = []
    for r in range(mask.shape[0]):
        row = mask[r]
        if not row.any():
            continue
        padded = np.concatenate([[False], row, [False]])
        diff = np.diff(padded.astype(np.int8))
        starts = np.nonzero(diff == 1)[0]
        stops = np.nonzero(diff == -1)[0]
        runs.extend((r, int(s), int(e)) for s, e in zip(starts, stops, strict=True))
    return runs


@dataclass(frozen=True)
class RoomGeometry:
    """Derived geometry of one room (metres; origin at the grid corner, y grows with tile row)."""

    tile: float
    in_room: np.ndarray  # (h, w) bool
    ceiling: np.ndarray  # (h, w) bool: in room and not a column
    walls: np.ndarray  # (m, 4) wall segments, collinear runs merged
    reflex_corners: np.ndarray  # (k, 2) re-entrant corners of the room polygon (geodesic paths bend there)

    @property
    def width_m(self) -> float:
        return float(self.in_room.shape[1] * self.tile)

    @property
    def height_m(self) -> float:
        return float(self.in_room.shape[0] * self.tile)

    @property
    def area_m2(self) -> float:
        """Ceiling area: in-room tiles minus column footprints."""
        return float(self.ceiling.sum()) * self.tile**2

    @property
    def floor_area_m2(self) -> float:
        return float(self.in_room.sum()) * self.tile**2

    @property
    def perimeter_m(self) -> float:
        seg = self.walls
        return float(np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]).sum())

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the in-room tiles."""
        ys, xs = np.nonzero(self.in_room)
        t = self.tile
        return (float(xs.min()) * t, float(ys.min()) * t, float(xs.max() + 1) * t, float(ys.max() + 1) * t)

    @property
    def narrow_dimension_m(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return min(x1 - x0, y1 - y0)

    @property
    def is_rectangle(self) -> bool:
        ys, xs = np.nonzero(self.in_room)
        return bool(self.in_room[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all())

    def distance_to_walls(self, points: np.ndarray) -> np.ndarray:
        return point_segment_distance(points, self.walls)

    def _axis_tiles(self, values: np.ndarray, eps: float, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each shift of ``values`` (metres along one axis) by -``eps`` and +``eps`` (once when 0): the tile
        index, clipped to the grid, and whether it is on the grid."""
        out = []
        for d in ((-eps, eps) if eps else (0.0,)):
            i = np.floor((np.asarray(values, dtype=float) + d) / self.tile).astype(np.int64)
            out.append((np.clip(i, 0, size - 1), (i >= 0) & (i < size)))
        return out

    def _tile_lookup(self, mask: np.ndarray, points: np.ndarray, eps: float, off_grid: bool = False) -> np.ndarray:
        """Points within ``eps`` of a ``mask`` tile; beyond the grid's edge counts as ``off_grid``."""
        h, w = mask.shape
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        hit = np.zeros(len(pts), dtype=bool)
        rows = self._axis_tiles(pts[:, 1], eps, h)
        for cx, in_x in self._axis_tiles(pts[:, 0], eps, w):
            for cy, in_y in rows:
                ok = in_x & in_y
                hit |= mask[cy, cx] & ok
                if off_grid:
                    hit |= ~ok
        return hit

    def inside(self, points: np.ndarray, eps: float = 1e-9) -> np.ndarray:
        """Points inside or on the boundary of the room polygon."""
        return self._tile_lookup(self.in_room, points, eps)

    def inside_lattice(self, xs: np.ndarray, ys: np.ndarray, eps: float = 1e-9) -> np.ndarray:
        """(len(ys), len(xs)): :meth:`inside` for every point (x, y) of the lattice ``xs`` x ``ys``, from one
        tile lookup per axis instead of one per point."""
        h, w = self.in_room.shape
        hit = np.zeros((len(ys), len(xs)), dtype=bool)
        rows = self._axis_tiles(ys, eps, h)
        for cx, in_x in self._axis_tiles(xs, eps, w):
            for cy, in_y in rows:
                hit |= self.in_room[np.ix_(cy, cx)] & in_y[:, None] & in_x
        return hit

    def in_column(self, points: np.ndarray, eps: float = 1e-9) -> np.ndarray:
        """Points strictly inside a column footprint (all four neighbourhoods are column tiles)."""
        col = self.in_room & ~self.ceiling
        if not col.any():
            return np.zeros(len(np.asarray(points).reshape(-1, 2)), dtype=bool)
        # strictly inside: not within eps of any non-column tile, nor of the grid's edge (a perimeter
        # column's outer side is the room's wall line, which stays ceiling for D1)
        return ~self._tile_lookup(~col, points, eps, off_grid=True)

    def on_ceiling(self, points: np.ndarray) -> np.ndarray:
        """Points inside or on the room polygon and not strictly inside a column."""
        return np.asarray(self.inside(points) & ~self.in_column(points))


def _walls(in_room: np.ndarray, tile: float) -> np.ndarray:
    h, w = in_room.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = in_room
    segs: list[tuple[float, float, float, float]] = []
    # horizontal edges: between row r-1 and r (grid line y = r)
    horiz = padded[1:, 1:-1] != padded[:-1, 1:-1]  # (h+1, w)
    for r, s, e in _merge_runs(horiz):
        segs.append((s * tile, r * tile, e * tile, r * tile))
    vert = padded[1:-1, 1:] != padded[1:-1, :-1]  # (h, w+1)
    for c, s, e in _merge_runs(vert.T):
        segs.append((c * tile, s * tile, c * tile, e * tile))
    return np.array(segs, dtype=float).reshape(-1, 4)


def _reflex_corners(in_room: np.ndarray, tile: float) -> np.ndarray:
    """Grid vertices where exactly three of the four surrounding tiles are in the room."""
    h, w = in_room.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = in_room
    count = (
        padded[:-1, :-1].astype(np.int8)
        + padded[:-1, 1:]
        + padded[1:, :-1]
        + padded[1:, 1:]
    )  # (h+1, w+1): vertex (x=c, y=r)
    diag = (padded[:-1, :-1] & padded[1:, 1:] & ~padded[:-1, 1:] & ~padded[1:, :-1]) | (
        ~padded[:-1, :-1] & ~padded[1:, 1:] & padded[:-1, 1:] & padded[1:, :-1]
    )
    rs, cs = np.nonzero((count == 3) | diag)
    return np.stack([cs * tile, rs * tile], axis=1).astype(float).reshape(-1, 2)


def geometry_of(grid: RoomGrid) -> RoomGeometry:
    """The geometry of ``grid``'s tiles: built once per room and process, cached frozen (read-only arrays)."""
    key = (room_key(grid), "geometry")
    cached = _GEOMETRY.get(key, RoomGeometry)
    if cached is not None:
        return cached
    arrays = grid.arrays
    geo = geometry_from_masks(arrays.in_room, arrays.ceiling_area, grid.tile_size_m)
    _GEOMETRY.put(key, geo)
    return geo


def geometry_from_masks(in_room: np.ndarray, ceiling: np.ndarray, tile: float) -> RoomGeometry:
    """The frozen geometry of the polygon made of the ``in_room`` tiles (``ceiling``: those that are not columns)."""
    inside = np.array(in_room, dtype=bool)
    parts = {"in_room": inside, "ceiling": np.array(ceiling, dtype=bool) & inside,
             "walls": _walls(inside, tile), "reflex_corners": _reflex_corners(inside, tile)}
    for arr in parts.values():
        arr.setflags(write=False)
    return RoomGeometry(tile=tile, **parts)
