"""The desk's moves racing each other, with real threads against moto's DynamoDB server: whatever
the interleaving, every entry ends in one state its history replays to, and no patient holds two
open entries in one queue; joins racing a close never leave a waiting entry in the closed queue."""
from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain import clock, departments, entities, queue
from chalicelib.domain.queue import JoinRequest, TransferRequest
from chalicelib.domain.queue.rules import CLOSED
from chalicelib.errors import ConditionFailed, Conflict, DomainError
from chalicelib.storage import queue_entries
from tests.support.queue import add_patients, desk, waiting_entries

# The moves a history may make, from each status (None: before the first).
STEPS = {None: {"waiting"}, "waiting": {"called", "served", "canceled", "transferred", "expired"},
         "called": {"called", "served", "no_show", "waiting", "canceled", "transferred", "expired"},
         "no_show": {"waiting"}}


def replayed(entry: entities.QueueEntry) -> str:
    status = None
    for event in entry.history:
        assert event.status in STEPS.get(status, set()), (entry.id, status, event)
        status = event.status
    return status


def test_16_desks_on_the_same_100_entries_leave_each_in_one_consistent_state(dynamodb_server):
    staff = desk()
    pharmacy = departments.ensure_department("Pharmacy")
    patients = add_patients(100)
    entries = [queue.join(staff, JoinRequest(patient_id=p)) for p in patients]
    ids = [e.id for e in entries]
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def desk_work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            move = rng.choice(("call_next", "recall", "no_show", "mark_served", "transfer", "requeue"))
            entry_id = rng.choice(ids[:30]) if rng.random() < 0.7 else rng.choice(ids)  # collide near the head
            try:
                if move == "call_next":
                    queue.call_next(staff)
                elif move == "recall":
                    queue.recall(staff, entry_id)
                elif move == "no_show":
                    queue.no_show(staff, entry_id)
                elif move == "mark_served":
                    queue.mark_served(staff, entry_id)
                elif move == "transfer":
                    queue.transfer(staff, entry_id, lambda: TransferRequest(pharmacy))
                else:
                    queue.requeue(staff, entry_id)
                result = "done"
            except DomainError as exc:
                result = "refused:" + ",".join(sorted(exc.fields))
            except ConditionFailed:
                result = "busy"  # still contended after its retries: nothing was written
            with lock:
                outcomes[(move, result)] += 1

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(desk_work, range(16)))

    assert sum(n for (move, result), n in outcomes.items() if result == "done") > 100, outcomes
    general = [queue_entries.get(i) for i in ids]
    moved = list(queue_entries.day_entries(entities.queue_name(pharmacy), general[0].queue_date))
    for entry in general + moved:
        assert replayed(entry) == entry.status, entry
        assert entry.recalls == sum(1 for e in entry.history if e.status == entities.CALLED) - sum(
            1 for a, b in zip(entry.history, entry.history[1:], strict=False)
            if a.status != entities.CALLED and b.status == entities.CALLED), entry
        # The patient's claim on the queue is held exactly by their open entry.
        holder = queue_entries.active_entry_id(entry.queue, entry.queue_date, entry.patient_id)
        if entry.is_open:
            assert holder == entry.id, entry
        else:
            assert holder != entry.id, entry
    for entries_of_queue in (general, moved):
        open_per_patient = Counter(e.patient_id for e in entries_of_queue if e.is_open)
        assert all(n == 1 for n in open_per_patient.values()), open_per_patient
    # Each transfer made exactly one entry in the pharmacy, of the same patient and visit.
    transferred = {e.id: e for e in general if e.status == entities.TRANSFERRED}
    assert sorted(e.transferred_from for e in moved) == sorted(transferred)
    for new in moved:
        assert new.patient_id == transferred[new.transferred_from].patient_id and new.visit == new.transferred_from
    assert Counter(e.status for e in general)[entities.WAITING] + Counter(
        e.status for e in general)[entities.CALLED] < 100


def test_50_joins_racing_a_close_leave_no_waiting_entry(dynamodb_server):
    staff = desk()
    clinic = departments.ensure_department("Clinic")
    patients = add_patients(50)
    start = threading.Barrier(51)
    expired: list[int] = []

    def join(patient_id: int):
        start.wait()
        try:
            return queue.join(staff, JoinRequest(patient_id=patient_id, department=clinic))
        except Conflict as exc:
            assert exc.fields == {"department": CLOSED}, exc.fields
            return None

    def close() -> None:
        start.wait()
        expired.append(queue.close_queue(staff, clinic))

    with ThreadPoolExecutor(max_workers=51) as pool:
        closing = pool.submit(close)
        joined = list(pool.map(join, patients))
        closing.result()

    day = clock.today()
    stored = list(queue_entries.day_entries(entities.queue_name(clinic), day))
    admitted = [e for e in joined if e is not None]
    assert sorted(e.id for e in stored) == sorted(e.id for e in admitted)
    assert all(e.status == entities.EXPIRED for e in stored), Counter(e.status for e in stored)
    assert expired == [len(stored)]
    assert queue.close_queue(staff, clinic) == 0


def test_16_desks_at_their_service_points_call_each_entry_once_within_4_5_calls_each(dynamodb_server, monkeypatch):
    """A department's queue with one service point per desk: 16 desks calling at once until it is
    empty call each entry exactly once, at their own point, within 4.5 DynamoDB calls per called entry
    (the route's GetItem of the caller counted for each request, each desk's last, empty call too).

    On a quiet machine it takes 3.6 to 3.9; how often desks collide depends on how their calls
    interleave, which a loaded machine changes (4.01 seen there), hence the margin."""
    from chalicelib import storage
    from chalicelib.domain.entities import ServicePoint
    from chalicelib.domain.stores import stores
    from tests.support.dynamodb import recording

    # What is counted is calls, not time: a loaded machine must not turn a slow answer into an error.
    monkeypatch.setenv("DQS_DYNAMODB_READ_TIMEOUT", "60")
    storage.bind()
    staff = desk()
    clinic = departments.ensure_department("Clinic")
    points = [stores().ids.next_id("service_point") for _ in range(16)]
    for n, point in enumerate(points):
        stores().service_points.add(ServicePoint(point, f"Desk {n}", "desk", clinic))
    ids = {entry.id for entry in waiting_entries(200, department=clinic)}  # written in batches: quick

    def desk_work(point: int) -> tuple[list, int]:
        called, requests = [], 0
        while True:
            requests += 1
            entry = queue.call_next(staff, clinic, point)
            if entry is None:
                return called, requests
            assert entry.service_point == point and entry.status == entities.CALLED
            called.append(entry.id)

    with recording() as calls, ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(desk_work, points))
    called = Counter(entry_id for mine, _ in outcomes for entry_id in mine)
    assert set(called) == ids and max(called.values()) == 1
    assert all(queue_entries.get(i).status == entities.CALLED for i in ids)
    requests = sum(n for _, n in outcomes)
    assert (len(calls) + requests) / len(ids) <= 4.5, (Counter(calls), requests)
