"""The token queue, by job:

- joining.py     a patient's next token today (one open place per patient, queue and day)
- desk.py        the desk's moves: call the next, recall, no-show, requeue, cancel, transfer, serve
- day.py         closing and opening today's queue; expiring what is left of ended days
- positions.py   one entry, its position and wait estimate, today's list
- stats.py       a queue's day in numbers
- rules.py       what they share: reading an entry, the queue's department, moves and their 409s

Storage is reached only through `stores()` (chalicelib.domain.ports.queue).
"""
from chalicelib.domain.queue.day import close_queue, expire_past_days, open_queue
from chalicelib.domain.queue.desk import (
    TransferRequest,
    call_next,
    cancel,
    forget_contention,
    mark_served,
    no_show,
    recall,
    requeue,
    transfer,
)
from chalicelib.domain.queue.joining import AlreadyQueued, JoinRequest, join
from chalicelib.domain.queue.positions import RATE_CALLS, estimate_wait, get_entry, list_today, position
from chalicelib.domain.queue.stats import stats

__all__ = [
    "RATE_CALLS", "AlreadyQueued", "JoinRequest", "TransferRequest", "call_next", "cancel", "close_queue",
    "estimate_wait", "expire_past_days", "forget_contention", "get_entry", "join", "list_today", "mark_served",
    "no_show", "open_queue", "position", "recall", "requeue", "stats", "transfer",
]
