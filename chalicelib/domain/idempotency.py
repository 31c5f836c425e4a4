"""Idempotency-Key: a write retried with the same key is done once.

The first request with a key claims it (per caller and key) with a conditional write, runs, and
stores its answer for 24 hours. A retry by the same caller with the same request gets that answer
again and changes nothing; the same key with another request is refused (422); while the first is
still running, a retry gets 409. A claim still "running" after the API's timeout belonged to a
request that died: the next retry may take it over (conditionally, so only one does).
"""
from __future__ import annotations

import hashlib
import json
import secrets
from typing import NamedTuple

from chalicelib.domain import clock
from chalicelib.domain.stores import stores
from chalicelib.errors import Conflict, Unprocessable, ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_SECONDS = 24 * 3600
# API Gateway gives up on a request after this long (its integration timeout; the function's is lower).
STALE_SECONDS = 15
MAX_KEY_LENGTH = 255


class Ticket(NamedTuple):
    """A claim this request holds: finish() or abandon() it."""
    scope: str
    token: str


class Replay(NamedTuple):
    """The first request's answer, to send again."""
    status: int
    body: str


def check_key(value: str) -> str:
    """The header's value: 1-255 printable ASCII characters, else a 400 naming the header."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in value):
        raise ValidationFailed.field(HEADER, f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters.")
    return value


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """What makes two requests the same one: method, path and body (JSON compared by value,
    so spacing and key order do not matter; no body is `{}`, as the API reads it)."""
    try:
        body = json.dumps(json.loads(raw_body) if raw_body else {}, sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError):
        body = raw_body.hex()
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def begin(user_id: int, key: str, request_fingerprint: str) -> Ticket | Replay:
    """Claim the key for this request, or the stored answer to replay; 409 while the first
    request with it runs, 422 when it was sent with another request."""
    scope = f"user#{user_id}#{key}"
    token = secrets.token_hex(16)
    now = clock.now().timestamp()
    held = stores().idempotency_keys.claim(scope, request_fingerprint, token, now,
                                           stale_before=now - STALE_SECONDS, expires_at=now + KEEP_SECONDS)
    if held is None:
        return Ticket(scope, token)
    if held.fingerprint != request_fingerprint:
        raise Unprocessable.field(HEADER, f"This {HEADER} was already used with another request.")
    if held.status is None:
        raise Conflict.field(HEADER, f"A request with this {HEADER} is still running: try again in a moment.")
    return Replay(held.status, held.body or "")


def finish(ticket: Ticket, status: int, body: str) -> None:
    """Keep the answer for retries."""
    stores().idempotency_keys.finish(ticket.scope, ticket.token, status, body, clock.now().timestamp() + KEEP_SECONDS)


def abandon(ticket: Ticket) -> None:
    """The request failed on the server's side: let a retry run it again."""
    stores().idempotency_keys.release(ticket.scope, ticket.token)
