"""The token queue: join, call next, serve, positions, today's list, and the reset."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import queue
from chalicelib.domain.entities import ENTRY_STATUSES as STATUSES
from chalicelib.domain.entities import PRIORITIES, QueueEntry
from chalicelib.domain.permissions import ADMIN, ANY_ROLE, PATIENT, STAFF
from chalicelib.domain.values import iso_date
from chalicelib.schema import Choice, Date, Int, Schema, Str

bp = Blueprint(__name__)

TAG = "queues"

JOIN = Schema("JoinQueueRequest", {
    "patient_id": Int(description="Required for staff; a patient may omit it (it is them)."),
    "department": Int(nullable=True, description="A department's queue; omitted or null = the general queue."),
    "priority": Choice(PRIORITIES, description="`urgent` is called first; staff and admins only."),
})

CALL_NEXT = Schema("CallNextRequest", {
    "department": Int(nullable=True, description="A department's queue; omitted or null = the general queue."),
})

_ENTRY_FIELDS = {
    "id": Int(),
    "token_number": Int(description="1, 2, 3... per queue per day."),
    "queue_date": Date(description="The clinic's local date the entry belongs to."),
    "department": Int(nullable=True),
    "patient": Int(),
    "status": Choice(STATUSES),
    "priority": Choice(PRIORITIES),
    "created_at": Str(max_length=40),
    "called_at": Str(max_length=40, nullable=True),
    "served_at": Str(max_length=40, nullable=True),
}

ENTRY = Schema("QueueEntry", _ENTRY_FIELDS)

CALLED = Schema("CallNextResult", {**_ENTRY_FIELDS, "message": Str(max_length=200)},
                description="The entry now called, or only `message` when the queue is empty.")

POSITION = Schema("QueuePosition", {
    "id": Int(),
    "token_number": Int(),
    "status": Choice(STATUSES),
    "people_ahead": Int(minimum=0, description="Waiting entries that will be called before this one."),
    "position": Int(minimum=0, description="people_ahead + 1 while waiting, else 0."),
})

RESET = Schema("QueueResetResult", {
    "message": Str(max_length=200),
    "expired": Int(minimum=0, description="Entries of earlier days this run marked expired."),
})

LIST_QUERY = {"department": Int(description="A department's queue; omitted = the general queue.")}


def entry_json(entry: QueueEntry) -> dict:
    return {
        "id": entry.id, "token_number": entry.token_number, "queue_date": iso_date(entry.queue_date),
        "department": entry.department, "patient": entry.patient, "status": entry.status,
        "priority": entry.priority, "created_at": entry.created_at, "called_at": entry.called_at,
        "served_at": entry.served_at,
    }


@route(bp, "/queues", "GET", summary="Today's entries of a queue, in token order (patients: their own)",
       tag=TAG, roles=ANY_ROLE, many=True, query=LIST_QUERY, response=ENTRY)
def list_today(ctx):
    limit, cursor, filters = ctx.page()
    return page_json(queue.list_today(ctx.user, filters.get("department"), limit, cursor), entry_json)


@route(bp, "/queues/join_queue", "POST", summary="Join a queue and get today's next token number", tag=TAG,
       roles=(PATIENT, STAFF), status=201, body=JOIN, response=ENTRY, errors=(404, 409))
def join_queue(ctx):
    try:
        return entry_json(queue.join(ctx.user, ctx.body()))
    except queue.AlreadyQueued as exc:
        exc.extra["entry"] = entry_json(exc.entry)
        raise


@route(bp, "/queues/call_next", "POST", summary="Call the next token (urgent first, then lowest number)",
       tag=TAG, roles=(STAFF,), body=CALL_NEXT, response=CALLED)
def call_next(ctx):
    entry = queue.call_next(ctx.user, ctx.body().get("department"))
    return entry_json(entry) if entry else {"message": "The queue is empty."}


@route(bp, "/queues/reset_queue", "POST", summary="Expire what is left of earlier days (admin)", tag=TAG,
       roles=(ADMIN,), response=RESET)
def reset_queue(ctx):
    expired = queue.expire_past_days()
    return {"message": f"Expired {expired} entries from earlier days.", "expired": expired}


@route(bp, "/queues/{entry_id}", "GET", summary="One queue entry (patients: their own)", tag=TAG,
       roles=ANY_ROLE, response=ENTRY)
def get_entry(ctx, entry_id):
    return entry_json(queue.get_entry(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/mark_served", "POST", summary="Mark a token served", tag=TAG, roles=(STAFF,),
       response=ENTRY, errors=(400,))
def mark_served(ctx, entry_id):
    return entry_json(queue.mark_served(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/position", "GET", summary="How many people are ahead of an entry", tag=TAG,
       roles=ANY_ROLE, response=POSITION)
def position(ctx, entry_id):
    return queue.position(ctx.user, parse_id(entry_id, "queue entry"))
