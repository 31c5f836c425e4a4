"""The `idempotency-keys` table: one item per (caller, Idempotency-Key), taken with a conditional
PutItem by the first request, then holding its answer until DynamoDB's TTL removes it.

An item whose `expires_at` has passed counts as gone even before the TTL sweep removes it (that
may take a day or two), so the conditions compare it with the time.
"""
from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.domain.ports.idempotency import Held
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import CONDITION_FAILED, TRANSACTION_CONFLICT, cause, get_or_none


@register
class IdempotencyModel(StoredModel):
    class Meta:
        table_suffix = "idempotency-keys"
        ttl_attribute = "expires_at"

    key = UnicodeAttribute(hash_key=True)
    fingerprint = UnicodeAttribute()
    token = UnicodeAttribute()
    started_at = NumberAttribute()
    # Unix seconds, kept as a number beside the TTL so conditions can compare it with the time.
    until = NumberAttribute()
    status = NumberAttribute(null=True)
    body = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _held(item: IdempotencyModel) -> Held:
    return Held(item.fingerprint, item.token, float(item.started_at),
                int(item.status) if item.status is not None else None, item.body)


def claim(scope: str, fingerprint: str, token: str, now: float, stale_before: float,
          expires_at: float) -> Held | None:
    """One conditional PutItem; when it loses, one strongly consistent GetItem of what is held."""
    m = IdempotencyModel
    condition = (m.key.does_not_exist() | (m.until < now)
                 | (m.status.does_not_exist() & (m.started_at < stale_before) & (m.fingerprint == fingerprint)))
    item = m(scope, fingerprint=fingerprint, token=token, started_at=now, until=expires_at,
             expires_at=_instant(expires_at))
    for _ in range(3):
        try:
            item.save(condition=condition)
            return None
        except PutError as exc:
            if cause(exc) not in (CONDITION_FAILED, TRANSACTION_CONFLICT):
                raise
        held = get_or_none(m, scope)
        if held is not None:
            return _held(held)
        # Released between the write and the read: try to take it again.
    raise PutError("The idempotency key kept changing hands.")


def finish(scope: str, token: str, status: int, body: str, expires_at: float) -> None:
    m = IdempotencyModel
    try:
        m(scope).update(actions=[m.status.set(status), m.body.set(body), m.until.set(expires_at),
                                 m.expires_at.set(_instant(expires_at))],
                        condition=m.token == token)
    except UpdateError as exc:
        if cause(exc) != CONDITION_FAILED:  # taken over as stale: the newer request answers
            raise


def release(scope: str, token: str) -> None:
    m = IdempotencyModel
    try:
        m(scope).delete(condition=m.token == token)
    except DeleteError as exc:
        if cause(exc) != CONDITION_FAILED:
            raise
