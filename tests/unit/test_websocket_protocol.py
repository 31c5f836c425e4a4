"""`make run`'s WebSocket server (devtools/websocket.py), as clients see it: subscribe and get the
board, then each change to that queue only; errors as messages; binary, oversized and plain-HTTP
requests refused; a handshake that never finishes is cut; stop drops everyone, start listens again."""
from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.sync.client import connect as ws_connect

from devtools.websocket import Hub, WebSocketServer


@pytest.fixture
def server():
    boards = {None: {"next": [1]}, 7: {"next": [7]}}

    def board_of(department):
        return boards[department]

    served = WebSocketServer(Hub(board_of), "127.0.0.1", 0, open_timeout=0.5).start()
    yield served
    served.stop()


def connect(server):
    return ws_connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5, close_timeout=1)


def subscribe(ws, department) -> dict:
    ws.send(json.dumps({"action": "subscribe", "department": department}))
    return json.loads(ws.recv(timeout=5))


def wait_until(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_subscriber_gets_its_board_at_once_then_only_its_queues_changes(server):
    with connect(server) as cardiology, connect(server) as general:
        assert subscribe(cardiology, 7) == {"type": "board", "board": {"next": [7]}}
        assert subscribe(general, None) == {"type": "board", "board": {"next": [1]}}
        assert server.hub.publish(7, {"next": [8]}) == 1
        assert json.loads(cardiology.recv(timeout=5)) == {"type": "board", "board": {"next": [8]}}
        with pytest.raises(TimeoutError):
            general.recv(timeout=0.2)  # nothing of the other queue
        # A second subscribe moves the client to that queue.
        assert subscribe(cardiology, None)["board"] == {"next": [1]}
        assert server.hub.publish(7, {"next": [9]}) == 0 and server.hub.publish(None, {"next": [2]}) == 2
    wait_until(lambda: server.hub.clients() == [])


def test_a_message_that_is_not_a_subscribe_gets_an_error_and_the_connection_stays(server):
    with connect(server) as ws:
        for text in ("not json", '{"action": "shout"}', json.dumps({"action": "subscribe", "department": "x"})):
            ws.send(text)
            answer = json.loads(ws.recv(timeout=5))
            assert answer["type"] == "error" and answer["message"], answer
        assert subscribe(ws, 7)["type"] == "board"
        ws.ping(b"are you there").wait(5)  # pings are answered


def test_binary_and_oversized_messages_close_the_connection(server):
    with connect(server) as ws:
        ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1003
    with connect(server) as ws:
        ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1009
    wait_until(lambda: server.hub.clients() == [])


def test_plain_http_is_told_to_use_a_websocket_client(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := plain.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 426"), answer
    assert b"connect with a WebSocket client" in answer and b"Server:" not in answer


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"],
                         ids=["silent", "half a handshake"])
def test_a_handshake_that_does_not_finish_in_time_is_cut(server, sent):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(sent)
        assert sock.recv(4096) == b""  # closed by the server, without an answer
    assert time.monotonic() - started < 3  # open_timeout is 0.5 s here


def test_stop_drops_every_client_and_start_listens_again_on_the_same_port(server):
    port = server.port
    with connect(server) as ws:
        subscribe(ws, None)
        server.stop()
        assert not server.running
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1001
    with pytest.raises((OSError, InvalidStatus)), connect(server):
        pass
    server.start()
    assert server.running and server.port == port
    with connect(server) as again:
        assert subscribe(again, 7)["board"] == {"next": [7]}


# -- limits: connections per address and in all, slow readers (issue 23) -----------------------

def test_connections_over_the_cap_per_address_or_in_all_are_closed_at_once():
    import socket as sockets

    hub = Hub(lambda department: {"next": []})
    capped = WebSocketServer(hub, "127.0.0.1", 0, open_timeout=5, max_per_address=3, max_connections=5).start()
    held = []
    try:
        for _ in range(3):  # half-sent handshakes hold their places...
            sock = sockets.create_connection(("127.0.0.1", capped.port))
            sock.sendall(b"GET / HTTP/1.1\r\n")
            held.append(sock)
        wait_until(lambda: capped.connections() == 3)
        extra = sockets.create_connection(("127.0.0.1", capped.port))  # ...so a fourth is closed at once
        extra.settimeout(2)
        assert extra.recv(100) == b""
        extra.close()
        assert capped.refused == 1
        for sock in held:
            sock.close()
        wait_until(lambda: capped.connections() == 0)
        with connect(capped) as ws:  # places come back
            assert subscribe(ws, None)["type"] == "board"
        capped.max_per_address = 100
        with ExitStack() as opened:
            for _ in range(5):
                opened.enter_context(connect(capped))
            # The cap in all: closed as soon as accepted. The client's handshake then fails reading the
            # answer (EOF: InvalidMessage) or sending its request (the close came first:
            # ConnectionClosedError, or a reset), depending on which happens first.
            with pytest.raises((OSError, InvalidMessage, ConnectionClosed)), connect(capped):
                pass
            assert capped.refused == 2
    finally:
        for sock in held:
            sock.close()
        capped.stop()


def test_a_reader_that_does_not_keep_up_is_dropped_and_delays_no_other_screen():
    import socket as sockets

    big = {"next": list(range(20000))}  # about 130 KB a board: some dozens fill the socket buffers
    hub = Hub(lambda department: big, outbox=4)
    served = WebSocketServer(hub, "127.0.0.1", 0).start()
    try:
        slow = sockets.create_connection(("127.0.0.1", served.port))
        slow.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        slow.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        assert b"101" in slow.recv(200)
        # A masked text frame with the subscribe (a client must mask what it sends).
        payload = b'{"action": "subscribe", "department": null}'
        mask = b"\x01\x02\x03\x04"
        slow.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        with connect(served) as screen:
            assert subscribe(screen, None)["type"] == "board"
            wait_until(lambda: len(hub.subscribers(None)) == 2)
            started = time.monotonic()
            for n in range(80):  # the slow one never reads
                hub.publish(None, {**big, "n": n})
                got = json.loads(screen.recv(timeout=2))
                assert got["board"]["n"] == n
            assert time.monotonic() - started < 20
            assert hub.dropped == 1 and len(hub.subscribers(None)) == 1
        slow.close()
    finally:
        served.stop()
