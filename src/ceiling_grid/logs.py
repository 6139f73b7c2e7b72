"""Loggers for library code: structlog events whose yes/no fields read ``true``/``false`` in every log viewer.

Airflow's UI log view shows ``compliant=`` with nothing after it for a JSON boolean, so every
boolean field is logged as the string ``"true"`` or ``"false"``. The logger is structlog's own lazy
proxy with one processor put in front of whatever chain is configured when it is first used:
nothing here configures structlog (Airflow, in a task, or the CLI owns that), and no wrapper frame
sits between the caller and structlog, so Airflow's ``loc=`` still names the calling line.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog._config import BoundLoggerLazyProxy

__all__ = ["flags_as_words", "get_logger", "shown"]


def shown(value: Any) -> Any:
    """``True`` -> ``"true"``, ``False`` -> ``"false"``; any other value unchanged."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def flags_as_words(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every boolean field as ``"true"``/``"false"``."""
    for key, value in event_dict.items():
        if isinstance(value, bool):
            event_dict[key] = shown(value)
    return event_dict


class _FlagsAsWordsProxy(BoundLoggerLazyProxy):
    """structlog's lazy logger, assembled with :func:`flags_as_words` ahead of the configured processors."""

    def bind(self, **new_values: Any) -> Any:
        self._processors = [flags_as_words, *structlog.get_config()["processors"]]
        try:
            return super().bind(**new_values)
        finally:
            self._processors = None


def get_logger(name: str) -> Any:
    """The logger of module ``name`` (library code logs key=value events and never configures anything)."""
    return _FlagsAsWordsProxy(None, logger_factory_args=(name,))
