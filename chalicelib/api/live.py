"""The waiting room's live updates, deployed: API Gateway's WebSocket events ($connect, messages,
$disconnect) and the entries table's DynamoDB stream, which pushes each changed queue's board to
the connections following it through the API Gateway Management API.

app.py registers these (Chalice's WebSocket and stream handlers live on the app itself).
"""
from __future__ import annotations

from urllib.parse import urlparse

from chalicelib.api.http import bind_storage
from chalicelib.domain import waiting_room
from chalicelib.errors import ConfigurationError
from chalicelib.settings import get_settings

# Chalice needs a stream ARN when the app is imported; `make package` replaces it in the template
# with the entries table's own StreamArn (devtools/package.py), known only once the stack exists.
ENTRIES_STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/dqs-queue-entries/stream/set-by-make-package"


def _client(websocket_api) -> None:
    if websocket_api.session is None:
        import boto3  # only the WebSocket and stream functions pay for this import

        websocket_api.session = boto3.session.Session()


def connect(event) -> None:
    bind_storage()
    waiting_room.connected(event.connection_id)


def message(websocket_api, event) -> None:
    """Answer a subscribe with the board at once (or an error), on the same connection."""
    bind_storage()
    reply = waiting_room.received(event.connection_id, event.body)
    _client(websocket_api)
    websocket_api.send(event.connection_id, reply)


def disconnect(event) -> None:
    bind_storage()
    waiting_room.disconnected(event.connection_id)


def changes(websocket_api, records: list[dict]) -> dict:
    """The entries' stream handler: push the changed boards, then send the messages now due."""
    from chalicelib.domain import notifications

    pushed = push(websocket_api, records)
    return {**pushed, "messages": len(notifications.send_due(records))}


def push(websocket_api, records: list[dict]) -> dict:
    """Send each queue's new board to the connections following it; forget the ones that are gone."""
    from chalice import WebsocketDisconnectedError

    bind_storage()
    boards = waiting_room.changed_queues(records)
    sent = 0
    if boards:
        url = get_settings().websocket_url
        if not url:
            raise ConfigurationError("DQS_WEBSOCKET_URL is not set for the stream handler.")
        parsed = urlparse(url)
        _client(websocket_api)
        websocket_api.configure(parsed.netloc, parsed.path.strip("/"))
    for department, board in boards.items():
        text = waiting_room.board_message(board)
        for connection_id in waiting_room.subscribers(department):
            try:
                websocket_api.send(connection_id, text)
                sent += 1
            except WebsocketDisconnectedError:
                waiting_room.disconnected(connection_id)
    return {"queues": len(boards), "sent": sent}
