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
    assert not low.regular_within_lpd  # over the LPD limit: no bonus, and regularity counts at s_P = 0.5
    assert low.score == pytest.approx(20 * 0.5 + 5 + 5 + 10 + 5)


def test_a_compliant_regular_array_beats_every_compliant_irregular_layout() -> None:
    """The 2026-12 order: compliance, then regularity, then energy. The worst compliant regular array
    within the LPD limit outscores the best compliant irregular layout, and any non-compliant one."""
    worst_regular = lighting_score(True, 749.0, 0.6, 8.0, 1.0, True, 500.0, 0.6, 8.0)
    assert worst_regular.regular_within_lpd and worst_regular.score >= 195 - 1e-6
    for r in (0.0, 0.5, 0.99, 1.0):  # irregular: R < 1, or not a full symmetric array even at R = 1
        best_irregular = lighting_score(True, 500.0, 0.6, 1.0, r, False, 500.0, 0.6, 8.0)
        assert best_irregular.score <= 160 < worst_regular.score
    over_lpd = lighting_score(True, 500.0, 0.6, 16.0, 1.0, True, 500.0, 0.6, 8.0)
    assert not over_lpd.regular_within_lpd and over_lpd.score <= 160
    best_failing = lighting_score(False, 500.0, 0.6, 1.0, 1.0, True, 500.0, 0.6, 8.0)
    assert best_failing.score < lighting_score(True, 749.0, 0.6, 16.0, 0.0, False, 500.0, 0.6, 8.0).score
