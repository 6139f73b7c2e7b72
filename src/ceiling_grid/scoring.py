"""§8 quality-score formulas (rules layer): the definitions the models' search and the evaluator share.

A formula is a rule, not a measurement: the evaluator still measures every input (Em, U0, LPD,
regularity) with its own code; only how those numbers combine into a score is common.

Lighting, since 2026-12 (docs/rules.md §8): **compliance first (L4 included), then regularity, then
energy**::

    Score = 100·C + 40·[regular array ∧ LPD ≤ limit] + 20·R·s_P + 10·s_E + 10·s_U + 10·s_over + 10·s_P

R is the L6 regularity in [0, 1]; it counts in proportion to s_P, so regularity never pays for
fixtures beyond the LPD limit (a tiny room gets one luminaire, not a symmetric four). A compliant
layout has s_E = s_U = 1, so a compliant regular array within the LPD limit scores at least
100 + 40 + 20 + 10 + 10 + 5 + 10 = 195, and any compliant irregular layout (R < 1 or no full
symmetric array) at most 100 + 20·R + 40 < 160: the regular one always wins.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
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
WEIGHT_REGULAR_ARRAY = 40.0  # a full, symmetric, evenly spaced array within the LPD limit
WEIGHT_REGULARITY = 20.0  # R·s_P: L6 regularity in [0, 1], counted in proportion to s_P
WEIGHT_ILLUMINANCE = 10.0  # s_E
WEIGHT_UNIFORMITY = 10.0  # s_U
WEIGHT_OVERLIGHTING = 10.0  # s_over
WEIGHT_ENERGY = 10.0  # s_P


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

    @property
    def regular_within_lpd(self) -> bool:
        return self.regular and self.s_p >= 1.0

    @property
    def score(self) -> float:
        return (
            WEIGHT_COMPLIANCE * self.compliant + WEIGHT_REGULAR_ARRAY * self.regular_within_lpd
            + WEIGHT_REGULARITY * self.r * self.s_p + WEIGHT_ILLUMINANCE * self.s_e + WEIGHT_UNIFORMITY * self.s_u
            + WEIGHT_OVERLIGHTING * self.s_over + WEIGHT_ENERGY * self.s_p
        )


def lighting_score(compliant: bool, em: float, u0: float, lpd: float, r: float, regular: bool,
                   target_lux: float, target_u0: float, lpd_limit: float) -> ScoreTerms:
    """The §8 lighting score terms of one layout (see the module docstring for the formula)."""
    ratio = em / target_lux
    s_over = 1.0 - 0.5 * min(1.0, max(0.0, (ratio - 1.0) / 0.5))
    s_p = 1.0 if lpd <= 0 else min(1.0, lpd_limit / lpd)
    return ScoreTerms(compliant, min(ratio, 1.0), min(u0 / target_u0, 1.0), s_over, s_p, r, regular)
