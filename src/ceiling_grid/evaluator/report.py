"""Evaluator result types: per-rule outcomes with numbers, per-stage reports, the room report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ComplianceReport", "RuleResult", "StageReport"]


@dataclass(frozen=True)
class RuleResult:
    """One §7 rule (``G1``, ``L3``, ``D1`` ...) with pass/fail, hardness and the measured numbers."""

    rule: str
    passed: bool
    hard: bool
    message: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageReport:
    """All rules of one stage, its §8 score and headline metrics (Em, U0, counts ...)."""

    stage: str
    rules: list[RuleResult]
    score: float
    metrics: dict[str, Any] = field(default_factory=dict)
    infeasible: dict[str, str] | None = None  # {"rule": ..., "reason": ...} when no compliant layout exists

    @property
    def compliant(self) -> bool:
        return all(r.passed for r in self.rules if r.hard)

    def failed(self, hard_only: bool = True) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed and (r.hard or not hard_only)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compliant"] = self.compliant
        return d


@dataclass(frozen=True)
class ComplianceReport:
    """The final combined layout checked against every stage's rules."""

    grid_id: str
    standard: str
    room_type: str
    stages: dict[str, StageReport]

    @property
    def compliant(self) -> bool:
        return all(s.compliant for s in self.stages.values())

    @property
    def infeasible(self) -> list[dict[str, str]]:
        return [s.infeasible for s in self.stages.values() if s.infeasible]

    def failed_rules(self) -> list[str]:
        return [r.rule for s in self.stages.values() for r in s.failed()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid_id": self.grid_id,
            "standard": self.standard,
            "room_type": self.room_type,
            "compliant": self.compliant,
            "failed_rules": self.failed_rules(),
            "infeasible": self.infeasible,
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
        }
