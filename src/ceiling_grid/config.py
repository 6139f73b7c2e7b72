"""Design parameters: room-type targets, detector rule sets, equipment defaults and input limits.

Every number comes from ``shared/ceiling-rules.md``; the section is named next to it.
Values are small frozen value objects with named ``DEFAULT_*`` constants, so a caller can
override one field with ``dataclasses.replace`` and keep the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_CLI_LOG_LEVEL = "warning"  # the ceiling-grid command's --log-level
# DXF import: the layers that hold room outlines and columns unless the user names others
DEFAULT_ROOM_LAYERS = ("A-AREA", "A-AREA-BNDY", "A-ROOM", "ROOM", "ROOMS", "SPACE", "SPACES")
DEFAULT_COLUMN_LAYERS = ("S-COLS", "S-COLUMN", "A-COLS", "COLUMN", "COLUMNS")

__all__ = [
    "DEFAULT_BEAM_WALL_RATIO",
    "DEFAULT_CEILING_HEIGHT_M",
    "DEFAULT_DIFFUSER",
    "DEFAULT_LIMITS",
    "DEFAULT_LUMINAIRE",
    "DEFAULT_MAINTENANCE_FACTOR",
    "DEFAULT_MAX_PHOTOMETRY_BYTES",
    "DEFAULT_REFLECTANCES",
    "DEFAULT_TILE_SIZE_M",
    "DETECTOR_STANDARDS",
    "ROOM_TYPES",
    "DetectorStandard",
    "DetectorStandardSpec",
    "DiffuserSpec",
    "Limits",
    "LuminaireSpec",
    "RoomTypeSpec",
]

FT = 0.3048
FT2 = FT * FT
CFM_TO_L_S = 0.4719

# §1.1 / §1.2
DEFAULT_TILE_SIZE_M = 0.6
US_TILE_SIZE_M = 0.6096
DEFAULT_CEILING_HEIGHT_M = 2.7
# §2.5 / §7.2
DEFAULT_MAINTENANCE_FACTOR = 0.80
DEFAULT_REFLECTANCES = (0.7, 0.5, 0.2)  # ceiling, walls, floor
DEFAULT_WALL_BAND_M = 0.5  # §7.2 L1
DEFAULT_SHR_MAX = 1.5  # §2.4
DEFAULT_LUMINAIRE_SUBDIVISION = 3  # §2.5: k x k point sources per tile


@dataclass(frozen=True)
class RoomTypeSpec:
    """Targets for one kind of room (§2.1, §2.6, §3.1)."""

    name: str
    target_lux: float  # maintained Em on the reference plane
    target_u0: float  # Emin / Em
    work_plane_m: float  # height of the reference plane above the floor
    supply_l_s_m2: float  # cooling supply-air density q (§3.1 item 2)
    rp_l_s_person: float  # ASHRAE 62.1 people outdoor-air rate
    ra_l_s_m2: float  # ASHRAE 62.1 area outdoor-air rate
    occupancy_per_m2: float  # default occupant density
    lpd_limit_w_m2: float  # soft LPD limit (ASHRAE 90.1-2019 space-by-space, [R])
    ez: float = 1.0  # zone air distribution effectiveness


_PER_1000FT2 = 1.0 / (1000.0 * FT2)

ROOM_TYPES: dict[str, RoomTypeSpec] = {
    spec.name: spec
    for spec in (
        RoomTypeSpec("office", 500, 0.60, 0.75, 5.0, 2.5, 0.3, 5 * _PER_1000FT2, 0.74 / FT2),
        RoomTypeSpec("open_plan", 500, 0.60, 0.75, 5.0, 2.5, 0.3, 5 * _PER_1000FT2, 0.61 / FT2),
        RoomTypeSpec("conference", 500, 0.60, 0.75, 7.5, 2.5, 0.3, 50 * _PER_1000FT2, 0.97 / FT2),
        RoomTypeSpec("classroom", 500, 0.60, 0.75, 6.0, 5.0, 0.6, 35 * _PER_1000FT2, 0.71 / FT2),
        RoomTypeSpec("classroom_2011", 300, 0.60, 0.75, 6.0, 5.0, 0.6, 35 * _PER_1000FT2, 0.71 / FT2),
        RoomTypeSpec("corridor", 100, 0.40, 0.0, 2.5, 0.0, 0.3, 0.0, 0.41 / FT2),
        RoomTypeSpec("us_office_30fc", 323, 0.40, 0.762, 5.0, 2.5, 0.3, 5 * _PER_1000FT2, 0.74 / FT2),
    )
}
DEFAULT_ROOM_TYPE = "office"


class DetectorStandard(StrEnum):
    """Smoke-detector rule sets (§4.4)."""

    NFPA72 = "nfpa72"
    BS5839_1 = "bs5839_1"
    CEN_TS_54_14 = "cen_ts_54_14"


DEFAULT_BEAM_WALL_RATIO = 0.1  # §4.4 beam_as_wall: depth against the ceiling height H


@dataclass(frozen=True)
class DetectorStandardSpec:
    """Parameter table of one detector rule set (§4.4)."""

    key: DetectorStandard
    title: str
    r_cover_m: float  # every ceiling point within this (geodesic) distance of a detector
    wall_min_m: float  # detector centre to every wall
    air_terminal_min_m: float  # detector centre to the nearest edge of an air terminal
    clear_of_returns: bool  # does air_terminal_min apply to return grilles too?
    luminaire_min_m: float = 0.3  # soft (D4)
    s_nominal_m: float | None = None  # square-spacing method (NFPA: 9.144 between, <= 4.572 to walls)
    corridor_max_width_m: float | None = None  # BS: corridors <= 2 m use the centreline rule
    # A downstand beam deeper than beam_wall_ratio x H is a wall for detector zoning (BS 5839-1, CEN/TS [A]);
    # NFPA 72 17.7.3.2.4.2: at least that deep (inclusive) and spaced at least beam_pocket_spacing_ratio x H
    # from its parallel neighbours, so each beam pocket needs its own detector.
    beam_wall_ratio: float = DEFAULT_BEAM_WALL_RATIO
    beam_wall_inclusive: bool = False
    beam_pocket_spacing_ratio: float | None = None


DETECTOR_STANDARDS: dict[DetectorStandard, DetectorStandardSpec] = {
    DetectorStandard.NFPA72: DetectorStandardSpec(
        DetectorStandard.NFPA72, "NFPA 72 (2016-2022) spot smoke", 0.7 * 30 * FT, 4 * 0.0254, 36 * 0.0254, True,
        s_nominal_m=30 * FT, beam_wall_inclusive=True, beam_pocket_spacing_ratio=0.4,
    ),
    DetectorStandard.BS5839_1: DetectorStandardSpec(
        DetectorStandard.BS5839_1, "BS 5839-1 point smoke", 7.5, 0.5, 1.0, False, corridor_max_width_m=2.0,
    ),
    DetectorStandard.CEN_TS_54_14: DetectorStandardSpec(
        DetectorStandard.CEN_TS_54_14, "CEN/TS 54-14:2018 point smoke", 6.2, 0.5, 0.5, True,
    ),
}
DEFAULT_DETECTOR_STANDARD = DetectorStandard.NFPA72


@dataclass(frozen=True)
class LuminaireSpec:
    """A 600x600 (or 2x2 ft) Lambertian LED panel (§1.3)."""

    flux_lm: float = 3400.0
    power_w: float = 34.0
    cos_exponent: float = 1.0  # I(gamma) = I0 cos^m(gamma); m = 1 is Lambertian


@dataclass(frozen=True)
class DiffuserSpec:
    """A 600x600 four-way square ceiling diffuser (§3.2, §3.3)."""

    capacity_l_s: float = 190.0  # q_max per unit
    t50_at_capacity_m: float = 3.7  # throw to 0.25 m/s at q_max; scales linearly with q


DEFAULT_LUMINAIRE = LuminaireSpec()
DEFAULT_DIFFUSER = DiffuserSpec()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return default


DEFAULT_MAX_CELLS = 250_000
DEFAULT_MAX_SIDE = 2_000
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_PHOTOMETRY_BYTES = 4 * 1024 * 1024  # an IES/LDT file is tens of kB; checked before parsing
DEFAULT_ILP_TIME_LIMIT_S = 20.0
DEFAULT_ILP_MAX_CANDIDATES = 6_000
DEFAULT_XCOM_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class Limits:
    """Input and solver limits. Checked before any large allocation.

    Override from the environment with ``CEILING_GRID_MAX_CELLS``, ``CEILING_GRID_MAX_SIDE``
    and ``CEILING_GRID_MAX_FILE_BYTES`` (see :meth:`from_env`).
    """

    max_cells: int = DEFAULT_MAX_CELLS
    max_side: int = DEFAULT_MAX_SIDE
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ilp_time_limit_s: float = DEFAULT_ILP_TIME_LIMIT_S
    ilp_max_candidates: int = DEFAULT_ILP_MAX_CANDIDATES
    xcom_max_bytes: int = DEFAULT_XCOM_MAX_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_cells=_env_int("CEILING_GRID_MAX_CELLS", DEFAULT_MAX_CELLS),
            max_side=_env_int("CEILING_GRID_MAX_SIDE", DEFAULT_MAX_SIDE),
            max_file_bytes=_env_int("CEILING_GRID_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
            xcom_max_bytes=_env_int("CEILING_GRID_XCOM_MAX_BYTES", DEFAULT_XCOM_MAX_BYTES),
        )


DEFAULT_LIMITS = Limits()
