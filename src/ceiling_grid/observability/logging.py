"""structlog helpers: loggers for library code, and the one place (the CLI) that configures output."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from ..config import DEFAULT_CLI_LOG_LEVEL
from ..logs import get_logger

__all__ = ["DEFAULT_CLI_LOG_LEVEL", "configure_cli_logging", "get_logger"]


class _CurrentStderr:
    """A file-like that always writes to the *current* ``sys.stderr`` (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_cli_logging(json: bool | None = None, level: str = DEFAULT_CLI_LOG_LEVEL) -> bool:
    """Configure structlog for the command line, unless something (Airflow, a host app) already has.

    ``json=None`` picks human-readable console output on a TTY and JSON lines otherwise.
    Events go to stderr so stdout stays for the per-room summary lines. Returns True when
    this call configured structlog, False when an existing configuration was kept.
    """
    if structlog.is_configured():
        return False
    if json is None:
        json = not sys.stderr.isatty()
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}; use debug, info, warning or error")
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return True
