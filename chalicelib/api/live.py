"""The waiting room's live updates, deployed: API Gateway's WebSocket events ($connect, messages,
$disconnect) and the entries table's DynamoDB stream, which pushes each changed queue's board to
the connections following it through the API Gateway Management API.

app.py registers these (Chalice's WebSocket and stream handlers live on the app itself).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from chalicelib.api.http import bind_storage
from chalicelib.domain import waiting_room
from chalicelib.errors import ConfigurationError
from chalicelib.settings import get_settings
from chalicelib.telemetry import count

log = logging.getLogger("dqs.live")

PUSH_WORKERS = 16  # Management API posts in flight at once

# Chalice needs a stream ARN when the app is imported; `make package` replaces it in the template
# with the entries table's own StreamArn (devtools/package.py), known only once the stack exists.
ENTRIES_STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/dqs-queue-entries/stream/set-by-make-package"


def _client(websocket_api) -> None:
    if websocket_api.session is None:
        import boto3  # only the WebSocket and stream functions pay for this import
        from botocore.config import Config

        session = boto3.session.Session()
        # As many connections to the Management API as pushes in flight; a slow one fails alone.
        session._session.set_default_client_config(Config(
            max_pool_connections=PUSH_WORKERS, connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}))
        websocket_api.session = session


def connect(event) -> None:
    bind_storage()
    waiting_room.connected(event.connection_id)


def message(websocket_api, event) -> None:
    """Answer a subscribe with the board at once (or an error), on the same connection; a screen
    gone before the answer is forgotten."""
    from chalice import WebsocketDisconnectedError

    bind_storage()
    reply = waiting_room.received(event.connection_id, event.body)
    _client(websocket_api)
    try:
        websocket_api.send(event.connection_id, reply)
    except WebsocketDisconnectedError:
        waiting_room.disconnected(event.connection_id)
        count("Gone")


def disconnect(event) -> None:
    bind_storage()
    waiting_room.disconnected(event.connection_id)


def changes(websocket_api, records: list[dict]) -> dict:
    """The entries' stream handler: push the changed boards, then send the messages now due.

    Records are read one at a time: one that cannot be read (no image where its event needs one, an
    attribute that does not deserialize) is reported in `batchItemFailures` by its sequence number
    and skipped, so it never holds back the others. The pushes and the messages run independently;
    a failure of one connection is logged and counted and the other connections go on. Records
    whose boards or messages could not be built (storage failing) are reported too, so Lambda
    tries them again.
    """
    from chalicelib.domain import notifications

    bind_storage()
    readable, failed = waiting_room.readable(records)
    for record in failed:  # its sequence number only, never its content
        log.warning("stream record %s cannot be read", _sequence_number(record))
    heads: list[waiting_room.Head] = []  # the boards' heads, where the messages find their candidates
    try:
        push(websocket_api, readable, heads)
    except Exception:
        log.exception("pushing the boards of %d records failed", len(readable))
        failed.extend(readable)
    try:
        notifications.send_due(readable, heads)  # each message counted (MessagesSent) as it goes
    except Exception:
        log.exception("sending the messages of %d records failed", len(readable))
        failed.extend(readable)
    numbers = list(dict.fromkeys(_sequence_number(record) for record in failed))
    count("RecordsFailed", len(numbers))
    return {"batchItemFailures": [{"itemIdentifier": number} for number in numbers]}


def _sequence_number(record: dict) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def push(websocket_api, records: list[dict], heads: list[waiting_room.Head] | None = None) -> dict:
    """Send each watched queue's new board to the connections following it, at most PUSH_WORKERS at a
    time; forget the ones that are gone. A queue nobody watches costs one Query, no board. Each
    board's head (its waiting entries, read whole) is added to `heads`."""
    watched = {}
    for department in waiting_room.touched_queues(records):
        connections = waiting_room.subscribers(department)
        if connections:
            watched[department] = connections
    if not watched:
        return {"queues": 0, "sent": 0}
    url = get_settings().websocket_url
    if not url:
        raise ConfigurationError("DQS_WEBSOCKET_URL is not set for the stream handler.")
    parsed = urlparse(url)
    _client(websocket_api)
    websocket_api.configure(parsed.netloc, parsed.path.strip("/"))
    jobs = []
    for department, connections in watched.items():
        board, head = waiting_room.live_board(department)  # once a queue
        if heads is not None:
            heads.append(head)
        text = waiting_room.board_message(board)
        jobs += [(connection_id, text) for connection_id in connections]
    outcomes = send_all(websocket_api, jobs)
    for connection_id, outcome in outcomes.items():
        if outcome == GONE:
            waiting_room.disconnected(connection_id)
    sent = sum(1 for outcome in outcomes.values() if outcome == SENT)
    count("Pushes", sent)
    count("Gone", sum(1 for outcome in outcomes.values() if outcome == GONE))
    count("PushesFailed", sum(1 for outcome in outcomes.values() if outcome == FAILED))
    return {"queues": len(watched), "sent": sent}


SENT, GONE, FAILED = "sent", "gone", "failed"


def send_all(websocket_api, jobs: list[tuple[str, str]]) -> dict[str, str]:
    """Post each (connection, text) through the Management API concurrently: {connection: outcome}."""
    from chalice import WebsocketDisconnectedError

    def send(job: tuple[str, str]) -> tuple[str, str]:
        connection_id, text = job
        try:
            websocket_api.send(connection_id, text)
        except WebsocketDisconnectedError:
            return connection_id, GONE
        except Exception as exc:  # one connection's failure (403, throttling, a timeout) stops no other
            log.warning("push to connection %s failed: %s", connection_id, type(exc).__name__)
            return connection_id, FAILED
        return connection_id, SENT

    if not jobs:
        return {}
    first = dict([send(jobs[0])])  # on this thread: the client is made once, before the others share it
    with ThreadPoolExecutor(max_workers=min(PUSH_WORKERS, max(1, len(jobs) - 1))) as pool:
        return {**first, **dict(pool.map(send, jobs[1:]))}
