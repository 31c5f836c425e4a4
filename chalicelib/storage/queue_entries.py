"""The token queue's entries. The model stays here; callers get `QueueEntry` dataclasses.

One table of entries, keyed by a global id, with four indexes that keep every
request path at a fixed number of calls whatever the day's volume:

- day-token-index: every entry of a queue's day (`day_key` = queue#date), in token order.
- waiting-rank-index: sparse, KEYS_ONLY; only waiting entries carry `waiting_key` and
  `rank`, so finding the head of a queue, or counting who is ahead of an entry, never
  reads entries already called or served.
- waiting-head-index: the same sparse keys with every attribute, so a desk reads the head's
  entries themselves in the Query that finds them (calling needs no read of the entry after), and
  the stream's live board finds there who is to be told their turn is near.
- open-date-index: sparse; only waiting or called entries carry `open_key`, so the
  nightly reset finds what is left of past days without a Scan.
- patient-day-index: a patient's entries by date, queue and token (their own list).
- call-day-index: sparse, KEYS_ONLY; an entry enters it at its first call (`call_key` =
  queue#date, ranked by `first_called_at`) and never leaves, so the day's latest calls
  (the calling rate behind wait estimates) are one small Query.
- notify-rank-index: sparse, KEYS_ONLY; only waiting entries that asked to be told and have not
  had their "your turn is near" message carry `notify_key` (queue#date), so the stream handler
  knows with one small Query whether a queue has anyone to tell (mostly nobody).
- called-index: sparse; only entries whose status is called carry `called_key` (queue#date),
  ranked by `called_at` (a recall moves it up), so the waiting room's board reads the numbers
  being called now without reading the day's served ones.

Every change of status is one conditional write (a transaction where a claim, the day's
counter or a second entry is involved) that also appends the change to `history`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.expressions.condition import size
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection

from chalicelib.domain.entities import CALLED, OPEN_STATUSES, WAITING, Event, Page, QueueEntry, queue_name
from chalicelib.domain.ports.queue import (
    ACTIVE_CLAIM,
    CHECKED_IN,
    DESK_DOCTOR,
    DESK_POINT,
    ENTRY_CHANGED,
    DeskCheck,
    JoinCheck,
)
from chalicelib.domain.values import optional_int
from chalicelib.errors import ConditionFailed
from chalicelib.storage import appointments, queue_days, service_points
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.departments import DepartmentModel
from chalicelib.storage.patients import PatientModel
from chalicelib.storage.transactions import Transaction, get_or_none, read_items, update_unless
from chalicelib.storage.uniques import UniqueModel, owner_of, put_unique, release_unique

OPEN = "open"


class _EntriesByDay(GlobalSecondaryIndex):
    class Meta:
        index_name = "day-token-index"
        projection = AllProjection()

    day_key = UnicodeAttribute(hash_key=True)
    token_number = NumberAttribute(range_key=True)


class _WaitingByRank(GlobalSecondaryIndex):
    class Meta:
        index_name = "waiting-rank-index"
        projection = KeysOnlyProjection()

    waiting_key = UnicodeAttribute(hash_key=True)
    rank = NumberAttribute(range_key=True)


class _WaitingHead(GlobalSecondaryIndex):
    class Meta:
        index_name = "waiting-head-index"
        projection = AllProjection()

    waiting_key = UnicodeAttribute(hash_key=True)
    rank = NumberAttribute(range_key=True)


class _OpenByDate(GlobalSecondaryIndex):
    class Meta:
        index_name = "open-date-index"
        projection = AllProjection()

    open_key = UnicodeAttribute(hash_key=True)
    queue_date = UnicodeAttribute(range_key=True)


class _EntriesByPatient(GlobalSecondaryIndex):
    class Meta:
        index_name = "patient-day-index"
        projection = AllProjection()

    patient = NumberAttribute(hash_key=True)
    patient_day = UnicodeAttribute(range_key=True)


class _CallsByDay(GlobalSecondaryIndex):
    class Meta:
        index_name = "call-day-index"
        projection = KeysOnlyProjection()

    call_key = UnicodeAttribute(hash_key=True)
    first_called_at = UnicodeAttribute(range_key=True)


class _CalledNow(GlobalSecondaryIndex):
    class Meta:
        index_name = "called-index"
        projection = IncludeProjection(["token_number", "service_point", "recalls"])

    called_key = UnicodeAttribute(hash_key=True)
    called_at = UnicodeAttribute(range_key=True)


class _NotifyByRank(GlobalSecondaryIndex):
    class Meta:
        index_name = "notify-rank-index"
        projection = KeysOnlyProjection()

    notify_key = UnicodeAttribute(hash_key=True)
    rank = NumberAttribute(range_key=True)


class _EventMap(MapAttribute):
    status = UnicodeAttribute()
    at = UnicodeAttribute()
    by = NumberAttribute(null=True)
    service_point = NumberAttribute(null=True)


@register
class QueueEntryModel(StoredModel):
    class Meta:
        table_suffix = "queue-entries"
        # The waiting room's live boards and "your turn" messages follow the entries' changes.
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = NumberAttribute(hash_key=True)
    queue = UnicodeAttribute()
    department = NumberAttribute(null=True)
    queue_date = UnicodeAttribute()
    token_number = NumberAttribute()
    patient = NumberAttribute()
    status = UnicodeAttribute()
    priority = UnicodeAttribute()
    created_at = UnicodeAttribute()
    called_at = UnicodeAttribute(null=True)
    served_at = UnicodeAttribute(null=True)
    service_point = NumberAttribute(null=True)
    called_by = NumberAttribute(null=True)
    recalls = NumberAttribute(null=True)
    visit = NumberAttribute(null=True)
    transferred_from = NumberAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    first_called_at = UnicodeAttribute(null=True)
    history = ListAttribute(of=_EventMap, null=True)
    notify = UnicodeAttribute(null=True)  # "sms" | "email" (the waiting room's messages)
    notified = UnicodeSetAttribute(null=True)  # the messages sent, each marked before it is sent
    appointment = NumberAttribute(null=True)  # checked in for this appointment
    appointment_minute = NumberAttribute(null=True)
    # index keys
    day_key = UnicodeAttribute()
    patient_day = UnicodeAttribute()
    waiting_key = UnicodeAttribute(null=True)
    rank = NumberAttribute(null=True)
    open_key = UnicodeAttribute(null=True)
    call_key = UnicodeAttribute(null=True)
    called_key = UnicodeAttribute(null=True)
    notify_key = UnicodeAttribute(null=True)

    by_day = _EntriesByDay()
    waiting = _WaitingByRank()
    waiting_head = _WaitingHead()
    open_by_date = _OpenByDate()
    by_patient = _EntriesByPatient()
    calls_by_day = _CallsByDay()
    called_now = _CalledNow()
    notify_waiting = _NotifyByRank()


def day_key(queue: str, day: date) -> str:
    return f"{queue}#{day.isoformat()}"


def active_claim_key(queue: str, day: date, patient_id: int) -> str:
    """The claim that keeps a patient to one open place per queue and day."""
    return f"{ACTIVE_CLAIM}#{queue}#{day.isoformat()}#{patient_id}"


def _patient_day(queue: str, day: date, token_number: int | None = None) -> str:
    prefix = f"{day.isoformat()}#{queue}#"
    return prefix if token_number is None else f"{prefix}{token_number:09d}"


def _to_event(item: _EventMap) -> Event:
    return Event(status=item.status, at=item.at, by=optional_int(item.by),
                 service_point=optional_int(item.service_point))


def _event_map(event: Event) -> _EventMap:
    return _EventMap(status=event.status, at=event.at, by=event.by, service_point=event.service_point)


def to_entry(item: QueueEntryModel) -> QueueEntry:
    return QueueEntry(
        id=int(item.id), token_number=int(item.token_number), queue_date=date.fromisoformat(item.queue_date),
        department=optional_int(item.department), patient_id=int(item.patient),
        status=item.status, priority=item.priority, created_at=item.created_at,
        called_at=item.called_at, served_at=item.served_at, service_point=optional_int(item.service_point),
        called_by=optional_int(item.called_by), recalls=int(item.recalls or 0),
        visit=optional_int(item.visit) if item.visit is not None else int(item.id),
        transferred_from=optional_int(item.transferred_from), closed_at=item.closed_at,
        first_called_at=item.first_called_at, history=[_to_event(e) for e in item.history or []],
        notify=item.notify, notified=frozenset(item.notified or ()),
        appointment=optional_int(item.appointment), appointment_minute=optional_int(item.appointment_minute),
    )


def to_model(entry: QueueEntry) -> QueueEntryModel:
    queue = entry.queue
    waiting = entry.status == WAITING
    return QueueEntryModel(
        entry.id, queue=queue, department=entry.department, queue_date=entry.queue_date.isoformat(),
        token_number=entry.token_number, patient=entry.patient_id, status=entry.status,
        priority=entry.priority, created_at=entry.created_at, called_at=entry.called_at,
        served_at=entry.served_at, service_point=entry.service_point, called_by=entry.called_by,
        recalls=entry.recalls, visit=entry.visit, transferred_from=entry.transferred_from,
        closed_at=entry.closed_at, first_called_at=entry.first_called_at,
        history=[_event_map(e) for e in entry.history], notify=entry.notify, notified=set(entry.notified) or None,
        appointment=entry.appointment, appointment_minute=entry.appointment_minute,
        day_key=day_key(queue, entry.queue_date),
        patient_day=_patient_day(queue, entry.queue_date, entry.token_number),
        waiting_key=day_key(queue, entry.queue_date) if waiting else None,
        rank=entry.rank if waiting else None,
        open_key=OPEN if entry.is_open else None,
        call_key=day_key(queue, entry.queue_date) if entry.first_called_at else None,
        called_key=day_key(queue, entry.queue_date) if entry.status == CALLED and entry.called_at else None,
        notify_key=day_key(queue, entry.queue_date) if _to_tell(entry) else None,
    )


NEAR_MESSAGE = "ahead"  # the domain's "your turn is near" message (notifications.AHEAD)


def _to_tell(entry: QueueEntry) -> bool:
    """Whether the entry belongs in the notify index: waiting, asked to be told, not told it is near."""
    return entry.status == WAITING and bool(entry.notify) and NEAR_MESSAGE not in entry.notified


def _append(event: Event):
    """SET history = list_append(if_not_exists(history, []), [event])."""
    return QueueEntryModel.history.set((QueueEntryModel.history | []).append([_event_map(event)]))


def check_join(patient_id: int, department_id: int | None, day: date) -> JoinCheck:
    """The patient, the department and the patient's place in the queue, in one TransactGetItems."""
    queue = queue_name(department_id)
    keys: list = [(PatientModel, patient_id), (UniqueModel, active_claim_key(queue, day, patient_id))]
    if department_id is not None:
        keys.append((DepartmentModel, department_id))
    patient, claim, *department = read_items(keys)
    return JoinCheck(patient_exists=patient is not None,
                     department_exists=department_id is None or department[0] is not None,
                     department_active=department_id is None or (department[0] is not None
                                                                 and department[0].is_active is not False),
                     holder=int(claim.owner) if claim is not None else None)


def add(entry: QueueEntry, claim_expires_at: datetime) -> None:
    """Write a new waiting entry with the patient's claim on the queue for its day.

    Raises ConditionFailed([ACTIVE_CLAIM]) when the patient already holds a place, and
    ConditionFailed([QUEUE_CLOSED]) when the queue closed after the token was taken. An entry
    checked in for an appointment sets the appointment's `checked_in_entry` in the same
    transaction, if it is scheduled and not checked in yet (else ConditionFailed([CHECKED_IN])).
    """
    with Transaction() as tx:
        if entry.appointment is not None:
            appointments.stage_check_in(tx, CHECKED_IN, entry.appointment, entry.id)
        queue_days.stage_open_check(tx, entry.queue, entry.queue_date)
        put_unique(tx, ACTIVE_CLAIM, active_claim_key(entry.queue, entry.queue_date, entry.patient_id), entry.id,
                    expires_at=claim_expires_at)
        tx.put(ENTRY_CHANGED, to_model(entry), QueueEntryModel.id.does_not_exist())


def get(entry_id: int) -> QueueEntry | None:
    """The entry with this id, or None (strongly consistent)."""
    item = get_or_none(QueueEntryModel, entry_id)
    return to_entry(item) if item else None


def active_entry_id(queue: str, day: date, patient_id: int) -> int | None:
    """The id of the patient's waiting or called entry in a queue's day, or None."""
    return owner_of(active_claim_key(queue, day, patient_id))


def waiting_head(queue: str, day: date, limit: int) -> list[int]:
    """Ids of the first waiting entries in calling order (one Query on the sparse index)."""
    return [int(item.id) for item in
            QueueEntryModel.waiting.query(day_key(queue, day), limit=limit, page_size=limit)]


def notify_head(queue: str, day: date, limit: int) -> list[int]:
    """Ids of the first waiting entries still to be told their turn is near, in calling order (one
    Query on the sparse notify index: empty, and cheap, where nobody asked)."""
    return [int(item.id) for item in
            QueueEntryModel.notify_waiting.query(day_key(queue, day), limit=limit, page_size=limit)]


def count_ahead(entry: QueueEntry) -> int:
    """How many waiting entries of the entry's queue and day will be called before it.

    A COUNT Query on the sparse waiting index: entries already called or served are
    not in it, so the cost does not grow with them.
    """
    return QueueEntryModel.waiting.count(day_key(entry.queue, entry.queue_date),
                                         QueueEntryModel.rank < entry.rank)


def head_entries(queue: str, day: date, limit: int) -> list[QueueEntry]:
    """The first waiting entries in calling order, whole (one Query on the sparse head index)."""
    return [to_entry(item) for item in
            QueueEntryModel.waiting_head.query(day_key(queue, day), limit=limit, page_size=limit)]


def mark_called(entry: QueueEntry, event: Event, desk: DeskCheck | None = None) -> QueueEntry | None:
    """Move a waiting entry to called at a service point; None if it is no longer waiting (another
    desk won) or another desk's transaction holds it right now (not ours to take either way).

    Without `desk`, one conditional UpdateItem. With it, one TransactWriteItems: the entry's update
    (still waiting, no change appended since it was read, so what is returned is what is stored)
    and ConditionChecks of the service point and the doctor record (service_points.stage_desk_check);
    ConditionFailed([DESK_POINT and/or DESK_DOCTOR]) when those refuse the call.
    """
    key = day_key(entry.queue, entry.queue_date)
    actions = [QueueEntryModel.status.set(CALLED), QueueEntryModel.called_at.set(event.at),
               QueueEntryModel.called_by.set(event.by), QueueEntryModel.service_point.set(event.service_point),
               QueueEntryModel.first_called_at.set(QueueEntryModel.first_called_at | event.at),
               QueueEntryModel.call_key.set(key), QueueEntryModel.called_key.set(key),
               QueueEntryModel.waiting_key.remove(), QueueEntryModel.rank.remove(), QueueEntryModel.notify_key.remove(),
               _append(event)]
    if desk is None:
        item = QueueEntryModel(entry.id)
        called = update_unless(item, actions, QueueEntryModel.status == WAITING)
        return to_entry(item) if called else None
    try:
        with Transaction() as tx:
            service_points.stage_desk_check(tx, desk)
            tx.update(ENTRY_CHANGED, QueueEntryModel(entry.id), actions, _as_read(entry))
    except ConditionFailed as exc:
        refused = [label for label in exc.labels if label in (DESK_POINT, DESK_DOCTOR)]
        if refused:
            raise ConditionFailed(refused) from exc
        return None
    return replace(entry, status=CALLED, called_at=event.at, called_by=event.by, service_point=event.service_point,
                   first_called_at=entry.first_called_at or event.at, history=[*entry.history, event])


_CHANGING = ("status", "called_at", "served_at", "service_point", "called_by", "recalls", "closed_at",
             "first_called_at")


def _change_actions(before: QueueEntry, after: QueueEntry) -> list:
    """The UpdateItem actions that turn the stored `before` into `after`, history appended."""
    actions = [getattr(QueueEntryModel, name).set(getattr(after, name)) for name in _CHANGING
               if getattr(after, name) != getattr(before, name)]
    key = day_key(after.queue, after.queue_date)
    waiting = after.status == WAITING
    actions += [QueueEntryModel.waiting_key.set(key if waiting else None),
                QueueEntryModel.rank.set(after.rank if waiting else None),
                QueueEntryModel.open_key.set(OPEN if after.is_open else None),
                QueueEntryModel.called_key.set(key if after.status == CALLED else None),
                # a hint only: `notified` may have changed since read; a message is marked before it goes
                QueueEntryModel.notify_key.set(key if _to_tell(after) else None)]
    actions += [_append(event) for event in after.history[len(before.history):]]
    return actions


def _as_read(before: QueueEntry):
    """The condition that the entry is still as read: same status, no change appended since."""
    same = QueueEntryModel.status == before.status
    if before.history:
        return same & (size(QueueEntryModel.history) == len(before.history))
    return same & (QueueEntryModel.history.does_not_exist() | (size(QueueEntryModel.history) == 0))


def change(before: QueueEntry, after: QueueEntry, claim_expires_at: datetime | None = None) -> None:
    """Write a change of an entry that takes or releases the patient's place in the queue as needed,
    in one write (a transaction when the claim moves). ConditionFailed([ENTRY_CHANGED]) if the entry
    changed since it was read; [ACTIVE_CLAIM] if the patient meanwhile holds another open place;
    [QUEUE_CLOSED] when going back to waiting in a queue closed for the day."""
    _write_change(before, after, _as_read(before), claim_expires_at)


def expire(before: QueueEntry, after: QueueEntry) -> None:
    """Write the reset's change of an entry if it is still waiting or called, whatever else changed
    since it was read; ConditionFailed([ENTRY_CHANGED]) if it is not."""
    _write_change(before, after, QueueEntryModel.status.is_in(*OPEN_STATUSES), None)


def _write_change(before: QueueEntry, after: QueueEntry, condition, claim_expires_at: datetime | None) -> None:
    actions = _change_actions(before, after)
    key = active_claim_key(before.queue, before.queue_date, before.patient_id)
    if before.is_open == after.is_open and not (after.status == WAITING and before.status != WAITING):
        if not update_unless(QueueEntryModel(before.id), actions, condition):
            raise ConditionFailed([ENTRY_CHANGED])
        return
    with Transaction() as tx:
        tx.update(ENTRY_CHANGED, QueueEntryModel(before.id), actions, condition)
        if after.status == WAITING:
            queue_days.stage_open_check(tx, after.queue, after.queue_date)
        if after.is_open and not before.is_open:
            put_unique(tx, ACTIVE_CLAIM, key, before.id, expires_at=claim_expires_at)
        elif before.is_open and not after.is_open:
            release_unique(tx, "claim", key, before.id)


def transfer(before: QueueEntry, after: QueueEntry, new: QueueEntry, claim_expires_at: datetime) -> None:
    """Close an entry as transferred and add the patient's new waiting entry in another queue, in one
    transaction. ConditionFailed names ENTRY_CHANGED, ACTIVE_CLAIM (the new queue) or QUEUE_CLOSED."""
    with Transaction() as tx:
        queue_days.stage_open_check(tx, new.queue, new.queue_date)
        tx.update(ENTRY_CHANGED, QueueEntryModel(before.id), _change_actions(before, after), _as_read(before))
        release_unique(tx, "claim", active_claim_key(before.queue, before.queue_date, before.patient_id), before.id)
        put_unique(tx, ACTIVE_CLAIM, active_claim_key(new.queue, new.queue_date, new.patient_id), new.id,
                    expires_at=claim_expires_at)
        tx.put("new-entry", to_model(new), QueueEntryModel.id.does_not_exist())


def waiting_ids(queue: str, day: date) -> list[int]:
    """Ids of every waiting entry of a queue's day (Queries on the sparse waiting index)."""
    return [int(item.id) for item in QueueEntryModel.waiting.query(day_key(queue, day))]


def latest_calls(queue: str, day: date, limit: int) -> list[str]:
    """When the day's most recently first-called entries were first called, newest first (one Query)."""
    return [item.first_called_at for item in
            QueueEntryModel.calls_by_day.query(day_key(queue, day), scan_index_forward=False,
                                               limit=limit, page_size=limit)]


def day_entries(queue: str, day: date) -> Iterator[QueueEntry]:
    """Every entry of a queue's day, in token order (Queries on the day index: the day's entries only)."""
    for item in QueueEntryModel.by_day.query(day_key(queue, day)):
        yield to_entry(item)


def open_before(day: date) -> Iterator[QueueEntry]:
    """Every waiting or called entry of a day before `day` (Query on the sparse open index)."""
    for item in QueueEntryModel.open_by_date.query(OPEN, QueueEntryModel.queue_date < day.isoformat()):
        yield to_entry(item)


def day_page(queue: str, day: date, limit: int, cursor: str | None) -> Page:
    """A page of a queue's entries for a day, in token order (one Query)."""
    return query_page(QueueEntryModel, QueueEntryModel.by_day, f"queue-day#{day_key(queue, day)}", limit, cursor,
                      to_entry, hash_key=day_key(queue, day))


def patient_day_page(patient_id: int, queue: str, day: date, limit: int, cursor: str | None) -> Page:
    """A page of one patient's entries in a queue's day, in token order (one Query)."""
    return query_page(QueueEntryModel, QueueEntryModel.by_patient, f"queue-patient#{patient_id}#{day_key(queue, day)}",
                      limit, cursor, to_entry, hash_key=patient_id,
                      range_key_condition=QueueEntryModel.patient_day.startswith(_patient_day(queue, day)))


def mark_notified(entry_id: int, message: str) -> bool:
    """Mark a message as sent for an entry, unless it already was (one conditional UpdateItem):
    True for the caller that marked it, the one to send it."""
    actions = [QueueEntryModel.notified.add({message})]
    if message == NEAR_MESSAGE:
        actions.append(QueueEntryModel.notify_key.remove())
    return update_unless(QueueEntryModel(entry_id), actions,
                         ~QueueEntryModel.notified.contains(message) & QueueEntryModel.id.exists())


def changes(records: list[dict]) -> list[tuple[QueueEntry | None, QueueEntry | None]]:
    """The (before, after) entries of the entries table's stream records (DynamoDB Streams' JSON, as
    GetRecords and a Lambda event give them); None where the record has no such image."""
    def entry(image: dict | None) -> QueueEntry | None:
        return to_entry(QueueEntryModel.from_raw_data(image)) if image else None

    return [(entry(record.get("dynamodb", {}).get("OldImage")), entry(record.get("dynamodb", {}).get("NewImage")))
            for record in records]
