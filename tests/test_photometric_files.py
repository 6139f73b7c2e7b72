"""IES LM-63 and EULUMDAT readers: every edition and symmetry, multipliers, encodings, wrapping, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ceiling_grid.errors import PhotometryFileError
from ceiling_grid.photometric_files import (
    Symmetry,
    expand_full,
    parse_ies,
    parse_ldt,
    plane_profile,
    read_photometry,
    summary,
)
from ceiling_grid.testing import ies_text, lambertian_table, ldt_text

GAMMA = [float(g) for g in range(0, 91, 5)]


def asymmetric(c: float, g: float) -> float:
    """A made-up intensity (cd) with no symmetry at all: brighter towards C60, wider across C90."""
    cr, gr = math.radians(c), math.radians(g)
    return 300.0 * math.cos(gr) ** 1.2 * (1.0 + 0.3 * math.cos(cr - math.radians(60)) * math.sin(gr)) + 5.0


def quadrant(c: float, g: float) -> float:
    """Symmetric about both C0-C180 and C90-C270: a batwing wider across C90."""
    gr = math.radians(g)
    return 400.0 * math.cos(gr) * (1.0 + 0.5 * math.sin(math.radians(c)) ** 2 * math.sin(gr) ** 2)


def bilateral_c0(c: float, g: float) -> float:
    """Symmetric about the C0-C180 plane only: I(C) = I(-C)."""
    return 250.0 * math.cos(math.radians(g)) * (1.2 + 0.4 * math.cos(math.radians(c)))


def bilateral_c90(c: float, g: float) -> float:
    """Symmetric about the C90-C270 plane only: I(C) = I(180 - C)."""
    return 250.0 * math.cos(math.radians(g)) * (1.2 + 0.4 * math.sin(math.radians(c)))


def rotational(_c: float, g: float) -> float:
    return 300.0 * math.cos(math.radians(g))


def table(fn, cs, gs=GAMMA):  # type: ignore[no-untyped-def]
    return [[fn(c, g) for g in gs] for c in cs]


FULL = [float(c) for c in range(0, 361, 15)]


# ----- IES ---------------------------------------------------------------------------------------


def test_lambertian_ies_integrates_to_its_stated_flux_within_half_a_percent() -> None:
    gamma, cd = lambertian_table(3400.0)
    dist = parse_ies(ies_text([0], gamma, [cd]), "panel.ies")
    assert dist.symmetry is Symmetry.ROTATIONAL
    assert dist.lumens() == pytest.approx(3400.0, rel=0.005)
    info = summary(dist)
    assert info["beam_angle_deg"]["C0-C180"] == pytest.approx(120.0, abs=0.5)  # cos γ = 0.5 at 60°
    assert info["field_angle_deg"]["C90-C270"] == pytest.approx(2 * math.degrees(math.acos(0.1)), abs=0.5)
    assert info["max_candela"] == pytest.approx(3400.0 / math.pi, abs=0.06)  # rounded to 0.1 cd
    assert info["efficacy_lm_per_w"] == pytest.approx(100.0, rel=0.005)


@pytest.mark.parametrize(("version", "fmt"), [
    ("", "IES LM-63-1986"), ("IESNA91", "IES LM-63-1991"), ("IESNA:LM-63-1995", "IES LM-63-1995"),
    ("IESNA:LM-63-2002", "IES LM-63-2002"), ("IES:LM-63-2019", "IES LM-63-2019"),
])
def test_every_lm63_edition_reads_the_same_table(version: str, fmt: str) -> None:
    dist = parse_ies(ies_text(FULL, GAMMA, table(asymmetric, FULL), version=version), "a.ies")
    assert dist.format == fmt
    assert dist.symmetry is Symmetry.NONE
    assert dist.candela[4][3] == pytest.approx(asymmetric(60.0, 15.0), rel=1e-5)


@pytest.mark.parametrize(("fn", "cs", "symmetry"), [
    (quadrant, [c for c in FULL if c <= 90], Symmetry.QUADRANT),
    (bilateral_c0, [c for c in FULL if c <= 180], Symmetry.BILATERAL_C0),
    (bilateral_c90, [c for c in FULL if 90 <= c <= 270], Symmetry.BILATERAL_C90),
])
def test_a_reduced_table_equals_its_full_table_everywhere(fn, cs, symmetry) -> None:  # type: ignore[no-untyped-def]
    reduced = parse_ies(ies_text(cs, GAMMA, table(fn, cs)), "r.ies")
    full = parse_ies(ies_text(FULL, GAMMA, table(fn, FULL)), "f.ies")
    assert reduced.symmetry is symmetry and full.symmetry is Symmetry.NONE
    for c in (0.0, 20.0, 75.0, 100.0, 165.0, 200.0, 250.0, 290.0, 345.0):
        assert plane_profile(reduced, c)[1] == pytest.approx(plane_profile(full, c)[1], rel=1e-9, abs=1e-9)
    assert reduced.lumens() == pytest.approx(full.lumens(), rel=1e-9)
    c_full, _, rows = expand_full(reduced)
    assert c_full[0] == 0.0 and c_full[-1] == 360.0
    assert rows.shape == (len(FULL), len(GAMMA))


def test_absolute_photometry_and_the_candela_multiplier() -> None:
    rows = table(quadrant, [0.0, 45.0, 90.0])
    absolute = parse_ies(ies_text([0, 45, 90], GAMMA, rows), "abs.ies")
    doubled = parse_ies(ies_text([0, 45, 90], GAMMA, rows, multiplier=2.0), "x2.ies")
    relative = parse_ies(ies_text([0, 45, 90], GAMMA, rows, lamps=2, lumens_per_lamp=2000), "rel.ies")
    assert absolute.rated_lumens is None and summary(absolute)["absolute_photometry"] is True
    assert doubled.lumens() == pytest.approx(2 * absolute.lumens(), rel=1e-12)
    assert relative.rated_lumens == 4000
    assert summary(relative)["light_output_ratio"] == pytest.approx(relative.lumens() / 4000, abs=1e-4)


def test_latin1_header_with_more_lines_and_any_wrapping(tmp_path: Path) -> None:
    keywords = {"TEST": "Labo", "MANUFAC": "Éclairage Général", "MORE": "S.A.", "LUMCAT": "PANNEAU-600"}
    text = ies_text(FULL, GAMMA, table(asymmetric, FULL), keywords=keywords, per_line=1)
    path = tmp_path / "latin.ies"
    path.write_bytes(text.encode("latin-1"))
    dist = read_photometry(path)
    assert dist.manufacturer == "Éclairage Général S.A."
    assert dist.catalogue == "PANNEAU-600"
    wide = parse_ies(ies_text(FULL, GAMMA, table(asymmetric, FULL), per_line=37).replace(" ", ", "), "w.ies")
    assert wide.candela == dist.candela


def test_tilt_include_scales_by_the_factor_at_level_mounting(tmp_path: Path) -> None:
    rows = [lambertian_table(3400.0)[1]]
    plain = parse_ies(ies_text([0], GAMMA, rows), "p.ies")
    tilted = ies_text([0], GAMMA, rows, tilt="INCLUDE").replace(
        "TILT=INCLUDE\n", "TILT=INCLUDE\n1\n3\n-10 0 10\n0.95 0.9 0.95\n")
    assert parse_ies(tilted, "t.ies").lumens() == pytest.approx(0.9 * plain.lumens(), rel=1e-12)
    (tmp_path / "lamp.ies").write_text(ies_text([0], GAMMA, rows, tilt="lamp.tlt"))
    with pytest.raises(PhotometryFileError, match=r"lamp.ies: the TILT file 'lamp.tlt' is missing"):
        read_photometry(tmp_path / "lamp.ies")
    (tmp_path / "lamp.tlt").write_text("1\n2\n0 90\n0.8 0.5\n")
    assert read_photometry(tmp_path / "lamp.ies").lumens() == pytest.approx(0.8 * plain.lumens(), rel=1e-12)


GOOD = ies_text([0, 90], [0, 45, 90], [[100, 70, 0], [100, 60, 0]])


@pytest.mark.parametrize(("text", "pattern"), [
    (GOOD.replace("100 60 0\n", "100 60\n"), r"line 10: truncated: the candela row for C90 needs 3 values"),
    (GOOD + "5 5\n", r"line 11: 2 values follow the candela table \(fix: the counts disagree"),
    (GOOD.replace("100 70 0", "100 -70 0"), r"line 9: candela values must not be negative"),
    (GOOD.replace(" 1 2 0.6 0.6 0", " 2 2 0.6 0.6 0"), r"line 5: photometric type 2 \(B\) is not supported"),
    (GOOD.replace("IESNA:LM-63-2002", "IESNA:LM-63-2099"), r"line 1: unknown IES version line"),
    (GOOD.replace("TILT=NONE", "TILT NONE"), r"no TILT= line"),
    (GOOD.replace("0 45 90\n", "0 45 x\n"), r"line 7: the vertical angles value 3 is 'x', not a number"),
    (GOOD.replace("0 45 90\n", "0 90 45\n"), r"line 7: vertical \(γ\) angles must increase"),
    (GOOD.replace("\n0 90\n", "\n0 120\n"), r"line 8: horizontal angles run 0..120, which no type C"),
    (GOOD.replace("1 1 34", "1 1 -34"), r"line 6: input watts is -34"),
])
def test_a_broken_ies_file_is_one_line_with_file_line_and_fix(text: str, pattern: str) -> None:
    with pytest.raises(PhotometryFileError, match=pattern) as err:
        parse_ies(text, "bad.ies")
    message = str(err.value)
    assert message.startswith("bad.ies: ") and "\n" not in message and "(fix: " in message


def test_read_photometry_refuses_folders_binaries_and_big_files(tmp_path: Path) -> None:
    with pytest.raises(PhotometryFileError, match="file not found"):
        read_photometry(tmp_path / "none.ies")
    (tmp_path / "bin.ies").write_bytes(b"\x00\x01\x02IES")
    with pytest.raises(PhotometryFileError, match="binary file"):
        read_photometry(tmp_path / "bin.ies")
    (tmp_path / "big.ies").write_text(GOOD + " " * 5000)
    with pytest.raises(Exception, match="over the limit"):
        read_photometry(tmp_path / "big.ies", max_bytes=1000)


# ----- EULUMDAT ----------------------------------------------------------------------------------

C24 = [float(c) for c in range(0, 360, 15)]  # Mc = 24 listed planes


@pytest.mark.parametrize(("isym", "fn", "stored"), [
    (0, asymmetric, C24),
    (1, rotational, [0.0]),
    (2, bilateral_c0, [c for c in C24 if c <= 180]),
    (3, bilateral_c90, [c for c in C24 if 90 <= c <= 270]),
    (4, quadrant, [c for c in C24 if c <= 90]),
])
def test_ldt_symmetries_with_decimal_commas_match_the_function(isym, fn, stored) -> None:  # type: ignore[no-untyped-def]
    text = ldt_text(isym, C24, GAMMA, table(fn, stored), lamp_flux=2000.0, decimal_comma=True)
    dist = parse_ldt(text, "lum.ldt")
    for c in (0.0, 30.0, 105.0, 195.0, 300.0):
        expected = np.array([fn(c, g) for g in GAMMA]) * 2.0  # cd/klm x 2 klm
        assert plane_profile(dist, c)[1] == pytest.approx(expected, rel=1e-5)


def test_ldt_and_ies_of_the_same_luminaire_agree() -> None:
    gamma, cd = lambertian_table(1000.0)
    ldt = parse_ldt(ldt_text(1, C24, gamma, [cd], lamp_flux=3400.0), "p.ldt")
    ies = parse_ies(ies_text([0], gamma, [lambertian_table(3400.0)[1]]), "p.ies")
    assert ldt.lumens() == pytest.approx(ies.lumens(), rel=1e-6)
    assert summary(ldt)["light_output_ratio"] == pytest.approx(1.0, abs=0.005)
    assert ldt.input_watts == 34.0 and ldt.rated_lumens == 3400.0


def test_ldt_absolute_photometry_with_negative_lamp_count() -> None:
    gamma, cd = lambertian_table(3400.0)
    dist = parse_ldt(ldt_text(1, C24, gamma, [cd], lamp_flux=0.0, lamps=-1), "abs.ldt")
    assert dist.rated_lumens is None
    assert dist.lumens() == pytest.approx(3400.0, rel=0.005)


def test_broken_ldt_files_name_the_line() -> None:
    good = ldt_text(4, C24, GAMMA, table(quadrant, [c for c in C24 if c <= 90]))
    lines = good.splitlines()
    with pytest.raises(PhotometryFileError, match=r"truncated: the intensities of plane C90 needs 19"):
        parse_ldt("\n".join(lines[:-3]), "t.ldt")
    with pytest.raises(PhotometryFileError, match=r"line 3: the symmetry indicator Isym is 7"):
        parse_ldt("\n".join([*lines[:2], "7", *lines[3:]]), "s.ldt")
    with pytest.raises(PhotometryFileError, match=r"Mc = 22 cannot be split for symmetry Isym 4"):
        parse_ldt("\n".join([*lines[:3], "22", *lines[4:]]), "m.ldt")
    with pytest.raises(PhotometryFileError, match=r"values follow the intensity table"):
        parse_ldt(good + "1\n2\n", "x.ldt")
    with pytest.raises(PhotometryFileError, match=r"only 3 lines"):
        parse_ldt("a\nb\nc\n", "short.ldt")


def test_the_examples_are_what_their_generator_writes(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "scripts" / "make_sample_photometry.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    committed = sorted((root / "data" / "examples").iterdir())
    assert [p.name for p in committed] == ["batwing_600.ldt", "panel_600_lambertian.ies", "troffer_2x4.ies",
                                           "troffer_office.json"]
    for path in committed:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
        if path.suffix in (".ies", ".ldt"):
            info = summary(read_photometry(path))
            assert 0.85 <= (info["light_output_ratio"] or 1.0) <= 1.0
            assert 95 <= info["efficacy_lm_per_w"] <= 110


def test_a_batwing_spread_is_measured_from_the_outside() -> None:
    """A batwing's nadir is below half its peak; its beam angle still spans out to the outer 50 % points."""
    gamma = [float(g) for g in range(0, 91, 5)]
    rows = [[100.0 + 300.0 * math.sin(math.radians(2 * g)) ** 2 if g <= 80 else 0.0 for g in gamma]]
    info = summary(parse_ies(ies_text([0], gamma, rows), "bat.ies"))
    assert rows[0][0] < 0.5 * info["max_candela"]
    # I falls to 200 cd (half of 400 at 45°) where sin²(2γ) = 1/3, i.e. 2γ = 180° - 35.26°: γ = 72.4°
    assert info["beam_angle_deg"]["C0-C180"] == pytest.approx(2 * 72.37, abs=1.0)
