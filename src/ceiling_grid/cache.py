"""A small per-process LRU cache of per-room values, safe under threads (core layer).

Each user keeps its own instance (the models' fast path, the rules, the evaluator), so no two
layers share cached objects. Keys are ``(room digest, what)``; see :func:`ceiling_grid.grid.room_key`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

__all__ = ["RoomCache"]


class RoomCache:
    """``get``/``put`` by key, dropping the least recently used entry beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Any:
        with self._lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: Any) -> None:
        with self._lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
