"""IES LM-63 (1986, 1991, 1995, 2002, 2019) type C files: keywords, TILT, multipliers, any line wrapping."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import FT
from ..errors import PhotometryFileError
from .distribution import Distribution, Symmetry, table_problems
from .tokens import NumberStream, decode, number_tokens

__all__ = ["parse_ies"]

_VERSIONS = {
    "IESNA:LM-63-1995": "IES LM-63-1995",
    "IESNA91": "IES LM-63-1991",
    "IESNA:LM-63-2002": "IES LM-63-2002",
    "IES:LM-63-2019": "IES LM-63-2019",
}
_KEYWORD = re.compile(r"^\s*\[([A-Za-z0-9_]+)\]\s*(.*)$")
_PHOTOMETRIC_TYPES = {1: "C", 2: "B", 3: "A"}
_MAX_ANGLES = 721


def _symmetry(source: str, line: int, h: list[float]) -> Symmetry:
    first, last = h[0], h[-1]
    if len(h) == 1 and first == 0:
        return Symmetry.ROTATIONAL
    table = {(0.0, 90.0): Symmetry.QUADRANT, (0.0, 180.0): Symmetry.BILATERAL_C0,
             (90.0, 270.0): Symmetry.BILATERAL_C90, (0.0, 360.0): Symmetry.NONE}
    sym = table.get((first, last))
    if sym is None:
        raise PhotometryFileError(
            source, line, f"horizontal angles run {first:g}..{last:g}, which no type C symmetry allows",
            "type C horizontal angles are 0 (rotational), 0-90, 0-180, 90-270 or 0-360")
    return sym


def _tilt_factor(source: str, stream: NumberStream) -> float:
    """Read a TILT block (lamp geometry, count, angles, factors); the factor at 0° tilt (as mounted)."""
    stream.integer("the TILT lamp-to-luminaire geometry", 1, 3)
    n = stream.integer("the number of TILT angles", 1, _MAX_ANGLES)
    angles = stream.numbers(n, "the TILT angles")
    factors = stream.numbers(n, "the TILT multiplying factors")
    if any(f < 0 for f in factors):
        raise PhotometryFileError(source, stream.line, "a TILT multiplying factor is negative",
                                  "TILT factors are 0 or more")
    if not angles[0] <= 0.0 <= angles[-1]:
        return 1.0  # the file does not cover the mounted (level) position: the table applies as measured
    return float(np.interp(0.0, angles, factors))


def _tilt_file(source: str, path: Path | None, name: str, max_bytes: int) -> float:
    """The factor at 0° from a separate TILT file next to the IES file."""
    if path is None or "/" in name or "\\" in name or name.startswith("."):
        raise PhotometryFileError(source, None, f"TILT={name} names a separate TILT file that cannot be used here",
                                  "put the TILT data in the file (TILT=INCLUDE) or use TILT=NONE")
    tilt_path = path.parent / name
    if not tilt_path.is_file():
        raise PhotometryFileError(source, None, f"the TILT file {name!r} is missing next to the IES file",
                                  f"copy {name} beside {path.name}, or use TILT=NONE")
    from ..fsio import read_regular_file

    text = decode(read_regular_file(tilt_path, max_bytes), str(tilt_path))
    lines = text.splitlines()
    return _tilt_factor(str(tilt_path), NumberStream(str(tilt_path), number_tokens(lines, 1), len(lines)))


def _version(source: str, lines: list[str]) -> tuple[str, int]:
    """The LM-63 edition and the index of the first line after the version line."""
    first = lines[0].strip().upper()
    fmt = _VERSIONS.get(first.replace(" ", ""))
    if fmt is not None:
        return fmt, 1
    if first.startswith("IES"):
        raise PhotometryFileError(source, 1, f"unknown IES version line {lines[0].strip()!r}",
                                  "the first line must be IESNA91, IESNA:LM-63-1995, IESNA:LM-63-2002 "
                                  "or IES:LM-63-2019 (or no version line for LM-63-1986)")
    return "IES LM-63-1986", 0


def _keywords(source: str, lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """The ``[KEYWORD] value`` lines ([MORE] continues the previous one) and the index of the TILT= line."""
    keywords: dict[str, str] = {}
    last_key: str | None = None
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if line.upper().startswith("TILT="):
            return keywords, i
        match = _KEYWORD.match(line)
        if match:
            key, value = match.group(1).upper(), match.group(2).strip()
            if key == "MORE" and last_key is not None:
                keywords[last_key] = f"{keywords[last_key]} {value}".strip()
            else:
                keywords.setdefault(key, value)
                last_key = key
    raise PhotometryFileError(source, None, "no TILT= line: this is not an IES LM-63 file",
                              "check the file type; IES files have a TILT=NONE line before the numbers")


@dataclass(frozen=True)
class _Header:
    line: int
    n_lamps: int
    lumens_per_lamp: float
    multiplier: float
    n_v: int
    n_h: int
    units: int
    width: float
    length: float
    ballast: float
    ballast_lamp: float
    watts: float


def _header(source: str, stream: NumberStream) -> _Header:
    """The 13 numbers after TILT, checked: lamps, lumens, multiplier, counts, type, units, size, factors, watts."""
    line = stream.line
    n_lamps = stream.integer("the number of lamps", 1, 1000)
    lumens_per_lamp = stream.number("the lumens per lamp")
    multiplier = stream.number("the candela multiplier")
    n_v = stream.integer("the number of vertical angles", 2, _MAX_ANGLES)
    n_h = stream.integer("the number of horizontal angles", 1, _MAX_ANGLES)
    ptype_line = stream.line
    ptype = stream.integer("the photometric type", 1, 3)
    units = stream.integer("the units type", 1, 2)
    width = stream.number("the luminous width")
    length = stream.number("the luminous length")
    stream.number("the luminous height")
    ballast = stream.number("the ballast factor")
    ballast_lamp = stream.number("the ballast-lamp photometric factor (future use)")
    watts_line = stream.line
    watts = stream.number("the input watts")
    if ptype != 1:
        raise PhotometryFileError(source, ptype_line, f"photometric type {ptype} ({_PHOTOMETRIC_TYPES[ptype]}) "
                                  "is not supported", "ceiling luminaires need type C photometry "
                                  "(photometric type 1); ask the manufacturer for a type C file")
    if lumens_per_lamp <= 0 and lumens_per_lamp != -1:
        raise PhotometryFileError(source, line, f"lumens per lamp is {lumens_per_lamp:g}",
                                  "give the rated lamp lumens, or -1 for absolute photometry")
    if multiplier <= 0 or ballast <= 0:
        raise PhotometryFileError(source, line, "the candela multiplier and ballast factor must be positive",
                                  "use 1 when no scaling applies")
    if watts < 0:
        raise PhotometryFileError(source, watts_line, f"input watts is {watts:g}", "give the luminaire's input power")
    return _Header(line, n_lamps, lumens_per_lamp, multiplier, n_v, n_h, units, width, length, ballast,
                   ballast_lamp, watts)


def parse_ies(raw: bytes | str, source: str, path: str | os.PathLike[str] | None = None,
              max_bytes: int = 10_000_000) -> Distribution:
    """Parse an IES LM-63 file's text; errors name ``source``, the line and the fix."""
    text = decode(raw, source) if isinstance(raw, bytes) else raw
    lines = text.splitlines()
    if not lines:
        raise PhotometryFileError(source, None, "the file is empty", "export the IES file again")
    fmt, start = _version(source, lines)
    keywords, tilt_line = _keywords(source, lines, start)
    tilt = lines[tilt_line].strip()[5:].strip()
    stream = NumberStream(source, number_tokens(lines[tilt_line + 1:], tilt_line + 2), len(lines))
    factor = 1.0
    if tilt.upper() == "INCLUDE":
        factor = _tilt_factor(source, stream)
    elif tilt.upper() != "NONE":
        factor = _tilt_file(source, Path(path) if path is not None else None, tilt, max_bytes)
    head = _header(source, stream)
    v_line = stream.line
    vertical = stream.numbers(head.n_v, "the vertical angles")
    h_line = stream.line
    horizontal = stream.numbers(head.n_h, "the horizontal angles")
    table_line = stream.line
    rows = [stream.numbers(head.n_v, f"the candela row for C{horizontal[i]:g}") for i in range(head.n_h)]
    if stream.remaining():
        raise PhotometryFileError(
            source, stream.line, f"{stream.remaining()} values follow the candela table",
            f"the counts disagree with the data: the header says {head.n_v} vertical x {head.n_h} horizontal "
            f"angles (line {head.line}); fix the counts or the table")
    symmetry = _symmetry(source, h_line, horizontal)
    scale = head.multiplier * head.ballast * factor
    if fmt in ("IES LM-63-1986", "IES LM-63-1991", "IES LM-63-1995") and head.ballast_lamp > 0:
        scale *= head.ballast_lamp
    candela = tuple(tuple(v * scale for v in row) for row in rows)
    problems = table_problems(symmetry, tuple(horizontal), tuple(vertical), candela)
    if problems:
        where = v_line if "vertical" in problems[0] else h_line if "horizontal" in problems[0] else table_line
        raise PhotometryFileError(source, where, problems[0], "export the file again from the manufacturer's tool")
    to_m = FT if head.units == 1 else 1.0
    return Distribution(
        file=Path(source).name or source,
        format=fmt,
        manufacturer=keywords.get("MANUFAC", ""),
        catalogue=keywords.get("LUMCAT", ""),
        luminaire=keywords.get("LUMINAIRE", ""),
        symmetry=symmetry,
        c_angles=tuple(horizontal),
        gamma_angles=tuple(vertical),
        candela=candela,
        input_watts=head.watts if head.watts > 0 else None,
        rated_lumens=None if head.lumens_per_lamp == -1 else head.n_lamps * head.lumens_per_lamp,
        length_m=abs(head.length) * to_m,
        width_m=abs(head.width) * to_m,
    )
