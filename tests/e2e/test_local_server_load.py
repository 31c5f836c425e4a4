"""make run's servers under a bounded load from loopback (issue 23): 8,000 WebSocket connections
opened and dropped and 200 half-sent handshakes, while HTTP answers with a p95 under 1 s and a
subscribed screen still gets its board within 2 s."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from contextlib import ExitStack

from websockets.sync.client import connect as ws_connect

from devtools.websocket import Hub, WebSocketServer


def test_http_and_a_screen_keep_going_under_8000_connections_and_200_half_sent_handshakes():
    from devtools.local_server import make_server

    http_server = make_server("127.0.0.1", 0, timeout=5)
    threading.Thread(target=http_server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host, port = http_server.server.server_address[:2]
    hub = Hub(lambda department: {"next": [1]})
    ws = WebSocketServer(hub, "127.0.0.1", 0, open_timeout=3).start()
    stop, latencies, board_waits, failures = threading.Event(), [], [], []
    half_sent = []
    screens = ExitStack()
    try:
        screen = screens.enter_context(ws_connect(f"ws://127.0.0.1:{ws.port}/", open_timeout=5))
        screen.send(json.dumps({"action": "subscribe", "department": None}))
        json.loads(screen.recv(timeout=5))

        def probe_http():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    connection = http.client.HTTPConnection(host, port, timeout=5)
                    connection.request("GET", "/api/nowhere")
                    connection.getresponse().read()
                    connection.close()
                    latencies.append(time.monotonic() - started)
                except OSError as exc:
                    failures.append(repr(exc))
                time.sleep(0.05)

        def flood(count):
            for _ in range(count):
                try:
                    sock = socket.create_connection(("127.0.0.1", ws.port), timeout=5)
                    sock.close()
                except OSError:
                    pass

        prober = threading.Thread(target=probe_http)
        prober.start()
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", ws.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            half_sent.append(sock)
        flooders = [threading.Thread(target=flood, args=(2000,)) for _ in range(4)]
        for thread in flooders:
            thread.start()
        deadline = time.monotonic() + 60
        n = 0
        while any(t.is_alive() for t in flooders) and time.monotonic() < deadline:
            n += 1
            started = time.monotonic()
            hub.publish(None, {"next": [n]})
            assert json.loads(screen.recv(timeout=2))["board"]["next"] == [n]
            board_waits.append(time.monotonic() - started)
            time.sleep(0.2)
        for thread in flooders:
            thread.join(timeout=60)
        stop.set()
        prober.join()
    finally:
        stop.set()
        screens.close()
        for sock in half_sent:
            sock.close()
        ws.stop()
        http_server.server.shutdown()
        http_server.server.server_close()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"HTTP probes: {len(latencies)}, p95 {p95 * 1000:.0f} ms, failures {len(failures)}; "
          f"boards: {len(board_waits)}, slowest {max(board_waits) * 1000:.0f} ms; refused {ws.refused}")
    assert not failures and p95 < 1.0
    assert board_waits and max(board_waits) < 2.0
