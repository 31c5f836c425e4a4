"""The waiting room's live updates for `make run`: the `websockets` library's threaded server
speaking the protocol the deployed WebSocket API speaks.

A client sends `{"action": "subscribe", "department": <id> | null}` and gets
`{"type": "board", "board": {...}}` at once and after every change to that queue; anything else
gets `{"type": "error", ...}`. Changes come from the entries table's stream
(devtools.stream_feed), as they do deployed.

The library does the protocol (handshake, fragments, ping/pong, close, UTF-8 checks). Here:
text messages only (a binary one closes the connection with 1003), at most 64 KiB (1009), a
handshake that must be done within OPEN_TIMEOUT seconds, every client pinged every 20 s and
dropped when it stops answering.

Strangers cannot exhaust it (issue 23): at most MAX_PER_ADDRESS connections from one address and
MAX_CONNECTIONS in all, handshakes included, counted as they are accepted (one over is closed at
once, before any handshake is read); and each subscriber's boards go through a bounded queue of
its own (OUTBOX boards), sent by its own thread, so a reader that does not keep up is dropped
instead of delaying the other screens.
"""
from __future__ import annotations

import logging
import queue
import socket
import threading
from collections import Counter
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
MAX_PER_ADDRESS = 100  # connections (handshaking or open) from one client address
MAX_CONNECTIONS = 2000  # and from all addresses together
# Connections the kernel holds for accept(): past this, a new one's SYN is dropped and the client
# waits a second to try again. Screens reconnecting at once after a restart need more than 128.
BACKLOG = 1024
OUTBOX = 8  # boards waiting for one subscriber; one more and it is dropped as a slow reader
_UNSUBSCRIBED = object()
_STOP = object()


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


def _cut(client: ServerConnection) -> None:
    """Drop a connection at once, without a closing handshake (which a slow reader would hold up)."""
    try:
        client.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Outbox:
    """A subscriber's boards to send, at most OUTBOX waiting, sent in order by a thread of its own."""

    def __init__(self, client: ServerConnection, size: int):
        self.client = client
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        threading.Thread(target=self._run, name="websocket-outbox", daemon=True).start()

    def put(self, text: str) -> bool:
        """Queue a board; False when the queue is full (the reader is not keeping up)."""
        try:
            self._queue.put_nowait(text)
            return True
        except queue.Full:
            return False

    def close(self) -> None:
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass  # the thread is stuck in a send: cutting the connection ends it

    def _run(self) -> None:
        while (text := self._queue.get()) is not _STOP:
            if not send(self.client, text):
                return


class Hub:
    """Who is subscribed to which queue; queues each queue's new board for its subscribers."""

    def __init__(self, board_of: Callable[[int | None], dict], outbox: int = OUTBOX):
        self.board_of = board_of
        self.outbox_size = outbox
        self._lock = threading.Lock()
        self._clients: dict[ServerConnection, object] = {}
        self._outboxes: dict[ServerConnection, Outbox] = {}
        self.dropped = 0  # slow readers dropped

    def add(self, client: ServerConnection) -> None:
        with self._lock:
            self._clients[client] = _UNSUBSCRIBED

    def remove(self, client: ServerConnection) -> None:
        with self._lock:
            self._clients.pop(client, None)
            outbox = self._outboxes.pop(client, None)
        if outbox is not None:
            outbox.close()

    def subscribe(self, client: ServerConnection, department: int | None) -> None:
        """Subscribe a client to a queue and send it that queue's board at once."""
        board = self.board_of(department)
        with self._lock:
            if client not in self._clients:
                return  # gone meanwhile
            self._clients[client] = department
            outbox = self._outboxes.get(client)
            if outbox is None:
                outbox = self._outboxes[client] = Outbox(client, self.outbox_size)
        self._deliver(client, outbox, _board_message(board))

    def _deliver(self, client: ServerConnection, outbox: Outbox, text: str) -> bool:
        if outbox.put(text):
            return True
        self.dropped += 1
        log.warning("a WebSocket client that does not read its boards was dropped")
        self.remove(client)
        _cut(client)
        return False

    def subscribers(self, department: int | None) -> list[ServerConnection]:
        with self._lock:
            return [client for client, queue in self._clients.items() if queue == department]

    def publish(self, department: int | None, board: dict) -> int:
        """Queue a queue's board for each of its subscribers (never waiting for one); returns how
        many it was queued for. A subscriber whose queue is full is dropped."""
        text = _board_message(board)
        with self._lock:
            targets = [(client, self._outboxes[client]) for client, queue_ in self._clients.items()
                       if queue_ == department and client in self._outboxes]
        return sum(self._deliver(client, outbox, text) for client, outbox in targets)

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
                 max_message: int = MAX_MESSAGE, max_per_address: int = MAX_PER_ADDRESS,
                 max_connections: int = MAX_CONNECTIONS):
        self.hub = hub
        self.host = host
        self.port = port
        self.open_timeout = open_timeout
        self.max_message = max_message
        self.max_per_address = max_per_address
        self.max_connections = max_connections
        self._server: Server | None = None
        self._count_lock = threading.Lock()
        self._per_address: Counter[str] = Counter()
        self._total = 0
        self.refused = 0  # connections closed for being over a cap

    def connections(self) -> int:
        with self._count_lock:
            return self._total

    def _take_place(self, address: str) -> bool:
        with self._count_lock:
            if self._total >= self.max_connections or self._per_address[address] >= self.max_per_address:
                self.refused += 1
                return False
            self._total += 1
            self._per_address[address] += 1
            return True

    def _free_place(self, address: str) -> None:
        with self._count_lock:
            self._total -= 1
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]

    def _limited(self, server: Server, handler):
        """The library's per-connection handler, run only within the caps: a connection over one is
        closed as soon as it is accepted, before a byte of its handshake is read."""
        def limited(sock, addr):
            address = addr[0] if isinstance(addr, tuple) else str(addr)
            if not self._take_place(address):
                sock.close()
                with server.lock:  # as the library's handler does when it ends
                    server.handler_threads.discard(threading.current_thread())
                return
            try:
                handler(sock, addr)
            finally:
                self._free_place(address)

        return limited

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
                       logger=log, backlog=BACKLOG)
        server.handler = self._limited(server, server.handler)
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
