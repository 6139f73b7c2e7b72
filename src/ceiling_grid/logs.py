"""Loggers for library code: structlog events whose yes/no fields read ``true``/``false`` in every log viewer.

Airflow's UI log view shows ``compliant=`` with nothing after it for a JSON boolean, so every
boolean field is logged as the string ``"true"`` or ``"false"``. Each use assembles structlog's own
logger (``structlog.wrap_logger``) with one processor put in front of whatever chain is configured
at that moment: nothing here configures structlog (Airflow, in a task, or the CLI owns that), no
state is shared between threads, and no wrapper frame sits between the caller and structlog, so
Airflow's ``loc=`` still names the calling line.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog

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


class _FlagsAsWordsLogger:
    """Hands out structlog loggers assembled with :func:`flags_as_words` ahead of the configured processors."""

    def __init__(self, name: str) -> None:
        self._name = name

    def bind(self, **new_values: Any) -> Any:
        processors = [flags_as_words, *structlog.get_config()["processors"]]
        return structlog.wrap_logger(None, processors=processors, logger_factory_args=(self._name,)).bind(**new_values)

    def __getattr__(self, method: str) -> Any:  # log.info(...) calls structlog's own bound method: no extra frame
        return getattr(self.bind(), method)


def get_logger(name: str) -> Any:
    """The logger of module ``name`` (library code logs key=value events and never configures anything)."""
    return _FlagsAsWordsLogger(name)
