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

# Where: TABLES is every table of the stage, INDEXES every index of them; otherwise a list of
# (table suffix, index name or None for the table itself), which may also hold TABLES or INDEXES.
TABLES, INDEXES = "tables", "indexes"

# The API (every route, as the function `api_handler`).
API_ACCESS = {
    "GetItem": TABLES,
    "PutItem": TABLES,
    "UpdateItem": TABLES,
    "DeleteItem": TABLES,
    "ConditionCheckItem": TABLES,
    # Every index, and the clinical lists, which are one patient's items of their table in key order.
    "Query": [INDEXES, ("clinical-entries", None), ("access-log", None)],
}

# The scheduled reset (app.queue_reset, queue.expire_past_days): one Query of the open
# entries' index, then per entry one transaction of an Update of the entry and a
# Delete of the patient's claim on the queue.
RESET_ACCESS = {
    "Query": [("queue-entries", "open-date-index")],
    "UpdateItem": [("queue-entries", None)],
    "DeleteItem": [("uniques", None)],
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
# a subscribe answers with the board.
CONNECT_ACCESS = {"PutItem": [("connections", None)]}
MESSAGE_ACCESS = {"PutItem": [("connections", None)], **BOARD_ACCESS}
DISCONNECT_ACCESS = {"DeleteItem": [("connections", None)]}

# The entries' stream handler (app.queue_changes): the boards of the queues that changed, the
# connections following them (a Query of the queue index), and those gone deleted; for "your turn"
# messages, the entries near the head and the patients' records read, and each message marked on
# its entry (a conditional UpdateItem) before it is sent.
CHANGES_ACCESS = {
    "Query": [*BOARD_ACCESS["Query"], ("connections", "queue-index")],
    "GetItem": [*BOARD_ACCESS["GetItem"], ("queue-entries", None), ("patients", None)],
    # and each message taken from the day's caps (conditional ADDs on counters; issue 23).
    "UpdateItem": [("queue-entries", None), ("counters", None)],
    "DeleteItem": [("connections", None)],
}

# Each of the app's functions (chalice's names) and its access.
FUNCTION_ACCESS = {"api_handler": API_ACCESS, "queue_reset": RESET_ACCESS, "websocket_connect": CONNECT_ACCESS,
                   "websocket_message": MESSAGE_ACCESS, "websocket_disconnect": DISCONNECT_ACCESS,
                   "queue_changes": CHANGES_ACCESS}
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
    for action, where in FUNCTION_ACCESS[function].items():
        for place in [where] if isinstance(where, str) else where:
            if place == TABLES:
                granted.update((action, m.Meta.table_suffix, None) for m in models())
            elif place == INDEXES:
                granted.update((action, m.Meta.table_suffix, i) for m in models() for i in indexes(m))
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


def data_access_policy(function: str, role: str, secret_param: str | None, email_sender: str | None = None) -> dict:
    """One function's access to this stage's tables, indexes and secret parameter, no more."""
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
    if function == READS_ENTRIES_STREAM:
        entries = table_logical_id(model_of(ENTRIES_TABLE))
        policy_statements.append({"Effect": "Allow", "Action": [f"dynamodb:{action}" for action in STREAM_ACTIONS],
                                  "Resource": [{"Fn::GetAtt": [entries, "StreamArn"]}]})
        # ListStreams names no resource in IAM: it lists stream ARNs only.
        policy_statements.append({"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": ["*"]})
        policy_statements += messaging_statements(email_sender)
    if function in SENDS_TO_CONNECTIONS:
        # This stage's WebSocket API only: post to (and drop) its connections.
        policy_statements.append({"Effect": "Allow", "Action": ["execute-api:ManageConnections"], "Resource": [
            {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                        "${WebsocketAPI}/%s/*/@connections/*" % WEBSOCKET_STAGE}]})
    if secret_param and function in READS_SECRET:
        # A SecureString under the AWS-managed key aws/ssm: that key's own policy lets any
        # principal of the account decrypt through SSM, so no kms:Decrypt grant is needed.
        policy_statements.append({"Effect": "Allow", "Action": ["ssm:GetParameter"],
                                  "Resource": [_parameter_arn(secret_param)]})
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": {"Fn::Sub": "${AWS::StackName}-%s-data-access" % function.replace("_", "-")},
            "Roles": [{"Ref": role}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": policy_statements},
        },
    }


def messaging_statements(sender: str | None) -> list[dict]:
    """The stream handler's "your turn" messages: SMS through SNS (a phone number has no ARN to name),
    email through SES from the stage's sender identity only."""
    statements = [{"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["*"]}]
    if sender:
        statements.append({"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": [
            {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/" + sender}]})
    return statements


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
