"""`make run`'s WebSocket server (devtools/websocket.py), as clients see it: subscribe and get the
board, then each change to that queue only; errors as messages; binary, oversized and plain-HTTP
requests refused; a handshake that never finishes is cut; stop drops everyone, start listens again."""
from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
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
