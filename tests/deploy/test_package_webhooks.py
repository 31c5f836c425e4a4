"""The webhooks' part of the deployed template, after the SAM transform: the delivery queue and its
dead-letter queue, the delivery function's own least privilege and event sources, and the alarm."""
from __future__ import annotations

from devtools import event_filter
from tests.support.packaging import of_type
from tests.support.streams import counter_record


def _policies_of(resources: dict, role: str) -> list[dict]:
    """The statements a role is granted: its policies', and its own inline ones (a stream reader's)."""
    attached = [s for p in of_type(resources, "AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    inline = [s for p in resources[role]["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    return attached + inline


def _role_of(resources: dict, handler: str) -> str:
    [function] = [f for f in of_type(resources, "AWS::Lambda::Function").values()
                  if f["Properties"]["Handler"] == handler]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def test_the_delivery_queue_and_its_dead_letter_queue_are_encrypted_and_linked(translated):
    queue, dlq = translated["WebhookDeliveryQueue"], translated["WebhookDeliveryDeadLetterQueue"]
    assert queue["Type"] == dlq["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] and dlq["Properties"]["SqsManagedSseEnabled"]
    assert queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["WebhookDeliveryDeadLetterQueue", "Arn"]}
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * 20


def test_the_delivery_function_reads_its_queue_with_a_short_timeout_and_only_its_access(translated):
    mappings = of_type(translated, "AWS::Lambda::EventSourceMapping").values()
    sqs = [m["Properties"] for m in mappings if m["Properties"]["EventSourceArn"] == {
        "Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}]
    assert len(sqs) == 1 and sqs[0]["BatchSize"] == 1
    [function] = [f for f in of_type(translated, "AWS::Lambda::Function").values()
                  if f["Properties"]["Handler"] == "app.webhook_deliveries"]
    assert function["Properties"]["Timeout"] == 20
    assert function["Properties"]["Environment"]["Variables"]["DQS_WEBHOOK_QUEUE_URL"] == {
        "Ref": "WebhookDeliveryQueue"}
    statements = _policies_of(translated, _role_of(translated, "app.webhook_deliveries"))
    # Its own log group, and X-Ray's writes (a policy with the TracingOn condition), as every function's.
    actions = {a for s in statements for a in s["Action"]} - {
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                       "sqs:GetQueueAttributes", "sqs:SendMessage", "ssm:GetParameter"}
    sqs_resources = [s["Resource"] for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    assert sqs_resources == [[{"Fn::GetAtt": ["WebhookDeliveryQueue", "Arn"]}]]
    tables = [r for s in statements if s["Action"][0].startswith("dynamodb:") for r in s["Resource"]]
    assert tables == [{"Fn::GetAtt": ["WebhooksTable", "Arn"]}, {"Fn::GetAtt": ["WebhookDeliveriesTable", "Arn"]}]


def test_both_streams_feed_the_event_functions(translated):
    mappings = [m["Properties"] for m in of_type(translated, "AWS::Lambda::EventSourceMapping").values()]
    streams = {m["EventSourceArn"]["Fn::GetAtt"][0] for m in mappings if "StreamArn" in str(m["EventSourceArn"])}
    assert {"QueueEntriesTable", "AppointmentsTable"} <= streams
    # Every stream function names the records it failed (the webhooks': those SQS did not take).
    assert all(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] for m in mappings
               if "StreamArn" in str(m["EventSourceArn"]))
    assert translated["AppointmentsTable"]["Properties"]["StreamSpecification"] == {
        "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert "set-by-make-package" not in str(translated)


def test_an_alarm_watches_given_up_deliveries_and_dead_letters(translated):
    alarms = of_type(translated, "AWS::CloudWatch::Alarm")
    failed = alarms["WebhookDeliveriesFailedAlarm"]["Properties"]
    assert (failed["MetricName"], failed["Dimensions"]) == (
        "WebhooksFailed", [{"Name": "function", "Value": "webhook_deliveries"}])
    topic = failed["AlarmActions"][0]["Ref"]
    assert translated[topic]["Type"] == "AWS::SNS::Topic"
    assert alarms["WebhookDeadLettersAlarm"]["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_the_queue_days_reach_their_function_only_when_a_queue_closes_or_reopens(translated):
    assert translated["CountersTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    [mapping] = [m["Properties"] for m in of_type(translated, "AWS::Lambda::EventSourceMapping").values()
                 if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["CountersTable", "StreamArn"]}]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    def passes(event_name, name, old, new) -> bool:
        return event_filter.passes(mapping["FilterCriteria"], counter_record(event_name, name, old, new))

    day, closed, value = "token#general#2026-01-01", {"closed": {"S": "2026-01-01T10:00:00Z"}}, {"value": {"N": "3"}}
    assert passes("INSERT", day, None, closed)  # closed before its first join
    assert passes("MODIFY", day, value, {**value, **closed})  # closed
    assert passes("MODIFY", day, {**value, **closed}, value)  # reopened
    assert not passes("MODIFY", day, value, {"value": {"N": "4"}})  # a join's token
    assert not passes("MODIFY", day, {**value, **closed}, {**value, **closed})  # closed again
    assert not passes("INSERT", day, None, value)  # the day's first token
    assert not passes("REMOVE", day, {**value, **closed}, None)  # the TTL's removal
    assert not passes("MODIFY", "id#patient", value, {"value": {"N": "4"}})  # another counter
    assert not passes("INSERT", "closed#x", None, closed)
    role = _role_of(translated, "app.webhook_queue_events")
    statements = _policies_of(translated, role)
    streams = [r for s in statements if "dynamodb:GetRecords" in s["Action"] for r in s["Resource"]]
    assert streams == [{"Fn::GetAtt": ["CountersTable", "StreamArn"]}]
    # It sends to the delivery queue, and what its mapping gives up on goes to the stream failures' queue.
    queues = sorted(r["Fn::GetAtt"][0] for s in statements if "sqs:SendMessage" in s["Action"] for r in s["Resource"])
    assert queues == ["StreamFailuresQueue", "WebhookDeliveryQueue"]
