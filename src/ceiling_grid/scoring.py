"""§8 quality-score formulas (rules layer): the definitions the models' search and the evaluator share.

A formula is a rule, not a measurement: the evaluator still measures every input (Em, U0, LPD,
regularity) with its own code; only how those numbers combine into a score is common.

Lighting, since 2026-12 (docs/rules.md §8): **compliance first (L4 included), then regularity, then
energy**::

    Score = 100·C + 40·B + 20·R·s_P + 10·s_E + 10·s_U + 10·s_over + 10·s_P
    B = [regular array ∧ (LPD ≤ limit ∨ Em ≤ 1.5·Ē)]

R is the L6 regularity in [0, 1]; it counts in proportion to s_P, so among layouts of equal standing the
one nearer the LPD limit wins. The bonus B goes to a full, symmetric, evenly spaced array unless it
breaks the LPD limit *and* over-lights by more than the s_over band (50 %): with the default 100 lm/W
panel most rooms cannot meet the LPD limit with any layout that passes L3, and a hole punched in an
array to save one fitting is not a layout a designer signs, but neither is twice the light for the sake
of symmetry. A compliant layout has s_E = s_U = 1 and s_over >= 0.5, so a compliant regular array with
the bonus scores at least 100 + 40 + 10 + 10 + 5 = 165, and any compliant irregular layout (R < 1 or no
full symmetric array) at most 100 + 20 + 10 + 10 + 10 + 10 = 160: the regular one always wins. Between
two regular arrays energy decides (a tiny room gets one centred luminaire, not a symmetric four).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OVERLIGHTING_BAND",
    "WEIGHT_COMPLIANCE",
    "WEIGHT_ENERGY",
    "WEIGHT_ILLUMINANCE",
    "WEIGHT_OVERLIGHTING",
    "WEIGHT_REGULARITY",
    "WEIGHT_REGULAR_ARRAY",
    "WEIGHT_UNIFORMITY",
    "ScoreTerms",
    "lighting_score",
]

WEIGHT_COMPLIANCE = 100.0  # C: L1-L4 and G1-G3 hold
WEIGHT_REGULAR_ARRAY = 40.0  # B: a full, symmetric, evenly spaced array within the LPD limit or the s_over band
WEIGHT_REGULARITY = 20.0  # R·s_P: L6 regularity in [0, 1], counted in proportion to s_P
WEIGHT_ILLUMINANCE = 10.0  # s_E
WEIGHT_UNIFORMITY = 10.0  # s_U
WEIGHT_OVERLIGHTING = 10.0  # s_over
WEIGHT_ENERGY = 10.0  # s_P
OVERLIGHTING_BAND = 0.5  # s_over falls from 1 to 0.5 over Em = Ē .. (1 + band)·Ē; beyond it, no bonus over the LPD


@dataclass(frozen=True)
class ScoreTerms:
    """The §8 lighting score terms."""

    compliant: bool
    s_e: float
    s_u: float
    s_over: float
    s_p: float
    r: float  # L6 regularity score
    regular: bool  # L6: a full, symmetric, evenly spaced array
    em_ratio: float = 1.0  # Em / Ē

    @property
    def regular_bonus(self) -> bool:
        """B: a regular array within the LPD limit, or over it by no more than the over-lighting band."""
        return self.regular and (self.s_p >= 1.0 or self.em_ratio <= 1.0 + OVERLIGHTING_BAND)

    @property
    def score(self) -> float:
        return (
            WEIGHT_COMPLIANCE * self.compliant + WEIGHT_REGULAR_ARRAY * self.regular_bonus
            + WEIGHT_REGULARITY * self.r * self.s_p + WEIGHT_ILLUMINANCE * self.s_e + WEIGHT_UNIFORMITY * self.s_u
            + WEIGHT_OVERLIGHTING * self.s_over + WEIGHT_ENERGY * self.s_p
        )


def lighting_score(compliant: bool, em: float, u0: float, lpd: float, r: float, regular: bool,
                   target_lux: float, target_u0: float, lpd_limit: float) -> ScoreTerms:
    """The §8 lighting score terms of one layout (see the module docstring for the formula)."""
    ratio = em / target_lux
    s_over = 1.0 - 0.5 * min(1.0, max(0.0, (ratio - 1.0) / OVERLIGHTING_BAND))
    s_p = 1.0 if lpd <= 0 else min(1.0, lpd_limit / lpd)
    return ScoreTerms(compliant, min(ratio, 1.0), min(u0 / target_u0, 1.0), s_over, s_p, r, regular, ratio)
