"""The waiting room: the board a screen shows (token numbers and desk names, never a patient),
and which boards a change of entries calls for (what the live push sends).

The board costs a fixed number of reads whatever the day's volume: the numbers called now
and the head of the waiting list come from sparse indexes that hold only open entries.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import NamedTuple

from chalicelib.domain import clock
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import QueueEntry, queue_name
from chalicelib.domain.queue.positions import RATE_CALLS, estimate_wait
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_date
from chalicelib.errors import ValidationFailed

NOW_CALLING = 10
NEXT = 10
# A connection's record outlives API Gateway's longest connection (2 hours), then TTL drops it.
CONNECTION_LIFETIME = timedelta(hours=3)
SUBSCRIBE_HELP = 'Send {"action": "subscribe", "department": <id> | null}.'


def board(department_id: int | None, day: date | None = None) -> dict:
    """The queue's board today: what is being called now (latest first), the next numbers, how many
    wait, whether the queue is closed and about how long a patient joining now would wait.

    400 on `department` for a department that does not exist.
    """
    day = day or clock.today()
    return _board(department_id, day, lambda queue: stores().board.next_tokens(queue, day, NEXT))


class Head(NamedTuple):
    """The first NEXT waiting entries of a queue's day, whole, in calling order, as a live board read them."""
    queue: str
    day: date
    entries: list[QueueEntry]


def live_board(department_id: int | None) -> tuple[dict, Head]:
    """Today's board for the stream's pushes, and its head: the same reads as `board`, but the waiting
    list's head is read whole (one Query of the head index, in place of the keys-only one), so the
    "your turn" messages find their candidates in it rather than in a Query of their own."""
    day = clock.today()
    head = Head(queue_name(department_id), day, [])

    def tokens(queue: str) -> list[int]:
        head.entries.extend(stores().queue_entries.head_entries(queue, day, NEXT))
        return [entry.token_number for entry in head.entries]

    return _board(department_id, day, tokens), head


def _board(department_id: int | None, day: date, next_tokens: Callable[[str], list[int]]) -> dict:
    reads = stores().board
    queue = queue_name(department_id)
    calls = reads.now_calling(queue, day, NOW_CALLING)
    upcoming = next_tokens(queue)
    waiting = reads.waiting_count(queue, day) if len(upcoming) >= NEXT else len(upcoming)
    point_ids = sorted({call.service_point for call in calls if call.service_point is not None})
    records = reads.board_records(queue, day, department_id, point_ids)
    if department_id is not None and records.department is None:
        raise no_department(department_id)
    estimate = None
    if waiting:
        estimate = estimate_wait(stores().queue_entries.latest_calls(queue, day, RATE_CALLS), waiting)
    now_calling = []
    for call in calls:
        point = records.service_points.get(call.service_point) if call.service_point is not None else None
        now_calling.append({"token_number": call.token_number,
                            "service_point": {"id": point.id, "name": point.name} if point else None,
                            "called_at": call.called_at, "recalls": call.recalls})
    return {"queue_date": iso_date(day), "department": department_id, "closed": records.closed,
            "now_calling": now_calling, "next": upcoming, "waiting": waiting, "estimated_wait_minutes": estimate}


def readable(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """The entries' stream records that can be read, and those that cannot: an attribute that does
    not deserialize, or no image where the record's event needs one (a poison record)."""
    good, bad = [], []
    for record in records:
        try:
            event = record["eventName"]
            [(before, after)] = stores().queue_entries.changes([record])
            if (event in ("INSERT", "MODIFY") and after is None) or (event in ("MODIFY", "REMOVE") and before is None):
                raise ValueError(event)
        except Exception:  # noqa: BLE001 - whatever a malformed record raises, it is that record's alone
            bad.append(record)
        else:
            good.append(record)
    return good, bad


def touched_queues(records: list[dict]) -> list[int | None]:
    """The queues (by department, None for the general queue) whose board today one of the entries'
    stream records changed."""
    today = clock.today()
    touched = set()
    for old, new in stores().queue_entries.changes(records):
        if old is not None and new is not None and replace(old, notified=new.notified) == new:
            continue  # only a message marked as sent: the board is as it was
        touched.update(entry.department for entry in (old, new) if entry is not None and entry.queue_date == today)
    return sorted(touched, key=lambda d: (d is not None, d or 0))


def changed_queues(records: list[dict], watched: Callable[[int | None], bool] | None = None) -> dict[int | None, dict]:
    """The boards to push after a batch of the entries table's stream records: today's board of each
    queue that one of the records changed, and (given `watched`) that a screen watches."""
    today = clock.today()
    return {department: board(department, today) for department in touched_queues(records)
            if watched is None or watched(department)}


# -- live updates: the WebSocket protocol ------------------------------------------------------

def subscription(text: str) -> int | None:
    """The department a client's message subscribes to (None: the general queue); 400 otherwise."""
    try:
        message = json.loads(text)
    except (ValueError, TypeError):
        message = None
    department = message.get("department") if isinstance(message, dict) else None
    if (not isinstance(message, dict) or message.get("action") != "subscribe"
            or not (department is None or (isinstance(department, int) and not isinstance(department, bool)))):
        raise ValidationFailed(SUBSCRIBE_HELP)
    return department


def board_message(board_json: dict) -> str:
    """What a subscriber receives: the board, as the API writes it."""
    return json.dumps({"type": "board", "board": board_json}, separators=(",", ":"))


def error_message(message: str) -> str:
    return json.dumps({"type": "error", "message": message}, separators=(",", ":"))


def connected(connection_id: str) -> None:
    """A screen connected (deployed: API Gateway's $connect)."""
    stores().connections.connected(connection_id, clock.now() + CONNECTION_LIFETIME)


def received(connection_id: str, text: str) -> str:
    """A screen's message: subscribe it and answer with the board at once, or with an error."""
    try:
        department = subscription(text)
        current = board(department)
    except ValidationFailed as exc:
        return error_message(exc.message)
    stores().connections.subscribe(connection_id, queue_name(department), clock.now() + CONNECTION_LIFETIME)
    return board_message(current)


def disconnected(connection_id: str) -> None:
    stores().connections.disconnected(connection_id)


def subscribers(department: int | None) -> list[str]:
    """The connections following a queue."""
    return stores().connections.subscribers(queue_name(department))
