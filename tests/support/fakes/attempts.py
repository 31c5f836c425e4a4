"""Attempts in memory, with the one-step check-and-count of storage.attempts."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain.ports.attempts import Entry, Limits, decide
from tests.support.fakes.memory import MemoryDb


class MemoryAttempts:
    def __init__(self, db: MemoryDb):
        self.db = db

    def take(self, name: str, limit: int, expires_at: datetime) -> bool:
        with self.db.lock:
            counter = self.db.counters.setdefault(name, {})
            if counter.get("value", 0) >= limit:
                return False
            counter["value"] = counter.get("value", 0) + 1
            return True

    def count(self, name: str) -> int:
        with self.db.lock:
            return self.db.counters.get(name, {}).get("value", 0)

    def give_back(self, name: str) -> None:
        with self.db.lock:
            counter = self.db.counters.setdefault(name, {})
            counter["value"] = counter.get("value", 0) - 1

    # Sliding windows: the same rule (domain.ports.attempts.decide), decided and written under the lock.

    def _log(self, name: str) -> list[Entry]:
        return self.db.counters.setdefault(name, {}).setdefault("log", [])

    def take_sliding(self, name: str, entry: Entry, limits: Limits) -> int:
        with self.db.lock:
            new, wait = decide(self._log(name), entry.at, limits, entry)
            if new is not None:
                self.db.counters[name]["log"] = new
            return wait

    def give_back_sliding(self, name: str, token: str) -> None:
        with self.db.lock:
            self.db.counters[name]["log"] = [e for e in self._log(name) if e.token != token]

    def parts_since(self, name: str, since: float) -> set[str]:
        with self.db.lock:
            return {e.part for e in self._log(name) if e.at > since}

    def remember_part(self, name: str, entry: Entry, keep_seconds: float, most: int) -> None:
        with self.db.lock:
            kept = [e for e in self._log(name) if e.part != entry.part and e.at > entry.at - keep_seconds]
            kept = sorted(kept, key=lambda e: e.at)[-(most - 1):] if most > 1 else []
            self.db.counters[name]["log"] = [*kept, entry]
