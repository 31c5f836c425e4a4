"""`make run`'s stand-in for the deployed stream handler: reads the entries table's DynamoDB
stream (moto's server serves DynamoDB Streams) and hands each batch of records to the same
domain function the deployed handler calls, then pushes the boards it returns.

Records are read with GetRecords on every shard, from the stream's end as it was when the server
started (what happened before is already on the boards): ten times a second right after records,
backing off to once a second while idle. Boards are built only for queues a screen follows.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from devtools.moto_memory import forget_shard_iterator
from devtools.overrides import table_schema

log = logging.getLogger("dqs.stream")

BUSY_SECONDS = 0.1  # the wait between reads right after records came
IDLE_SECONDS = 1.0  # ... growing to this while none come
REBIND_SECONDS = 1.0  # without records for this long, take a fresh iterator after the last record seen
SHARDS_SECONDS = 10.0  # how often to look for new shards
# What GetRecords answers when an iterator can no longer be read from: take a new one.
LOST = ("ExpiredIteratorException", "TrimmedDataAccessException", "ResourceNotFoundException")


def entries_table() -> str:
    from chalicelib.storage.queue_entries import QueueEntryModel

    return QueueEntryModel.Meta.table_name


def _clients(endpoint: str, region: str):
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 2})
    return (boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, config=config),
            boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=region, config=config))


def ensure_stream(dynamodb, table: str, model=None) -> str:
    """The table's stream ARN, enabling the stream (NEW_AND_OLD_IMAGES) on a table made before it
    had one, and adding indexes the model has that the table lacks (data kept from older versions)."""
    described = dynamodb.describe_table(TableName=table)["Table"]
    if model is not None:
        have = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
        schema = table_schema(model)
        for index in schema.get("global_secondary_indexes", []):
            if index["index_name"] in have:
                continue
            keys = sorted(index["key_schema"], key=lambda key: key["KeyType"] != "HASH")
            dynamodb.update_table(
                TableName=table, AttributeDefinitions=index["attribute_definitions"],
                GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": index["index_name"], "KeySchema": keys,
                                                         "Projection": index["projection"]}}])
        described = dynamodb.describe_table(TableName=table)["Table"]
    if not (described.get("StreamSpecification") or {}).get("StreamEnabled"):
        dynamodb.update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                                    "StreamViewType": "NEW_AND_OLD_IMAGES"})
        described = dynamodb.describe_table(TableName=table)["Table"]
    return described["LatestStreamArn"]


class StreamFeed:
    """A daemon thread reading the stream and calling `on_records(records)` with each batch.

    It heals itself: an iterator that expires, whose records were trimmed, whose shard closed or
    vanished, or that is bound to a shard replaced under it (moto puts copies of the tables in place
    after a cancelled transaction, and an iterator of the old shard never sees another record) is
    replaced by one AFTER_SEQUENCE_NUMBER of the last record it handed on (TRIM_HORIZON of a shard it
    has seen nothing of). A fresh iterator is taken whenever no record came for REBIND_SECONDS, so a
    replaced shard is noticed within about a second, whatever the stream says of it. While idle it
    reads once a second; right after records, ten times a second.
    """

    def __init__(self, endpoint: str, region: str, on_records: Callable[[list[dict]], None], model=None):
        self.dynamodb, self.streams = _clients(endpoint, region)
        self.on_records = on_records
        self.table = entries_table() if model is None else model.Meta.table_name
        self.arn = ensure_stream(self.dynamodb, self.table, model)
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._iterators: dict[str, str | None] = {}
        self._last: dict[str, str] = {}  # shard id: the sequence number of the last record handed on
        self._shards_read_at = 0.0
        self._rebound_at = time.monotonic()
        self.delay = BUSY_SECONDS
        self.rebinds = 0
        self._skip_to_end()

    def _shards(self) -> list[str]:
        self._shards_read_at = time.monotonic()
        return [shard["ShardId"] for shard in
                self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]]

    def _skip_to_end(self) -> None:
        """Start at the stream's end, knowing the last sequence number there (what happened before
        is already on the boards)."""
        for shard_id in self._shards():
            iterator = self._iterator(shard_id)
            while iterator:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                forget_shard_iterator(iterator)
                iterator = answer.get("NextShardIterator")
                if not answer["Records"]:
                    break
                self._last[shard_id] = answer["Records"][-1]["dynamodb"]["SequenceNumber"]
            self._iterators[shard_id] = iterator

    def _iterator(self, shard_id: str) -> str:
        if shard_id in self._last:
            try:
                return self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=self._last[shard_id])["ShardIterator"]
            except ClientError as exc:  # trimmed past it, or not this shard's number: from the shard's start
                log.warning("no iterator after the last record of shard %s (%s)", shard_id, _code(exc))
        return self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id,
                                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def rebind(self, look_up: bool = False) -> None:
        """Fresh iterators on the shards known (with `look_up`: the stream's ARN and shards looked up again)."""
        shards = list(self._iterators)
        if look_up:
            described = self.dynamodb.describe_table(TableName=self.table)["Table"]
            arn = described.get("LatestStreamArn") or self.arn
            if arn != self.arn:  # a new stream (disabled, then enabled again): read it from its start
                self.arn = arn
                self._last.clear()
            shards = self._shards()
        for shard_id in list(self._iterators):
            if shard_id not in shards:
                self._iterators.pop(shard_id)
        for shard_id in shards:
            old = self._iterators.get(shard_id)
            self._iterators[shard_id] = self._iterator(shard_id)
            if old:
                forget_shard_iterator(old)
        self._rebound_at = time.monotonic()
        self.rebinds += 1

    def poll_once(self) -> int:
        """Read every shard once; returns how many records were handed on."""
        if time.monotonic() - self._rebound_at >= REBIND_SECONDS:
            self.rebind()
        handed, lost = 0, False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                lost = True  # a closed shard: its successor is found by the rebind
                continue
            try:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            except ClientError as exc:
                if _code(exc) not in LOST:
                    raise
                log.warning("the entries stream's iterator of shard %s is lost (%s)", shard_id, _code(exc))
                self._iterators[shard_id], lost = None, True
                continue
            forget_shard_iterator(iterator)  # moto would keep it for good
            self._iterators[shard_id] = answer.get("NextShardIterator")
            if answer["Records"]:
                self._last[shard_id] = answer["Records"][-1]["dynamodb"]["SequenceNumber"]
                self.on_records(answer["Records"])
                handed += len(answer["Records"])
        if handed:
            self._rebound_at = time.monotonic()
        if lost or time.monotonic() - self._shards_read_at > SHARDS_SECONDS:
            self.rebind(look_up=True)
        return handed

    def run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(IDLE_SECONDS)
                continue
            try:
                handed = self.poll_once()
                self.delay = BUSY_SECONDS if handed else min(IDLE_SECONDS, self.delay * 1.5)
            except Exception:  # keep following the stream; the next poll tries again
                log.exception("reading the entries stream failed")
                self.delay = IDLE_SECONDS
            self._stop.wait(self.delay)

    def start(self) -> StreamFeed:
        threading.Thread(target=self.run, name="stream-feed", daemon=True).start()
        return self

    def pause(self) -> None:
        """Stop reading (a test hook: the screens' sockets stay open, no board is pushed)."""
        self._paused.set()

    def resume(self) -> None:
        """Read again, from after the last record handed on (what changed meanwhile is pushed)."""
        self._paused.clear()
        self._rebound_at = 0.0

    def stop(self) -> None:
        self._stop.set()


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def push_boards(hub) -> Callable[[list[dict]], None]:
    """What the feed does with a batch, as the deployed handler does: the boards the domain says
    changed, to their subscribers; then the "your turn" messages now due."""
    from chalicelib import storage
    from chalicelib.domain import notifications, waiting_room

    def on_records(records: list[dict]) -> None:
        storage.bind()
        watched = lambda department: bool(hub.subscribers(department))  # noqa: E731
        for department, board in waiting_room.changed_queues(records, watched).items():
            hub.publish(department, board)
        notifications.send_due(records)
    return on_records


def board_of(department: int | None) -> dict:
    from chalicelib import storage
    from chalicelib.domain import waiting_room

    storage.bind()
    return waiting_room.board(department)
