"""The queue's state machine in-process, through the in-memory stores: every desk move from every
status, for every identity the move's route lets through (the route's roles are checked at the
edge: tests/api/test_roles.py), then calling order, positions, estimates, closing, expiry, and
races on real threads. No moto: the whole file runs in about a second."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain import clock, queue
from chalicelib.domain.entities import (
    CALLED,
    CANCELED,
    ENTRY_STATUSES,
    EXPIRED,
    NO_SHOW,
    NORMAL,
    SERVED,
    TRANSFERRED,
    URGENT,
    WAITING,
    QueueEntry,
    User,
    queue_name,
)
from chalicelib.domain.queue import JoinRequest, TransferRequest
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.support.queue_world import (  # noqa: F401 (world_fixture: the `world` fixture)
    ADMIN,
    CARDIOLOGY,
    CLOSED_WARD,
    IDENTITIES,
    NOW,
    PHARMACY,
    STAFF,
    stored,
    world_fixture,
)

# -- every move from every status, for every identity its route lets through ------------------------

# move -> (the identities its route lets through, the statuses it accepts, the status it leaves)
MOVES = {
    "serve": (("own doctor", "other doctor", "staff", "admin"), (WAITING, CALLED), SERVED),
    "recall": (("own doctor", "other doctor", "staff", "admin"), (CALLED,), CALLED),
    "no_show": (("own doctor", "other doctor", "staff", "admin"), (CALLED,), NO_SHOW),
    "requeue": (("staff", "admin"), (CALLED, NO_SHOW), WAITING),
    "cancel": (("own patient", "other patient", "staff", "admin"), (WAITING, CALLED), CANCELED),
    "transfer": (("own doctor", "other doctor", "staff", "admin"), (WAITING, CALLED), TRANSFERRED),
}


def do(move: str, actor: User, entry_id: int) -> QueueEntry:
    if move == "serve":
        return queue.mark_served(actor, entry_id)
    if move == "transfer":
        return queue.transfer(actor, entry_id, lambda: TransferRequest(PHARMACY))
    return getattr(queue, move)(actor, entry_id)


def _cases():
    for move, (identities, _, _) in MOVES.items():
        for status in ENTRY_STATUSES:
            for identity in identities:
                yield pytest.param(move, status, identity, id=f"{move}-{status}-{identity}")


def _refused(identity: str) -> bool:
    return identity in ("other patient", "other doctor")


@pytest.mark.parametrize(("move", "status", "identity"), list(_cases()))
def test_every_move_from_every_status(world, move, status, identity):
    _, accepts, leaves = MOVES[move]
    entry = stored(world, status)
    before = dict(world.entries), dict(world.claims)
    actor = IDENTITIES[identity]
    if _refused(identity):
        with pytest.raises(Forbidden):
            do(move, actor, entry.id)
        assert (dict(world.entries), dict(world.claims)) == before
        return
    if status not in accepts and not (move == "serve" and status == SERVED):
        with pytest.raises(Conflict) as refused:
            do(move, actor, entry.id)
        assert "status" in refused.value.fields
        assert (dict(world.entries), dict(world.claims)) == before  # changes nothing
        return
    result = do(move, actor, entry.id)
    after = world.entries[entry.id]
    claim = world.claims.get((entry.queue, entry.queue_date.isoformat(), 1))
    if move == "serve" and status == SERVED:
        assert after == entry  # serving again changes nothing
        return
    assert after.status == leaves
    assert [e.status for e in after.history] == [*[e.status for e in entry.history], leaves]
    assert after.history[-1].by == actor.id
    assert claim == (entry.id if after.is_open else None)  # the place is held exactly while open
    if move == "transfer":
        assert (result.status, result.department, result.transferred_from, result.visit) == (
            WAITING, PHARMACY, entry.id, entry.visit)
        assert world.claims[(queue_name(PHARMACY), entry.queue_date.isoformat(), 1)] == result.id
    else:
        assert result == after
    if move == "recall":
        assert after.recalls == entry.recalls + 1


@pytest.mark.parametrize("move", list(MOVES))
def test_a_move_on_an_entry_of_an_earlier_day_is_a_conflict(world, move):
    entry = stored(world, CALLED, day=clock.today() - timedelta(days=1))
    with pytest.raises(Conflict, match="earlier day"):
        do(move, STAFF, entry.id)


@pytest.mark.parametrize("move", list(MOVES))
def test_a_move_on_no_entry_is_not_found(world, move):
    with pytest.raises(NotFound):
        do(move, STAFF, 999_999)


def test_requeue_refused_while_the_patient_holds_another_place_in_that_queue(world):
    missed = stored(world, NO_SHOW)
    stored(world, WAITING, token=2)  # the same patient joined again meanwhile
    with pytest.raises(Conflict) as refused:
        queue.requeue(STAFF, missed.id)
    assert "patient_id" in refused.value.fields
    assert world.entries[missed.id].status == NO_SHOW


def test_requeue_into_a_closed_queue_is_a_conflict(world):
    missed = stored(world, NO_SHOW)
    queue.close_queue(STAFF, CARDIOLOGY)
    with pytest.raises(Conflict, match="closed"):
        queue.requeue(STAFF, missed.id)


def test_transfer_refusals(world):
    entry = stored(world, WAITING)
    with pytest.raises(ValidationFailed, match="already in this queue"):
        queue.transfer(STAFF, entry.id, lambda: TransferRequest(CARDIOLOGY))
    with pytest.raises(ValidationFailed, match="not active"):
        queue.transfer(STAFF, entry.id, lambda: TransferRequest(CLOSED_WARD))
    with pytest.raises(ValidationFailed, match="No department"):
        queue.transfer(STAFF, entry.id, lambda: TransferRequest(99))
    with pytest.raises(Forbidden, match="urgent"):
        queue.transfer(IDENTITIES["own doctor"], entry.id, lambda: TransferRequest(PHARMACY, URGENT))
    stored(world, WAITING, department=PHARMACY)
    with pytest.raises(Conflict) as refused:
        queue.transfer(STAFF, entry.id, lambda: TransferRequest(PHARMACY))
    assert "patient_id" in refused.value.fields
    assert world.entries[entry.id].status == WAITING


def test_a_stranger_learns_nothing_of_the_transfer_body(world):
    """The request is read only once the caller may run the entry's desk."""
    entry = stored(world, WAITING)

    def body():
        raise ValidationFailed("bad body")

    with pytest.raises(Forbidden):
        queue.transfer(IDENTITIES["other doctor"], entry.id, body)
    with pytest.raises(ValidationFailed):
        queue.transfer(IDENTITIES["own doctor"], entry.id, body)


# -- joining ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ENTRY_STATUSES)
def test_join_while_holding_an_entry_in_each_status(world, status):
    held = stored(world, status)
    if held.is_open:
        with pytest.raises(queue.AlreadyQueued) as refused:
            queue.join(STAFF, JoinRequest(patient_id=1, department=CARDIOLOGY))
        assert refused.value.entry.id == held.id
    else:
        entry = queue.join(STAFF, JoinRequest(patient_id=1, department=CARDIOLOGY))
        assert (entry.status, entry.token_number, entry.patient_id) == (WAITING, 2, 1)


@pytest.mark.parametrize("identity", ["own patient", "other patient", "staff", "admin"])
def test_join_for_each_identity(world, identity):
    actor = IDENTITIES[identity]
    if identity == "other patient":  # patient 2 naming patient 1
        with pytest.raises(Forbidden, match="themself"):
            queue.join(actor, JoinRequest(patient_id=1))
        return
    entry = queue.join(actor, JoinRequest(patient_id=1))
    assert (entry.patient_id, entry.department, entry.history[0].by) == (1, None, actor.id)
    if actor.role == "patient":
        with pytest.raises(Forbidden, match="urgent"):
            queue.join(actor, JoinRequest(priority=URGENT, department=CARDIOLOGY))
    else:
        with pytest.raises(ValidationFailed, match="required"):
            queue.join(actor, JoinRequest())
        assert queue.join(actor, JoinRequest(patient_id=2, priority=URGENT)).priority == URGENT


def test_join_refusals_use_up_no_token(world):
    with pytest.raises(ValidationFailed, match="No department"):
        queue.join(STAFF, JoinRequest(patient_id=1, department=99))
    with pytest.raises(ValidationFailed, match="not active"):
        queue.join(STAFF, JoinRequest(patient_id=1, department=CLOSED_WARD))
    with pytest.raises(NotFound):
        queue.join(STAFF, JoinRequest(patient_id=99, department=CARDIOLOGY))
    world.patients[3] = replace(world.patients[3], phone=None)
    with pytest.raises(ValidationFailed) as no_phone:
        queue.join(STAFF, JoinRequest(patient_id=3, department=CARDIOLOGY, notify="sms"))
    assert "notify" in no_phone.value.fields
    assert queue.join(STAFF, JoinRequest(patient_id=1, department=CARDIOLOGY)).token_number == 1


# -- calling ----------------------------------------------------------------------------------------

def test_call_next_takes_urgent_first_then_the_lowest_token(world):
    for token, priority in [(1, NORMAL), (2, URGENT), (3, NORMAL), (4, URGENT)]:
        stored(world, WAITING, patient_id=token, token=token, priority=priority)
    called = [queue.call_next(STAFF, CARDIOLOGY, 1).token_number for _ in range(4)]
    assert called == [2, 4, 1, 3]
    assert queue.call_next(STAFF, CARDIOLOGY) is None


@pytest.mark.parametrize("status", ENTRY_STATUSES)
def test_call_next_calls_only_waiting_entries(world, status):
    entry = stored(world, status)
    called = queue.call_next(STAFF, CARDIOLOGY, 1)
    if status == WAITING:
        assert (called.id, called.status, called.service_point, called.first_called_at) == (
            entry.id, CALLED, 1, clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    else:
        assert called is None
        assert world.entries[entry.id] == entry


def test_who_may_call_where(world):
    stored(world, WAITING)
    with pytest.raises(Forbidden):
        queue.call_next(IDENTITIES["other doctor"], CARDIOLOGY)
    with pytest.raises(Forbidden):
        queue.call_next(IDENTITIES["own doctor"], None)  # the general queue is staff's
    with pytest.raises(ValidationFailed, match="service point"):
        queue.call_next(STAFF, PHARMACY, 1)  # desk 1 is cardiology's
    with pytest.raises(ValidationFailed, match="not active"):
        queue.call_next(STAFF, CLOSED_WARD)
    with pytest.raises(ValidationFailed, match="No department"):
        queue.call_next(STAFF, 99)
    assert queue.call_next(IDENTITIES["own doctor"], CARDIOLOGY, 1).status == CALLED


# -- looking: one entry, positions, estimates, today's list -----------------------------------------

def test_patients_see_only_their_own_entries(world):
    mine, theirs = stored(world, WAITING), stored(world, WAITING, patient_id=2, token=2)
    me = IDENTITIES["own patient"]
    assert queue.get_entry(me, mine.id) == mine
    for look in (queue.get_entry, queue.position):
        with pytest.raises(Forbidden):
            look(me, theirs.id)
    assert [e.id for e in queue.list_today(me, CARDIOLOGY, 10, None).items] == [mine.id]
    assert [e.id for e in queue.list_today(STAFF, CARDIOLOGY, 10, None).items] == [mine.id, theirs.id]
    assert queue.get_entry(IDENTITIES["other doctor"], mine.id) == mine


def test_positions_count_the_waiting_entries_called_before(world):
    entries = [stored(world, WAITING, patient_id=p, token=p, priority=URGENT if p == 4 else NORMAL)
               for p in range(1, 5)]
    assert [queue.position(STAFF, e.id)["people_ahead"] for e in entries] == [1, 2, 3, 0]
    queue.call_next(STAFF, CARDIOLOGY)  # the urgent one
    last = queue.position(STAFF, entries[2].id)
    assert (last["people_ahead"], last["position"], last["estimated_wait_minutes"]) == (2, 3, None)
    assert queue.position(STAFF, entries[3].id)["position"] == 0  # called: no longer waiting


def test_the_estimate_follows_the_calling_rate(world):
    for p in range(1, 6):
        stored(world, WAITING, patient_id=p, token=p)
    for minute in (0, 5, 10):  # a call every 5 minutes
        world.clock["now"] = NOW + timedelta(minutes=minute)
        queue.call_next(STAFF, CARDIOLOGY)
    last = max(world.entries.values(), key=lambda e: e.token_number)
    assert queue.position(STAFF, last.id)["estimated_wait_minutes"] == 10  # 1 ahead: 2 calls of 5 minutes


def test_stats_count_each_status(world):
    for p, status in enumerate(ENTRY_STATUSES, start=1):
        stored(world, status, patient_id=p, token=p)
    numbers = queue.stats(STAFF, None, CARDIOLOGY)
    assert {status: numbers[status] for status in ENTRY_STATUSES} == dict.fromkeys(ENTRY_STATUSES, 1)
    assert numbers["joined"] == len(ENTRY_STATUSES)


# -- closing the day, and the reset -----------------------------------------------------------------

@pytest.mark.parametrize("status", ENTRY_STATUSES)
def test_close_expires_waiting_entries_only(world, status):
    entry = stored(world, status)
    expired = queue.close_queue(STAFF, CARDIOLOGY)
    after = world.entries[entry.id]
    assert expired == (1 if status == WAITING else 0)
    assert after.status == (EXPIRED if status == WAITING else status)
    with pytest.raises(Conflict, match="closed"):
        queue.join(STAFF, JoinRequest(patient_id=3, department=CARDIOLOGY))
    assert queue.close_queue(STAFF, CARDIOLOGY) == 0  # again: nothing changes
    queue.open_queue(STAFF, CARDIOLOGY)
    assert queue.join(STAFF, JoinRequest(patient_id=3, department=CARDIOLOGY)).status == WAITING


@pytest.mark.parametrize("status", ENTRY_STATUSES)
def test_the_reset_expires_open_entries_of_ended_days(world, status):
    old = stored(world, status, day=clock.today() - timedelta(days=1))
    today = stored(world, WAITING, patient_id=2)
    assert queue.expire_past_days() == (1 if status in (WAITING, CALLED) else 0)
    assert world.entries[old.id].status == (EXPIRED if status in (WAITING, CALLED) else status)
    if status in (WAITING, CALLED):
        assert world.entries[old.id].history[-1].by is None  # the reset, nobody
    assert world.entries[today.id].status == WAITING
    assert queue.expire_past_days() == 0


# -- races on real threads --------------------------------------------------------------------------

def _together(n: int, work) -> list:
    """Each of n threads' result or exception, all started at once."""
    start, results = threading.Barrier(n), [None] * n

    def run(i):
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 (returned and asserted on)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_desks_calling_at_once_each_get_a_different_entry(world):
    for p in range(1, 6):
        stored(world, WAITING, patient_id=p, token=p)
    results = _together(8, lambda i: queue.call_next(STAFF, CARDIOLOGY))
    called = [r.id for r in results if isinstance(r, QueueEntry)]
    assert len(called) == len(set(called)) == 5
    assert sum(r is None for r in results) == 3


def test_one_patient_joining_many_times_at_once_holds_one_place(world):
    results = _together(8, lambda i: queue.join(STAFF, JoinRequest(patient_id=1, department=CARDIOLOGY)))
    joined = [r for r in results if isinstance(r, QueueEntry)]
    assert len(joined) == 1
    assert all(isinstance(r, queue.AlreadyQueued) for r in results if not isinstance(r, QueueEntry))


def test_a_join_racing_the_close_lands_before_it_or_is_refused(world):
    def work(i):
        if i == 0:
            return queue.close_queue(STAFF, CARDIOLOGY)
        return queue.join(STAFF, JoinRequest(patient_id=i, department=CARDIOLOGY))

    results = _together(6, work)
    joined = [r for r in results if isinstance(r, QueueEntry)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(joined) + len(refused) == 5
    assert all(world.entries[e.id].status == EXPIRED for e in joined)  # landed before: expired by it


def test_desks_moving_one_entry_at_once_make_one_move(world):
    entry = stored(world, CALLED)
    results = _together(6, lambda i: (queue.no_show if i % 2 else queue.mark_served)(STAFF, entry.id))
    done = [r for r in results if isinstance(r, QueueEntry)]
    final = world.entries[entry.id]
    assert final.status in (SERVED, NO_SHOW)
    assert [e.status for e in final.history].count(final.status) == 1
    assert len(final.history) == len(entry.history) + 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, QueueEntry))
    assert done
