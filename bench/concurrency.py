"""Concurrent joins and calls over HTTP against the embedded DynamoDB (`make run`'s
setup: the local server on moto's server), and whether the queue stayed correct.

Many threads join many patients to today's queue at once; then several desks call
the next token at once until the queue is empty: in the general queue, or (points=True)
in a department's queue with one service point per desk, each desk calling to its own. Correct means every join got a
distinct token number, every entry was called exactly once, and what storage holds
agrees with what the callers were told.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.harness import ADMIN, HttpTransport


@dataclass
class ConcurrencyResult:
    phase: str
    queue: str
    requests: int
    threads: int
    seconds: float
    errors: int
    duplicates: int
    missing: int
    calls: int = 0  # DynamoDB calls the phase made
    done: int = 0  # entries joined or called

    @property
    def calls_per_entry(self) -> float:
        return self.calls / self.done if self.done else 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


@contextlib.contextmanager
def _counting():
    """Every DynamoDB call the server makes inside the block, from all its threads."""
    from devtools.calls import listening

    calls: list[str] = []
    lock = threading.Lock()

    def record(name, _kwargs):
        with lock:
            calls.append(name)

    with listening(record):
        yield calls


def _patients(n: int) -> list[int]:
    """n patient records, written straight to storage (one transaction each, as the API writes them)."""
    from devtools.seed import add_patients

    return add_patients(n)


def measure(joins: int, join_threads: int, desks: int, points: bool = False) -> list[ConcurrencyResult]:
    from chalicelib.storage import queue_entries as entries

    t = HttpTransport()
    try:
        admin = t.login(*ADMIN)["token"]
        t.ok("POST", "/register", {"username": "desk", "email": "desk@clinic.test", "password": "desk-password-1",
                                   "role": "staff"}, admin)
        staff = t.login("desk", "desk-password-1")["token"]
        patient_ids = _patients(joins)
        where: dict = {}
        point_ids: list[int | None] = [None] * desks
        queue = "general"
        if points:
            department = t.ok("POST", "/departments", {"name": "Bench clinic"}, admin)["id"]
            point_ids = [t.ok("POST", "/service-points", {"name": f"Desk {n}", "kind": "desk",
                                                         "department": department}, admin)["id"]
                         for n in range(1, desks + 1)]
            where = {"department": department}
            queue = "department, service points"

        def join(patient_id: int):
            return t.call("POST", "/queues/join_queue", {"patient_id": patient_id, **where}, staff)

        started = time.perf_counter()
        with _counting() as join_calls, ThreadPoolExecutor(max_workers=join_threads) as pool:
            replies = list(pool.map(join, patient_ids))
        join_seconds = time.perf_counter() - started
        joined = [r.body for r in replies if r.status == 201]
        tokens = Counter(entry["token_number"] for entry in joined)
        results = [ConcurrencyResult(
            "join_queue", queue, joins, join_threads, join_seconds, errors=joins - len(joined),
            duplicates=sum(n - 1 for n in tokens.values() if n > 1),
            missing=len(set(range(1, len(joined) + 1)) - set(tokens)), calls=len(join_calls), done=len(joined))]

        def desk(point: int | None) -> tuple[list[int], int, int]:
            """Call until the queue is empty: (entry ids called, requests, errors)."""
            mine, requests_made, errors = [], 0, 0
            body = {**where, **({"service_point": point} if point is not None else {})}
            while True:
                reply = t.call("POST", "/queues/call_next", body, staff)
                requests_made += 1
                if reply.status != 200:
                    errors += 1
                elif "id" not in reply.body:
                    return mine, requests_made, errors  # "The queue is empty."
                else:
                    mine.append(reply.body["id"])

        started = time.perf_counter()
        with _counting() as desk_calls, ThreadPoolExecutor(max_workers=desks) as pool:
            outcomes = list(pool.map(desk, point_ids))
        call_seconds = time.perf_counter() - started
        counted = Counter(entry_id for ids, _, _ in outcomes for entry_id in ids)
        joined_ids = {entry["id"] for entry in joined}
        # What storage holds must agree: every joined entry is now `called`.
        not_called = sum(1 for entry_id in joined_ids if entries.get(entry_id).status != entries.CALLED)
        results.append(ConcurrencyResult(
            "call_next", queue, sum(n for _, n, _ in outcomes), desks, call_seconds,
            errors=sum(e for _, _, e in outcomes),
            duplicates=sum(n - 1 for n in counted.values() if n > 1),
            missing=len(joined_ids - set(counted)) + not_called, calls=len(desk_calls), done=len(counted)))
        return results
    finally:
        t.close()
