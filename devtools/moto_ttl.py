"""Time to Live on the embedded DynamoDB (moto's server), as DynamoDB applies it.

moto stores a table's TimeToLiveSpecification but never deletes anything, so in `make run`
old days' claims, counters and screen connections would pile up for good. `sweep()` deletes
the items whose TTL attribute has passed, as DynamoDB's TTL process does:

- only in tables whose TTL is ENABLED, and only items whose TTL attribute is a Number (Unix
  epoch seconds) earlier than now; items without it, or with another type, are left alone,
  and so are items that expired more than five years ago (DynamoDB ignores those too);
- each deletion adds a REMOVE record to the table's stream, with the old image and
  `userIdentity: {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}`, which marks
  TTL deletions in DynamoDB Streams.

DynamoDB deletes expired items within a few days of their expiry, and until then reads still
return them; here they go at the first sweep after expiry (the local server sweeps at most once
a minute, before a request: devtools.journal), and until then reads return them too.

The same sweep drops stream records older than 24 hours (`trim_streams`), as DynamoDB Streams
keeps a record 24 hours; moto keeps every record of a table's stream in memory for good.

sweep() changes moto's tables directly: callers hold the server's lock (one request at a time)
and journal the deletions it returns as DeleteItem requests.
"""
from __future__ import annotations

import time

SWEEP_SECONDS = 60.0
STREAM_RETENTION_SECONDS = 24 * 3600
IGNORED_AFTER_SECONDS = 5 * 365 * 24 * 3600  # DynamoDB leaves items expired longer ago than this
# As GetRecords names its fields (a Lambda event spells them "type" and "principalId").
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


def _backends(regions=None):
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.keys()):
        for region, backend in list(dynamodb_backends[account].items()):
            if regions is None or region in regions:
                yield region, backend


def _expired(table, now: float) -> list:
    ttl = table.ttl or {}
    if ttl.get("TimeToLiveStatus") != "ENABLED" or not ttl.get("AttributeName"):
        return []
    name = ttl["AttributeName"]
    found = []
    buckets = table.items.values()
    items = (item for bucket in buckets for item in bucket.values()) if table.range_key_attr else buckets
    for item in items:
        value = item.attrs.get(name)
        if value is None or value.type != "N":
            continue
        try:
            expires = float(value.value)
        except (TypeError, ValueError):
            continue
        if now - IGNORED_AFTER_SECONDS <= expires < now:
            found.append(item)
    return found


def sweep(now: float | None = None, regions=None) -> list[tuple[str, dict]]:
    """Delete every expired item (of `regions`, default all); returns (region, DeleteItem request) for each."""
    now = time.time() if now is None else now
    deleted: list[tuple[str, dict]] = []
    for region, backend in _backends(regions):
        for table in list(backend.tables.values()):
            for item in _expired(table, now):
                shard = table.stream_shard
                records = len(shard.items) if shard is not None else 0
                if table.delete_item(item.hash_key, item.range_key) is None:
                    continue
                if shard is not None and len(shard.items) == records + 1:
                    shard.items[-1].record["userIdentity"] = dict(TTL_IDENTITY)
                key = {table.hash_key_attr: item.hash_key.to_json()}
                if table.range_key_attr:
                    key[table.range_key_attr] = item.range_key.to_json()
                deleted.append((region, {"TableName": table.name, "Key": key}))
    return deleted


def trim_streams(now: float | None = None, regions=None) -> int:
    """Drop the stream records older than 24 hours; returns how many. The shard's first sequence
    number moves past them, so every later record keeps its number."""
    from datetime import UTC, datetime

    now = time.time() if now is None else now
    dropped = 0
    for _, backend in _backends(regions):
        for table in list(backend.tables.values()):
            shard = table.stream_shard
            if shard is None or not shard.items:
                continue
            old = 0
            for record in shard.items:
                made = record.record["dynamodb"]["ApproximateCreationDateTime"]
                if isinstance(made, datetime):
                    made = (made if made.tzinfo else made.replace(tzinfo=UTC)).timestamp()
                if now - float(made) <= STREAM_RETENTION_SECONDS:
                    break
                old += 1
            if old:
                del shard.items[:old]
                shard.starting_sequence_number += old
                dropped += old
    return dropped


class Sweeper:
    """sweep() at most once every `interval` seconds (the journal's gate asks before each request)."""

    def __init__(self, interval: float = SWEEP_SECONDS, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        return self.clock() - self.last >= self.interval

    def sweep(self, regions=None) -> list[tuple[str, dict]]:
        self.last = self.clock()
        trim_streams(regions=regions)
        return sweep(regions=regions)
