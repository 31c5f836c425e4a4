"""List pages: one Query per page, and signed cursors that lead to the next one."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.entities import Page
from chalicelib.errors import ValidationFailed
from chalicelib.keys import CURSORS, derived_key, verification_keys

MAX_CURSOR_LENGTH = 2000


def _sign(scope: str, payload: bytes, key: bytes | None = None) -> str:
    key = derived_key(CURSORS) if key is None else key
    return hmac.new(key, scope.encode() + b"\x00" + payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(scope: str, last_key: dict | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(scope, payload)


def decode_cursor(scope: str, cursor: str | None) -> dict | None:
    """The start key a cursor stands for; a cursor made for another list, or none of ours, is a 400."""
    if cursor is None:
        return None
    bad = ValidationFailed.field("cursor", "Invalid or expired cursor.")
    body, _, signature = cursor.partition(".")
    if not body or len(cursor) > MAX_CURSOR_LENGTH or not signature.isascii():
        raise bad
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        raise bad from None
    # Signed with the current key, or with the previous one before a rotation: paging goes on.
    if not any(hmac.compare_digest(_sign(scope, payload, key), signature)
               for key in verification_keys(CURSORS).values()):
        raise bad
    return json.loads(payload)


def query_page(model: type[Model], index: GlobalSecondaryIndex, scope: str, limit: int, cursor: str | None,
               convert: Callable[[Any], Any], *, hash_key, **conditions) -> Page:
    """One page of a Query on one of `model`'s indexes: exactly one DynamoDB call, whatever the table's size.

    A filter_condition applies to that one page only (PynamoDB's iterator would keep
    querying until `limit` items passed it), so a filtered page may hold fewer than
    `limit` items, even none, while `next` still leads on to the rest.
    """
    results = index.query(hash_key, limit=limit, page_size=limit,
                          last_evaluated_key=decode_cursor(scope, cursor), **conditions)
    raw = next(results.page_iter)
    items = [convert(model.from_raw_data(item)) for item in raw.get("Items", [])]
    return Page(items=items, next=encode_cursor(scope, results.page_iter.last_evaluated_key))
