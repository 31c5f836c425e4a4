"""Attempts in memory, with the one-step check-and-count of storage.attempts."""
from __future__ import annotations

from datetime import datetime

from tests.support.fakes.memory import MemoryDb


class MemoryAttempts:
    def __init__(self, db: MemoryDb):
        self.db = db

    def take(self, name: str, limit: int, expires_at: datetime, part: str | None = None,
             part_limit: int | None = None) -> bool:
        with self.db.lock:
            counter = self.db.counters.setdefault(name, {})
            if counter.get("value", 0) >= limit:
                return False
            if part is not None and counter.get(f"part#{part}", 0) >= part_limit:
                return False
            counter["value"] = counter.get("value", 0) + 1
            if part is not None:
                counter[f"part#{part}"] = counter.get(f"part#{part}", 0) + 1
            return True

    def give_back(self, name: str, part: str | None = None) -> None:
        with self.db.lock:
            counter = self.db.counters.setdefault(name, {})
            counter["value"] = counter.get("value", 0) - 1
            if part is not None:
                counter[f"part#{part}"] = counter.get(f"part#{part}", 0) - 1
