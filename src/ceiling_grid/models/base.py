"""The contract every placement model follows, and the result it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..grid import RoomGrid

__all__ = ["Infeasible", "Judge", "Judgement", "ModelResult", "PlacementModel", "Stage"]

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
class Infeasible:
    """Why no compliant layout exists: the blocking rule (``L3``, ``A1``, ``D2`` ...) and what to change."""

    rule: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


@dataclass(frozen=True)
class ModelResult:
    """One model's layout for one room, scored by the judge it was given (the evaluator, §8).

    ``score`` is the §8 stage score (0-200), ``confidence = score / 200`` in [0, 1]. ``placed``
    counts the components this model added, ``count`` every component of the stage's kind in
    ``grid`` (pre-placed ones included). ``max_shr`` is the largest nearest-neighbour S/Hm (light
    models; the selection's last tie-break). ``infeasible`` says why no compliant layout exists.
    ``diagnostics`` are the model's own deterministic, JSON-able figures (never wall-clock times:
    those are on the pipeline's run record).
    """

    model: str
    stage: Stage
    grid: RoomGrid
    score: float
    compliant: bool
    placed: int
    count: int
    max_shr: float | None = None
    infeasible: Infeasible | None = None
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return max(0.0, min(1.0, self.score / MAX_STAGE_SCORE))

    def report_details(self) -> dict[str, Any]:
        """The diagnostics with the typed figures, as the report's ``details`` section has them."""
        out: dict[str, Any] = {**self.diagnostics, "count": self.count}
        if self.max_shr is not None:
            out["max_shr"] = self.max_shr
        if self.infeasible is not None:
            out["infeasible"] = self.infeasible.as_dict()
        return out


@runtime_checkable
class PlacementModel(Protocol):
    """A deterministic placement algorithm for one stage. Must be picklable (process pools).

    Optional: ``warm(grid)`` builds the read-only data the model needs for ``grid`` (the executor calls it
    before forking workers for a room, so they share it), and a ``relative_cost`` class attribute (default 1)
    lets the executor start the costliest of racing models first."""

    name: ClassVar[str]
    stage: ClassVar[Stage]
    version: ClassVar[str]

    def place(self, grid: RoomGrid, judge: Judge) -> ModelResult:
        """Return ``grid`` with this stage's components added, scored by ``judge``."""
        ...
