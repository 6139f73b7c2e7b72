"""EULUMDAT (.ldt) files: the fixed header lines, lamp sets, symmetry Isym 0-4, decimal commas, any wrapping."""

from __future__ import annotations

from pathlib import Path

from ..errors import PhotometryFileError
from .distribution import Distribution, Symmetry, table_problems
from .tokens import NumberStream, decode, number_tokens

__all__ = ["parse_ldt"]

_SYMMETRY = {0: Symmetry.NONE, 1: Symmetry.ROTATIONAL, 2: Symmetry.BILATERAL_C0,
             3: Symmetry.BILATERAL_C90, 4: Symmetry.QUADRANT}
_HEADER_LINES = 26  # lines 1-26 of the format (26: number of lamp sets)
_LAMP_SET_LINES = 6  # 26a-26f per lamp set
_MAX_ANGLES = 721


def _stored_range(isym: int, mc: int) -> tuple[int, int]:
    """0-based [first, last] index of the stored C planes among the ``mc`` listed ones."""
    if isym == 1:
        return 0, 0
    if isym == 2:
        return 0, mc // 2
    if isym == 3:
        return mc // 4, 3 * mc // 4
    if isym == 4:
        return 0, mc // 4
    return 0, mc - 1


def _line_number(source: str, lines: list[str], index: int, what: str, comma: bool = True) -> float:
    """The number on header line ``index`` (0-based), decimal comma allowed."""
    if index >= len(lines):
        raise PhotometryFileError(source, len(lines), f"the file ends before line {index + 1} ({what})",
                                  "the file is truncated: export it again")
    text = lines[index].strip()
    try:
        return float(text.replace(",", ".") if comma else text)
    except ValueError:
        raise PhotometryFileError(source, index + 1, f"{what} is {text!r}, not a number",
                                  "EULUMDAT has one value per header line; check the line order") from None


def _lamp_sets(source: str, lines: list[str], n_sets: int) -> tuple[bool, float, float]:
    """Lines 26a-26f per lamp set: (absolute photometry?, total lamp flux, total wattage)."""
    absolute = False
    flux_total = 0.0
    watts_total = 0.0
    base = _HEADER_LINES
    for s in range(n_sets):
        at = base + s * _LAMP_SET_LINES
        n_lamps = _line_number(source, lines, at, f"lamp set {s + 1}: the number of lamps")
        flux = _line_number(source, lines, at + 2, f"lamp set {s + 1}: the total lamp flux")
        watts = _line_number(source, lines, at + 5, f"lamp set {s + 1}: the wattage with ballast")
        if n_lamps == 0 or n_lamps != int(n_lamps):
            raise PhotometryFileError(source, at + 1, f"lamp set {s + 1} has {n_lamps:g} lamps",
                                      "give a whole number of lamps (negative for absolute photometry)")
        if flux < 0 or watts < 0:
            raise PhotometryFileError(source, at + 3 if flux < 0 else at + 6,
                                      f"lamp set {s + 1}: flux and wattage must not be negative",
                                      "give the lamp flux in lm and the wattage in W")
        absolute = absolute or n_lamps < 0
        flux_total += flux
        watts_total += watts
    if not absolute and flux_total <= 0:
        raise PhotometryFileError(source, base + 3, "the lamp flux is 0", "give the lamps' total flux in lm")
    return absolute, flux_total, watts_total


def parse_ldt(raw: bytes | str, source: str) -> Distribution:
    """Parse a EULUMDAT file's text; intensities in cd/klm are scaled to absolute candela."""
    text = decode(raw, source) if isinstance(raw, bytes) else raw
    lines = text.splitlines()
    if len(lines) < _HEADER_LINES:
        raise PhotometryFileError(source, len(lines) or None, f"only {len(lines)} lines: a EULUMDAT header has "
                                  f"{_HEADER_LINES}", "the file is truncated or not EULUMDAT: export it again")

    def integer(index: int, what: str, lo: int, hi: int) -> int:
        value = _line_number(source, lines, index, what)
        if value != int(value) or not lo <= value <= hi:
            raise PhotometryFileError(source, index + 1, f"{what} is {value:g}", f"use a whole number {lo}..{hi}")
        return int(value)

    integer(1, "the type indicator Ityp", 0, 3)
    isym = integer(2, "the symmetry indicator Isym", 0, 4)
    mc = integer(3, "the number of C planes Mc", 1, _MAX_ANGLES)
    ng = integer(5, "the number of intensities per plane Ng", 2, _MAX_ANGLES)
    length_mm = _line_number(source, lines, 15, "the luminous area length")
    width_mm = _line_number(source, lines, 16, "the luminous area width")
    cfli = _line_number(source, lines, 23, "the conversion factor CFLI")
    n_sets = integer(25, "the number of lamp sets", 1, 20)
    if (isym in (2, 3) and mc % 2) or (isym == 4 and mc % 4):
        raise PhotometryFileError(source, 4, f"Mc = {mc} cannot be split for symmetry Isym {isym}",
                                  "Mc must be a multiple of 2 (Isym 2, 3) or 4 (Isym 4)")
    if cfli <= 0:
        raise PhotometryFileError(source, 24, f"CFLI is {cfli:g}", "use 1 when no conversion applies")
    absolute, flux_total, watts_total = _lamp_sets(source, lines, n_sets)
    base = _HEADER_LINES
    rest_start = base + n_sets * _LAMP_SET_LINES
    stream = NumberStream(source, number_tokens(lines[rest_start:], rest_start + 1, decimal_comma=True),
                          len(lines), decimal_comma=True)
    stream.numbers(10, "the direct ratios")
    c_all = stream.numbers(mc, "the C angles")
    gamma = stream.numbers(ng, "the γ angles")
    lo, hi = _stored_range(isym, mc)
    c_line = stream.line
    rows = [stream.numbers(ng, f"the intensities of plane C{c_all[i]:g}") for i in range(lo, hi + 1)]
    if stream.remaining():
        raise PhotometryFileError(
            source, stream.line, f"{stream.remaining()} values follow the intensity table",
            f"the counts disagree with the data: Mc = {mc}, Ng = {ng} with Isym {isym} means "
            f"{(hi - lo + 1) * ng} intensities; fix lines 4 and 6 or the table")
    stored = c_all[lo : hi + 1]
    symmetry = _SYMMETRY[isym]
    if symmetry is Symmetry.NONE:  # the table runs to the last listed plane; C360 repeats C0
        stored = [*stored, 360.0]
        rows = [*rows, rows[0]]
    scale = cfli * (flux_total / 1000.0 if flux_total > 0 else 1.0)  # cd/klm -> cd; absolute with no flux: cd
    candela = tuple(tuple(v * scale for v in row) for row in rows)
    problems = table_problems(symmetry, tuple(stored), tuple(gamma), candela)
    if problems:
        raise PhotometryFileError(source, c_line, problems[0], "export the file again from the manufacturer's tool")
    return Distribution(
        file=Path(source).name or source,
        format="EULUMDAT",
        manufacturer=lines[0].strip(),
        catalogue=lines[9].strip() if len(lines) > 9 else "",
        luminaire=lines[8].strip() if len(lines) > 8 else "",
        symmetry=symmetry,
        c_angles=tuple(stored),
        gamma_angles=tuple(gamma),
        candela=candela,
        input_watts=watts_total if watts_total > 0 else None,
        rated_lumens=None if absolute else flux_total,
        length_m=max(length_mm, 0.0) / 1000.0,
        width_m=max(width_mm, 0.0) / 1000.0,
    )
