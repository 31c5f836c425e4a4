"""What the waiting room's board reads: the numbers being called now, the head of the waiting
list and its length, the day's closed flag and the desks' names. Each is one call whatever the
day's volume: the sparse called and waiting indexes hold only open entries."""
from __future__ import annotations

from datetime import date

from chalicelib.domain.entities import BoardRecords, Call, token_of_rank
from chalicelib.domain.values import optional_int
from chalicelib.storage import queue_days
from chalicelib.storage.departments import DepartmentModel, to_department
from chalicelib.storage.queue_entries import QueueEntryModel, day_key
from chalicelib.storage.service_points import ServicePointModel, to_point
from chalicelib.storage.transactions import read_items


def now_calling(queue: str, day: date, limit: int) -> list[Call]:
    """The queue's called entries of the day, latest call first (one Query on the sparse called index)."""
    return [Call(token_number=int(item.token_number),
                 service_point=optional_int(item.service_point),
                 called_at=item.called_at, recalls=int(item.recalls or 0))
            for item in QueueEntryModel.called_now.query(day_key(queue, day), scan_index_forward=False,
                                                         limit=limit, page_size=limit)]


def next_tokens(queue: str, day: date, limit: int) -> list[int]:
    """The token numbers of the first waiting entries in calling order (one Query, keys only)."""
    return [token_of_rank(int(item.rank)) for item in
            QueueEntryModel.waiting.query(day_key(queue, day), limit=limit, page_size=limit)]


def waiting_count(queue: str, day: date) -> int:
    """How many entries of the queue's day are waiting (one COUNT Query on the sparse waiting index)."""
    return QueueEntryModel.waiting.count(day_key(queue, day))


def board_records(queue: str, day: date, department_id: int | None, point_ids: list[int]) -> BoardRecords:
    """The queue's day (closed flag), the department and the service points, in one TransactGetItems."""
    keys: list = [(queue_days.QueueDayModel, queue_days.key(queue, day))]
    if department_id is not None:
        keys.append((DepartmentModel, department_id))
    keys += [(ServicePointModel, point_id) for point_id in point_ids]
    counter, *rest = read_items(keys)
    department = None
    if department_id is not None:
        item, *rest = rest
        department = to_department(item) if item is not None else None
    points = {int(item.id): to_point(item) for item in rest if item is not None}
    return BoardRecords(closed=counter is not None and counter.closed is not None, department=department,
                        service_points=points)
