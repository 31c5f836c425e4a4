"""Where entries stand: one entry (a patient's own), its position and wait estimate, and
today's list of a queue."""
from __future__ import annotations

from chalicelib.domain import clock
from chalicelib.domain.entities import WAITING, Page, QueueEntry, User, queue_name
from chalicelib.domain.permissions import acting_patient, check_owner
from chalicelib.domain.queue.rules import department_of, read_entry
from chalicelib.domain.stores import stores
from chalicelib.domain.values import parse_instant

# Wait estimates: the calling rate over the queue's latest first calls today, from at least
# MIN_CALLS of them.
RATE_CALLS = 10
MIN_CALLS = 3


def get_entry(actor: User, entry_id: int) -> QueueEntry:
    """One entry: the patient's own, or any for doctors, staff and admins."""
    entry = read_entry(entry_id)
    check_owner(actor, entry.patient_id)
    return entry


def position(actor: User, entry_id: int) -> dict:
    """Where an entry stands: how many waiting entries will be called before it, and about how long
    until it is called."""
    entry = get_entry(actor, entry_id)
    entries = stores().queue_entries
    waiting = entry.status == WAITING
    ahead = entries.count_ahead(entry) if waiting else 0
    estimate = None
    if waiting:
        estimate = estimate_wait(entries.latest_calls(entry.queue, entry.queue_date, RATE_CALLS), ahead)
    return {"id": entry.id, "token_number": entry.token_number, "status": entry.status,
            "people_ahead": ahead, "position": ahead + 1 if waiting else 0, "estimated_wait_minutes": estimate}


def estimate_wait(latest_calls: list[str], people_ahead: int) -> int | None:
    """Whole minutes until an entry with `people_ahead` is called, at the queue's recent calling rate.

    The rate is taken from the day's latest first calls (newest first): their span divided by
    the intervals between them is the minutes per call; the entry is called after
    people_ahead + 1 more calls. None from fewer than MIN_CALLS calls.
    """
    if len(latest_calls) < MIN_CALLS:
        return None
    newest, oldest = parse_instant(latest_calls[0]), parse_instant(latest_calls[-1])
    per_call = (newest - oldest).total_seconds() / 60 / (len(latest_calls) - 1)
    return round((people_ahead + 1) * per_call)


def list_today(actor: User, department_id: int | None, limit: int, cursor: str | None) -> Page:
    """Today's entries of a queue in token order; a patient sees only their own."""
    own = acting_patient(actor, None)
    department_of(department_id)
    entries, queue, today = stores().queue_entries, queue_name(department_id), clock.today()
    if own is not None:
        return entries.patient_day_page(own, queue, today, limit, cursor)
    return entries.day_page(queue, today, limit, cursor)
