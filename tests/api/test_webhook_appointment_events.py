"""The appointments' stream function (app.webhook_appointment_events), driven as Lambda drives it: a
new appointment is an `appointment.created` event for the active webhooks that asked for it, found by
one Query of the webhooks (none here, so nothing is queued)."""
from __future__ import annotations

import boto3

import app as handlers
from chalicelib.storage.appointments import AppointmentModel
from tests.support.dynamodb import recording


def test_a_new_appointment_is_an_event_looked_up_against_the_active_webhooks(api, as_role):
    admin, staff = as_role("admin").token, as_role("staff").token
    department = api.post("/departments", {"name": "Cardiology"}, token=admin).body["id"]
    doctor = api.post("/doctors", {"name": "Dr. Who", "specialty": "Cardiology", "department": department},
                      token=admin).body["id"]
    patient = api.post("/patients", {"name": "John Doe"}, token=staff).body["id"]
    booked = api.post("/appointments", {"patient": patient, "doctor": doctor, "date": "2031-01-01T10:00:00Z"},
                      token=staff)
    assert booked.status == 201, booked
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=AppointmentModel.Meta.table_name, Key={"id": {"N": str(booked.body["id"])}})["Item"]
    record = {"eventID": "evt-1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
              "dynamodb": {"NewImage": item, "SequenceNumber": "1"}}
    with recording() as calls:
        handlers.webhook_appointment_events({"Records": [record]}, None)
    assert calls == ["Query"]  # the active webhooks, once for the batch
