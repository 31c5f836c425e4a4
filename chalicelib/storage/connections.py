"""The waiting room's WebSocket connections (deployed: API Gateway's connection ids) and the queue
each one follows. An item expires by DynamoDB's TTL some hours after its last subscribe, so a
connection that vanished without a disconnect event does not stay for ever."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.storage.binding import StoredModel, register


class _ByQueue(GlobalSecondaryIndex):
    class Meta:
        index_name = "queue-index"
        projection = KeysOnlyProjection()

    queue = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


@register
class ConnectionModel(StoredModel):
    class Meta:
        table_suffix = "connections"
        ttl_attribute = "expires_at"

    connection_id = UnicodeAttribute(hash_key=True)
    queue = UnicodeAttribute(null=True)  # the queue it subscribed to; none until it does
    expires_at = TTLAttribute()

    by_queue = _ByQueue()


def connected(connection_id: str, expires_at: datetime) -> None:
    """A new connection, subscribed to nothing yet."""
    ConnectionModel(connection_id, expires_at=expires_at).save()


def subscribe(connection_id: str, queue: str, expires_at: datetime) -> None:
    """Follow one queue (instead of any other), and live until expires_at."""
    ConnectionModel(connection_id, queue=queue, expires_at=expires_at).save()


def disconnected(connection_id: str) -> None:
    ConnectionModel(connection_id).delete()


def subscribers(queue: str) -> list[str]:
    """The ids of the connections following a queue (Queries on the queue index)."""
    return [item.connection_id for item in ConnectionModel.by_queue.query(queue)]
