"""§8 model selection (pipeline layer): the argmax over measured stage scores, with the tie rules."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .grid import Component
from .models.base import ModelResult

__all__ = ["SCORE_DECIMALS", "select_best"]

SCORE_DECIMALS = 6  # scores equal to this many decimals are ties (§8 tie rules apply)


def _selection_key(result: ModelResult) -> tuple[float, int, float, str]:
    count = result.details.get("count", result.grid.count(Component.LIGHT))
    max_shr = result.details.get("max_shr", math.inf)
    return (-round(result.score, SCORE_DECIMALS), int(count), float(max_shr), result.model)


def select_best(results: Sequence[ModelResult]) -> ModelResult:
    """§8 argmax: highest score; ties go to fewer fixtures, then lower max S/Hm, then model name."""
    if not results:
        raise ValueError("select_best needs at least one model result; run the light models first")
    return min(results, key=_selection_key)
