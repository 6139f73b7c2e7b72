#!/usr/bin/env python3
"""Write data/examples deterministically: synthetic photometric files (no manufacturer data is shipped) and a
room that uses one.

* ``panel_600_lambertian.ies``: the §6.3 test panel, 3400 lm, 34 W, rotationally symmetric, LM-63-2002.
* ``batwing_600.ldt``: a 3600 lm, 36 W quadrant-symmetric batwing, wider across C90, EULUMDAT with decimal commas.
* ``troffer_2x4.ies``: a 5000 lm, 45 W 2x4 ft troffer, bilateral about C0-C180 (C0 along its length), LM-63-1995.
* ``troffer_office.json``: a 24 x 16 tile US office on a 2 ft grid lit by that troffer, with two sprinklers
  between the troffer rows.

Usage: python scripts/make_sample_photometry.py [--out data/examples]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ceiling_grid.grid import load_room
from ceiling_grid.photometric_files import parse_ies, parse_ldt
from ceiling_grid.testing import ies_text, lambertian_table, ldt_text, room_payload

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "examples"
FT = 0.3048


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


def troffer() -> str:
    gamma = [float(g) for g in range(0, 91, 5)]
    planes = [float(c) for c in range(0, 181, 15)]
    rows = [[5000.0 / math.pi * math.cos(math.radians(g)) ** 1.05  # a little wider across (C90) than along
             * (0.92 + 0.16 * math.sin(math.radians(c)) ** 2 * math.sin(math.radians(g))) for g in gamma]
            for c in planes]
    return ies_text(planes, gamma, rows, version="IESNA:LM-63-1995", watts=45.0, size_m=(4 * FT, 2 * FT),
                    units=2, per_line=8, keywords={
                        "TEST": "synthetic (ceiling-grid)", "MANUFAC": "ceiling-grid sample",
                        "LUMCAT": "TROFFER-2X4-5000", "LUMINAIRE": "2x4 ft LED troffer, prismatic lens"})


def troffer_office() -> str:
    payload = room_payload(
        24, 16, grid_id="troffer_office", tile_size_m=2 * FT, ceiling_height_m=9 * FT, room_type="us_office_30fc",
        states={(8, 8): "sprinkler", (15, 7): "sprinkler"},
        luminaire={"photometry": "troffer_2x4.ies", "length_tiles": 2, "rotation_deg": 0})
    return json.dumps(payload, separators=(",", ":")) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"panel_600_lambertian.ies": (panel(), parse_ies), "batwing_600.ldt": (batwing(), parse_ldt),
             "troffer_2x4.ies": (troffer(), parse_ies)}
    for name, (text, parse) in files.items():
        parse(text, name)  # refuse to write a file our own reader rejects
        (args.out / name).write_text(text, encoding="utf-8")
        print(args.out / name)
    room = args.out / "troffer_office.json"
    room.write_text(troffer_office(), encoding="utf-8")
    load_room(room)  # the room and its photometric file load together
    print(room)


if __name__ == "__main__":
    main()
