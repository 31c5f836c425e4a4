"""Appointment check-in (chalicelib.domain.checkin)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import parse_id, route
from chalicelib.api.queues import ENTRY, entry_json
from chalicelib.domain import checkin
from chalicelib.domain.permissions import PATIENT, STAFF

bp = Blueprint(__name__)


@route(bp, "/appointments/{appointment_id}/check_in", "POST", tag="appointments", roles=(PATIENT, STAFF),
       status=201, response=ENTRY, errors=(400, 404, 409),
       summary="Check an appointment in on its day, from 60 minutes before it: the patient joins the doctor's "
               "department queue with priority `appointment` (after urgent, before normal, by appointment time)")
def check_in(ctx, appointment_id):
    appointment_id = parse_id(appointment_id, "appointment")
    try:
        return entry_json(checkin.check_in(ctx.user, appointment_id))
    except checkin.AlreadyCheckedIn as exc:
        exc.extra["entry"] = entry_json(exc.entry) if exc.entry else {"id": exc.entry_id}
        raise
