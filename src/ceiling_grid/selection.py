"""§8 model selection (pipeline layer): the argmax over measured stage scores, with the tie rules."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .models.base import ModelResult

__all__ = ["SCORE_DECIMALS", "explain_selection", "select_best", "tied"]

SCORE_DECIMALS = 6  # the one tie tolerance: scores equal to this many decimals are ties (§8 tie rules apply)


def tied(a: float, b: float) -> bool:
    """Whether two stage scores tie under the §8 rules (equal to ``SCORE_DECIMALS`` decimals)."""
    return round(a, SCORE_DECIMALS) == round(b, SCORE_DECIMALS)


def _selection_key(result: ModelResult) -> tuple[float, int, float, str]:
    max_shr = math.inf if result.max_shr is None else result.max_shr
    return (-round(result.score, SCORE_DECIMALS), result.count, max_shr, result.model)


def select_best(results: Sequence[ModelResult]) -> ModelResult:
    """§8 argmax: highest score; ties go to fewer fixtures, then lower max S/Hm, then model name."""
    if not results:
        raise ValueError("select_best needs at least one model result; run the light models first")
    return min(results, key=_selection_key)


def explain_selection(chosen: ModelResult, results: Sequence[ModelResult]) -> str:
    """Why ``chosen`` won among ``results``: compliance, then score, then fewer fixtures, then lower max S/Hm."""
    c = chosen
    others = [r for r in results if r is not chosen]
    if not others:
        return f"only candidate (score {c.score:.1f}, {'compliant' if c.compliant else 'not compliant'})"
    o = max(others, key=lambda r: (r.compliant, r.score))
    if c.compliant and not o.compliant:
        return f"only compliant layout (score {c.score:.1f}; best other {o.model} {o.score:.1f})"
    if not tied(c.score, o.score) and c.score > o.score:
        return f"highest score {c.score:.1f} (next: {o.model} {o.score:.1f})"
    ties = [r for r in others if tied(r.score, c.score)]
    if ties:
        names = ", ".join(r.model for r in ties)
        if all(c.count < r.count for r in ties):
            counts = ", ".join(str(r.count) for r in ties)
            return f"tied on score {c.score:.1f} with {names}; fewer fixtures ({c.count} vs {counts})"
        return f"tied on score {c.score:.1f} with {names} and equal fixture count; lower max S/Hm ({c.max_shr})"
    return f"selected by the stage's selection rule (score {c.score:.1f})"
