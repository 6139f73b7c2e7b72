"""The contract every placement model follows, and the result it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..grid import RoomGrid

__all__ = ["Judge", "Judgement", "ModelResult", "PlacementModel", "Stage"]

MAX_STAGE_SCORE = 200.0


class Stage(StrEnum):
    """Pipeline stages, in the order they run."""

    LIGHTS = "lights"
    AIR_SUPPLY = "air_supply"
    SMOKE_DETECTORS = "smoke_detectors"


class Judgement(Protocol):
    """An independent verdict on one layout: its §8 stage score, whether every hard rule holds, the figures.

    The evaluator's ``StageReport`` is one.
    """

    @property
    def score(self) -> float: ...

    @property
    def compliant(self) -> bool: ...

    @property
    def metrics(self) -> Mapping[str, Any]: ...


class Judge(Protocol):
    """Scores a layout for one stage. The pipeline hands models the evaluator's judge; models never import it."""

    def __call__(self, grid: RoomGrid, /) -> Judgement: ...


@dataclass(frozen=True)
class ModelResult:
    """One model's layout for one room, scored by the judge it was given (the evaluator, §8).

    ``score`` is the §8 stage score (lighting and detectors 0-200, diffusers 0-200 with the
    same compliance weight), ``confidence = score / 200`` in [0, 1]. ``placed`` counts the
    components this model added. ``details`` holds JSON-able diagnostics: for light models at
    least ``count`` (fixtures in the room), ``max_shr`` (largest nearest-neighbour S/Hm) and the
    evaluator's figures; ``infeasible`` = {"rule", "reason"} when no compliant layout exists.
    """

    model: str
    stage: Stage
    grid: RoomGrid
    score: float
    compliant: bool
    placed: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return max(0.0, min(1.0, self.score / MAX_STAGE_SCORE))


@runtime_checkable
class PlacementModel(Protocol):
    """A deterministic placement algorithm for one stage. Must be picklable (process pools)."""

    name: ClassVar[str]
    stage: ClassVar[Stage]
    version: ClassVar[str]

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        """Return ``grid`` with this stage's components added, scored by ``judge``."""
        ...
