"""The §8 score formulas shared by the models' search and the evaluator."""

from __future__ import annotations

import pytest

from ceiling_grid.scoring import lighting_score


def test_lighting_score_terms() -> None:
    """Score terms clip as §8 says: s_E and s_U cap at 1, s_over halves at +50 %, s_P caps at 1."""
    terms = lighting_score(True, 900.0, 0.9, 4.0, 0.5, False, 500.0, 0.6, 8.0)
    assert (terms.s_e, terms.s_u, terms.s_over, terms.s_p, terms.r) == (1.0, 1.0, 0.5, 1.0, 0.5)
    assert terms.score == pytest.approx(100 + 0 + 20 * 0.5 + 10 + 10 + 5 + 10)
    low = lighting_score(False, 250.0, 0.3, 16.0, 1.0, True, 500.0, 0.6, 8.0)
    # not compliant, but a regular array: the bonus, and regularity counts at s_P = 0.5
    assert low.score == pytest.approx(40 + 20 * 0.5 + 5 + 5 + 10 + 5)


def test_a_compliant_regular_array_beats_every_compliant_irregular_layout() -> None:
    """The 2026-12 order: compliance, then regularity, then energy. The worst compliant regular array with the
    bonus (far over the LPD limit but within 50 % of Ē, or within the limit at +50 %) outscores the best
    compliant irregular layout; energy ranks regular arrays."""
    worst_regular = lighting_score(True, 749.0, 0.6, 80.0, 1.0, True, 500.0, 0.6, 8.0)
    assert worst_regular.regular_bonus and worst_regular.score > 165
    bright_within = lighting_score(True, 1500.0, 0.6, 8.0, 1.0, True, 500.0, 0.6, 8.0)
    assert bright_within.regular_bonus and bright_within.score > 165
    for r in (0.0, 0.5, 0.99, 1.0):  # irregular: R < 1, or not a full symmetric array even at R = 1
        best_irregular = lighting_score(True, 500.0, 0.6, 1.0, r, False, 500.0, 0.6, 8.0)
        assert best_irregular.score <= 160 < worst_regular.score
    within = lighting_score(True, 500.0, 0.6, 8.0, 1.0, True, 500.0, 0.6, 8.0)
    over_lpd = lighting_score(True, 500.0, 0.6, 16.0, 1.0, True, 500.0, 0.6, 8.0)
    assert within.score > over_lpd.score > 165
    # over the LPD limit and twice the light: symmetry does not pay for it
    doubled = lighting_score(True, 1000.0, 0.8, 16.0, 1.0, True, 500.0, 0.6, 8.0)
    assert not doubled.regular_bonus and doubled.score < 160
    best_failing = lighting_score(False, 500.0, 0.6, 1.0, 1.0, True, 500.0, 0.6, 8.0)
    assert best_failing.score < lighting_score(True, 749.0, 0.6, 16.0, 0.0, False, 500.0, 0.6, 8.0).score
