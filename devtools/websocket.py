"""The waiting room's live updates for `make run`: a small RFC 6455 WebSocket server (stdlib only)
speaking the protocol the deployed WebSocket API speaks.

A client sends `{"action": "subscribe", "department": <id> | null}` and gets
`{"type": "board", "board": {...}}` at once and after every change to that queue. Changes
come from the entries table's stream (devtools.stream_feed), as they do deployed.

Handshake, text frames (fragmented or not), ping/pong and close; binary frames are refused
(close 1003), frames larger than 64 KiB too (1009). Every client is pinged every 20 s, and
one that stops answering is dropped.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable

log = logging.getLogger("dqs.websocket")

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 64 * 1024
PING_SECONDS = 20.0
IDLE_SECONDS = 60.0  # a client that sends nothing (not even a pong) for this long is dropped
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
_UNSUBSCRIBED = object()


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """One unmasked, final frame (what a server sends)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


class Closed(Exception):
    """The connection ended (closed by either side, or broken); `code` is the close code to send."""

    def __init__(self, code: int = 1000):
        super().__init__(code)
        self.code = code


class Client:
    """One connected WebSocket: sends are serialised; reads happen on its own handler thread."""

    def __init__(self, sock: socket.socket, address):
        self.sock = sock
        self.address = address
        self._send_lock = threading.Lock()
        self.closed = False

    def send_text(self, text: str) -> bool:
        return self._send(frame(TEXT, text.encode()))

    def ping(self) -> bool:
        return self._send(frame(PING, b"dqs"))

    def _send(self, data: bytes) -> bool:
        with self._send_lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.closed = True
                return False

    def close(self, code: int = 1000) -> None:
        self._send(frame(CLOSE, struct.pack("!H", code)))
        with self._send_lock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise Closed(1006)
            data += chunk
        return data

    def read_frame(self) -> tuple[bool, int, bytes]:
        """(fin, opcode, unmasked payload) of the next frame; Closed on a protocol error or EOF."""
        first, second = self._read_exact(2)
        fin, opcode, masked, size = bool(first & 0x80), first & 0x0F, bool(second & 0x80), second & 0x7F
        if first & 0x70 or not masked:  # no extensions were agreed; clients must mask
            raise Closed(1002)
        if size == 126:
            (size,) = struct.unpack("!H", self._read_exact(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._read_exact(8))
        if size > MAX_MESSAGE:
            raise Closed(1009)
        mask = self._read_exact(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(size)))
        return fin, opcode, payload

    def messages(self):
        """The text messages the client sends, answering pings and closes on the way."""
        parts: list[bytes] = []
        while True:
            fin, opcode, payload = self.read_frame()
            if opcode == CLOSE:
                raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000)
            if opcode == PING:
                self._send(frame(PONG, payload))
                continue
            if opcode == PONG:
                continue
            if opcode == BINARY or (opcode == CONTINUATION and not parts) or (opcode == TEXT and parts):
                raise Closed(1003 if opcode == BINARY else 1002)
            if opcode not in (TEXT, CONTINUATION):
                raise Closed(1002)
            parts.append(payload)
            if sum(len(p) for p in parts) > MAX_MESSAGE:
                raise Closed(1009)
            if fin:
                try:
                    yield b"".join(parts).decode()
                except UnicodeDecodeError:
                    raise Closed(1007) from None
                parts = []


def _board_message(board: dict) -> str:
    from chalicelib.domain.waiting_room import board_message

    return board_message(board)


class Hub:
    """Who is subscribed to which queue; sends each queue's new board to its subscribers."""

    def __init__(self, board_of: Callable[[int | None], dict]):
        self.board_of = board_of
        self._lock = threading.Lock()
        self._clients: dict[Client, object] = {}

    def add(self, client: Client) -> None:
        with self._lock:
            self._clients[client] = _UNSUBSCRIBED

    def remove(self, client: Client) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def subscribe(self, client: Client, department: int | None) -> None:
        """Subscribe a client to a queue and send it that queue's board at once."""
        board = self.board_of(department)
        with self._lock:
            self._clients[client] = department
        client.send_text(_board_message(board))

    def subscribers(self, department: int | None) -> list[Client]:
        with self._lock:
            return [client for client, queue in self._clients.items() if queue == department]

    def publish(self, department: int | None, board: dict) -> int:
        """Send a queue's board to its subscribers; returns how many got it."""
        text = _board_message(board)
        sent = 0
        for client in self.subscribers(department):
            sent += client.send_text(text)
        return sent

    def clients(self) -> list[Client]:
        with self._lock:
            return list(self._clients)


def _handshake(client: Client) -> bool:
    """Read the HTTP upgrade request and answer 101 (or 400 and False)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.sock.recv(4096)
        if not chunk or len(data) > 16 * 1024:
            return False
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method = head[0].split(" ")[0]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    key = headers.get("sec-websocket-key")
    if (method != "GET" or "websocket" not in headers.get("upgrade", "").lower() or not key
            or headers.get("sec-websocket-version") != "13"):
        body = b"This is the waiting room's WebSocket: connect with a WebSocket client."
        client.sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return False
    client.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
    return True


def handle_message(hub: Hub, client: Client, text: str) -> None:
    """One message from a client: `subscribe` is the only action (the domain reads it)."""
    from chalicelib.domain import waiting_room
    from chalicelib.errors import ValidationFailed

    try:
        hub.subscribe(client, waiting_room.subscription(text))
    except ValidationFailed as exc:  # not a subscribe, or an unknown department
        client.send_text(waiting_room.error_message(exc.message))


class WebSocketServer:
    """The listener; stop() drops every client and refuses new ones until start() again."""

    def __init__(self, hub: Hub, host: str, port: int):
        self.hub = hub
        self.host = host
        self.port = port
        self._server: socketserver.ThreadingTCPServer | None = None
        self._pinger_stop = threading.Event()

    def start(self) -> WebSocketServer:
        hub = self.hub

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                client = Client(self.request, self.client_address)
                self.request.settimeout(IDLE_SECONDS)
                try:
                    if not _handshake(client):
                        return
                    hub.add(client)
                    for text in client.messages():
                        handle_message(hub, client, text)
                except Closed as closed:
                    client.close(closed.code if closed.code not in (1005, 1006) else 1000)
                except OSError:  # reset, or silent for IDLE_SECONDS
                    client.closed = True
                finally:
                    hub.remove(client)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 64

            def handle_error(self, request, client_address):
                log.debug("websocket client %s failed", client_address, exc_info=True)

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="websocket", daemon=True).start()
        self._pinger_stop = threading.Event()
        threading.Thread(target=self._ping, args=(self._pinger_stop,), name="websocket-ping", daemon=True).start()
        return self

    def _ping(self, stop: threading.Event) -> None:
        while not stop.wait(PING_SECONDS):
            for client in self.hub.clients():
                client.ping()

    def stop(self) -> None:
        """Stop listening and close every connection (1001: going away)."""
        server, self._server = self._server, None
        self._pinger_stop.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        for client in self.hub.clients():
            client.close(1001)
            self.hub.remove(client)

    @property
    def running(self) -> bool:
        return self._server is not None
