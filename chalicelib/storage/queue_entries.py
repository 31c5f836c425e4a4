"""The token queue's entries. The model stays here; callers get `QueueEntry` dataclasses.

One table of entries, keyed by a global id, with four indexes that keep every
request path at a fixed number of calls whatever the day's volume:

- day-token-index: every entry of a queue's day (`day_key` = queue#date), in token order.
- waiting-rank-index: sparse, KEYS_ONLY; only waiting entries carry `waiting_key` and
  `rank`, so finding the head of a queue, or counting who is ahead of an entry, never
  reads entries already called or served.
- open-date-index: sparse; only waiting or called entries carry `open_key`, so the
  nightly reset finds what is left of past days without a Scan.
- patient-day-index: a patient's entries by date, queue and token (their own list).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.entities import (
    CALLED,
    EXPIRED,
    OPEN_STATUSES,
    SERVED,
    WAITING,
    Page,
    QueueEntry,
    queue_name,
)
from chalicelib.errors import ConditionFailed
from chalicelib.storage.binding import register
from chalicelib.storage.claims import UniqueModel, owner_of, stage_claim, stage_release
from chalicelib.storage.counters import next_value
from chalicelib.storage.cursors import query_page
from chalicelib.storage.departments import DepartmentModel
from chalicelib.storage.patients import PatientModel
from chalicelib.storage.transactions import Transaction, get_or_none, read_items, update_unless

OPEN = "open"
ACTIVE_CLAIM = "queue-active"


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


@register
class QueueEntryModel(Model):
    class Meta:
        table_suffix = "queue-entries"

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
    # index keys
    day_key = UnicodeAttribute()
    patient_day = UnicodeAttribute()
    waiting_key = UnicodeAttribute(null=True)
    rank = NumberAttribute(null=True)
    open_key = UnicodeAttribute(null=True)

    by_day = _EntriesByDay()
    waiting = _WaitingByRank()
    open_by_date = _OpenByDate()
    by_patient = _EntriesByPatient()


def day_key(queue: str, day: date) -> str:
    return f"{queue}#{day.isoformat()}"


def active_claim_key(queue: str, day: date, patient_id: int) -> str:
    """The claim that keeps a patient to one open place per queue and day."""
    return f"{ACTIVE_CLAIM}#{queue}#{day.isoformat()}#{patient_id}"


def _patient_day(queue: str, day: date, token_number: int | None = None) -> str:
    prefix = f"{day.isoformat()}#{queue}#"
    return prefix if token_number is None else f"{prefix}{token_number:09d}"


def _to_entry(item: QueueEntryModel) -> QueueEntry:
    return QueueEntry(
        id=int(item.id), token_number=int(item.token_number), queue_date=date.fromisoformat(item.queue_date),
        department=int(item.department) if item.department is not None else None, patient=int(item.patient),
        status=item.status, priority=item.priority, created_at=item.created_at,
        called_at=item.called_at, served_at=item.served_at,
    )


def _to_model(entry: QueueEntry) -> QueueEntryModel:
    queue = entry.queue
    waiting = entry.status == WAITING
    return QueueEntryModel(
        entry.id, queue=queue, department=entry.department, queue_date=entry.queue_date.isoformat(),
        token_number=entry.token_number, patient=entry.patient, status=entry.status,
        priority=entry.priority, created_at=entry.created_at, called_at=entry.called_at,
        served_at=entry.served_at, day_key=day_key(queue, entry.queue_date),
        patient_day=_patient_day(queue, entry.queue_date, entry.token_number),
        waiting_key=day_key(queue, entry.queue_date) if waiting else None,
        rank=entry.rank if waiting else None,
        open_key=OPEN if entry.is_open else None,
    )


def next_token_number(queue: str, day: date, expires_at: datetime | None = None) -> int:
    """The queue's next token number for the day: one atomic ADD on the day's counter item
    (which DynamoDB's TTL may drop after expires_at, once the day is long over)."""
    return next_value(f"token#{queue}#{day.isoformat()}", expires_at=expires_at)


@dataclass(frozen=True)
class JoinCheck:
    """What a join must know before it takes a token number, read in one call."""
    patient_exists: bool
    department_exists: bool  # True for the general queue
    holder: int | None  # the entry id holding the patient's place in this queue today, if any


def check_join(patient_id: int, department_id: int | None, day: date) -> JoinCheck:
    """The patient, the department and the patient's place in the queue, in one TransactGetItems."""
    queue = queue_name(department_id)
    keys: list = [(PatientModel, patient_id), (UniqueModel, active_claim_key(queue, day, patient_id))]
    if department_id is not None:
        keys.append((DepartmentModel, department_id))
    patient, claim, *department = read_items(keys)
    return JoinCheck(patient_exists=patient is not None,
                     department_exists=department_id is None or department[0] is not None,
                     holder=int(claim.owner) if claim is not None else None)


def add(entry: QueueEntry, claim_expires_at: datetime) -> None:
    """Write a new waiting entry with the patient's claim on the queue for its day.

    Raises ConditionFailed(["queue-active"]) when the patient already holds a place.
    """
    with Transaction() as tx:
        stage_claim(tx, ACTIVE_CLAIM, active_claim_key(entry.queue, entry.queue_date, entry.patient), entry.id,
                    expires_at=claim_expires_at)
        tx.put("entry", _to_model(entry), QueueEntryModel.id.does_not_exist())


def get(entry_id: int) -> QueueEntry | None:
    """The entry with this id, or None (strongly consistent)."""
    item = get_or_none(QueueEntryModel, entry_id)
    return _to_entry(item) if item else None


def active_entry_id(queue: str, day: date, patient_id: int) -> int | None:
    """The id of the patient's waiting or called entry in a queue's day, or None."""
    return owner_of(active_claim_key(queue, day, patient_id))


def waiting_head(queue: str, day: date, limit: int) -> list[int]:
    """Ids of the first waiting entries in calling order (one Query on the sparse index)."""
    return [int(item.id) for item in
            QueueEntryModel.waiting.query(day_key(queue, day), limit=limit, page_size=limit)]


def count_ahead(entry: QueueEntry) -> int:
    """How many waiting entries of the entry's queue and day will be called before it.

    A COUNT Query on the sparse waiting index: entries already called or served are
    not in it, so the cost does not grow with them.
    """
    return QueueEntryModel.waiting.count(day_key(entry.queue, entry.queue_date),
                                         QueueEntryModel.rank < entry.rank)


def mark_called(entry_id: int, called_at: str) -> QueueEntry | None:
    """Move a waiting entry to called; None if it is no longer waiting (another desk won)
    or another desk's transaction holds it right now (it is not ours to take either way)."""
    item = QueueEntryModel(entry_id)
    called = update_unless(
        item, [QueueEntryModel.status.set(CALLED), QueueEntryModel.called_at.set(called_at),
               QueueEntryModel.waiting_key.remove(), QueueEntryModel.rank.remove()],
        QueueEntryModel.status == WAITING)
    return _to_entry(item) if called else None


def _stage_close(tx: Transaction, entry: QueueEntry, actions: list, condition) -> None:
    """Leave the open states: drop the index keys and release the patient's claim."""
    tx.update("entry", QueueEntryModel(entry.id),
              actions + [QueueEntryModel.waiting_key.remove(), QueueEntryModel.rank.remove(),
                         QueueEntryModel.open_key.remove()],
              condition)
    key = active_claim_key(entry.queue, entry.queue_date, entry.patient)
    stage_release(tx, "claim", key, entry.id)


def mark_served(entry: QueueEntry, served_at: str) -> QueueEntry:
    """Serve an entry that is still as read (waiting or called); ConditionFailed otherwise."""
    with Transaction() as tx:
        _stage_close(tx, entry, [QueueEntryModel.status.set(SERVED), QueueEntryModel.served_at.set(served_at)],
                     QueueEntryModel.status == entry.status)
    return replace(entry, status=SERVED, served_at=served_at)


def expire(entry: QueueEntry) -> bool:
    """Mark an entry whose day has closed expired; False if it was no longer waiting or called."""
    try:
        with Transaction() as tx:
            _stage_close(tx, entry, [QueueEntryModel.status.set(EXPIRED)],
                         QueueEntryModel.status.is_in(*OPEN_STATUSES))
    except ConditionFailed as exc:
        if "entry" in exc.labels:
            return False
        raise
    return True


def open_before(day: date) -> Iterator[QueueEntry]:
    """Every waiting or called entry of a day before `day` (Query on the sparse open index)."""
    for item in QueueEntryModel.open_by_date.query(OPEN, QueueEntryModel.queue_date < day.isoformat()):
        yield _to_entry(item)


def day_page(queue: str, day: date, limit: int, cursor: str | None) -> Page:
    """A page of a queue's entries for a day, in token order (one Query)."""
    return query_page(QueueEntryModel, QueueEntryModel.by_day, f"queue-day#{day_key(queue, day)}", limit, cursor,
                      _to_entry, hash_key=day_key(queue, day))


def patient_day_page(patient_id: int, queue: str, day: date, limit: int, cursor: str | None) -> Page:
    """A page of one patient's entries in a queue's day, in token order (one Query)."""
    return query_page(QueueEntryModel, QueueEntryModel.by_patient, f"queue-patient#{patient_id}#{day_key(queue, day)}",
                      limit, cursor, _to_entry, hash_key=patient_id,
                      range_key_condition=QueueEntryModel.patient_day.startswith(_patient_day(queue, day)))
