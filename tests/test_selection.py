"""§8 selection: the argmax over measured scores, with the tie rules."""

from __future__ import annotations

import pytest

from ceiling_grid.models.base import ModelResult, Stage
from ceiling_grid.selection import select_best
from ceiling_grid.testing import make_room


def _result(name: str, score: float, count: int, shr: float) -> ModelResult:
    return ModelResult(name, Stage.LIGHTS, make_room(3, 3), score, score >= 100, count, count=count, max_shr=shr)


def test_select_best_prefers_higher_score() -> None:
    """The highest score wins regardless of fixture count."""
    best = select_best([_result("LightModelA", 190.0, 10, 1.0), _result("LightModelB", 195.0, 30, 1.4)])
    assert best.model == "LightModelB"


def test_select_best_tie_rules() -> None:
    """Equal scores go to fewer fixtures, then lower max S/Hm, then the model name."""
    a, b, c = _result("LightModelA", 190.0, 12, 1.2), _result("LightModelB", 190.0, 10, 1.4), \
        _result("LightModelC", 190.0, 10, 1.3)
    assert select_best([a, b, c]).model == "LightModelC"
    assert select_best([a, b]).model == "LightModelB"
    d, e = _result("LightModelB", 190.0, 10, 1.3), _result("LightModelA", 190.0000000001, 10, 1.3)
    assert select_best([d, e]).model == "LightModelA"


def test_select_best_needs_results() -> None:
    """An empty list is an error with a hint."""
    with pytest.raises(ValueError, match="at least one"):
        select_best([])
