"""The webhooks' part of the template (template.py merges it in with one call): the delivery
queue and its dead-letter queue (both encrypted), the four webhook functions pointed at their
streams (entries, appointments, and the counters table's queue days, filtered) and queue with
their own access (stream reads, SQS send / receive / delete on the one queue, the secret for the
delivery function, which unseals the signing secrets), the delivery function's short timeout,
and an alarm on deliveries given up and on the dead-letter queue."""
from __future__ import annotations

import json

from chalicelib.storage.queue_days import PREFIX as DAY_PREFIX
from devtools.package.iam import ENTRIES_TABLE, READS_SECRET, STREAM_ACTIONS
from devtools.package.tables import cfn_name, model_of, table_logical_id

QUEUE, DLQ = "WebhookDeliveryQueue", "WebhookDeliveryDeadLetterQueue"
DELIVERIES, ENTRY_EVENTS = "webhook_deliveries", "webhook_entry_events"
APPOINTMENT_EVENTS, QUEUE_EVENTS = "webhook_appointment_events", "webhook_queue_events"
DELIVERY_TIMEOUT = 20  # a receiver gets 10 s; the function never waits on more than one
# Lambda wants a queue's visibility timeout at least its consumer's timeout; AWS advises six times.
VISIBILITY_TIMEOUT = 6 * DELIVERY_TIMEOUT
MAX_RECEIVES = 5  # a message whose handling itself fails (not a receiver's failure) goes to the DLQ
# The operations alarm topic (devtools/package/operations.py adds it to every template, encrypted
# with a key CloudWatch may use: a topic under aws/sns would never receive an alarm).
ALARM_TOPIC = "AlarmTopic"
NAMESPACE = "DigitalQueueSystem"


def parameter_arn(name: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" + name.lstrip("/")}


def _queue_url() -> dict:
    return {"Ref": QUEUE}


def _queue_arn() -> dict:
    return {"Fn::GetAtt": [QUEUE, "Arn"]}


def _policy(function: str, roles: dict[str, str], statements: list[dict]) -> dict:
    return {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": {"Fn::Sub": "${AWS::StackName}-%s-queue-access" % function.replace("_", "-")},
        "Roles": [{"Ref": roles[function]}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}


def _day_filter(closed_before: bool) -> dict:
    """The queue days' records whose closed flag was set (closed_before) or not, and now is not or is."""
    def closed(present: bool) -> dict:
        return {"closed": {"S": [{"exists": present}]}}
    return {"Pattern": json.dumps({"eventName": ["INSERT", "MODIFY"], "dynamodb": {
        "Keys": {"name": {"S": [{"prefix": DAY_PREFIX}]}},
        "OldImage": closed(closed_before), "NewImage": closed(not closed_before)}}, separators=(",", ":"))}


# The counters table holds ids, throttles and the queue days: its mapping lets through only a queue
# day's closing or reopening (Lambda's event filtering: the other records cost no invocation).
QUEUE_DAY_FILTERS = {"Filters": [_day_filter(False), _day_filter(True)]}


def _stream_reader(function: str, table: str, roles: dict[str, str], filters: dict | None = None) -> tuple[dict, dict]:
    stream = {"Fn::GetAtt": [table_logical_id(model_of(table)), "StreamArn"]}
    name = cfn_name(function)
    # The handler names the records whose deliveries the queue did not take (api/webhooks.py).
    source = {"Stream": stream, "FunctionResponseTypes": ["ReportBatchItemFailures"]}
    if filters:
        source["FilterCriteria"] = filters
    function_part = {"Properties": {
        "Events": {name + "DynamodbEventSource": {"Properties": source}},
        "Environment": {"Variables": {"DQS_WEBHOOK_QUEUE_URL": _queue_url()}}}}
    # The stream's own grants are inline in the function's role, as every stream reader's are, with
    # the mapping's retry limits and on-failure queue (operations.py); here, the delivery queue.
    policy = _policy(function, roles, [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [_queue_arn()]},
    ])
    return function_part, policy


def webhook_resources(resources: dict, roles: dict[str, str], secret_param: str | None) -> dict:
    """The resources to merge; `resources` is what the template holds so far (for the alarm topic)."""
    out: dict = {
        DLQ: {"Type": "AWS::SQS::Queue", "Properties": {
            "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}},
        QUEUE: {"Type": "AWS::SQS::Queue", "Properties": {
            "SqsManagedSseEnabled": True, "VisibilityTimeout": VISIBILITY_TIMEOUT,
            "MessageRetentionPeriod": 4 * 24 * 3600,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [DLQ, "Arn"]}, "maxReceiveCount": MAX_RECEIVES}}},
    }
    for function, table, filters in ((ENTRY_EVENTS, ENTRIES_TABLE, None), (APPOINTMENT_EVENTS, "appointments", None),
                                     (QUEUE_EVENTS, "counters", QUEUE_DAY_FILTERS)):
        out[cfn_name(function)], out[cfn_name(function) + "QueueAccess"] = _stream_reader(function, table, roles,
                                                                                           filters)
    delivery = cfn_name(DELIVERIES)
    out[delivery] = {"Properties": {
        "Timeout": DELIVERY_TIMEOUT,
        "Events": {delivery + "SqsEventSource": {"Properties": {"Queue": _queue_arn()}}},
        "Environment": {"Variables": {"DQS_WEBHOOK_QUEUE_URL": _queue_url()}}}}
    statements = [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                                 "sqs:SendMessage"], "Resource": [_queue_arn()]}]
    if secret_param and DELIVERIES not in READS_SECRET:
        statements.append({"Effect": "Allow", "Action": ["ssm:GetParameter"],
                           "Resource": [parameter_arn(secret_param)]})
    out[delivery + "QueueAccess"] = _policy(DELIVERIES, roles, statements)
    topic = ALARM_TOPIC
    out["WebhookDeliveriesFailedAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": "A webhook delivery was given up after 24 hours of retries.",
        "Namespace": NAMESPACE, "MetricName": "WebhooksFailed",
        "Dimensions": [{"Name": "function", "Value": DELIVERIES}],
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": topic}], "OKActions": [{"Ref": topic}]}}
    out["WebhookDeadLettersAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": "Webhook deliveries whose handling kept failing are in the dead-letter queue.",
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DLQ, "QueueName"]}}],
        "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": topic}], "OKActions": [{"Ref": topic}]}}
    return out


FUNCTIONS_CFN = tuple(cfn_name(f) for f in (DELIVERIES, ENTRY_EVENTS, APPOINTMENT_EVENTS, QUEUE_EVENTS))


def extra_actions(function: str) -> set[str]:
    """What this module grants a function besides its DynamoDB access list (for the template's tests)."""
    if function == DELIVERIES:
        return {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage",
                "ssm:GetParameter"}
    if function in (ENTRY_EVENTS, APPOINTMENT_EVENTS, QUEUE_EVENTS):
        return {*(f"dynamodb:{a}" for a in STREAM_ACTIONS), "dynamodb:ListStreams", "sqs:SendMessage"}
    return set()
