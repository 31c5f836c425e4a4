"""Races with real threads against moto's DynamoDB server: numbering, calling, joining twice."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain import entities, queue
from chalicelib.domain.permissions import PATIENT
from chalicelib.domain.queue import JoinRequest
from chalicelib.domain.queue.desk import CALL_CANDIDATES
from tests.support.dynamodb import recording
from tests.support.queue import add_patients, caller, desk, waiting_entries


def test_200_joins_from_16_threads_get_consecutive_token_numbers(dynamodb_server):
    patient_ids = add_patients(200)
    staff = desk()

    with ThreadPoolExecutor(max_workers=16) as pool:
        joined = list(pool.map(lambda pid: queue.join(staff, JoinRequest(patient_id=pid)), patient_ids))

    assert sorted(e.token_number for e in joined) == list(range(1, 201))
    assert len({e.id for e in joined}) == 200
    assert {e.patient_id for e in joined} == set(patient_ids)


def test_16_desks_calling_at_once_call_each_of_200_waiting_entries_exactly_once(dynamodb_server):
    staff = desk()
    waiting = waiting_entries(200)
    order: list = []  # every call, in the order the desks were answered
    lock = threading.Lock()

    def drain(_):
        while (entry := queue.call_next(staff)) is not None:
            with lock:
                order.append(entry)

    with recording() as calls, ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(drain, range(16)))

    assert sorted(e.id for e in order) == sorted(e.id for e in waiting)
    assert all(e.status == entities.CALLED and e.called_at for e in order)
    assert queue.call_next(staff) is None
    # Desks calling at once may swap entries near the head, never reach further back: when an
    # entry was called, fewer than the head's width (plus what the other 15 desks had in
    # flight) of the entries before it were still waiting.
    for i, entry in enumerate(order):
        overtaken = sum(1 for later in order[i + 1:] if later.token_number < entry.token_number)
        assert overtaken < CALL_CANDIDATES + 16, (entry.token_number, overtaken)
    # Colliding desks spread over the head instead of all trying the same entry: at most
    # 3 calls per called entry here, 4 with the request's own look at the caller's account.
    assert len(calls) / len(order) <= 3.0, Counter(calls)


def test_a_lone_desk_calls_in_exact_queue_order(dynamodb_server):
    staff = desk()
    waiting_entries(40)
    numbers = []
    while (entry := queue.call_next(staff)) is not None:
        numbers.append(entry.token_number)
    assert numbers == list(range(1, 41))


def test_ten_simultaneous_joins_of_one_patient_give_one_entry(dynamodb_server):
    [patient_id] = add_patients(1)
    me = caller(PATIENT, patient_id=patient_id)

    def join(_):
        try:
            return queue.join(me, JoinRequest())
        except queue.AlreadyQueued as exc:
            return exc

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(join, range(10)))

    winners = [o for o in outcomes if not isinstance(o, queue.AlreadyQueued)]
    losers = [o for o in outcomes if isinstance(o, queue.AlreadyQueued)]
    assert len(winners) == 1 and len(losers) == 9
    assert all(loser.entry.id == winners[0].id for loser in losers)
    page = queue.list_today(desk(), None, 100, None)
    assert [e.id for e in page.items] == [winners[0].id]
