"""§7.4 smoke-detector geometry rules (rules layer): the D1 lattice, the design margin, the clearances.

These are definitions of the rules, shared by the detector model and the evaluator so that both
mean the same points, radius and distances; each side still solves and checks with its own code.
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import RoomGeometry, geometry_of
from .grid import RoomGrid

__all__ = [
    "BS_CORRIDOR_RADIUS_M",
    "D1_LATTICE_STEP_M",
    "DESIGN_MARGIN_M",
    "NARROW_CORRIDOR_M",
    "OPTIMUM_PROBLEM",
    "coverage_points",
    "design_radius",
    "edge_distance",
    "is_bs_corridor",
    "wall_clearance",
]

D1_LATTICE_STEP_M = 0.1  # §7.4 D1
BS_CORRIDOR_RADIUS_M = 7.5  # §7.4 D1: BS corridor end points
NARROW_CORRIDOR_M = 1.0  # §7.4 D2 BS exception: narrower corridors put detectors on the centreline
DESIGN_MARGIN_M = 0.05  # §7.4: generators place so that the lattice check passes with R - 0.05 m
OPTIMUM_PROBLEM = "0.1 m lattice, R-0.05 m, legal sites"  # the D6 design problem, model and checker alike
TOL = 1e-9


def _axis(lo: float, hi: float, h: float) -> np.ndarray:
    """``lo, lo + h, ...`` up to ``hi``, with ``hi`` itself always included."""
    n = math.floor((hi - lo) / h + 1e-9)
    v = lo + h * np.arange(n + 1)
    return np.append(v, hi) if hi - v[-1] > 1e-9 else v


def is_bs_corridor(grid: RoomGrid, geo: RoomGeometry) -> bool:
    """BS 5839-1 corridor rule applies: a rectangular corridor no wider than the standard's limit."""
    limit = grid.detector_spec.corridor_max_width_m
    return (
        limit is not None
        and grid.room_type == "corridor"
        and geo.is_rectangle
        and geo.narrow_dimension_m <= limit + TOL
    )


def coverage_points(grid: RoomGrid) -> tuple[np.ndarray, float, bool]:
    """D1 points, the coverage radius and whether the BS corridor (centreline) rule applies."""
    geo = geometry_of(grid)
    h = D1_LATTICE_STEP_M
    x0, y0, x1, y1 = geo.bbox
    if is_bs_corridor(grid, geo):
        if x1 - x0 >= y1 - y0:
            xs = _axis(x0, x1, h)
            pts = np.stack([xs, np.full(len(xs), (y0 + y1) / 2)], axis=1)
        else:
            ys = _axis(y0, y1, h)
            pts = np.stack([np.full(len(ys), (x0 + x1) / 2), ys], axis=1)
        return pts, BS_CORRIDOR_RADIUS_M, True
    gx, gy = np.meshgrid(_axis(x0, x1, h), _axis(y0, y1, h))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    pts = pts[geo.inside(pts)]
    vertices = np.unique(np.concatenate([geo.walls[:, 0:2], geo.walls[:, 2:4]]), axis=0)
    pts = np.concatenate([pts, vertices])
    pts = pts[~geo.in_column(pts)]
    return pts, grid.detector_spec.r_cover_m, False


def design_radius(radius: float) -> float:
    """The design radius: the D1 radius less the §7.4 generator margin."""
    return radius - DESIGN_MARGIN_M


def edge_distance(points: np.ndarray, tiles: np.ndarray, tile: float, chunk: int = 1_000_000) -> np.ndarray:
    """Distance from each point to the nearest edge of any of the square ``tiles`` (0 inside one; D3/D4)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    cells = np.asarray(tiles, dtype=float).reshape(-1, 2)
    if len(cells) == 0:
        return np.full(len(pts), np.inf)
    centres = (cells + 0.5) * tile
    out = np.empty(len(pts))
    step = max(1, chunk // len(centres))
    for s in range(0, len(pts), step):
        d = np.maximum(np.abs(pts[s : s + step, None, :] - centres[None, :, :]) - tile / 2, 0.0)
        out[s : s + step] = np.sqrt((d * d).sum(axis=2)).min(axis=1)
    return out


def wall_clearance(grid: RoomGrid, geo: RoomGeometry, xy: np.ndarray) -> np.ndarray:
    """The distance D2 checks: to every wall; in a BS corridor under 1 m, to the end walls on the centreline only."""
    if is_bs_corridor(grid, geo) and geo.narrow_dimension_m < NARROW_CORRIDOR_M:
        x0, y0, x1, y1 = geo.bbox
        if x1 - x0 >= y1 - y0:
            along, across, lo, hi, mid = 0, 1, x0, x1, (y0 + y1) / 2
        else:
            along, across, lo, hi, mid = 1, 0, y0, y1, (x0 + x1) / 2
        d = np.minimum(xy[:, along] - lo, hi - xy[:, along])
        return np.where(np.abs(xy[:, across] - mid) <= 1e-6, d, 0.0)
    return geo.distance_to_walls(xy)
