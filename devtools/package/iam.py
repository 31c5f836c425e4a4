"""What each of the app's functions may do, and the IAM policy each one gets from it.

The access lists are written out by hand. The test suite records every DynamoDB call the
code makes (tests/support/iam_calls.py) and fails when a call's function lacks it in its
list, or (after a full run) when a list grants an action no call needed.
A transaction needs no action of its own: IAM checks each of its items as the
PutItem, UpdateItem, DeleteItem or ConditionCheckItem it is.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from devtools.package.tables import cfn_name, indexes, model_of, models, table_logical_id

# Where: TABLES is every table of the stage, INDEXES every index of them (both but the tables
# a function never touches: NOT_TOUCHED); otherwise a list of (table suffix, index name or None
# for the table itself), which may also hold TABLES or INDEXES.
TABLES, INDEXES = "tables", "indexes"

# The API (every route, as the function `api_handler`).
API_ACCESS = {
    "GetItem": TABLES,
    "PutItem": TABLES,
    "UpdateItem": TABLES,
    "DeleteItem": TABLES,
    "ConditionCheckItem": TABLES,
    # Every index, and the clinical lists, which are one patient's items of their table in key order;
    # the patient search: one Query of its index table (then the page's records in one TransactGetItems,
    # which IAM checks as a GetItem of each); a webhook's delivery log.
    "Query": [INDEXES, ("clinical-entries", None), ("access-log", None), ("patient-search", None),
              ("webhook-deliveries", None)],
}
# Tables a function's TABLES and INDEXES leave out: the API never touches the WebSocket
# connections (only the WebSocket handlers and the stream handler do).
NOT_TOUCHED = {"api_handler": ("connections",)}

# The scheduled reset (app.queue_reset, queue.expire_past_days): one Query of the open
# entries' index, then per entry one transaction of an Update of the entry and a
# Delete of the patient's claim on the queue.
# Then the reminder pass (reminders.send_due): Queries of the appointments' sparse reminder index, per
# appointment a conditional UpdateItem (the mark, before sending), its patient's and doctor's records.
RESET_ACCESS = {
    "Query": [("queue-entries", "open-date-index"), ("appointments", "reminder-due-index")],
    "UpdateItem": [("queue-entries", None), ("appointments", None)],
    "DeleteItem": [("uniques", None)],
    "GetItem": [("patients", None), ("doctors", None)],
}

# The waiting room's board (chalicelib/domain/waiting_room.board): Queries of the called and
# waiting indexes and of the day's calls, and one TransactGetItems of the day's counter, the
# department and the service points.
BOARD_ACCESS = {
    "Query": [("queue-entries", "called-index"), ("queue-entries", "waiting-rank-index"),
              ("queue-entries", "call-day-index")],
    "GetItem": [("counters", None), ("departments", None), ("service-points", None)],
}

# The WebSocket API's handlers (app.websocket_*): a connection's item, written, read back, deleted;
# a subscribe answers with the board (a screen gone before the answer is deleted).
CONNECT_ACCESS = {"PutItem": [("connections", None)]}
MESSAGE_ACCESS = {"PutItem": [("connections", None)], "DeleteItem": [("connections", None)], **BOARD_ACCESS}
DISCONNECT_ACCESS = {"DeleteItem": [("connections", None)]}

# The entries' stream handler (app.queue_changes): the boards of the queues that changed (their
# head read whole, from the head index), the connections following them (a Query of the queue
# index), and those gone deleted; for "your turn" messages, the entries near the head (from the
# boards' heads, or the notify and waiting indexes) and the patients' records read, and each message
# marked on its entry (a conditional UpdateItem) before it is sent.
CHANGES_ACCESS = {
    "Query": [*BOARD_ACCESS["Query"], ("queue-entries", "waiting-head-index"), ("connections", "queue-index"),
              ("queue-entries", "notify-rank-index")],
    "GetItem": [*BOARD_ACCESS["GetItem"], ("queue-entries", None), ("patients", None)],
    # and each message taken from the day's caps (conditional ADDs on counters; issue 23).
    "UpdateItem": [("queue-entries", None), ("counters", None)],
    "DeleteItem": [("connections", None)],
}

# Webhooks (chalicelib/domain/webhooks.py): the stream functions read the active webhooks (a Query of
# the kind index) and queue deliveries; the delivery function reads its webhook and logs the attempt.
WEBHOOK_EVENTS_ACCESS = {"Query": [("webhooks", "kind-id-index")]}
WEBHOOK_DELIVERY_ACCESS = {"GetItem": [("webhooks", None)], "PutItem": [("webhook-deliveries", None)]}

# Each of the app's functions (chalice's names) and its access.
FUNCTION_ACCESS = {"api_handler": API_ACCESS, "queue_reset": RESET_ACCESS, "websocket_connect": CONNECT_ACCESS,
                   "websocket_message": MESSAGE_ACCESS, "websocket_disconnect": DISCONNECT_ACCESS,
                   "queue_changes": CHANGES_ACCESS, "webhook_entry_events": WEBHOOK_EVENTS_ACCESS,
                   "webhook_appointment_events": WEBHOOK_EVENTS_ACCESS, "webhook_queue_events": WEBHOOK_EVENTS_ACCESS,
                   "webhook_deliveries": WEBHOOK_DELIVERY_ACCESS}
# Functions that send to the WebSocket API's connections (execute-api:ManageConnections).
SENDS_TO_CONNECTIONS = ("websocket_message", "queue_changes")
# The function that reads the entries table's stream.
READS_ENTRIES_STREAM = "queue_changes"
ENTRIES_TABLE = "queue-entries"
# What Lambda's event source mapping does to read a stream, on that stream only.
STREAM_ACTIONS = ("DescribeStream", "GetRecords", "GetShardIterator")
WEBSOCKET_STAGE = "api"  # chalice names the WebSocket API's stage after api_gateway_stage
# Only the API reads the token-signing secret.
READS_SECRET = ("api_handler",)

# Calls made only by devtools, the tests and the benchmark, never on Lambda, so never
# granted: each action and the one storage function that makes it. create_tables makes
# the local server's and the tests' tables; bulk_put writes fixtures in batches.
LOCAL_ONLY = {
    "CreateTable": "create_tables",
    "DescribeTable": "create_tables",  # Model.exists(), before creating
    "UpdateTimeToLive": "create_tables",
    "BatchWriteItem": "bulk_put",
}


def grants(function: str) -> set[tuple[str, str, str | None]]:
    """What a function's policy allows: (action, table suffix, index name or None for the table)."""
    granted = set()
    tables = [m for m in models() if m.Meta.table_suffix not in NOT_TOUCHED.get(function, ())]
    for action, where in FUNCTION_ACCESS[function].items():
        for place in [where] if isinstance(where, str) else where:
            if place == TABLES:
                granted.update((action, m.Meta.table_suffix, None) for m in tables)
            elif place == INDEXES:
                granted.update((action, m.Meta.table_suffix, i) for m in tables for i in indexes(m))
            else:
                suffix, index = place
                granted.add((action, suffix, index))
    return granted


def _parameter_arn(name: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" + name.lstrip("/")}


def _arn(suffix: str, index: str | None) -> dict:
    logical = table_logical_id(model_of(suffix))
    if index is None:
        return {"Fn::GetAtt": [logical, "Arn"]}
    return {"Fn::Sub": "${%s.Arn}/index/%s" % (logical, index)}


def data_access_policy(function: str, role: str, log_group: str, secret_param: str | None,
                       previous_secret_param: str | None = None) -> dict:
    """One function's access to this stage's tables, indexes and secret parameter, and to its own
    log group (by logical id), no more."""
    resources_by_action: dict[str, list] = {}
    for action, suffix, index in sorted(grants(function), key=lambda g: (g[0], g[1], g[2] or "")):
        resources_by_action.setdefault(action, []).append(_arn(suffix, index))
    # One statement for each set of resources: the actions that share them.
    statements: dict[str, dict] = {}
    for action, resources in sorted(resources_by_action.items()):
        key = json.dumps(resources, sort_keys=True)
        statement = statements.setdefault(key, {"Effect": "Allow", "Action": [], "Resource": resources})
        statement["Action"].append(f"dynamodb:{action}")
    policy_statements = list(statements.values())
    # Its own log group only (the group exists before the function writes: chalice's LogGroup
    # resource; the stream, a new one per instance, is created by the function).
    policy_statements.append({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                              "Resource": [{"Fn::GetAtt": [log_group, "Arn"]}]})
    if function == READS_ENTRIES_STREAM:
        # Its stream read is inline in its role (devtools/package/operations.py).
        policy_statements += messaging_statements()
    if function in SENDS_TO_CONNECTIONS:
        # This stage's WebSocket API only: post to (and drop) its connections.
        policy_statements.append({"Effect": "Allow", "Action": ["execute-api:ManageConnections"], "Resource": [
            {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                        "${WebsocketAPI}/%s/*/@connections/*" % WEBSOCKET_STAGE}]})
    if secret_param and function in READS_SECRET:
        # A SecureString under the AWS-managed key aws/ssm: that key's own policy lets any
        # principal of the account decrypt through SSM, so no kms:Decrypt grant is needed.
        # The previous secret's parameter too, kept during a rotation (docs/OPERATIONS.md).
        names = [secret_param] + ([previous_secret_param] if previous_secret_param else [])
        policy_statements.append({"Effect": "Allow", "Action": ["ssm:GetParameter"],
                                  "Resource": [_parameter_arn(name) for name in names]})
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": {"Fn::Sub": "${AWS::StackName}-%s-data-access" % function.replace("_", "-")},
            "Roles": [{"Ref": role}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": policy_statements},
        },
    }


def messaging_statements() -> list[dict]:
    """The stream handler's "your turn" messages.

    SMS through SNS, to phone numbers only: a phone number has no ARN, so the grant is every
    resource but an SNS one (NotResource), which leaves out every topic and endpoint.
    Email through SES from the deploy parameter EmailSender only (ses:FromAddress), through
    any identity of this account and region: the one SES checks is the address's or its
    domain's, whichever is verified, and in the sandbox each recipient's too.
    """
    return [
        {"Effect": "Allow", "Action": ["sns:Publish"], "NotResource": [{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}]},
        {"Effect": "Allow", "Action": ["ses:SendEmail"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"}],
         "Condition": {"StringEquals": {"ses:FromAddress": {"Ref": "EmailSender"}}}},
    ]


def policy_logical_id(function: str) -> str:
    return cfn_name(function) + "DataAccessPolicy"


def function_roles(project_dir: Path, stage: str) -> dict[str, str]:
    """Each of the app's functions (chalice's name) and the logical id of the role chalice gives it."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models as chalice_models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    # Importing the app from the build copy must not leave .pyc files for chalice to zip.
    sys.dont_write_bytecode = True
    config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
    application = ApplicationGraphBuilder().build(config, stage)
    roles = {}
    for resource in DependencyBuilder().build_dependencies(application):
        if isinstance(resource, chalice_models.LambdaFunction):
            if not isinstance(resource.role, chalice_models.ManagedIAMRole):
                raise SystemExit(f"Function {resource.resource_name} has no role of its own: keep autogen_policy off.")
            roles[resource.resource_name] = cfn_name(resource.role.resource_name)
    if len(set(roles.values())) != len(roles):
        raise SystemExit(f"Functions share a role ({roles}): each needs its own policy.")
    return roles
