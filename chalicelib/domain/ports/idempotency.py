"""Idempotency keys: one claim per (caller, key), held while the first request runs and then
holding its answer until it expires."""
from __future__ import annotations

from typing import NamedTuple, Protocol


class Held(NamedTuple):
    """What a claim holds: the request it was taken for, who took it and when, and, once
    that request is done, its answer (status None while it still runs)."""
    fingerprint: str
    token: str
    started_at: float  # unix seconds
    status: int | None
    body: str | None


class IdempotencyKeys(Protocol):
    def claim(self, scope: str, fingerprint: str, token: str, now: float, stale_before: float,
              expires_at: float) -> Held | None:
        """Take the claim on `scope` for `token` in one conditional write: when nobody holds it, when
        its hold has expired, or when a claim for the same request is still running but started
        before `stale_before` (its request died). None when taken; otherwise what is held."""

    def finish(self, scope: str, token: str, status: int, body: str, expires_at: float) -> None:
        """Store the answer on the claim, if `token` still holds it."""

    def release(self, scope: str, token: str) -> None:
        """Give the claim up, if `token` still holds it (the request failed: a retry may run it)."""
