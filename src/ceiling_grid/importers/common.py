"""What every importer does first: refuse an unreadable or oversized file before a parser sees it."""

from __future__ import annotations

import re
from pathlib import Path

from ..config import Limits
from ..errors import Issue, LimitExceededError, RoomValidationError

__all__ = ["check_size", "room_id"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def room_id(name: str, fallback: str, used: dict[str, int], suffix: str) -> str:
    """A file-safe, unique grid id from a room's name (``fallback`` when it has none); a repeat gets ``-suffix``."""
    base = _UNSAFE.sub("-", name.strip()).strip("-._")[:100] or fallback
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}-{suffix}"


def check_size(path: Path, source: str, limits: Limits, split_hint: str) -> None:
    """Raise a one-line input error when ``path`` cannot be read or is over ``limits.max_file_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RoomValidationError(source, [Issue("", f"cannot read the file: {exc.strerror}", "check the path")]) \
            from None
    if size > limits.max_file_bytes:
        raise LimitExceededError(f"{source}: file is {size} bytes, over the limit of {limits.max_file_bytes} bytes "
                                 f"({split_hint}, or raise CEILING_GRID_MAX_FILE_BYTES)")
