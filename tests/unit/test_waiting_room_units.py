"""The waiting room's board, its live screens and the "your turn" messages, in-process through the
in-memory stores (the board's five reads and the stream's records are the DynamoDB tests')."""
from __future__ import annotations

import pytest

from chalicelib import messaging
from chalicelib.domain import notifications, queue, waiting_room
from chalicelib.domain.entities import WAITING
from chalicelib.domain.queue import JoinRequest
from chalicelib.domain.stores import stores
from tests.support.queue_world import CARDIOLOGY, STAFF, stored, world_fixture  # noqa: F401 (the `world` fixture)


def test_the_board_shows_numbers_called_next_and_waiting(world):
    for p in range(1, 4):
        stored(world, WAITING, patient_id=p, token=p)
    empty = waiting_room.board(CARDIOLOGY)
    assert (empty["now_calling"], empty["next"], empty["waiting"], empty["closed"]) == ([], [1, 2, 3], 3, False)
    queue.call_next(STAFF, CARDIOLOGY, 1)
    board = waiting_room.board(CARDIOLOGY)
    assert [(c["token_number"], c["service_point"]) for c in board["now_calling"]] == [
        (1, {"id": 1, "name": "Desk 1"})]
    assert (board["next"], board["waiting"]) == ([2, 3], 2)
    queue.close_queue(STAFF, CARDIOLOGY)
    closed = waiting_room.board(CARDIOLOGY)
    assert (closed["closed"], closed["next"], closed["waiting"]) == (True, [], 0)
    assert "patient" not in str(closed)


def test_a_board_of_no_department_is_400(world):
    from chalicelib.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        waiting_room.board(99)


def test_screens_subscribe_and_get_the_board_at_once(world):
    waiting_room.connected("screen-1")
    waiting_room.connected("screen-2")
    reply = waiting_room.received("screen-1", '{"action": "subscribe", "department": 1}')
    assert reply.startswith('{"type":"board"')
    assert waiting_room.received("screen-2", "hello").startswith('{"type":"error"')
    assert waiting_room.subscribers(CARDIOLOGY) == ["screen-1"]
    waiting_room.disconnected("screen-1")
    assert waiting_room.subscribers(CARDIOLOGY) == []


def test_changed_queues_are_todays_boards_of_the_changed_entries(world):
    entry = stored(world, WAITING)
    boards = waiting_room.changed_queues([(None, entry)])
    assert list(boards) == [CARDIOLOGY] and boards[CARDIOLOGY]["next"] == [1]


@pytest.fixture
def outbox(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(messaging, "send_sms", lambda phone, text: sent.append(("sms", phone, text)))
    monkeypatch.setattr(messaging, "send_email", lambda address, subject, text: sent.append(("email", address, text)))
    monkeypatch.setenv("DQS_NOTIFY_AHEAD", "1")
    return sent


def test_messages_when_near_and_when_called_each_once(world, outbox):
    from chalicelib.domain import contacts

    for p in (1, 2, 3):  # as the desk sets them: verified (issue 23)
        contacts.mark_verified(p, "sms", stores().queue_lookups.patient(p).phone)
    entries = [queue.join(STAFF, JoinRequest(patient_id=p, department=CARDIOLOGY, notify="sms")) for p in (1, 2, 3)]
    records = [(None, e) for e in entries]
    first = notifications.send_due(records)
    assert sorted(first) == [(entries[0].id, "ahead"), (entries[1].id, "ahead")]  # 0 and 1 ahead
    assert notifications.send_due(records) == []  # a record delivered twice sends nothing twice
    called = queue.call_next(STAFF, CARDIOLOGY, 1)
    second = notifications.send_due([(entries[0], called)])
    assert sorted(second) == [(called.id, "called"), (entries[2].id, "ahead")]
    texts = [text for _, _, text in outbox]
    assert "Number 1 (Cardiology): it is your turn, please go to Desk 1." in texts
    assert all("P1" not in text and "@" not in text for text in texts)  # no name, no contact
    assert stores().queue_entries.get(called.id).notified == frozenset({"ahead", "called"})


@pytest.mark.parametrize("ahead, reads_index", [(1, False), (waiting_room.NEXT, True)])
def test_a_live_boards_head_gives_the_messages_candidates_it_covers(world, outbox, monkeypatch, ahead, reads_index):
    """With a live board's head, read far enough for every position a message may be due at, the
    messages take their candidates from it (no read of the notify index), and the same messages go;
    one not read far enough (DQS_NOTIFY_AHEAD at NEXT) leaves them to the notify index."""
    from chalicelib.domain import contacts

    monkeypatch.setenv("DQS_NOTIFY_AHEAD", str(ahead))
    for p in (1, 2, 3):
        contacts.mark_verified(p, "sms", stores().queue_lookups.patient(p).phone)
    quiet = queue.join(STAFF, JoinRequest(patient_id=4, department=CARDIOLOGY))
    entries = [queue.join(STAFF, JoinRequest(patient_id=p, department=CARDIOLOGY, notify="sms")) for p in (1, 2, 3)]
    board, head = waiting_room.live_board(CARDIOLOGY)
    assert board == waiting_room.board(CARDIOLOGY)
    assert [entry.id for entry in head.entries] == [quiet.id, *(entry.id for entry in entries)]
    index_reads = []
    store, read = stores().queue_entries, stores().queue_entries.notify_head

    def notify_head(*args):
        index_reads.append(args)
        return read(*args)
    monkeypatch.setattr(store, "notify_head", notify_head)
    sent = notifications.send_due([(None, entry) for entry in [quiet, *entries]], [head])
    told = [entries[0].id] if ahead == 1 else [entry.id for entry in entries]  # 1 ahead, or all 3 within 10
    assert sorted(sent) == [(entry_id, "ahead") for entry_id in told]
    assert bool(index_reads) is reads_index
    assert notifications.send_due([(None, entry) for entry in entries], [head]) == []  # told once only
