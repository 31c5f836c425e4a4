"""The token queue: join, the desk's moves (call, recall, no-show, requeue, cancel, transfer, serve),
positions, today's list, closing and opening today's queue, statistics, and the reset."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import queue
from chalicelib.domain.entities import ENTRY_PRIORITIES, PRIORITIES, QueueEntry
from chalicelib.domain.entities import ENTRY_STATUSES as STATUSES
from chalicelib.domain.permissions import ADMIN, ANY_ROLE, DOCTOR, PATIENT, STAFF
from chalicelib.domain.queue import JoinRequest, TransferRequest
from chalicelib.domain.values import iso_date
from chalicelib.schema import Choice, Date, Field, Int, List, Obj, Schema, Str

bp = Blueprint(__name__)

TAG = "queues"

JOIN = Schema("JoinQueueRequest", {
    "patient_id": Int(description="Required for staff; a patient may omit it (it is them)."),
    "department": Int(nullable=True, description="A department's queue; omitted or null = the general queue."),
    "priority": Choice(PRIORITIES, description="`urgent` is called first; staff and admins only."),
    "notify": Choice(("sms", "email"), nullable=True,
                     description="Tell the patient when their turn nears and when called, by SMS (the record's "
                                 "phone) or email; 400 if the record has none, or one the patient set themself and "
                                 "never verified (POST /patients/{id}/verify_contact/); 429 with Retry-After past "
                                 "DQS_MESSAGES_PER_PATIENT_DAY messages a day for the patient, or DQS_SMS_PER_DAY "
                                 "SMS a day for the clinic."),
})

CALL_NEXT = Schema("CallNextRequest", {
    "department": Int(nullable=True, description="A department's queue; omitted or null = the general queue."),
    "service_point": Int(nullable=True, description="The desk or room calling: an active service point of "
                                                    "this queue."),
})

RECALL = Schema("RecallRequest", {
    "service_point": Int(nullable=True, description="Call to another service point of this queue; "
                                                    "omitted = where it was called."),
})

TRANSFER = Schema("TransferRequest", {
    "department": Int(required=True, nullable=True, description="The target queue: a department, or null for "
                                                                "the general queue."),
    "priority": Choice(PRIORITIES, description="Omitted = the entry's own; `urgent` is staff-only."),
})

QUEUE = Schema("QueueRequest", {
    "department": Int(nullable=True, description="A department's queue; omitted or null = the general queue."),
})

EVENT = Schema("QueueEntryEvent", {
    "status": Choice(STATUSES),
    "at": Str(max_length=40),
    "by": Int(nullable=True, description="The user who made the change; null for the nightly reset."),
    "service_point": Int(nullable=True),
})

_ENTRY_FIELDS = {
    "id": Int(),
    "token_number": Int(description="1, 2, 3... per queue per day."),
    "queue_date": Date(description="The clinic's local date the entry belongs to."),
    "department": Int(nullable=True),
    "patient": Int(),
    "status": Choice(STATUSES),
    "priority": Choice(ENTRY_PRIORITIES, description="`appointment`: checked in for an appointment."),
    "created_at": Str(max_length=40),
    "called_at": Str(max_length=40, nullable=True),
    "served_at": Str(max_length=40, nullable=True),
    "service_point": Int(nullable=True, description="Where it was last called to."),
    "called_by": Int(nullable=True, description="The user who last called it."),
    "recalls": Int(minimum=0, description="How many times it was called again."),
    "visit": Int(description="The first entry of this visit (its own id unless it came by transfer)."),
    "transferred_from": Int(nullable=True, description="The entry it was transferred from."),
    "closed_at": Str(max_length=40, nullable=True, description="When it stopped being open."),
    "history": List(Obj(EVENT), description="Every change, in order."),
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
    "estimated_wait_minutes": Int(minimum=0, nullable=True,
                                  description="From the queue's calling rate today; null with fewer than 3 "
                                              "calls today or when not waiting."),
})

CLOSE = Schema("QueueCloseResult", {
    "message": Str(max_length=200),
    "expired": Int(minimum=0, description="Waiting entries this close marked expired."),
})

MESSAGE = Schema("QueueMessage", {"message": Str(max_length=200)})



class Minutes(Field):
    """A number of minutes (a tenth at most), for response descriptions."""
    json_type = "number"


SPREAD = Schema("MinutesSpread", {"median": Minutes(), "p90": Minutes()},
                description="Median and 90th percentile (nearest rank), in minutes.")

POINT_STATS = Schema("ServicePointStats", {
    "service_point": Int(),
    "called": Int(minimum=0, description="Entries called to it (last call)."),
    "served": Int(minimum=0),
    "service_minutes": Obj(SPREAD, nullable=True),
})

STATS = Schema("QueueStats", {
    "queue_date": Date(),
    "department": Int(nullable=True),
    "joined": Int(minimum=0, description="Every entry of the day, whatever its status."),
    **{status: Int(minimum=0) for status in STATUSES},
    "wait_minutes": Obj(SPREAD, nullable=True, description="From joining to the first call."),
    "service_minutes": Obj(SPREAD, nullable=True, description="From the (last) call to served."),
    "by_service_point": List(Obj(POINT_STATS)),
})

STATS_QUERY = {
    "date": Date(description="The clinic's day; omitted = today."),
    "department": Int(description="A department's queue; omitted = the general queue."),
}

RESET = Schema("QueueResetResult", {
    "message": Str(max_length=200),
    "expired": Int(minimum=0, description="Entries of earlier days this run marked expired."),
})

LIST_QUERY = {"department": Int(description="A department's queue; omitted = the general queue.")}


def entry_json(entry: QueueEntry) -> dict:
    return {
        "id": entry.id, "token_number": entry.token_number, "queue_date": iso_date(entry.queue_date),
        "department": entry.department, "patient": entry.patient_id, "status": entry.status,
        "priority": entry.priority, "created_at": entry.created_at, "called_at": entry.called_at,
        "served_at": entry.served_at, "service_point": entry.service_point, "called_by": entry.called_by,
        "recalls": entry.recalls, "visit": entry.visit, "transferred_from": entry.transferred_from,
        "closed_at": entry.closed_at,
        "history": [{"status": e.status, "at": e.at, "by": e.by, "service_point": e.service_point}
                    for e in entry.history],
    }


DESK = (DOCTOR, STAFF)  # a doctor: their own department's queue only (checked in the domain)
# A well-formed move on an entry whose state refuses it (its status, its day, a place the
# patient holds elsewhere, a closed queue) answers 409 naming the field.
STATE = 409


@route(bp, "/queues", "GET", summary="Today's entries of a queue, in token order (patients: their own)",
       tag=TAG, roles=ANY_ROLE, many=True, query=LIST_QUERY, response=ENTRY)
def list_today(ctx):
    limit, cursor, filters = ctx.page()
    return page_json(queue.list_today(ctx.user, filters.get("department"), limit, cursor), entry_json)


@route(bp, "/queues/join_queue", "POST", summary="Join a queue and get today's next token number", tag=TAG,
       roles=(PATIENT, STAFF), status=201, body=JOIN, response=ENTRY, errors=(404, STATE, 429), idempotent=True)
def join_queue(ctx):
    try:
        return entry_json(queue.join(ctx.user, JoinRequest(**ctx.body())))
    except queue.AlreadyQueued as exc:
        exc.extra["entry"] = entry_json(exc.entry)
        raise


@route(bp, "/queues/call_next", "POST", summary="Call the next token (urgent first, then lowest number)",
       tag=TAG, roles=DESK, body=CALL_NEXT, response=CALLED, errors=(STATE,), idempotent=True)
def call_next(ctx):
    body = ctx.body()
    entry = queue.call_next(ctx.user, body.get("department"), body.get("service_point"))
    return entry_json(entry) if entry else {"message": "The queue is empty."}


@route(bp, "/queues/close", "POST", summary="Close today's queue: no more joins, waiting entries expire",
       tag=TAG, roles=(STAFF,), body=QUEUE, response=CLOSE)
def close_queue(ctx):
    expired = queue.close_queue(ctx.user, ctx.body().get("department"))
    return {"message": f"The queue is closed for today; {expired} waiting entries expired.", "expired": expired}


@route(bp, "/queues/open", "POST", summary="Open today's queue for joins again", tag=TAG, roles=(STAFF,),
       body=QUEUE, response=MESSAGE)
def open_queue(ctx):
    queue.open_queue(ctx.user, ctx.body().get("department"))
    return {"message": "The queue is open for today."}


@route(bp, "/queues/stats", "GET", summary="A queue's day in numbers: statuses, waits, service times",
       tag=TAG, roles=(DOCTOR, STAFF), query=STATS_QUERY, response=STATS)
def stats(ctx):
    params = ctx.query()
    result = queue.stats(ctx.user, params.get("date"), params.get("department"))
    return {**result, "queue_date": iso_date(result["queue_date"])}


@route(bp, "/queues/reset_queue", "POST", summary="Expire what is left of earlier days (admin)", tag=TAG,
       roles=(ADMIN,), response=RESET)
def reset_queue(ctx):
    expired = queue.expire_past_days()
    return {"message": f"Expired {expired} entries from earlier days.", "expired": expired}


@route(bp, "/queues/{entry_id}", "GET", summary="One queue entry (patients: their own)", tag=TAG,
       roles=ANY_ROLE, response=ENTRY)
def get_entry(ctx, entry_id):
    return entry_json(queue.get_entry(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/mark_served", "POST", summary="Mark a called or waiting token served", tag=TAG,
       roles=DESK, response=ENTRY, errors=(STATE,))
def mark_served(ctx, entry_id):
    return entry_json(queue.mark_served(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/recall", "POST", summary="Call a called token again", tag=TAG, roles=DESK,
       body=RECALL, response=ENTRY, errors=(STATE,))
def recall(ctx, entry_id):
    entry_id = parse_id(entry_id, "queue entry")
    return entry_json(queue.recall(ctx.user, entry_id, ctx.body().get("service_point")))


@route(bp, "/queues/{entry_id}/no_show", "POST", summary="A called patient did not come: close the entry",
       tag=TAG, roles=DESK, response=ENTRY, errors=(STATE,))
def no_show(ctx, entry_id):
    return entry_json(queue.no_show(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/requeue", "POST", summary="Put a called or no-show token back in its place",
       tag=TAG, roles=(STAFF,), response=ENTRY, errors=(STATE,))
def requeue(ctx, entry_id):
    return entry_json(queue.requeue(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/cancel", "POST", summary="Cancel a waiting or called token (patients: their own)",
       tag=TAG, roles=(PATIENT, STAFF), response=ENTRY, errors=(STATE,))
def cancel(ctx, entry_id):
    return entry_json(queue.cancel(ctx.user, parse_id(entry_id, "queue entry")))


@route(bp, "/queues/{entry_id}/transfer", "POST", summary="Send a patient on to another queue (a new entry)",
       tag=TAG, roles=DESK, status=201, body=TRANSFER, response=ENTRY, errors=(STATE,), idempotent=True)
def transfer(ctx, entry_id):
    entry_id = parse_id(entry_id, "queue entry")
    return entry_json(queue.transfer(ctx.user, entry_id, lambda: TransferRequest(**ctx.body())))


@route(bp, "/queues/{entry_id}/position", "GET", summary="How many people are ahead of an entry", tag=TAG,
       roles=ANY_ROLE, response=POSITION)
def position(ctx, entry_id):
    return queue.position(ctx.user, parse_id(entry_id, "queue entry"))
