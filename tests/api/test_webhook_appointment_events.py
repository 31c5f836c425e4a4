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


def test_a_batch_goes_to_sqs_ten_a_call_and_only_the_records_sqs_refused_are_failures(api, as_role, monkeypatch):
    import botocore.exceptions

    from chalicelib.storage import delivery_queue

    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    admin, staff = as_role("admin").token, as_role("staff").token
    for _ in range(2):
        assert api.post("/webhooks", {"url": "http://127.0.0.1:9/in", "events": ["appointment.created"]},
                        token=admin).status == 201
    department = api.post("/departments", {"name": "Cardiology"}, token=admin).body["id"]
    doctor = api.post("/doctors", {"name": "Dr. Who", "specialty": "Cardiology", "department": department},
                      token=admin).body["id"]
    patient = api.post("/patients", {"name": "John Doe"}, token=staff).body["id"]
    booked = api.post("/appointments", {"patient": patient, "doctor": doctor, "date": "2031-01-01T10:00:00Z"},
                      token=staff).body["id"]
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=AppointmentModel.Meta.table_name, Key={"id": {"N": str(booked)}})["Item"]
    records = [{"eventID": f"evt-{n}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {"NewImage": item, "SequenceNumber": str(100 + n)}} for n in range(12)]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="webhook-deliveries")["QueueUrl"]
    monkeypatch.setenv("DQS_WEBHOOK_QUEUE_URL", url)
    calls, refuse, broken = [], set(), []

    class Sqs:  # moto's SQS, refusing the entries the test names and failing the calls it breaks
        def send_message_batch(self, QueueUrl, Entries):
            calls.append(len(Entries))
            if len(calls) in broken:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url=QueueUrl)
            answer = sqs.send_message_batch(QueueUrl=QueueUrl, Entries=[e for e in Entries if e["Id"] not in refuse])
            return {**answer, "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                                         for e in Entries if e["Id"] in refuse]}

    monkeypatch.setattr(delivery_queue, "_sqs", Sqs)

    def held() -> int:
        return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])

    # 12 events x 2 webhooks: 24 messages in 3 calls, nothing refused; one DynamoDB call for the batch.
    with recording() as dynamodb:
        assert handlers.webhook_appointment_events({"Records": records}, None) == {"batchItemFailures": []}
    assert calls == [10, 10, 4] and held() == 24 and dynamodb == ["Query"]
    # Message 5 (event 2's, second webhook) refused, and the third call lost (events 10 and 11).
    calls.clear()
    refuse.add("5")
    broken.append(3)
    answer = handlers.webhook_appointment_events({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "102"}, {"itemIdentifier": "110"},
                                            {"itemIdentifier": "111"}]}
    assert calls == [10, 10, 4] and held() == 24 + 19


def test_closing_and_reopening_a_queue_are_events_read_from_the_counters_records(api, as_role, monkeypatch):
    """The counters table's records as DynamoDB writes them (the queue day's item before and after):
    app.webhook_queue_events makes queue.closed and queue.opened of them, and nothing of a join's token."""
    from chalicelib.storage import delivery_queue
    from chalicelib.storage.counters import CounterModel

    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    admin, staff = as_role("admin").token, as_role("staff").token
    hook = api.post("/webhooks", {"url": "http://127.0.0.1:9/in", "events": ["queue.closed", "queue.opened"]},
                    token=admin).body["id"]
    department = api.post("/departments", {"name": "Cardiology"}, token=admin).body["id"]
    table = boto3.client("dynamodb", region_name="us-east-1")
    patient = api.post("/patients", {"name": "John Doe"}, token=staff).body["id"]

    def day_item() -> dict | None:
        [item] = [i for i in table.scan(TableName=CounterModel.Meta.table_name, ConsistentRead=True)["Items"]
                  if i["name"]["S"].startswith(f"token#department-{department}#")]
        return item

    def record(n: int, old: dict | None, new: dict) -> dict:
        change = {"Keys": {"name": new["name"]}, "NewImage": new, "SequenceNumber": str(n)}
        return {"eventID": f"e{n}", "eventName": "MODIFY" if old else "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {**change, **({"OldImage": old} if old else {})}}

    assert api.post("/queues/join_queue", {"patient_id": patient, "department": department}, token=staff).status == 201
    joined = day_item()
    assert api.post("/queues/close", {"department": department}, token=staff).status == 200
    closed = day_item()
    assert api.post("/queues/open", {"department": department}, token=staff).status == 200
    opened = day_item()
    sent: list = []
    delivery_queue.use_local(lambda message, delay: sent.append(message))
    try:
        answer = handlers.webhook_queue_events({"Records": [
            record(1, None, joined), record(2, joined, closed), record(3, closed, opened)]}, None)
    finally:
        delivery_queue.use_local(None)
    assert answer == {"batchItemFailures": []}
    assert [(m["webhook"], m["event"]["id"], m["event"]["type"]) for m in sent] == [
        (hook, "evt_e2", "queue.closed"), (hook, "evt_e3", "queue.opened")]
    data = sent[0]["event"]["data"]
    assert data["department"] == department and data["closed_at"] == closed["closed"]["S"]
    assert sent[1]["event"]["data"] == {**data, "closed_at": None}
