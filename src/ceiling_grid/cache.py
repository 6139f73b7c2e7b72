"""A small per-process LRU cache of per-room values, safe under threads (core layer).

Each user keeps its own instance (the models' fast path, the rules, the evaluator), so no two
layers share cached objects. Keys are ``(room digest, what)``; see :func:`ceiling_grid.grid.room_key`.
Values must be frozen (frozen dataclasses, read-only arrays, mapping proxies): every caller of
``get`` receives the same object.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TypeVar

__all__ = ["RoomCache"]

T = TypeVar("T")


class RoomCache:
    """``get``/``put`` by key, dropping the least recently used entry beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], kind: type[T]) -> T | None:
        """The value under ``key`` if there is one of type ``kind``, else None."""
        with self._lock:
            value = self.data.get(key)
            if not isinstance(value, kind):
                return None
            self.data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: object) -> None:
        with self._lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
