"""The waiting room's live updates for `make run`: the `websockets` library's threaded server
speaking the protocol the deployed WebSocket API speaks.

A client sends `{"action": "subscribe", "department": <id> | null}` and gets
`{"type": "board", "board": {...}}` at once and after every change to that queue; anything else
gets `{"type": "error", ...}`. Changes come from the entries table's stream
(devtools.stream_feed), as they do deployed.

The library does the protocol (handshake, fragments, ping/pong, close, UTF-8 checks). Here:
text messages only (a binary one closes the connection with 1003), at most 64 KiB (1009), a
handshake that must be done within OPEN_TIMEOUT seconds, every client pinged every 20 s and
dropped when it stops answering. `WebSocketServer.admit` sees each handshake request before
it is accepted: the place for limits per address; `Hub.publish` the place for a bound on what a
slow reader may hold up.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http import HTTPStatus

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.sync.server import Server, ServerConnection, serve

log = logging.getLogger("dqs.websocket")

MAX_MESSAGE = 64 * 1024
OPEN_TIMEOUT = 10.0  # seconds from connecting to a finished handshake
PING_SECONDS = 20.0  # a ping this often; a client that has not answered within as long again is dropped
CLOSE_TIMEOUT = 2.0  # seconds a closing handshake may take before the connection is simply cut
_UNSUBSCRIBED = object()


def _board_message(board: dict) -> str:
    from chalicelib.domain.waiting_room import board_message

    return board_message(board)


def send(client: ServerConnection, text: str) -> bool:
    """Send a text message; False when the client is gone."""
    try:
        client.send(text)
        return True
    except ConnectionClosed:
        return False


class Hub:
    """Who is subscribed to which queue; sends each queue's new board to its subscribers."""

    def __init__(self, board_of: Callable[[int | None], dict]):
        self.board_of = board_of
        self._lock = threading.Lock()
        self._clients: dict[ServerConnection, object] = {}

    def add(self, client: ServerConnection) -> None:
        with self._lock:
            self._clients[client] = _UNSUBSCRIBED

    def remove(self, client: ServerConnection) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def subscribe(self, client: ServerConnection, department: int | None) -> None:
        """Subscribe a client to a queue and send it that queue's board at once."""
        board = self.board_of(department)
        with self._lock:
            self._clients[client] = department
        send(client, _board_message(board))

    def subscribers(self, department: int | None) -> list[ServerConnection]:
        with self._lock:
            return [client for client, queue in self._clients.items() if queue == department]

    def publish(self, department: int | None, board: dict) -> int:
        """Send a queue's board to its subscribers; returns how many got it."""
        text = _board_message(board)
        return sum(send(client, text) for client in self.subscribers(department))

    def clients(self) -> list[ServerConnection]:
        with self._lock:
            return list(self._clients)


def handle_message(hub: Hub, client: ServerConnection, text: str) -> None:
    """One message from a client: `subscribe` is the only action (the domain reads it)."""
    from chalicelib.domain import waiting_room
    from chalicelib.errors import ValidationFailed

    try:
        hub.subscribe(client, waiting_room.subscription(text))
    except ValidationFailed as exc:  # not a subscribe, or an unknown department
        send(client, waiting_room.error_message(exc.message))


class WebSocketServer:
    """The listener; stop() drops every client (1001) and refuses new ones until start() again."""

    def __init__(self, hub: Hub, host: str, port: int, *, open_timeout: float = OPEN_TIMEOUT,
                 max_message: int = MAX_MESSAGE):
        self.hub = hub
        self.host = host
        self.port = port
        self.open_timeout = open_timeout
        self.max_message = max_message
        self._server: Server | None = None

    def admit(self, connection: ServerConnection, request):
        """Before the handshake is accepted: None to go on, or the HTTP answer that ends it."""
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return connection.respond(HTTPStatus.UPGRADE_REQUIRED,
                                      "This is the waiting room's WebSocket: connect with a WebSocket client.\n")
        return None

    def _serve(self, client: ServerConnection) -> None:
        self.hub.add(client)
        try:
            for message in client:
                if isinstance(message, bytes):
                    client.close(CloseCode.UNSUPPORTED_DATA, "text messages only")
                    return
                handle_message(self.hub, client, message)
        except ConnectionClosed:  # gone, or closed for a protocol error (the library sent the code)
            pass
        finally:
            self.hub.remove(client)

    def start(self) -> WebSocketServer:
        server = serve(self._serve, self.host, self.port, process_request=self.admit, server_header=None,
                       compression=None, open_timeout=self.open_timeout, max_size=self.max_message,
                       ping_interval=PING_SECONDS, ping_timeout=PING_SECONDS, close_timeout=CLOSE_TIMEOUT,
                       logger=log)
        self.port = server.socket.getsockname()[1]
        self._server = server
        threading.Thread(target=server.serve_forever, name="websocket", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection (1001: going away)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()

    @property
    def running(self) -> bool:
        return self._server is not None
