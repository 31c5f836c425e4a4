"""`make run`'s WebSocket server (devtools/websocket.py) at the frame level, over a raw socket:
RFC 6455's handshake, masked and fragmented text frames, ping/pong, close, refused frames."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct

import pytest

from devtools.websocket import Hub, WebSocketServer, accept_key


def test_the_accept_key_is_rfc_6455s():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.fixture
def server():
    boards = {None: {"next": [1]}, 7: {"next": [7]}}

    def board_of(department):
        return boards[department]

    served = WebSocketServer(Hub(board_of), "127.0.0.1", 0).start()
    yield served
    served.stop()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101") and accept_key(key).encode() in head
    return sock


def send(sock, opcode: int, payload: bytes, fin: bool = True) -> None:
    mask = os.urandom(4)
    header = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    header += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def receive(sock) -> tuple[int, bytes]:
    first, second = sock.recv(1)[0], sock.recv(1)[0]
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", sock.recv(2))[0]
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return first & 0x0F, data


def test_subscribe_in_fragments_ping_and_close(server):
    sock = connect(server)
    text = json.dumps({"action": "subscribe", "department": 7}).encode()
    send(sock, 0x1, text[:5], fin=False)
    send(sock, 0x9, b"are you there")  # a ping between fragments is answered at once
    assert receive(sock) == (0xA, b"are you there")
    send(sock, 0x0, text[5:])
    opcode, data = receive(sock)
    assert opcode == 0x1 and json.loads(data) == {"type": "board", "board": {"next": [7]}}
    assert server.hub.publish(7, {"next": [8]}) == 1 and server.hub.publish(None, {"next": [2]}) == 0
    assert json.loads(receive(sock)[1])["board"] == {"next": [8]}
    send(sock, 0x1, b'{"action": "shout"}')
    assert json.loads(receive(sock)[1])["type"] == "error"
    send(sock, 0x8, struct.pack("!H", 1000))
    assert receive(sock)[0] == 0x8


def test_binary_frames_and_plain_http_are_refused(server):
    sock = connect(server)
    send(sock, 0x2, b"\x00\x01")
    opcode, data = receive(sock)
    assert opcode == 0x8 and struct.unpack("!H", data[:2])[0] == 1003
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert plain.recv(100).startswith(b"HTTP/1.1 400")


def test_stop_drops_every_client_and_start_listens_again(server):
    sock = connect(server)
    server.stop()
    opcode, data = receive(sock)
    assert opcode == 0x8 and struct.unpack("!H", data[:2])[0] == 1001
    with pytest.raises(OSError):
        connect(server)
    server.start()
    connect(server).close()
