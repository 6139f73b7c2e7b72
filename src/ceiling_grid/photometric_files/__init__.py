"""Photometric files: IES LM-63 and EULUMDAT readers, and the type C distribution they produce.

``read_photometry(path)`` returns a frozen :class:`Distribution` (absolute candela on the stored C
planes) or raises one ``PhotometryFileError`` line naming the file, the line and the fix.
"""

from __future__ import annotations

from .distribution import BEAM_FRACTION, FIELD_FRACTION, Distribution, Symmetry, expand_full, plane_profile
from .ies import parse_ies
from .ldt import parse_ldt
from .reader import read_photometry, resolve_reference, summary

__all__ = [
    "BEAM_FRACTION",
    "FIELD_FRACTION",
    "Distribution",
    "Symmetry",
    "expand_full",
    "parse_ies",
    "parse_ldt",
    "plane_profile",
    "read_photometry",
    "resolve_reference",
    "summary",
]
