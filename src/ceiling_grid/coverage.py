"""§7.4 smoke-detector geometry rules (rules layer): the design margin and the clearances.

The D1 lattice itself is part of the prepared room (:attr:`ceiling_grid.prepared.PreparedRoom.lattice`).

These are definitions of the rules, shared by the detector model and the evaluator so that both
mean the same points, radius and distances; each side still solves and checks with its own code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .grid import Component, RoomGrid
from .prepared import PreparedRoom

__all__ = [
    "DESIGN_MARGIN_M",
    "NARROW_CORRIDOR_M",
    "OPTIMUM_PROBLEM",
    "SiteClearances",
    "air_terminals",
    "design_radius",
    "edge_distance",
    "luminaires_in_throw",
    "site_clearances",
    "tile_edge_distance",
    "wall_clearance",
]

NARROW_CORRIDOR_M = 1.0  # §7.4 D2 BS exception: narrower corridors put detectors on the centreline
DESIGN_MARGIN_M = 0.05  # §7.4: generators place so that the lattice check passes with R - 0.05 m
OPTIMUM_PROBLEM = "0.1 m lattice, R-0.05 m, legal sites"  # the D6 design problem, model and checker alike
TOL = 1e-9


def design_radius(radius: float) -> float:
    """The design radius: the D1 radius less the §7.4 generator margin."""
    return radius - DESIGN_MARGIN_M


def edge_distance(points: np.ndarray, tiles: np.ndarray, tile: float, chunk: int = 1_000_000,
                  *, per_tile: bool = False) -> np.ndarray:
    """Distance from each point to the nearest edge of any of the square ``tiles`` (0 inside one; D3/D4).

    With ``per_tile``, the other way round: for each tile, the distance from its edge to the nearest point.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    cells = np.asarray(tiles, dtype=float).reshape(-1, 2)
    centres = (cells + 0.5) * tile
    rows, cols = (centres, pts) if per_tile else (pts, centres)  # the distance is symmetric: chunk the rows
    if len(cols) == 0:
        return np.full(len(rows), np.inf)
    if len(cols) > _EDGE_KNN and len(rows) > _EDGE_KNN:
        return _edge_distance_knn(rows, cols, tile)
    return _edge_distance_dense(rows, cols, tile, chunk)


_EDGE_KNN = 16  # nearest centres tried per point before the exact dense fallback


def _edge_distance_dense(rows: np.ndarray, cols: np.ndarray, tile: float, chunk: int = 1_000_000) -> np.ndarray:
    out = np.empty(len(rows))
    step = max(1, chunk // len(cols))
    for s in range(0, len(rows), step):
        d = np.maximum(np.abs(rows[s : s + step, None, :] - cols[None, :, :]) - tile / 2, 0.0)
        out[s : s + step] = np.sqrt((d * d).sum(axis=2)).min(axis=1)
    return out


def _edge_distance_knn(rows: np.ndarray, cols: np.ndarray, tile: float) -> np.ndarray:
    """The same distance from the nearest centres only: a square whose centre is c away is at least
    c - t/sqrt(2) from the point, and the nearest centre's square at most c* - t/2 (or 0), so every square
    that can be nearest lies within c* + t (sqrt(2) - 1) / 2; rows whose k-th centre is not beyond that
    are recomputed densely, so the result is exact."""
    k = min(_EDGE_KNN, len(cols))
    dist, idx = cKDTree(cols).query(rows, k=k)
    d = np.maximum(np.abs(rows[:, None, :] - cols[idx]) - tile / 2, 0.0)
    out = np.sqrt((d * d).sum(axis=2)).min(axis=1)
    unsure = dist[:, -1] <= dist[:, 0] + tile * (math.sqrt(2.0) - 1.0) / 2 + 1e-9
    if unsure.any():
        out[unsure] = _edge_distance_dense(rows[unsure], cols, tile)
    return np.asarray(out)


def tile_edge_distance(tiles: np.ndarray, squares: np.ndarray, tile: float) -> np.ndarray:
    """:func:`edge_distance` from the centres of ``tiles`` to the nearest of the tiles ``squares`` (both (n, 2)
    x, y tile indices), from one exact Euclidean distance transform on a half-tile raster.

    The point of a closed tile nearest to another tile's centre has whole or half-tile coordinates, so on a
    raster of half-tile pixels it is a pixel: the transform's distance to the nearest pixel of any square is
    the edge distance itself, not an approximation."""
    cells = np.asarray(tiles, dtype=np.int64).reshape(-1, 2)
    sq = np.asarray(squares, dtype=np.int64).reshape(-1, 2)
    if len(sq) == 0 or len(cells) == 0:
        return np.full(len(cells), np.inf)
    lo = np.minimum(cells.min(axis=0), sq.min(axis=0))
    hi = np.maximum(cells.max(axis=0), sq.max(axis=0))
    free = np.ones(tuple(2 * (hi - lo) + 3), dtype=bool)  # [x, y] pixels of half a tile
    corner = 2 * (sq - lo)
    for dx in range(3):  # each closed square covers 3 x 3 pixels: its centre, edges and corners
        for dy in range(3):
            free[corner[:, 0] + dx, corner[:, 1] + dy] = False
    centre = 2 * (cells - lo) + 1
    dist = ndimage.distance_transform_edt(free)
    return np.asarray(dist[centre[:, 0], centre[:, 1]] * (tile / 2))


def wall_clearance(room: PreparedRoom, xy: np.ndarray) -> np.ndarray:
    """The distance D2 checks: to every wall (beams that are walls included); in a BS corridor under 1 m, to
    the end walls on the centreline only."""
    geo = room.geometry
    if room.is_bs_corridor and geo.narrow_dimension_m < NARROW_CORRIDOR_M:
        x0, y0, x1, y1 = geo.bbox
        if x1 - x0 >= y1 - y0:
            along, across, lo, hi, mid = 0, 1, x0, x1, (y0 + y1) / 2
        else:
            along, across, lo, hi, mid = 1, 0, y0, y1, (x0 + x1) / 2
        d = np.minimum(xy[:, along] - lo, hi - xy[:, along])
        if room.beam_walls.any():  # a beam that is a wall across the corridor is an end wall too
            d = np.minimum(d, edge_distance(xy, np.argwhere(room.beam_walls)[:, ::-1], room.tile))
        return np.where(np.abs(xy[:, across] - mid) <= 1e-6, d, 0.0)
    return room.detection.distance_to_walls(xy)


def luminaires_in_throw(grid: RoomGrid) -> np.ndarray:
    """(h, w) luminaires in the four tiles next to each tile along a row or column: what a supply diffuser
    there would throw into (coordination between the trades)."""
    light = grid.arrays.is_component(Component.LIGHT).astype(np.int64)
    out = np.zeros_like(light)
    out[:, 1:] += light[:, :-1]
    out[:, :-1] += light[:, 1:]
    out[1:, :] += light[:-1, :]
    out[:-1, :] += light[1:, :]
    return out


def air_terminals(grid: RoomGrid) -> np.ndarray:
    """(n, 2) tiles of the air terminals a detector must clear (D3): supply diffusers, and returns where the
    rule set says so."""
    kinds = [Component.AIR_SUPPLY] + ([Component.AIR_RETURN] if grid.detector_spec.clear_of_returns else [])
    return np.concatenate([grid.positions(k) for k in kinds])


@dataclass(frozen=True)
class SiteClearances:
    """The D2, D3 and D4 distances of candidate detector tiles, and which of them each rule lets through."""

    tiles: np.ndarray  # (n, 2) tiles
    centres: np.ndarray  # (n, 2) metres
    wall: np.ndarray  # (n,) D2 distance (wall_clearance)
    air: np.ndarray  # (n,) D3 edge distance to the nearest air terminal
    luminaire: np.ndarray  # (n,) D4 edge distance to the nearest luminaire
    wall_ok: np.ndarray  # (n,) D2 holds
    air_ok: np.ndarray  # (n,) D3 holds
    luminaire_ok: np.ndarray  # (n,) D4 holds

    @property
    def nearest(self) -> np.ndarray:
        """(n,) the smallest of the three clearances."""
        return np.asarray(np.minimum(np.minimum(self.wall, self.air), self.luminaire))


def site_clearances(room: PreparedRoom, grid: RoomGrid, tiles: np.ndarray) -> SiteClearances:
    """D2 (walls), D3 (air terminals) and D4 (luminaires) for detectors on ``tiles`` of ``grid`` (§4.4, §7.4)."""
    spec = room.detector_spec
    tiles = np.asarray(tiles, dtype=np.int64).reshape(-1, 2)
    centres = room.tile_centres(tiles)
    wall = wall_clearance(room, centres)
    air = tile_edge_distance(tiles, air_terminals(grid), room.tile)
    lum = tile_edge_distance(tiles, grid.positions(Component.LIGHT), room.tile)
    return SiteClearances(tiles, centres, wall, air, lum, wall >= spec.wall_min_m - TOL,
                          air >= spec.air_terminal_min_m - TOL, lum >= spec.luminaire_min_m - TOL)
