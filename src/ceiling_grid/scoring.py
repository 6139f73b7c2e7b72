"""§8 quality-score formulas (rules layer): the definitions the models' search and the evaluator share.

A formula is a rule, not a measurement: the evaluator still measures every input (Em, U0, LPD,
the spacing fraction) with its own code; only how those numbers combine into a score is common.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScoreTerms", "lighting_score"]


@dataclass(frozen=True)
class ScoreTerms:
    """The §8 lighting score terms."""

    compliant: bool
    s_e: float
    s_u: float
    s_over: float
    s_p: float
    s_r: float

    @property
    def score(self) -> float:
        return (
            100.0 * self.compliant + 25.0 * self.s_e + 25.0 * self.s_u + 20.0 * self.s_over
            + 20.0 * self.s_p + 10.0 * self.s_r
        )


def lighting_score(compliant: bool, em: float, u0: float, lpd: float, s_r: float,
                   target_lux: float, target_u0: float, lpd_limit: float) -> ScoreTerms:
    """Score = 100 C + 25 s_E + 25 s_U + 20 s_over + 20 s_P + 10 s_R (§8)."""
    ratio = em / target_lux
    s_over = 1.0 - 0.5 * min(1.0, max(0.0, (ratio - 1.0) / 0.5))
    s_p = 1.0 if lpd <= 0 else min(1.0, lpd_limit / lpd)
    return ScoreTerms(compliant, min(ratio, 1.0), min(u0 / target_u0, 1.0), s_over, s_p, s_r)
