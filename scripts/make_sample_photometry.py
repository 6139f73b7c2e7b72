#!/usr/bin/env python3
"""Write the synthetic photometric files in data/fixtures deterministically (no manufacturer data is shipped).

* ``panel_600_lambertian.ies``: the §6.3 test panel, 3400 lm, 34 W, rotationally symmetric, LM-63-2002.
* ``batwing_600.ldt``: a 4000 lm, 36 W quadrant-symmetric batwing, wider across C90, EULUMDAT with decimal commas.

Usage: python scripts/make_sample_photometry.py [--out data/fixtures]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ceiling_grid.photometric_files import parse_ies, parse_ldt
from ceiling_grid.testing import ies_text, lambertian_table, ldt_text

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "fixtures"


def panel() -> str:
    gamma, cd = lambertian_table(3400.0, 2.5)
    return ies_text([0.0], gamma, [cd], watts=34.0, keywords={
        "TEST": "synthetic (ceiling-grid docs/rules.md §6.3)", "MANUFAC": "ceiling-grid sample",
        "LUMCAT": "PANEL-600-3400", "LUMINAIRE": "600x600 LED panel, Lambertian", "MORE": "all light downward"})


def batwing() -> str:
    gamma = [float(g) for g in range(0, 91, 5)]
    c_listed = [float(c) for c in range(0, 360, 15)]
    rows = []
    for c in (c for c in c_listed if c <= 90):
        wide = 1.0 + 0.45 * math.sin(math.radians(c)) ** 2
        rows.append([188.0 * math.cos(math.radians(g)) ** (0.8 / wide) * (1.0 + 0.35 * math.sin(math.radians(2 * g)))
                     for g in gamma])
    return ldt_text(4, c_listed, gamma, rows, lamp_flux=4000.0, watts=36.0, decimal_comma=True,
                    name="600x600 batwing (synthetic)", company="ceiling-grid sample", number="BATWING-600-4000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"panel_600_lambertian.ies": (panel(), parse_ies), "batwing_600.ldt": (batwing(), parse_ldt)}
    for name, (text, parse) in files.items():
        parse(text, name)  # refuse to write a file our own reader rejects
        (args.out / name).write_text(text, encoding="utf-8")
        print(args.out / name)


if __name__ == "__main__":
    main()
