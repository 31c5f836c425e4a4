"""Idempotency keys in memory, with the one-step conditional claim of storage.idempotency."""
from __future__ import annotations

from chalicelib.domain.ports.idempotency import Held
from tests.support.fakes.memory import MemoryDb


class MemoryIdempotencyKeys:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.items: dict[str, dict] = {}

    def claim(self, scope: str, fingerprint: str, token: str, now: float, stale_before: float,
              expires_at: float) -> Held | None:
        with self.db.lock:
            item = self.items.get(scope)
            if (item is None or item["until"] < now
                    or (item["status"] is None and item["started_at"] < stale_before
                        and item["fingerprint"] == fingerprint)):
                self.items[scope] = {"fingerprint": fingerprint, "token": token, "started_at": now,
                                     "until": expires_at, "status": None, "body": None}
                return None
            return Held(item["fingerprint"], item["token"], item["started_at"], item["status"], item["body"])

    def finish(self, scope: str, token: str, status: int, body: str, expires_at: float) -> None:
        with self.db.lock:
            item = self.items.get(scope)
            if item is not None and item["token"] == token:
                item.update(status=status, body=body, until=expires_at)

    def release(self, scope: str, token: str) -> None:
        with self.db.lock:
            if self.items.get(scope, {}).get("token") == token:
                del self.items[scope]
