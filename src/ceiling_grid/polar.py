"""The polar candela diagram of a photometric file as SVG: C0/C180 solid, C90/C270 dashed, nadir down."""

from __future__ import annotations

import math
from html import escape

import numpy as np

from .photometric_files import Distribution, plane_profile

__all__ = ["DEFAULT_POLAR_SIZE_PX", "polar_svg"]

DEFAULT_POLAR_SIZE_PX = 480
_RINGS = 4
_SPOKES_DEG = 30


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * exp >= value - 1e-9:
            return step * exp
    return 10.0 * exp


def _curve(dist: Distribution, c_right: float, cx: float, cy: float, scale: float) -> str:
    """Path of one plane pair: ``c_right`` on the right of nadir, ``c_right`` + 180 on the left."""
    pts: list[tuple[float, float]] = []
    g_left, i_left = plane_profile(dist, c_right + 180.0)
    for g, i in zip(g_left[::-1], i_left[::-1], strict=True):
        a = math.radians(float(g))
        pts.append((cx - scale * float(i) * math.sin(a), cy + scale * float(i) * math.cos(a)))
    g_right, i_right = plane_profile(dist, c_right)
    for g, i in zip(g_right, i_right, strict=True):
        a = math.radians(float(g))
        pts.append((cx + scale * float(i) * math.sin(a), cy + scale * float(i) * math.cos(a)))
    return "M " + " L ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def polar_svg(dist: Distribution, size_px: int = DEFAULT_POLAR_SIZE_PX) -> str:
    """A self-contained, responsive SVG polar diagram of ``dist`` in candela."""
    _, gamma, _ = dist.arrays()
    up = bool(np.any(gamma > 90.0))
    head = 72
    r = size_px / 2 - 24
    cx = size_px / 2
    cy = head + (r if up else 8)
    height = cy + r + 40
    top = _nice_ceiling(dist.max_candela())
    scale = r / top
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size_px} {height:.0f}" width="100%" '
        f'style="max-width:{size_px}px" font-family="sans-serif" font-size="11">'),
        f'<rect width="{size_px}" height="{height:.0f}" fill="white"/>',
        (f'<text x="{cx}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(dist.catalogue or dist.file)}</text>"),
        (f'<text x="{cx}" y="36" text-anchor="middle">{escape(dist.manufacturer)} · {escape(dist.format)} · '
        f"{escape(dist.symmetry.value)} · {dist.lumens():.0f} lm</text>"),
    ]
    for k in range(1, _RINGS + 1):
        rr = r * k / _RINGS
        arc = (f'<circle cx="{cx}" cy="{cy:.1f}" r="{rr:.1f}"' if up else
               f'<path d="M {cx - rr:.1f},{cy:.1f} A {rr:.1f},{rr:.1f} 0 0 0 {cx + rr:.1f},{cy:.1f}"')
        parts.append(f'{arc} fill="none" stroke="#ccc"/>')
        parts.append(f'<text x="{cx + 3:.1f}" y="{cy + rr - 3:.1f}" fill="#888">{top * k / _RINGS:g} cd</text>')
    for deg in range(-180 if up else -90, (180 if up else 90) + 1, _SPOKES_DEG):
        a = math.radians(deg)
        parts.append(f'<line x1="{cx}" y1="{cy:.1f}" x2="{cx + r * math.sin(a):.1f}" '
                     f'y2="{cy + r * math.cos(a):.1f}" stroke="#e4e4e4"/>')
        if deg % 90 == 0 or not up:
            parts.append(f'<text x="{cx + (r + 12) * math.sin(a):.1f}" y="{cy + (r + 12) * math.cos(a) + 4:.1f}" '
                         f'text-anchor="middle" fill="#666">{abs(deg)}°</text>')
    parts.append(f'<path d="{_curve(dist, 0.0, cx, cy, scale)}" fill="none" stroke="#c0392b" stroke-width="2"/>')
    parts.append(f'<path d="{_curve(dist, 90.0, cx, cy, scale)}" fill="none" stroke="#2471a3" '
                 'stroke-width="2" stroke-dasharray="6 4"/>')
    ly = height - 12
    parts.append(f'<line x1="16" y1="{ly - 4:.0f}" x2="40" y2="{ly - 4:.0f}" stroke="#c0392b" stroke-width="2"/>'
                 f'<text x="46" y="{ly:.0f}">C0 / C180</text>')
    parts.append(f'<line x1="140" y1="{ly - 4:.0f}" x2="164" y2="{ly - 4:.0f}" stroke="#2471a3" stroke-width="2" '
                 f'stroke-dasharray="6 4"/><text x="170" y="{ly:.0f}">C90 / C270</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
