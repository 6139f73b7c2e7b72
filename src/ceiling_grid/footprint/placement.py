"""Lay a ceiling grid over a room footprint the way installers do: on the room's own axes, borders balanced."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_COLUMN_SHARE",
    "DEFAULT_CUT_SHARE",
    "DEFAULT_FULL_SHARE",
    "GridPlacement",
    "Polygon",
    "contains_point",
    "grid_to_source",
    "place_grid",
    "polygon_area",
    "self_intersection",
]

DEFAULT_CUT_SHARE = 0.5  # a tile with less of its area inside the room is outside (§1.4: cut below 50 % is unusable)
DEFAULT_FULL_SHARE = 0.999  # at or above this share a tile is whole; between the two it is a cut tile
DEFAULT_COLUMN_SHARE = 0.25  # a tile this much covered by a column's footprint is a column tile
_AXIS_DECIMALS = 6

Polygon = np.ndarray  # (n, 2) vertices in metres, in order, not closed


def polygon_area(poly: np.ndarray) -> float:
    """Signed shoelace area (positive counter-clockwise)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def self_intersection(poly: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (i, j) that cross or touch, or None for a simple polygon."""
    n = len(poly)
    a, b = poly, np.roll(poly, -1, axis=0)

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    def on(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:  # r on segment pq, given collinear
        return bool(min(p[0], q[0]) - 1e-12 <= r[0] <= max(p[0], q[0]) + 1e-12
                    and min(p[1], q[1]) - 1e-12 <= r[1] <= max(p[1], q[1]) + 1e-12)

    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue
            p1, q1, p2, q2 = a[i], b[i], a[j], b[j]
            d1, d2 = orient(p1, q1, p2), orient(p1, q1, q2)
            d3, d4 = orient(p2, q2, p1), orient(p2, q2, q1)
            if ((d1 > 0) != (d2 > 0) and d1 != 0 and d2 != 0) and ((d3 > 0) != (d4 > 0) and d3 != 0 and d4 != 0):
                return i, j
            for d, p, q, r in ((d1, p1, q1, p2), (d2, p1, q1, q2), (d3, p2, q2, p1), (d4, p2, q2, q1)):
                if abs(d) < 1e-12 and on(p, q, r):
                    return i, j
    return None


def _clip(poly: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Sutherland-Hodgman: ``poly`` clipped to the axis-aligned box (any simple polygon against a convex box)."""
    out = poly
    for axis, bound, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if len(out) == 0:
            break
        pts = out
        nxt = np.roll(pts, -1, axis=0)
        res: list[np.ndarray] = []
        for p, q in zip(pts, nxt, strict=True):
            pin = p[axis] >= bound if keep_above else p[axis] <= bound
            qin = q[axis] >= bound if keep_above else q[axis] <= bound
            if pin:
                res.append(p)
            if pin != qin:
                t = (bound - p[axis]) / (q[axis] - p[axis])
                res.append(p + t * (q - p))
        out = np.array(res).reshape(-1, 2)
    return out


def _contains(poly: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: which points (px, py) lie inside ``poly``."""
    inside = np.zeros(len(px), dtype=bool)
    xs, ys = poly[:, 0], poly[:, 1]
    xe, ye = np.roll(xs, -1), np.roll(ys, -1)
    for x0, y0, x1, y1 in zip(xs, ys, xe, ye, strict=True):
        crosses = (y0 > py) != (y1 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (px < xc)
    return inside


def contains_point(poly: np.ndarray, x: float, y: float) -> bool:
    """Whether the point (x, y) lies inside ``poly`` (even-odd rule)."""
    return bool(_contains(poly, np.array([x], dtype=float), np.array([y], dtype=float))[0])


def _share_inside(poly: np.ndarray, x0: np.ndarray, y0: np.ndarray, t: float) -> np.ndarray:
    """Share of each t x t tile at (x0, y0) that ``poly`` covers (exact clipping)."""
    out = np.zeros(len(x0))
    for k, (ax, ay) in enumerate(zip(x0.tolist(), y0.tolist(), strict=True)):
        clipped = _clip(poly, ax, ay, ax + t, ay + t)
        out[k] = abs(polygon_area(clipped)) / (t * t) if len(clipped) >= 3 else 0.0
    return out


def grid_to_source(origin: tuple[float, float], angle_deg: float, gx: float, gy: float) -> tuple[float, float]:
    """Grid metres (gx along a tile row, gy down the plan) to the drawing's metres, for a grid whose top-left corner
    is at ``origin`` and whose x axis points at ``angle_deg`` (see ``metadata.placement``)."""
    a = math.radians(angle_deg)
    return (origin[0] + gx * math.cos(a) + gy * math.sin(a), origin[1] + gx * math.sin(a) - gy * math.cos(a))


@dataclass(frozen=True)
class GridPlacement:
    """Where the tile grid sits in the source drawing. Tile rows run down the plan as in the drawing (the
    drawing's y points up, the grid's rows go down): grid point (gx, gy) in metres is, in the source,
    origin + gx·u - gy·v with u = (cos a, sin a) along the grid's x axis and v = (-sin a, cos a)."""

    tile_m: float
    width: int
    height: int
    origin: tuple[float, float]  # source coordinates (m) of the grid's top-left corner (tile (0, 0))
    angle_deg: float  # direction of the grid's x axis in the source drawing
    border_x_m: float  # the cut border tile width at both ends along x (t: whole tiles)
    border_y_m: float

    def to_source(self, gx: float, gy: float) -> tuple[float, float]:
        """Grid metres (x along a tile row, y down the columns) to source metres."""
        return grid_to_source(self.origin, self.angle_deg, gx, gy)

    def as_dict(self) -> dict[str, object]:
        return {"tile_m": self.tile_m, "origin_m": [round(v, 6) for v in self.origin],
                "angle_deg": round(self.angle_deg, _AXIS_DECIMALS), "border_x_m": round(self.border_x_m, 6),
                "border_y_m": round(self.border_y_m, 6),
                "to_source": "x = ox + gx cos(a) + gy sin(a); y = oy + gx sin(a) - gy cos(a)"}


def _room_axis(outline: np.ndarray) -> float:
    """Angle (degrees, in [0, 90)) of the room's longest straight wall: the grid runs along it."""
    d = np.roll(outline, -1, axis=0) - outline
    lengths = np.hypot(d[:, 0], d[:, 1])
    k = int(np.argmax(lengths))
    return round(math.degrees(math.atan2(d[k, 1], d[k, 0])) % 90.0, _AXIS_DECIMALS)


def _balanced(extent: float, t: float) -> tuple[int, float]:
    """(tiles, border): whole tiles in the middle and two equal cut borders of at least t/2 where possible."""
    if extent <= t + 1e-9:
        return 1, extent  # narrower than one tile: one (cut) tile
    if abs(extent / t - round(extent / t)) < 1e-6:
        return round(extent / t), t  # whole tiles fit exactly: no cuts
    whole = math.floor((extent - t) / t + 1e-9)
    border = (extent - whole * t) / 2.0
    if abs(border - t) < 1e-6:
        return whole + 2, t
    return whole + 2, border


def _rotate(points: np.ndarray, angle_deg: float) -> np.ndarray:
    a = math.radians(-angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return np.asarray(points @ rot.T)


def place_grid(outline: np.ndarray, tile_m: float, holes: Sequence[np.ndarray] = (),
               columns: Sequence[np.ndarray] = ()) -> tuple[GridPlacement, np.ndarray]:
    """The placement and an (h, w) array of tile states (``ceiling``, ``cut_tile``, ``outside``, ``column``).

    The grid's x axis follows the longest wall; along each axis the tiles are centred on the room so the
    two border rows of cut tiles are equally wide (at least half a tile when the room allows). A tile is
    ``outside`` when less than half of it lies in the room (holes removed) and its centre is outside too,
    ``cut_tile`` when the wall cuts it, and ``column`` when a column covers a quarter of it or more.
    """
    angle = _room_axis(outline)
    local = _rotate(outline, angle)
    lo = local.min(axis=0)
    hi = local.max(axis=0)
    nx, bx = _balanced(float(hi[0] - lo[0]), tile_m)
    ny, by = _balanced(float(hi[1] - lo[1]), tile_m)
    left = lo[0] - (tile_m - bx if nx > 1 else 0.0)
    top = hi[1] + (tile_m - by if ny > 1 else 0.0)  # row 0 is the drawing's top row, as on a plan
    iy, ix = np.mgrid[0:ny, 0:nx]
    x0 = left + ix.ravel() * tile_m
    y0 = top - (iy.ravel() + 1) * tile_m  # the lower edge of each tile in the drawing's frame
    share = _share_inside(local, x0, y0, tile_m)
    for hole in holes:
        share -= _share_inside(_rotate(hole, angle), x0, y0, tile_m)
    col = np.zeros_like(share)
    for c in columns:
        col += _share_inside(_rotate(c, angle), x0, y0, tile_m)
        cx, cy = _rotate(c, angle).mean(axis=0)  # a column slimmer than a tile still takes the tile it stands in
        col += (x0 <= cx) & (cx < x0 + tile_m) & (y0 <= cy) & (cy < y0 + tile_m)
    centre_in = _contains(local, x0 + tile_m / 2, y0 + tile_m / 2)
    for hole in holes:
        centre_in &= ~_contains(_rotate(hole, angle), x0 + tile_m / 2, y0 + tile_m / 2)
    states = np.full(len(share), "ceiling", dtype=object)
    states[share < DEFAULT_FULL_SHARE] = "cut_tile"
    # mostly outside, and its centre too: a corner tile of two cut borders keeps the room rectangular
    states[(share < DEFAULT_CUT_SHARE - 1e-6) & ~centre_in] = "outside"
    states[(col >= DEFAULT_COLUMN_SHARE) & (states != "outside")] = "column"
    a = math.radians(angle)
    origin = (float(left * math.cos(a) - top * math.sin(a)), float(left * math.sin(a) + top * math.cos(a)))
    placement = GridPlacement(tile_m, nx, ny, origin, angle, bx if nx > 1 else tile_m, by if ny > 1 else tile_m)
    return placement, states.reshape(ny, nx)
