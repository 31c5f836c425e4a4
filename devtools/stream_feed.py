"""`make run`'s stand-in for the deployed stream handler: reads the entries table's DynamoDB
stream (moto's server serves DynamoDB Streams) and hands each batch of records to the same
domain function the deployed handler calls, then pushes the boards it returns.

Records are read with GetRecords on every shard, a few times a second, from the stream's end
as it was when the server started (what happened before is already on the boards).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from devtools.moto_memory import forget_shard_iterator
from devtools.overrides import table_schema

log = logging.getLogger("dqs.stream")

POLL_SECONDS = 0.1
SHARDS_SECONDS = 10.0  # how often to look for new shards


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
    """A daemon thread reading the stream and calling `on_records(records)` with each batch."""

    def __init__(self, endpoint: str, region: str, on_records: Callable[[list[dict]], None], model=None):
        self.dynamodb, self.streams = _clients(endpoint, region)
        self.on_records = on_records
        self.arn = ensure_stream(self.dynamodb, entries_table(), model)
        self._stop = threading.Event()
        self._iterators: dict[str, str | None] = {}
        self._shards_read_at = 0.0
        self._refresh_shards(start="LATEST")

    def _refresh_shards(self, start: str = "TRIM_HORIZON") -> None:
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType=start)["ShardIterator"]
        self._shards_read_at = time.monotonic()

    def poll_once(self) -> int:
        """Read every shard once; returns how many records were handed on."""
        handed = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            forget_shard_iterator(iterator)  # moto would keep it for good
            self._iterators[shard_id] = answer.get("NextShardIterator")
            if answer["Records"]:
                self.on_records(answer["Records"])
                handed += len(answer["Records"])
        if time.monotonic() - self._shards_read_at > SHARDS_SECONDS:
            self._refresh_shards()
        return handed

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(POLL_SECONDS)
            except Exception:  # keep following the stream; the next poll tries again
                log.exception("reading the entries stream failed")
                self._stop.wait(1.0)

    def start(self) -> StreamFeed:
        threading.Thread(target=self.run, name="stream-feed", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


def push_boards(hub) -> Callable[[list[dict]], None]:
    """What the feed does with a batch, as the deployed handler does: the boards the domain says
    changed, to their subscribers; then the "your turn" messages now due."""
    from chalicelib import storage
    from chalicelib.domain import notifications, waiting_room

    def on_records(records: list[dict]) -> None:
        storage.bind()
        for department, board in waiting_room.changed_queues(records).items():
            hub.publish(department, board)
        notifications.send_due(records)
    return on_records


def board_of(department: int | None) -> dict:
    from chalicelib import storage
    from chalicelib.domain import waiting_room

    storage.bind()
    return waiting_room.board(department)
