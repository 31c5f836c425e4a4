"""Ids in memory: one counter per kind."""
from __future__ import annotations

import itertools
import threading
from collections import defaultdict


class MemoryIds:
    def __init__(self):
        self._lock = threading.Lock()
        self._next: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def next_id(self, kind: str) -> int:
        with self._lock:
            return next(self._next[kind])

    reserved_id = next_id
