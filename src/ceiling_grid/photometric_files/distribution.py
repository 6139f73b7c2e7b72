"""A type C luminous intensity distribution as read from an IES or LDT file: the stored table and what it implies."""

from __future__ import annotations

import hashlib
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BEAM_FRACTION",
    "FIELD_FRACTION",
    "Distribution",
    "Symmetry",
    "expand_full",
    "plane_profile",
]

BEAM_FRACTION = 0.5  # beam angle: where intensity falls to 50 % of the maximum
FIELD_FRACTION = 0.1  # field angle: 10 %
_ANGLE_EPS = 1e-6


class Symmetry(StrEnum):
    """Which C planes a file stores; the rest follow by mirroring."""

    ROTATIONAL = "rotational"  # one plane, the same in every direction (IES last C = 0, LDT Isym 1)
    QUADRANT = "quadrant"  # C0..C90, mirrored about both planes (IES 0-90, LDT Isym 4)
    BILATERAL_C0 = "bilateral_c0_c180"  # C0..C180, mirrored about the C0-C180 plane (IES 0-180, LDT Isym 2)
    BILATERAL_C90 = "bilateral_c90_c270"  # C90..C270, mirrored about the C90-C270 plane (IES 90-270, LDT Isym 3)
    NONE = "none"  # C0..C360, every plane stored (IES 0-360, LDT Isym 0)


_DOMAIN = {  # first and last stored C angle for each symmetry
    Symmetry.ROTATIONAL: (0.0, 0.0),
    Symmetry.QUADRANT: (0.0, 90.0),
    Symmetry.BILATERAL_C0: (0.0, 180.0),
    Symmetry.BILATERAL_C90: (90.0, 270.0),
    Symmetry.NONE: (0.0, 360.0),
}


class Distribution(BaseModel):
    """Absolute candela (multipliers applied) on the stored C planes and γ angles, plus the file's identity.

    ``candela[i][j]`` is the intensity in plane ``c_angles[i]`` at ``gamma_angles[j]`` (γ = 0 points
    straight down). C0 runs along the luminaire's length axis; C90 is 90° counter-clockwise from it in plan.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1, max_length=255)
    format: str = Field(min_length=1, max_length=40)
    manufacturer: str = Field("", max_length=500)
    catalogue: str = Field("", max_length=500)
    luminaire: str = Field("", max_length=500)
    symmetry: Symmetry
    c_angles: tuple[float, ...] = Field(min_length=1, max_length=721)
    gamma_angles: tuple[float, ...] = Field(min_length=2, max_length=721)
    candela: tuple[tuple[float, ...], ...] = Field(min_length=1, max_length=721)
    input_watts: float | None = Field(None, gt=0, le=100_000, allow_inf_nan=False)
    rated_lumens: float | None = Field(None, gt=0, allow_inf_nan=False)  # lamp lumens; None: absolute photometry
    length_m: float = Field(0.0, ge=0, le=20, allow_inf_nan=False)  # luminous opening along C0
    width_m: float = Field(0.0, ge=0, le=20, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        problems = table_problems(self.symmetry, self.c_angles, self.gamma_angles, self.candela)
        if problems:
            raise ValueError(problems[0])
        return self

    # ----- derived figures -----------------------------------------------------------------

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(C angles, γ angles, candela[c, γ]) as float arrays of the stored planes."""
        return (np.asarray(self.c_angles, dtype=float), np.asarray(self.gamma_angles, dtype=float),
                np.asarray(self.candela, dtype=float))

    def lumens(self) -> float:
        """Total luminous flux (lm): the integral of I sin γ over the sphere, exact for the bilinear table.

        Along γ the piecewise-linear intensity times sin γ is integrated in closed form; across C
        the planes are combined with trapezoid weights (the interpolation is linear in C too).
        """
        c_full, gamma, table = expand_full(self)
        per_plane = _gamma_integral(gamma, table)  # (nc,) ∫ I sin γ dγ in each plane
        dc = np.radians(np.diff(c_full))
        return float(((per_plane[:-1] + per_plane[1:]) * 0.5 * dc).sum())

    def max_candela(self) -> float:
        return float(np.asarray(self.candela, dtype=float).max())

    def digest(self) -> str:
        """A short content hash: equal tables give equal digests (used in room cache keys)."""
        h = hashlib.blake2b(digest_size=12)
        _, _, table = self.arrays()
        h.update(repr((self.symmetry.value, self.c_angles, self.gamma_angles)).encode())
        h.update(np.ascontiguousarray(table).tobytes())
        return h.hexdigest()

    def spread_angle(self, plane: float, fraction: float) -> float:
        """Full angle (degrees) in the plane pair (``plane``, ``plane`` + 180) inside which I ≥ fraction · Imax."""
        peak = self.max_candela()
        if peak <= 0:
            return 0.0
        total = 0.0
        for c in (plane, plane + 180.0):
            gamma, prof = plane_profile(self, c)
            total += _last_crossing(gamma, prof, fraction * peak)
        return total


def _last_crossing(gamma: np.ndarray, prof: np.ndarray, level: float) -> float:
    """The outermost γ (degrees) at which the profile still reaches ``level`` (interpolated to the crossing).

    Measured from the outside in, so a batwing whose nadir dips below the level still gets its full spread.
    """
    above = np.nonzero(prof >= level - 1e-12)[0]
    if len(above) == 0:
        return 0.0
    j = int(above[-1])
    if j == len(gamma) - 1:
        return float(gamma[-1])
    g0, g1, i0, i1 = gamma[j], gamma[j + 1], prof[j], prof[j + 1]
    return float(g0 + (i0 - level) / (i0 - i1) * (g1 - g0))


def _gamma_integral(gamma_deg: np.ndarray, table: np.ndarray) -> np.ndarray:
    """∫ I(γ) sin γ dγ per row of ``table``, with I linear between the tabulated γ (closed form)."""
    g = np.radians(gamma_deg)
    g0, g1 = g[:-1], g[1:]
    i0, i1 = table[:, :-1], table[:, 1:]
    slope = (i1 - i0) / (g1 - g0)
    # ∫ (a + b γ) sin γ dγ = -(a + b γ) cos γ + b sin γ
    def antiderivative(gg: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.asarray(-(a + slope * gg) * np.cos(gg) + slope * np.sin(gg))

    a = i0 - slope * g0
    return np.asarray((antiderivative(g1, a) - antiderivative(g0, a)).sum(axis=1))


def table_problems(symmetry: Symmetry, c_angles: tuple[float, ...], gamma_angles: tuple[float, ...],
                   candela: tuple[tuple[float, ...], ...]) -> list[str]:
    """What is wrong with a stored table (empty when it is usable), each said with its fix."""
    c = np.asarray(c_angles, dtype=float)
    g = np.asarray(gamma_angles, dtype=float)
    out: list[str] = []
    if not np.all(np.isfinite(c)) or not np.all(np.isfinite(g)):
        return ["angles must be finite numbers"]
    if np.any(np.diff(g) <= 0):
        out.append("vertical (γ) angles must increase strictly (fix: sort the angles and their candela columns)")
    if g[0] < -_ANGLE_EPS or g[-1] > 180 + _ANGLE_EPS:
        out.append(f"vertical angles run {g[0]:g}..{g[-1]:g}; type C needs them within 0..180")
    elif not (abs(g[0]) < _ANGLE_EPS or abs(g[0] - 90) < _ANGLE_EPS):
        out.append(f"the first vertical angle is {g[0]:g}; type C tables start at 0 or 90")
    if len(c) > 1 and np.any(np.diff(c) <= 0):
        out.append("horizontal (C) angles must increase strictly (fix: sort the planes)")
    lo, hi = _DOMAIN[symmetry]
    if abs(c[0] - lo) > _ANGLE_EPS or abs(c[-1] - hi) > _ANGLE_EPS:
        out.append(f"horizontal angles run {c[0]:g}..{c[-1]:g}, but a {symmetry.value} table stores "
                   f"C{lo:g}..C{hi:g}")
    if len(candela) != len(c):
        out.append(f"{len(candela)} candela rows for {len(c)} horizontal angles (one row per C plane)")
    elif any(len(row) != len(g) for row in candela):
        out.append(f"every candela row needs {len(g)} values, one per vertical angle")
    else:
        table = np.asarray(candela, dtype=float)
        if not np.all(np.isfinite(table)):
            out.append("candela values must be finite numbers")
        elif np.any(table < 0):
            out.append("candela values must not be negative")
        elif not np.any(table > 0):
            out.append("every candela value is 0: the file emits no light")
    return out


def _fold(symmetry: Symmetry, c: np.ndarray) -> np.ndarray:
    """Map any C angle (degrees) into the stored domain of ``symmetry``."""
    c = np.mod(c, 360.0)
    if symmetry is Symmetry.ROTATIONAL:
        return np.zeros_like(c)
    if symmetry is Symmetry.BILATERAL_C0:
        return np.where(c <= 180.0, c, 360.0 - c)
    if symmetry is Symmetry.QUADRANT:
        half = np.where(c <= 180.0, c, 360.0 - c)
        return np.where(half <= 90.0, half, 180.0 - half)
    if symmetry is Symmetry.BILATERAL_C90:
        return np.where((c >= 90.0) & (c <= 270.0), c, np.mod(540.0 - c, 360.0))
    return c


def expand_full(dist: Distribution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The table over C = 0..360 (both ends present): stored planes plus their mirror images, sorted.

    Mirrored planes are taken at the stored plane angles' images, so no value is interpolated.
    """
    c, gamma, table = dist.arrays()
    if dist.symmetry is Symmetry.ROTATIONAL:
        return np.array([0.0, 360.0]), gamma, np.vstack([table[0], table[0]])
    images = {
        Symmetry.QUADRANT: [c, 180.0 - c, 180.0 + c, 360.0 - c],
        Symmetry.BILATERAL_C0: [c, 360.0 - c],
        Symmetry.BILATERAL_C90: [c, np.mod(540.0 - c, 360.0)],
        Symmetry.NONE: [c],
    }[dist.symmetry]
    angles = np.concatenate(images)
    rows = np.vstack([table] * len(images))
    angles = np.where(np.abs(angles - 360.0) < _ANGLE_EPS, 360.0, np.mod(angles, 360.0))
    order = np.argsort(angles, kind="stable")
    angles, rows = angles[order], rows[order]
    keep = np.concatenate([[True], np.diff(angles) > _ANGLE_EPS])
    angles, rows = angles[keep], rows[keep]
    if angles[0] > _ANGLE_EPS:  # close the circle at 0 from 360 (or the reverse)
        angles, rows = np.concatenate([[0.0], angles]), np.vstack([rows[-1:], rows])
    if angles[-1] < 360.0 - _ANGLE_EPS:
        angles, rows = np.concatenate([angles, [360.0]]), np.vstack([rows, rows[:1]])
    return angles, gamma, rows


def plane_profile(dist: Distribution, c_angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(γ angles, intensities) in the half plane at ``c_angle``, linear in C between stored planes."""
    c, gamma, table = dist.arrays()
    folded = float(_fold(dist.symmetry, np.array([c_angle]))[0])
    if len(c) == 1:
        return gamma, table[0]
    j = int(np.clip(np.searchsorted(c, folded, side="right") - 1, 0, len(c) - 2))
    t = (folded - c[j]) / (c[j + 1] - c[j])
    return gamma, (1.0 - t) * table[j] + t * table[j + 1]

