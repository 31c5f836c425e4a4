"""A queue's day: its token counter and whether it is closed for joins.

One item per queue and day in the counters table (its own model and key prefix, `token#`), made
by the day's first token and dropped by DynamoDB's TTL once the day is long over. Its `closed`
attribute closes the queue: the token's atomic ADD and every write that puts an entry back to
waiting are conditional on it being absent.
"""
from __future__ import annotations

from datetime import date, datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.domain.ports.queue import QUEUE_CLOSED, DayChange
from chalicelib.errors import ConditionFailed
from chalicelib.storage.binding import StoredModel
from chalicelib.storage.counters import CounterModel
from chalicelib.storage.transactions import CONDITION_FAILED, TRANSACTION_CONFLICT, Transaction, cause


class QueueDayModel(StoredModel):
    """A queue's day, an item of the counters table (bound and created with CounterModel)."""

    Meta = CounterModel.Meta

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)  # the last token number given
    expires_at = TTLAttribute(null=True)
    closed = UnicodeAttribute(null=True)  # when the queue was closed for the day (joins refused)


PREFIX = "token#"


def key(queue: str, day: date) -> str:
    return f"{PREFIX}{queue}#{day.isoformat()}"


def next_token(queue: str, day: date, expires_at: datetime) -> int:
    """The queue's next token number for the day: one atomic ADD on the day's item, unless closed
    (ConditionFailed([QUEUE_CLOSED]), using up no number)."""
    for attempt in range(5):
        item = QueueDayModel(key(queue, day))
        try:
            item.update(actions=[QueueDayModel.value.add(1), QueueDayModel.expires_at.set(expires_at)],
                        condition=QueueDayModel.closed.does_not_exist())
            return int(item.value)
        except UpdateError as exc:
            if cause(exc) == CONDITION_FAILED:
                raise ConditionFailed([QUEUE_CLOSED]) from exc
            # A join's transaction checking the day at this instant: add again.
            if cause(exc) != TRANSACTION_CONFLICT or attempt == 4:
                raise
    raise AssertionError("unreachable")


def stage_open_check(tx: Transaction, queue: str, day: date) -> None:
    """Fail the transaction (QUEUE_CLOSED) if the queue is closed for the day when it lands."""
    tx.check(QUEUE_CLOSED, QueueDayModel, key(queue, day), QueueDayModel.closed.does_not_exist())


def close(queue: str, day: date, at: str, expires_at: datetime) -> None:
    """Close the queue for the day (joins refused from now on); closing again changes nothing."""
    QueueDayModel(key(queue, day)).update(
        actions=[QueueDayModel.closed.set(QueueDayModel.closed | at), QueueDayModel.expires_at.set(expires_at)])


def reopen(queue: str, day: date) -> None:
    """Take joins again for the day."""
    QueueDayModel(key(queue, day)).update(actions=[QueueDayModel.closed.remove()])


def changes(records: list[dict]) -> list[DayChange | None]:
    """The queue days' changes of the counters table's stream records: (queue, day, closed before,
    closed after); None for a record of another counter, or of a day's item removed (its TTL)."""
    def closed(image: dict | None) -> str | None:
        return ((image or {}).get("closed") or {}).get("S")

    found: list[DayChange | None] = []
    for record in records:
        change = record.get("dynamodb") or {}
        name = ((change.get("Keys") or {}).get("name") or {}).get("S", "")
        if not name.startswith(PREFIX) or not change.get("NewImage"):
            found.append(None)
            continue
        queue, _, day = name[len(PREFIX):].rpartition("#")
        found.append(DayChange(queue, date.fromisoformat(day), closed(change.get("OldImage")),
                               closed(change.get("NewImage"))))
    return found
