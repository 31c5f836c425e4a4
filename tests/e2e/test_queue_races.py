"""Races with real threads against moto's DynamoDB server: numbering, calling, joining twice."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain import entities, queue
from chalicelib.domain.permissions import PATIENT
from tests.support.queue import add_patients, caller, desk, waiting_entries


def test_200_joins_from_16_threads_get_consecutive_token_numbers(dynamodb_server):
    patient_ids = add_patients(200)
    staff = desk()

    with ThreadPoolExecutor(max_workers=16) as pool:
        joined = list(pool.map(lambda pid: queue.join(staff, {"patient_id": pid}), patient_ids))

    assert sorted(e.token_number for e in joined) == list(range(1, 201))
    assert len({e.id for e in joined}) == 200
    assert {e.patient for e in joined} == set(patient_ids)


def test_16_desks_calling_at_once_call_each_waiting_entry_exactly_once(dynamodb_server):
    staff = desk()
    waiting = waiting_entries(100)

    def drain(_):
        called = []
        while (entry := queue.call_next(staff)) is not None:
            called.append(entry)
        return called

    with ThreadPoolExecutor(max_workers=16) as pool:
        per_desk = list(pool.map(drain, range(16)))

    called = [entry for desk_calls in per_desk for entry in desk_calls]
    assert sorted(e.id for e in called) == sorted(e.id for e in waiting)
    assert all(e.status == entities.CALLED and e.called_at for e in called)
    assert queue.call_next(staff) is None
    # Each desk called in queue order.
    for desk_calls in per_desk:
        numbers = [e.token_number for e in desk_calls]
        assert numbers == sorted(numbers)


def test_ten_simultaneous_joins_of_one_patient_give_one_entry(dynamodb_server):
    [patient_id] = add_patients(1)
    me = caller(PATIENT, patient_id=patient_id)

    def join(_):
        try:
            return queue.join(me, {})
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
