"""Webhooks end to end, as `make run` runs them: the entries' stream read from moto's server, the
app's stream and delivery functions, a local delivery queue, and real receivers over HTTP."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.settings import get_settings


class Receiver:
    """An HTTP receiver answering each POST with the next of `answers` (then 200), after `delay` s."""

    def __init__(self, answers: list[int], delay: float = 0.0):
        self.answers, self.delay, self.got = list(answers), delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((self.headers, body))
                time.sleep(receiver.delay)
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_webhooks(live_server, monkeypatch):
    from devtools.webhooks import LocalWebhooks

    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("DQS_WEBHOOK_RETRY_SECONDS", "1")  # short delays between tries
    settings = get_settings()
    running = LocalWebhooks(settings.dynamodb_endpoint, settings.region).start()
    yield live_server
    running.stop()


def register(server, admin: str, url: str, events: list[str]) -> dict:
    created = server.call("POST", "/webhooks", {"url": url, "events": events}, token=admin)
    assert created.status == 201, created
    return created.body


def patient(server, name: str) -> str:
    made = server.call("POST", "/register", {"username": name, "email": f"{name}@clinic.test",
                                             "password": f"{name}-password-1", "date_of_birth": "1990-01-01"})
    assert made.status == 201, made
    return server.login(name, f"{name}-password-1")


def wait_for(check, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_receiver_failing_three_times_gets_the_event_four_times_signed_the_same(local_webhooks):
    server = local_webhooks
    admin = server.login("admin", "admin-password-1")
    receiver = Receiver([500, 503, 502])
    try:
        hook = register(server, admin, receiver.url, ["entry.created"])
        assert server.call("GET", f"/webhooks/{hook['id']}", token=admin).body.get("secret") is None
        joined = server.call("POST", "/queues/join_queue", {}, token=patient(server, "hooked"))
        assert joined.status == 201
        wait_for(lambda: len(receiver.got) >= 4)
        time.sleep(1.5)  # no fifth try comes after the 200
        assert len(receiver.got) == 4
        ids = {headers["DQS-Event-Id"] for headers, _ in receiver.got}
        assert len(ids) == 1
        for headers, body in receiver.got:
            t, v1 = (part.split("=", 1)[1] for part in headers["DQS-Signature"].split(","))
            assert hmac.compare_digest(v1, hmac.new(hook["secret"].encode(), f"{t}.".encode() + body,
                                                    hashlib.sha256).hexdigest())
            sent = json.loads(body)
            assert sent["type"] == "entry.created" and sent["id"] in ids
            assert sent["data"]["id"] == joined.body["id"] and set(sent) == {"id", "type", "created_at", "data"}
        log = server.call("GET", f"/webhooks/{hook['id']}/deliveries", token=admin).body["results"]
        assert [(d["try"], d["status_code"]) for d in log] == [(4, 200), (3, 502), (2, 503), (1, 500)]
        assert {d["event_id"] for d in log} == ids and log[0]["error"] is None and log[1]["error"] == "HTTP 502"
    finally:
        receiver.close()


def test_a_receiver_that_sleeps_30_s_does_not_slow_a_join(local_webhooks):
    server = local_webhooks
    admin = server.login("admin", "admin-password-1")
    tokens = [patient(server, f"timed{n}") for n in range(6)]

    def join_times(start: int) -> list[float]:
        times = []
        for token in tokens[start:start + 3]:
            began = time.perf_counter()
            assert server.call("POST", "/queues/join_queue", {}, token=token).status == 201
            times.append(time.perf_counter() - began)
        return times

    before = join_times(0)
    sleeper = Receiver([], delay=30)
    try:
        register(server, admin, sleeper.url, ["entry.created"])
        during = join_times(3)
        wait_for(lambda: len(sleeper.got) >= 1, 15)  # the receiver is being delivered to, and sleeps
        assert max(during) < max(before) * 3 + 0.25, (before, during)
    finally:
        sleeper.close()


def test_closing_and_reopening_a_queue_reach_a_receiver_from_the_counters_stream(local_webhooks):
    server = local_webhooks
    admin = server.login("admin", "admin-password-1")
    department = server.call("POST", "/departments", {"name": "Radiology"}, token=admin).body["id"]
    receiver = Receiver([])
    try:
        hook = register(server, admin, receiver.url, ["queue.closed", "queue.opened"])
        joined = server.call("POST", "/queues/join_queue", {"department": department}, token=patient(server, "day"))
        assert joined.status == 201, joined  # the day's token: a counter's change, no event
        assert server.call("POST", "/queues/close", {"department": department}, token=admin).status == 200
        wait_for(lambda: len(receiver.got) >= 1)
        assert server.call("POST", "/queues/open", {"department": department}, token=admin).status == 200
        wait_for(lambda: len(receiver.got) >= 2)
        time.sleep(1)  # and nothing more
        sent = [json.loads(body) for _, body in receiver.got]
        assert [(e["type"], e["data"]["department"], e["data"]["closed_at"] is None) for e in sent] == [
            ("queue.closed", department, False), ("queue.opened", department, True)]
        log = server.call("GET", f"/webhooks/{hook['id']}/deliveries", token=admin).body["results"]
        assert [d["type"] for d in log] == ["queue.opened", "queue.closed"]
    finally:
        receiver.close()
