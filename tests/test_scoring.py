"""The §8 score formulas shared by the models' search and the evaluator."""

from __future__ import annotations

import pytest

from ceiling_grid.scoring import lighting_score


def test_lighting_score_terms() -> None:
    """Score terms clip as §8 says: s_E and s_U cap at 1, s_over halves at +50 %, s_P caps at 1."""
    terms = lighting_score(True, 900.0, 0.9, 4.0, 0.5, 500.0, 0.6, 8.0)
    assert (terms.s_e, terms.s_u, terms.s_over, terms.s_p, terms.s_r) == (1.0, 1.0, 0.5, 1.0, 0.5)
    assert terms.score == pytest.approx(100 + 25 + 25 + 10 + 20 + 5)
    low = lighting_score(False, 250.0, 0.3, 16.0, 1.0, 500.0, 0.6, 8.0)
    assert low.score == pytest.approx(12.5 + 12.5 + 20 + 10 + 10)
