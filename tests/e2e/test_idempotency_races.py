"""Ten identical joins with one Idempotency-Key at the same instant, over real HTTP on real threads."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


def test_ten_identical_keyed_joins_at_once_create_one_entry(live_server):
    admin = live_server.login("admin", "admin-password-1")
    registered = live_server.call("POST", "/register", {"username": "racer", "email": "racer@clinic.test",
                                                        "password": "racer-password-1", "date_of_birth": "1990-01-01"})
    assert registered.status == 201, registered
    token = live_server.login("racer", "racer-password-1")
    start = threading.Barrier(10)

    def join(_):
        start.wait()
        return live_server.call("POST", "/queues/join_queue", {}, token=token, headers={"Idempotency-Key": "once"})

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(join, range(10)))

    created = [a for a in answers if a.status == 201]
    in_flight = [a for a in answers if a.status == 409]
    assert len(created) + len(in_flight) == 10, [a.status for a in answers]
    assert created and len({a.body["id"] for a in created}) == 1
    assert sum(1 for a in created if a.headers.get("Idempotent-Replayed") != "true") == 1
    for answer in in_flight:  # the key's own 409, never the join's "already queued"
        assert "Idempotency-Key" in answer.body["Fields"] and "entry" not in answer.body
    listed = live_server.call("GET", "/queues", token=admin).body["results"]
    assert [e["id"] for e in listed] == [created[0].body["id"]]
