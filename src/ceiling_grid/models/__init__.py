"""Placement models: the public registry (imported lazily, so ``models.base`` loads on its own)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import ModelResult, PlacementModel, Stage

if TYPE_CHECKING:
    from .air import AirSupplyModel
    from .detectors import SmokeDetectorModel
    from .lights import LightModelA, LightModelB, LightModelC

__all__ = [
    "AirSupplyModel",
    "LightModelA",
    "LightModelB",
    "LightModelC",
    "ModelResult",
    "PlacementModel",
    "SmokeDetectorModel",
    "Stage",
    "default_light_models",
]

_LAZY = {
    "LightModelA": ".lights",
    "LightModelB": ".lights",
    "LightModelC": ".lights",
    "AirSupplyModel": ".air",
    "SmokeDetectorModel": ".detectors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def default_light_models() -> list[PlacementModel]:
    """The three competing light models with their default (deterministic) parameters."""
    from .lights import LightModelA, LightModelB, LightModelC

    return [LightModelA(), LightModelB(), LightModelC()]
