"""Read one photometric file from disk: size limit, regular files only, IES or LDT by name or content."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import DEFAULT_MAX_PHOTOMETRY_BYTES
from ..errors import NotRegularFileError, PhotometryFileError
from ..fsio import read_regular_file
from .distribution import BEAM_FRACTION, FIELD_FRACTION, Distribution
from .ies import parse_ies
from .ldt import parse_ldt

__all__ = ["read_photometry", "resolve_reference", "summary"]


def read_photometry(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_PHOTOMETRY_BYTES) -> Distribution:
    """The distribution in an ``.ies`` or ``.ldt`` file; any problem is one ``PhotometryFileError`` line."""
    p = Path(path)
    source = str(path)
    try:
        raw = read_regular_file(p, max_bytes)
    except FileNotFoundError:
        raise PhotometryFileError(source, None, "file not found",
                                  "check the path (relative to the room file or the data folder)") from None
    except NotRegularFileError as exc:
        raise PhotometryFileError(source, None, exc.what.replace("room file", "photometric file"),
                                  "pass a regular .ies or .ldt file") from None
    except IsADirectoryError:
        raise PhotometryFileError(source, None, "is a folder", "pass an .ies or .ldt file") from None
    except OSError as exc:
        raise PhotometryFileError(source, None, f"cannot read the file: {exc.strerror or exc}",
                                  "check permissions") from None
    suffix = p.suffix.lower()
    head = raw[:200].lstrip().upper()
    if suffix == ".ies" or (suffix != ".ldt" and (head.startswith(b"IES") or b"TILT=" in raw[:20_000].upper())):
        return parse_ies(raw, source, p, max_bytes)
    if suffix == ".ldt" or suffix == "":
        return parse_ldt(raw, source)
    raise PhotometryFileError(source, None, f"unknown photometric file type {suffix!r}",
                              "use an IES LM-63 (.ies) or EULUMDAT (.ldt) file")


def summary(dist: Distribution) -> dict[str, Any]:
    """The figures `ceiling-grid photometry` prints: identity, symmetry, zonal lumens, peak, beam and field."""
    lumens = dist.lumens()
    out: dict[str, Any] = {
        "file": dist.file,
        "format": dist.format,
        "manufacturer": dist.manufacturer,
        "catalogue": dist.catalogue,
        "luminaire": dist.luminaire,
        "photometric_type": "C",
        "symmetry": dist.symmetry.value,
        "c_planes": len(dist.c_angles),
        "gamma_angles": len(dist.gamma_angles),
        "absolute_photometry": dist.rated_lumens is None,
        "rated_lamp_lumens": None if dist.rated_lumens is None else round(dist.rated_lumens, 1),
        "total_lumens": round(lumens, 1),
        "light_output_ratio": None if dist.rated_lumens is None else round(lumens / dist.rated_lumens, 4),
        "max_candela": round(dist.max_candela(), 1),
        "beam_angle_deg": {plane: round(dist.spread_angle(c, BEAM_FRACTION), 1)
                           for plane, c in (("C0-C180", 0.0), ("C90-C270", 90.0))},
        "field_angle_deg": {plane: round(dist.spread_angle(c, FIELD_FRACTION), 1)
                            for plane, c in (("C0-C180", 0.0), ("C90-C270", 90.0))},
        "input_watts": dist.input_watts,
        "efficacy_lm_per_w": None if not dist.input_watts else round(lumens / dist.input_watts, 1),
        "luminous_opening_m": [round(dist.length_m, 4), round(dist.width_m, 4)],
    }
    return out


def resolve_reference(reference: str, roots: list[Path], what: str) -> Path:
    """The file ``reference`` names, looked up under each of ``roots`` in turn; never outside them.

    Absolute paths, ``..`` that climbs out and symbolic links that lead out are refused with the fix.
    """
    from ..errors import InputError
    from ..fsio import check_path_text

    text = check_path_text(reference, what)
    if Path(text).is_absolute():
        raise InputError(f"{what}: {text!r} is an absolute path (fix: give it relative to the room file's folder "
                         "or the data folder)")
    tried: list[str] = []
    for root in roots:
        base = root.resolve()
        target = (base / text).resolve()
        if target != base and base not in target.parents:
            raise InputError(f"{what}: {text!r} leads outside {base} (fix: keep photometric files inside the "
                             "room file's folder or the data folder)")
        if target.exists():
            return target
        tried.append(str(base))
    raise PhotometryFileError(reference, None, f"file not found under {' or '.join(tried)}",
                              "check the name; it is relative to the room file's folder or the data folder")
