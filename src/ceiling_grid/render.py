"""SVG reflected ceiling plan: tiles, blocked tiles by state, fixtures, detector coverage, lux false colour.

The illuminance layer is the §2.5 maintained work-plane illuminance (``photometry.illuminance``)
sampled k x k times per ceiling tile and embedded as a small PNG; everything else is vector.
The output is deterministic (fixed number formatting, fixed zlib level), so reruns are byte-identical.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass
from html import escape

import numpy as np

from .config import DEFAULT_MAINTENANCE_FACTOR
from .evaluator.report import ComplianceReport
from .geometry import geometry_of
from .grid import COMPONENT_CODES, STATE_CODES, Component, RoomGrid, TileState
from .prepared import prepare

__all__ = [
    "DEFAULT_MAX_SAMPLE_WORK",
    "DEFAULT_PLAN_PX",
    "LUMINAIRE_SVG_SUFFIX",
    "illuminance_samples",
    "luminaire_svg_name",
    "lux_colour",
    "render_svg",
]

DEFAULT_PLAN_PX = 960.0  # longer side of the plan in px
LUMINAIRE_SVG_SUFFIX = ".luminaire.svg"
MIN_TILE_PX, MAX_TILE_PX = 6.0, 56.0
DEFAULT_MAX_SAMPLE_WORK = 6e7  # samples x luminaire sub-sources per illuminance layer
MAX_SAMPLES_PER_TILE = 4
MARGIN = 24.0
TITLE_H = 64.0
DIM_H = 30.0  # band above the plan for the luminaire columns' dimension line
DIM_W = 52.0  # band left of the plan for the rows' dimension line
DIM_MIN_LABEL_PX = 30.0  # a gap narrower than this on the drawing gets ticks but no figure
LEGEND_W = 250.0
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

# viridis anchors (matplotlib's, 10 stops): perceptually uniform and colour-blind safe
_VIRIDIS = np.array(
    [
        (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
    ],
    dtype=float,
)  # fmt: skip

BEAM_WALL_STROKE = "#37474f"  # the edges of a beam deep enough to be a wall for detector zoning

# How each blocked tile state is drawn: (fill or pattern id, legend label)
_STATE_STYLE: dict[TileState, tuple[str, str]] = {
    TileState.COLUMN: ("url(#p-column)", "Column (no ceiling)"),
    TileState.BEAM: ("url(#p-beam)", "Under downstand beam"),
    TileState.SPRINKLER: ("#fde2e2", "Sprinkler head"),
    TileState.ACCESS_PANEL: ("url(#p-access)", "Access panel"),
    TileState.EQUIPMENT: ("url(#p-equipment)", "Existing equipment"),
    TileState.CUT_TILE: ("url(#p-cut)", "Cut tile (no fitting)"),
}

_DEFS = """<defs>
<pattern id="p-column" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#5b5b5b"/>
<line x1="0" y1="0" x2="0" y2="6" stroke="#3a3a3a" stroke-width="3"/></pattern>
<pattern id="p-beam" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#e3e3e3"/>
<line x1="0" y1="3" x2="6" y2="3" stroke="#8c8c8c" stroke-width="1.2"/></pattern>
<pattern id="p-access" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="7" height="7" fill="#f3e6cf"/>
<line x1="0" y1="0" x2="0" y2="7" stroke="#a87b2f" stroke-width="1.6"/></pattern>
<pattern id="p-equipment" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#dcdcef"/><path d="M0 0L6 6M6 0L0 6" stroke="#6a6a9a" stroke-width="0.9"/></pattern>
<pattern id="p-cut" width="5" height="5" patternUnits="userSpaceOnUse">
<rect width="5" height="5" fill="#f7f7f7"/><circle cx="2.5" cy="2.5" r="0.9" fill="#9a9a9a"/></pattern>
<pattern id="p-invalid" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#f6d5d5"/>
<line x1="0" y1="0" x2="0" y2="6" stroke="#b03a3a" stroke-width="1.4"/></pattern>
<linearGradient id="g-lux" x1="0" y1="1" x2="0" y2="0">
{stops}
</linearGradient>
</defs>"""


def _f(v: float) -> str:
    """Compact fixed-point number for SVG attributes (deterministic)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def lux_colour(values: np.ndarray, vmax: float) -> np.ndarray:
    """(n, 3) uint8 viridis colours for ``values`` lux on a 0..vmax scale."""
    t = np.clip(np.asarray(values, dtype=float) / max(vmax, 1e-9), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    i = np.minimum(np.floor(t).astype(int), len(_VIRIDIS) - 2)
    frac = (t - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac
    return np.asarray(np.rint(rgb).astype(np.uint8))


def _hex(rgb: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def _png_rgba(pixels: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as a PNG (no dependencies; deterministic)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def illuminance_samples(grid: RoomGrid, max_work: float = DEFAULT_MAX_SAMPLE_WORK) -> tuple[np.ndarray, int] | None:
    """Maintained work-plane lux at k x k points per tile: ((H·k, W·k) array, NaN off the ceiling; k).

    ``None`` when the room has no luminaire. k shrinks for big rooms to bound the work.
    """
    from .config import DEFAULT_LUMINAIRE_SUBDIVISION
    from .photometry import illuminance

    lights = grid.light_anchors()[0]
    if len(lights) == 0:
        return None
    ceiling = grid.arrays.ceiling_area
    n_tiles = int(ceiling.sum())
    sources = len(grid.positions(Component.LIGHT)) * DEFAULT_LUMINAIRE_SUBDIVISION**2
    k = int(max(1, min(MAX_SAMPLES_PER_TILE, math.floor(math.sqrt(max_work / max(1, n_tiles * sources))))))
    t = grid.tile_size_m
    sub = (np.arange(k) + 0.5) / k
    ys, xs = np.nonzero(ceiling)
    ox, oy = np.meshgrid(sub, sub, indexing="xy")
    px = (xs[:, None] + ox.ravel()[None, :]) * t
    py = (ys[:, None] + oy.ravel()[None, :]) * t
    values = illuminance(grid, lights, np.stack([px.ravel(), py.ravel()], axis=1)).reshape(len(xs), k, k)
    out = np.full((grid.height * k, grid.width * k), np.nan)
    for j in range(k):
        for i in range(k):
            out[ys * k + j, xs * k + i] = values[:, j, i]
    return out, k


def _nice_max(v: float) -> float:
    if v <= 0:
        return 100.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return float(m * exp)
    return float(10 * exp)


def _room_path(mask: np.ndarray, s: float, ox: float, oy: float) -> str:
    """One SVG path covering the True tiles of ``mask`` (row runs merged)."""
    parts = []
    for y in range(mask.shape[0]):
        row = mask[y]
        if not row.any():
            continue
        padded = np.concatenate([[False], row, [False]]).astype(np.int8)
        d = np.diff(padded)
        for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True):
            parts.append(f"M{_f(ox + a * s)} {_f(oy + y * s)}h{_f((b - a) * s)}v{_f(s)}h{_f(-(b - a) * s)}z")
    return "".join(parts)


def _symbol(component: Component, cx: float, cy: float, s: float) -> str:
    """The plan symbol of one component centred at (cx, cy) on a tile of ``s`` px."""
    h = s / 2
    if component is Component.LIGHT:
        return _fitting(cx - h, cy - h, s, s, s)
    if component is Component.AIR_SUPPLY:
        a, b = h * 0.8, h * 0.42
        sw = _f(max(0.6, s / 28))
        return (
            f'<g class="diffuser"><rect x="{_f(cx - a)}" y="{_f(cy - a)}" width="{_f(2 * a)}" height="{_f(2 * a)}" '
            f'fill="#ffffff" stroke="#1f5fbf" stroke-width="{sw}"/>'
            f'<rect x="{_f(cx - b)}" y="{_f(cy - b)}" width="{_f(2 * b)}" height="{_f(2 * b)}" fill="none" '
            f'stroke="#1f5fbf" stroke-width="{sw}"/>'
            f'<path d="M{_f(cx - a)} {_f(cy - a)}L{_f(cx + a)} {_f(cy + a)}M{_f(cx + a)} {_f(cy - a)}'
            f'L{_f(cx - a)} {_f(cy + a)}" stroke="#1f5fbf" stroke-width="{sw}"/></g>'
        )
    if component is Component.AIR_RETURN:
        a = h * 0.8
        sw = _f(max(0.6, s / 28))
        bars = "".join(
            f"M{_f(cx - a * 0.7)} {_f(cy + a * f)}H{_f(cx + a * 0.7)}" for f in (-0.5, -0.25, 0.0, 0.25, 0.5)
        )
        return (
            f'<g class="return"><rect x="{_f(cx - a)}" y="{_f(cy - a)}" width="{_f(2 * a)}" height="{_f(2 * a)}" '
            f'fill="#ffffff" stroke="#22804a" stroke-width="{sw}"/><path d="{bars}" stroke="#22804a" '
            f'stroke-width="{sw}"/></g>'
        )
    if component is Component.SMOKE_DETECTOR:
        r = h * 0.66
        return (
            f'<g class="detector"><circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(r)}" fill="#ffffff" stroke="#c62828" '
            f'stroke-width="{_f(max(0.7, s / 24))}"/><text x="{_f(cx)}" y="{_f(cy + r * 0.44)}" '
            f'font-size="{_f(r * 1.25)}" font-weight="bold" fill="#c62828" text-anchor="middle">S</text></g>'
        )
    if component is Component.INVALID:
        return ""
    return ""


def _legend_symbol(kind: str, x: float, y: float, size: float) -> str:
    cx, cy = x + size / 2, y + size / 2
    if kind in {"light", "air_supply", "air_return", "smoke_detector"}:
        return _symbol(Component(kind), cx, cy, size)
    if kind == "coverage":
        return f'<path d="M{_f(x)} {_f(cy)}h{_f(size)}" stroke="#c62828" stroke-width="1.4" stroke-dasharray="4 3"/>'
    if kind == "beam_wall":
        return (f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(size)}" height="{_f(size)}" fill="url(#p-beam)" '
                f'stroke="{BEAM_WALL_STROKE}" stroke-width="1.6" stroke-dasharray="5 2"/>')
    if kind == "invalid":
        fill = "url(#p-invalid)"
    elif kind == "outside":
        fill = "#ffffff"
    else:
        fill = _STATE_STYLE[TileState(kind)][0]
    extra = ""
    if kind == TileState.SPRINKLER.value:
        extra = f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(size * 0.16)}" fill="#d32f2f"/>'
    dash = ' stroke-dasharray="2 2"' if kind == "outside" else ""
    return (
        f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(size)}" height="{_f(size)}" fill="{fill}" stroke="#7a7a7a" '
        f'stroke-width="0.8"{dash}/>{extra}'
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _title_lines(grid: RoomGrid, report: ComplianceReport | None) -> tuple[str, str, str, str]:
    """(heading, figures, status text, status colour)."""
    from .records import headline_figures

    spec = grid.room_spec
    heading = (
        f"{grid.grid_id} — {grid.detector_spec.title} — room type {grid.room_type} — "
        f"{grid.width}×{grid.height} tiles of {grid.tile_size_m * 1000:g} mm, "
        f"ceiling {_metres(grid.ceiling_height_m)} m"
    )
    counts = " · ".join(
        _plural(len(grid.light_anchors()[0]) if c is Component.LIGHT else grid.count(c), word)
        for c, word in (
            (Component.LIGHT, "luminaire"),
            (Component.AIR_SUPPLY, "supply diffuser"),
            (Component.AIR_RETURN, "return grille"),
            (Component.SMOKE_DETECTOR, "smoke detector"),
        )
    )
    if report is None:
        return heading, counts, "NOT EVALUATED", "#6b6b6b"
    h = headline_figures(grid, report)
    em, u0 = h.get("em_lux"), h.get("u0")
    em_text = f"Em {em:.0f} lx (target {spec.target_lux:g})" if isinstance(em, int | float) else "Em n/a"
    u0_text = f"U0 {u0:.2f} (target {spec.target_u0:g})" if isinstance(u0, int | float) else "U0 n/a"
    figures = f"{em_text} · {u0_text} · {counts}"
    if report.compliant:
        return heading, figures, "COMPLIANT", "#1b7f3b"
    if report.infeasible:
        inf = "; ".join(f"{i.get('rule', '?')}: {i.get('reason', '')}" for i in report.infeasible)
        return heading, figures, f"INFEASIBLE — {inf}", "#b26a00"
    failed = ", ".join(sorted(set(report.failed_rules())))
    return heading, figures, f"NOT COMPLIANT — failed {failed}", "#c62828"


@dataclass(frozen=True)
class _Frame:
    """Where the plan sits on the canvas: tile size ``s`` px, plan origin and size, px per metre ``k``."""

    s: float
    ox: float
    oy: float
    pw: float
    ph: float
    k: float


@dataclass(frozen=True)
class _Legend:
    """The legend's entries and place: beside the plan, or below it in columns when the plan is wide."""

    items: list[tuple[str, str]]
    x: float
    y: float
    cols: int
    rows: int
    below: bool


def _lux_values(grid: RoomGrid, illuminance: bool | np.ndarray | None) -> np.ndarray | None:
    """The lux layer to draw (None: none), computed or checked against the grid's shape."""
    h, w = grid.height, grid.width
    if illuminance is None or illuminance is True:
        sampled = illuminance_samples(grid)
        return sampled[0] if sampled else None
    if isinstance(illuminance, np.ndarray):
        lux = np.asarray(illuminance, dtype=float)
        if lux.shape[0] % h or lux.shape[1] % w or lux.shape[0] // h != lux.shape[1] // w:
            raise ValueError(f"illuminance has shape {lux.shape}; use (height·k, width·k) = ({h}·k, {w}·k)")
        return lux
    return None


def _legend_items(grid: RoomGrid) -> list[tuple[str, str]]:
    arrays = grid.arrays
    lum = grid.luminaire
    kind = "2x4 troffer" if lum.length_tiles == 2 else "LED panel"
    if lum.distribution is not None:
        kind += ", IES/LDT"
    items: list[tuple[str, str]] = [
        ("light", f"Luminaire ({kind})"),
        ("air_supply", "Supply diffuser (4-way)"),
        ("air_return", "Return grille"),
        ("smoke_detector", "Smoke detector"),
        ("coverage", f"Detector coverage R = {grid.detector_spec.r_cover_m:.2f} m"),
    ]
    present_states = {s_ for s_ in TileState if arrays.is_state(s_).any()}
    for state, (_, label) in _STATE_STYLE.items():
        if state in present_states:
            items.append((state.value, label))
    if arrays.is_component(Component.INVALID).any():
        items.append(("invalid", "Blocked tile (invalid)"))
    room = prepare(grid)
    if room.beam_walls.any():
        depth = room.detector_spec.beam_wall_ratio * room.ceiling_height_m
        sign = "\u2265" if room.detector_spec.beam_wall_inclusive else ">"
        items.append(("beam_wall", f"Beam {sign} {depth:.2f} m: detector wall"))
    if TileState.OUTSIDE in present_states:
        items.append(("outside", "Outside the room"))
    return items


def _layout(grid: RoomGrid, fr: _Frame, has_lux: bool) -> tuple[_Legend, float, float]:
    """The legend's place and the canvas (width, height) before the title is fitted."""
    items = _legend_items(grid)
    below = fr.pw >= 2.5 * fr.ph
    bar_block_h = 250.0 if has_lux else 0.0
    if below:
        cols = max(1, int(fr.pw // LEGEND_W) - (1 if has_lux else 0))
        rows = math.ceil(len(items) / cols)
        lx, ly = fr.ox, fr.oy + fr.ph + 52
        legend_h = max(28 + 24 * rows, bar_block_h)
        width = fr.ox + max(fr.pw, (cols + 1) * LEGEND_W) + MARGIN
        height = ly + legend_h + MARGIN
    else:
        cols, rows = 1, len(items)
        lx, ly = fr.ox + fr.pw + MARGIN, fr.oy
        legend_h = 28 + 24 * rows + bar_block_h
        width = fr.ox + fr.pw + MARGIN + LEGEND_W + MARGIN
        height = fr.oy + max(fr.ph + 40, legend_h) + MARGIN
    return _Legend(items, lx, ly, cols, rows, below), width, height


def _metres(value: float) -> str:
    """A length for a person: two decimals at most (2.7432 -> 2.74, 3.0 -> 3)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _header(grid: RoomGrid, title: tuple[str, str, str, str], width: float, height: float,
            vmax: float) -> list[str]:
    """The SVG root, title, gradient definitions, background and the three title lines."""
    heading, figures, status, colour = title
    stops = "\n".join(
        f'<stop offset="{_f(f)}" stop-color="{_hex(lux_colour(np.array([f * vmax]), vmax)[0])}"/>'
        for f in np.linspace(0, 1, 11)
    )
    return [
        (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
         f'width="100%" viewBox="0 0 {_f(width)} {_f(height)}" preserveAspectRatio="xMinYMin meet" '
         f'font-family="{FONT}">'),
        f"<title>Reflected ceiling plan {escape(grid.grid_id)}</title>",
        _DEFS.format(stops=stops),
        f'<rect width="{_f(width)}" height="{_f(height)}" fill="#ffffff"/>',
        (f'<g class="title"><text x="{_f(MARGIN)}" y="{_f(MARGIN + 14)}" font-size="16" font-weight="bold" '
        f'fill="#1a1a1a">{escape(heading)}</text>'
        f'<text x="{_f(MARGIN)}" y="{_f(MARGIN + 34)}" font-size="13" fill="#333333">{escape(figures)}</text>'
        f'<text class="status" x="{_f(MARGIN)}" y="{_f(MARGIN + 54)}" font-size="14" font-weight="bold" '
        f'fill="{colour}">{escape(status)}</text></g>'),
    ]


def _floor_layer(grid: RoomGrid, fr: _Frame) -> list[str]:
    room_d = _room_path(grid.arrays.in_room, fr.s, fr.ox, fr.oy)
    return [f'<clipPath id="c-room"><path d="{room_d}"/></clipPath>',
            f'<path class="floor" d="{room_d}" fill="#f2f2f2"/>']


def _lux_layer(lux: np.ndarray, fr: _Frame, vmax: float) -> str:
    """The false-colour illuminance image, clipped to the room."""
    rgba = np.zeros((*lux.shape, 4), dtype=np.uint8)
    ok = np.isfinite(lux)
    if ok.any():
        # Fill holes (columns, outside) with the nearest value so smoothing shows no dark halo;
        # the room clip path and the opaque column tiles hide the filled pixels.
        from scipy import ndimage

        idx = ndimage.distance_transform_edt(~ok, return_distances=False, return_indices=True)
        filled = lux[tuple(idx)]
        rgba[..., :3] = lux_colour(filled, vmax)
        rgba[..., 3] = 255
    data = base64.b64encode(_png_rgba(rgba)).decode("ascii")
    return (
        f'<image class="lux" x="{_f(fr.ox)}" y="{_f(fr.oy)}" width="{_f(fr.pw)}" height="{_f(fr.ph)}" '
        f'preserveAspectRatio="none" opacity="0.85" clip-path="url(#c-room)" '
        f'xlink:href="data:image/png;base64,{data}" href="data:image/png;base64,{data}"/>'
    )


def _blocked_layer(grid: RoomGrid, fr: _Frame) -> str:
    """Columns, sprinklers, access panels ... and invalid tiles."""
    arrays, s, ox, oy = grid.arrays, fr.s, fr.ox, fr.oy
    blocked: list[str] = []
    for state, (fill, _) in _STATE_STYLE.items():
        ys, xs = np.nonzero(arrays.state == STATE_CODES[state])
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
            blocked.append(
                f'<rect class="tile-{state.value}" x="{_f(ox + x * s)}" y="{_f(oy + y * s)}" width="{_f(s)}" '
                f'height="{_f(s)}" fill="{fill}"/>'
            )
            if state is TileState.SPRINKLER:
                blocked.append(
                    f'<circle cx="{_f(ox + (x + 0.5) * s)}" cy="{_f(oy + (y + 0.5) * s)}" r="{_f(s * 0.16)}" '
                    f'fill="#d32f2f"/>'
                )
    ys, xs = np.nonzero(arrays.component == COMPONENT_CODES[Component.INVALID])
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        blocked.append(
            f'<rect class="tile-invalid" x="{_f(ox + x * s)}" y="{_f(oy + y * s)}" width="{_f(s)}" height="{_f(s)}" '
            f'fill="url(#p-invalid)"/>'
        )
    return '<g class="blocked">' + "".join(blocked) + "</g>"


def _grid_layer(grid: RoomGrid, fr: _Frame) -> list[str]:
    """The ceiling grid's tees (clipped to the room) and the walls."""
    s, ox, oy = fr.s, fr.ox, fr.oy
    lines = "".join(f"M{_f(ox + i * s)} {_f(oy)}V{_f(oy + fr.ph)}" for i in range(grid.width + 1))
    lines += "".join(f"M{_f(ox)} {_f(oy + j * s)}H{_f(ox + fr.pw)}" for j in range(grid.height + 1))
    k = fr.k
    walls = "".join(
        f"M{_f(ox + x0 * k)} {_f(oy + y0 * k)}L{_f(ox + x1 * k)} {_f(oy + y1 * k)}"
        for x0, y0, x1, y1 in geometry_of(grid).walls.tolist()
    )
    out = [
        (f'<path class="grid-lines" d="{lines}" stroke="#9e9e9e" stroke-width="{_f(max(0.35, s / 60))}" '
        f'fill="none" clip-path="url(#c-room)"/>'),
        f'<path class="walls" d="{walls}" stroke="#1a1a1a" stroke-width="2.5" stroke-linecap="square" fill="none"/>',
    ]
    room = prepare(grid)
    if room.beam_walls.any():  # the outline of the beams that zone the detectors, where it is not a room wall
        detection, geo = room.detection, room.geometry
        mids = (detection.walls[:, 0:2] + detection.walls[:, 2:4]) / 2
        inner = detection.walls[geo.distance_to_walls(mids) > 1e-6]
        d = "".join(f"M{_f(ox + x0 * k)} {_f(oy + y0 * k)}L{_f(ox + x1 * k)} {_f(oy + y1 * k)}"
                    for x0, y0, x1, y1 in inner.tolist())
        out.append(f'<path class="beam-walls" d="{d}" stroke="{BEAM_WALL_STROKE}" stroke-width="1.8" '
                   'stroke-dasharray="6 3" fill="none"/>')
    return out


def _components_layer(grid: RoomGrid, fr: _Frame) -> list[str]:
    """One group per component kind, then the detectors' coverage circles."""
    r_px = grid.detector_spec.r_cover_m * fr.k
    out: list[str] = []
    coverage = []
    out.append(_luminaires(grid, fr))
    for comp in (Component.AIR_SUPPLY, Component.AIR_RETURN, Component.SMOKE_DETECTOR):
        symbols = []
        for x, y in grid.positions(comp).tolist():
            cx, cy = fr.ox + (x + 0.5) * fr.s, fr.oy + (y + 0.5) * fr.s
            symbols.append(_symbol(comp, cx, cy, fr.s))
            if comp is Component.SMOKE_DETECTOR:
                coverage.append(
                    f'<circle class="coverage" cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(r_px)}" fill="#c62828" '
                    f'fill-opacity="0.04" stroke="#c62828" stroke-width="1.3" stroke-dasharray="6 4"/>'
                )
        out.append(f'<g class="{comp.value}-layer">' + "".join(symbols) + "</g>")
    out.append('<g class="coverage-layer" clip-path="url(#c-room)">' + "".join(coverage) + "</g>")
    return out


def _luminaires(grid: RoomGrid, fr: _Frame) -> str:
    """The luminaire layer: each fitting drawn in its true footprint (1 x 1 panel, or a 1 x 2 troffer lying
    along its long axis), and any light tile that forms no whole fitting as a lone panel."""
    anchors, stray = grid.light_anchors()
    sx, sy = grid.luminaire.size_tiles
    symbols = []
    for (x, y), (w, h) in [*((a, (sx, sy)) for a in anchors.tolist()), *((t, (1, 1)) for t in stray.tolist())]:
        symbols.append(_fitting(fr.ox + x * fr.s, fr.oy + y * fr.s, w * fr.s, h * fr.s, fr.s))
    return f'<g class="{Component.LIGHT.value}-layer">' + "".join(symbols) + "</g>"


def _fitting(x: float, y: float, w: float, h: float, s: float) -> str:
    """A luminaire occupying the w x h px rectangle at (x, y): its housing and its lit diffuser."""
    inset, lit = 0.08 * s, 0.25 * s
    return (
        f'<g class="luminaire"><rect x="{_f(x + inset)}" y="{_f(y + inset)}" width="{_f(w - 2 * inset)}" '
        f'height="{_f(h - 2 * inset)}" fill="#fffbea" stroke="#3b3b3b" stroke-width="{_f(max(0.6, s / 30))}"/>'
        f'<rect x="{_f(x + lit)}" y="{_f(y + lit)}" width="{_f(w - 2 * lit)}" height="{_f(h - 2 * lit)}" '
        f'fill="#ffe27a" stroke="#b58b00" stroke-width="{_f(max(0.4, s / 50))}"/></g>'
    )


def _dimension_lines(grid: RoomGrid, fr: _Frame) -> list[str]:
    """Designer's dimension lines for the luminaires: wall offsets and spacings of the columns (above the
    plan) and of the rows (left of it), in metres."""
    anchors = grid.light_anchors()[0]
    if len(anchors) == 0:
        return []
    room = prepare(grid)
    x0, x1, y0, y1 = room.tile_bbox
    t = grid.tile_size_m
    centres = room.light_centres(anchors)
    cols = [x0 * t, *np.unique(centres[:, 0]).tolist(), (x1 + 1) * t]
    rows = [y0 * t, *np.unique(centres[:, 1]).tolist(), (y1 + 1) * t]
    return ['<g class="dimensions" stroke="#455a64" fill="#455a64" font-size="10.5">',
            *_dimension_line(cols, fr.ox, fr.k, fr.oy - DIM_H / 2, across=True),
            *_dimension_line(rows, fr.oy, fr.k, fr.ox - DIM_W / 2, across=False), "</g>"]


def _dimension_line(marks_m: list[float], origin: float, k: float, at: float, *, across: bool) -> list[str]:
    """One dimension line through ``marks_m`` (metres from the plan origin): a ruled line, a tick at each
    mark, and the gap in metres between ticks far enough apart. ``across``: horizontal, above the plan."""
    pos = [origin + v * k for v in marks_m]

    def point(p: float, q: float) -> str:
        return f"{_f(p)} {_f(q)}" if across else f"{_f(q)} {_f(p)}"

    run = "H" if across else "V"
    tick = "v8" if across else "h8"
    out = [f'<path d="M{point(pos[0], at)}{run}{_f(pos[-1])}" stroke-width="0.8" fill="none"/>']
    out += [f'<path d="M{point(p, at - 4)}{tick}" stroke-width="0.8"/>' for p in pos]
    for a, b, va, vb in zip(pos, pos[1:], marks_m, marks_m[1:], strict=False):
        if b - a < DIM_MIN_LABEL_PX:
            continue
        if across:
            out.append(f'<text x="{_f((a + b) / 2)}" y="{_f(at - 4)}" text-anchor="middle" stroke="none">'
                       f"{vb - va:.2f}</text>")
        else:
            out.append(f'<text x="{_f(at - 6)}" y="{_f((a + b) / 2 + 3.5)}" text-anchor="end" stroke="none">'
                       f"{vb - va:.2f}</text>")
    return out


def _scale_bar(grid: RoomGrid, fr: _Frame) -> str:
    t, k, ox = grid.tile_size_m, fr.k, fr.ox
    bar_m: float = next((m for m in (20, 10, 5, 2, 1) if m * k <= fr.pw * 0.4), 1)
    by = fr.oy + fr.ph + 22
    return (
        f'<g class="scale"><path d="M{_f(ox)} {_f(by)}h{_f(bar_m * k)}M{_f(ox)} {_f(by - 4)}v8M{_f(ox + bar_m * k)} '
        f'{_f(by - 4)}v8" stroke="#1a1a1a" stroke-width="1.5"/><text x="{_f(ox + bar_m * k + 8)}" y="{_f(by + 4)}" '
        f'font-size="12" fill="#333333">{bar_m} m (room {grid.width * t:.2f} × {grid.height * t:.2f} m)</text></g>'
    )


def luminaire_svg_name(grid_id: str) -> str:
    """The file beside a room's plan that holds its photometric file's polar curves (written by ``outputs``)."""
    return f"{grid_id}{LUMINAIRE_SVG_SUFFIX}"


def _legend(grid: RoomGrid, lg: _Legend, has_lux: bool, vmax: float) -> list[str]:
    """The symbol legend and, with a lux layer, the colour bar with the target marked."""
    lx, ly, rows = lg.x, lg.y, lg.rows
    leg = [f'<g class="legend"><text x="{_f(lx)}" y="{_f(ly + 12)}" font-size="14" font-weight="bold">Legend</text>']
    for i, (kind, label) in enumerate(lg.items):
        ix, iy = lx + (i // rows) * LEGEND_W, ly + 26.0 + (i % rows) * 24
        leg.append(_legend_symbol(kind, ix, iy, 18))
        text = f'<text x="{_f(ix + 28)}" y="{_f(iy + 13)}" font-size="12.5" fill="#222222">{escape(label)}</text>'
        if kind == "light" and grid.luminaire.distribution is not None:  # the polar curves written beside the plan
            text = (f'<a href="{escape(luminaire_svg_name(grid.grid_id))}" class="photometry-link">'
                    f"<title>{escape(grid.luminaire.photometry or '')}: polar candela curves</title>{text}</a>")
        leg.append(text)
    if has_lux:
        ry = ly + 26.0 + rows * 24 + 10
        if lg.below:
            lx, ry = lx + lg.cols * LEGEND_W, ly
        leg.extend(_colour_bar(grid, lx, ry, vmax))
    leg.append("</g>")
    return leg


def _colour_bar(grid: RoomGrid, lx: float, ry: float, vmax: float) -> list[str]:
    spec = grid.room_spec
    bar_h = 180.0
    top = ry + 38
    out = [
        f'<text x="{_f(lx)}" y="{_f(ry + 12)}" font-size="13" font-weight="bold">Maintained illuminance (lx)</text>',
        (f'<text x="{_f(lx)}" y="{_f(ry + 27)}" font-size="11" fill="#555555">work plane '
        f"{grid.effective_work_plane_m:g} m, MF {DEFAULT_MAINTENANCE_FACTOR:g}</text>"),
        (f'<rect class="colour-bar" x="{_f(lx)}" y="{_f(top)}" width="22" height="{_f(bar_h)}" '
        f'fill="url(#g-lux)" stroke="#555555" stroke-width="0.8"/>'),
    ]
    for f in np.linspace(0, 1, 6):
        ty = top + bar_h * (1 - f)
        out.append(
            f'<path d="M{_f(lx + 22)} {_f(ty)}h5" stroke="#555555"/><text x="{_f(lx + 31)}" y="{_f(ty + 4)}" '
            f'font-size="11.5" fill="#222222">{f * vmax:.0f}</text>'
        )
    ty = top + bar_h * (1 - min(1.0, spec.target_lux / vmax))
    out.append(
        f'<path d="M{_f(lx - 4)} {_f(ty)}h30" stroke="#d32f2f" stroke-width="2"/><text x="{_f(lx + 72)}" '
        f'y="{_f(ty + 4)}" font-size="11.5" fill="#d32f2f">target {spec.target_lux:g} lx</text>'
    )
    return out


def render_svg(
    grid: RoomGrid,
    report: ComplianceReport | None = None,
    illuminance: bool | np.ndarray | None = None,
    plan_px: float = DEFAULT_PLAN_PX,
) -> str:
    """The reflected ceiling plan of ``grid`` as an SVG document (str), drawn one layer at a time.

    ``illuminance``: ``None``/``True`` computes the lux layer (when there are luminaires),
    ``False`` leaves it out, an array of shape (H·k, W·k) supplies it (NaN = no value).
    """
    w, h = grid.width, grid.height
    s = max(MIN_TILE_PX, min(MAX_TILE_PX, plan_px / max(w, h)))
    s = math.floor(s * 10) / 10
    fr = _Frame(s, MARGIN + DIM_W, MARGIN + TITLE_H + DIM_H, w * s, h * s, s / grid.tile_size_m)
    lux = _lux_values(grid, illuminance)
    finite = lux[np.isfinite(lux)] if lux is not None else np.zeros(0)
    vmax = _nice_max(max(float(finite.max()) if finite.size else 0.0, grid.room_spec.target_lux * 1.25))
    legend, width, height = _layout(grid, fr, lux is not None)
    title = _title_lines(grid, report)
    heading, figures, status, _ = title
    # Widen the canvas if the title would overflow (approximate glyph widths of the sans font).
    width = max(width, 2 * MARGIN + max(len(heading) * 9.6, len(figures) * 7.2, len(status) * 8.6))
    out = _header(grid, title, width, height, vmax) + _floor_layer(grid, fr)
    if lux is not None:
        out.append(_lux_layer(lux, fr, vmax))
    out.append(_blocked_layer(grid, fr))
    out += _grid_layer(grid, fr)
    out += _components_layer(grid, fr)
    out += _dimension_lines(grid, fr)
    out.append(_scale_bar(grid, fr))
    out += _legend(grid, legend, lux is not None, vmax)
    out.append("</svg>")
    return "\n".join(out) + "\n"
