"""How a request's DynamoDB calls and latency change as the data grows.

Today's queue with few and with many waiting entries, and a list of patients with
few and with many records. The data is batch-written through the storage layer,
not through HTTP. Requests go through chalice.test.Client on moto in this process.

moto answers a Query by reading every item under the key, so its latency grows with
the data even where DynamoDB's would not; the number of calls is the figure that
carries over to DynamoDB.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from bench.endpoints import calls_text
from bench.harness import ADMIN, ClientTransport, median, p95

QUEUE_REQUESTS = ("join_queue", "position", "list", "call_next", "mark_served")
LIST_REQUESTS = ("first page", "second page")


@dataclass
class GrowthResult:
    request: str
    size: int
    calls: int
    call_names: str
    median_s: float
    p95_s: float


def _patients(n: int, first_id: int) -> None:
    """n patient records, batch-written."""
    from devtools.seed import bulk_patients

    bulk_patients(range(first_id, first_id + n))


def _waiting_entries(n: int) -> list[int]:
    """n waiting entries in today's general queue, batch-written, with the day's token
    counter and the id counter moved past them as joins would have."""
    from chalicelib.domain import clock
    from chalicelib.domain.entities import queue_name
    from chalicelib.storage import counters
    from devtools.seed import waiting_entries

    counters.next_value(f"token#{queue_name(None)}#{clock.today().isoformat()}", n)
    return [entry.id for entry in waiting_entries(n)]


def _record(results, t, name, size, runs, make_request, expect):
    times, counts, names = [], [], []
    for _ in range(runs):
        method, path, body, token = make_request()
        reply = t.call(method, path, body, token)
        if reply.status != expect:
            raise RuntimeError(f"{name} at {size}: {reply.status} {reply.body!r}")
        times.append(reply.seconds)
        counts.append(len(reply.calls))
        names.append(calls_text(reply.calls))
    results.append(GrowthResult(name, size, int(median(counts)), max(set(names), key=names.count),
                                median(times), p95(times)))


def queue_growth(size: int, runs: int, log=print) -> list[GrowthResult]:
    t = ClientTransport()
    try:
        admin = t.login(*ADMIN)["token"]
        staff_user = t.ok("POST", "/register", {"username": "desk", "email": "desk@clinic.test",
                                                "password": "desk-password-1", "role": "staff"}, admin)
        staff = t.login(staff_user["username"], "desk-password-1")["token"]
        started = time.perf_counter()
        ids = _waiting_entries(size)
        _patients(runs, first_id=1)
        log(f"  seeded {size} waiting entries in {time.perf_counter() - started:.1f} s")
        from chalicelib.storage import counters
        counters.next_value("id#patient", runs)
        results: list[GrowthResult] = []
        joiners = iter(range(1, runs + 1))
        _record(results, t, "join_queue", size, runs,
                lambda: ("POST", "/queues/join_queue", {"patient_id": next(joiners)}, staff), 201)
        # The last seeded entry: everyone else is ahead of it.
        _record(results, t, "position", size, runs, lambda: ("GET", f"/queues/{ids[-1]}/position", None, staff), 200)
        _record(results, t, "list", size, runs, lambda: ("GET", "/queues?limit=50", None, staff), 200)
        _record(results, t, "call_next", size, runs, lambda: ("POST", "/queues/call_next", {}, staff), 200)
        to_serve = iter(reversed(ids))
        _record(results, t, "mark_served", size, runs,
                lambda: ("POST", f"/queues/{next(to_serve)}/mark_served", None, staff), 200)
        return results
    finally:
        t.close()


def list_growth(size: int, runs: int, log=print) -> list[GrowthResult]:
    t = ClientTransport()
    try:
        admin = t.login(*ADMIN)["token"]
        started = time.perf_counter()
        _patients(size, first_id=1)
        log(f"  seeded {size} patients in {time.perf_counter() - started:.1f} s")
        results: list[GrowthResult] = []
        _record(results, t, "first page", size, runs, lambda: ("GET", "/patients?limit=50", None, admin), 200)
        cursor = t.ok("GET", "/patients?limit=50", None, admin)["next"]
        _record(results, t, "second page", size, runs,
                lambda: ("GET", f"/patients?limit=50&cursor={cursor}", None, admin), 200)
        return results
    finally:
        t.close()
