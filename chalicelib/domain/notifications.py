""""Your turn" messages: a patient who joined with `notify` gets one message when people_ahead first
drops to DQS_NOTIFY_AHEAD or below, and one when called (with the desk or room). They are sent from
the entries table's stream, never from the desk's request, and each at most once per entry: the
entry is marked (a conditional write) before its message goes, so a record delivered twice, or two
handlers at once, send nothing twice. A message holds the token number, the queue's name and the
desk or room: nothing else about the patient.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from chalicelib import messaging, telemetry
from chalicelib.domain import clock, contacts
from chalicelib.domain.entities import CALLED, GENERAL_QUEUE_NAME, WAITING, QueueEntry
from chalicelib.domain.stores import stores
from chalicelib.domain.waiting_room import NEXT, Head
from chalicelib.errors import TooManyRequests, ValidationFailed
from chalicelib.settings import get_settings

log = logging.getLogger("dqs.notifications")

SMS, EMAIL = "sms", "email"
AHEAD, CALLED_MESSAGE = "ahead", "called"


UNVERIFIED = ("This contact is not verified: verify it with POST /patients/{id}/verify_contact/ "
              "(or ask the desk to set it).")


def check_contact(patient_id: int, notify: str | None) -> None:
    """400 on `notify` when the patient's record has no phone (sms) or email (email), or one the
    patient set themself and never verified; 429 when the day's messages are capped (contacts)."""
    if not notify:
        return
    patient = stores().queue_lookups.patient(patient_id)
    if patient is None:
        return  # the join answers 404 for it
    if notify == SMS and not patient.phone:
        raise ValidationFailed.field("notify", "This patient's record has no phone number for SMS.")
    if notify == EMAIL and not patient.email:
        raise ValidationFailed.field("notify", "This patient's record has no email address.")
    if not contacts.is_verified(patient, notify):
        raise ValidationFailed.field("notify", UNVERIFIED)
    contacts.check_caps(patient_id, notify, clock.now())


def send_due(records: list[dict], heads: Iterable[Head] = ()) -> list[tuple[int, str]]:
    """Send what a batch of the entries' stream records makes due; returns the (entry id, message) sent.

    `heads` are the waiting lists' heads that the batch's live boards read already (whole entries): a
    queue whose head is among them, read far enough for every position a message may be due at, finds
    its candidates there; another queue reads them from the sparse notify index."""
    entries = stores().queue_entries
    today = clock.today()
    sent: list[tuple[int, str]] = []
    queues: dict[str, int | None] = {}
    for old, new in entries.changes(records):
        if new is None or new.queue_date != today:
            continue
        if old is not None and replace(old, notified=new.notified) == new:
            continue  # only a message marked as sent
        if _may_bring_near(old, new):
            queues[new.queue] = new.department
        if new.status == CALLED and new.notify and CALLED_MESSAGE not in new.notified:
            if _send(new, CALLED_MESSAGE):
                sent.append((new.id, CALLED_MESSAGE))
    ahead = get_settings().notify_ahead
    read = {(head.queue, head.day): head.entries for head in heads} if ahead + 1 <= NEXT else {}
    for queue, _department in sorted(queues.items()):
        # The head of the waiting list, in calling order: the i-th has i people ahead.
        if (queue, today) in read:
            candidates = [(people_ahead, entry.id) for people_ahead, entry in enumerate(read[queue, today][:ahead + 1])
                          if _to_tell(entry)]
        else:
            # Those still to be told, from the sparse notify index: nobody, mostly (one small Query).
            asked = set(entries.notify_head(queue, today, ahead + 1))
            if not asked:
                continue
            candidates = [(people_ahead, entry_id) for people_ahead, entry_id
                          in enumerate(entries.waiting_head(queue, today, ahead + 1)) if entry_id in asked]
        for people_ahead, entry_id in candidates:
            entry = entries.get(entry_id)  # as it is now (the indexes may lag behind)
            if entry is not None and _to_tell(entry) and _send(entry, AHEAD, people_ahead):
                sent.append((entry.id, AHEAD))
    return sent


def _to_tell(entry: QueueEntry) -> bool:
    """Whether an entry is still to be told its turn is near: waiting, asked to be told, not told yet."""
    return entry.status == WAITING and bool(entry.notify) and AHEAD not in entry.notified


def _may_bring_near(old: QueueEntry | None, new: QueueEntry) -> bool:
    """Whether a change may make a "your turn is near" message due: someone waiting left the list or
    moved (those behind have fewer ahead), or the entry itself waits and is still to be told. A join
    behind the others, a call served or recalled, changes no one's place: nothing to read."""
    if old is not None and old.status == WAITING and (new.status != WAITING or new.rank != old.rank):
        return True
    return new.status == WAITING and bool(new.notify) and AHEAD not in new.notified


def message_text(entry: QueueEntry, kind: str, people_ahead: int | None = None) -> tuple[str, str]:
    """(subject, text) of a message: the token number, the queue's name, the desk or room."""
    department = stores().queue_lookups.department(entry.department) if entry.department is not None else None
    queue = department.name if department is not None else GENERAL_QUEUE_NAME
    if kind == CALLED_MESSAGE:
        point = stores().service_points.get(entry.service_point) if entry.service_point is not None else None
        where = f"please go to {point.name}" if point is not None else "please come to the desk"
        return (f"Number {entry.token_number}: your turn",
                f"Number {entry.token_number} ({queue}): it is your turn, {where}.")
    people = "nobody" if not people_ahead else ("1 person" if people_ahead == 1 else f"{people_ahead} people")
    return (f"Number {entry.token_number}: your turn is near",
            f"Number {entry.token_number} ({queue}): {people} ahead of you. Please be ready.")


def _send(entry: QueueEntry, kind: str, people_ahead: int | None = None) -> bool:
    if not stores().queue_entries.mark_notified(entry.id, kind):
        return False  # sent already (a record delivered twice, or another handler)
    try:
        patient = stores().queue_lookups.patient(entry.patient_id)
        if not _allowed(patient, entry.notify):
            return False
        subject, text = message_text(entry, kind, people_ahead)
        if entry.notify == SMS and patient is not None and patient.phone:
            messaging.send_sms(patient.phone, text)
        elif entry.notify == EMAIL and patient is not None and patient.email:
            messaging.send_email(patient.email, subject, text)
        else:
            return False
    except Exception:  # one failed message must not hold back the queue's other messages or boards
        log.exception("the %s message of entry %d was not sent", kind, entry.id)
        return False
    return True


def _allowed(patient, channel: str | None) -> bool:
    """Whether a message may go: to a verified contact (it may have changed since the join), within
    the day's caps, each message taken from a conditional counter (so racing senders cannot pass one)."""
    if patient is None or channel not in (SMS, EMAIL) or not contacts.is_verified(patient, channel):
        telemetry.count("MessagesRefused")
        return False
    try:
        contacts.take_message(patient.id, channel, clock.now())
    except TooManyRequests:
        telemetry.count("MessagesCapped")
        return False
    return True
