"""The deployment artifact, as `make package` builds it, checked without an AWS account.

The template is built once per session for the prod stage (chalice package with the
merged resources, then cfn-lint); every table is compared with the PynamoDB models.
cfn-lint checks the template as written; what CloudFormation deploys is what the SAM
transform makes of it, so the template is also run through the SAM translator
(aws-sam-translator, offline) and the stage, gateway responses and policies are
checked in that result.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib import storage
from devtools import package
from devtools.package import webhooks as package_webhooks
from devtools.stage import stage_env as config_stage_env
from tests.support.packaging import PROJECT_DIR, SENTINEL_SECRET, STAGE, of_type, sam_transform

MAX_ZIP_BYTES = 1024 * 1024  # 1 MiB, bytecode included (the naive package, botocore bundled, is about 18 MB)


def stage_env() -> dict:
    return config_stage_env(STAGE)


def expected_table(model) -> dict:
    """What the deployed table must look like, read from the model's attributes and indexes."""
    keys = {a.attr_name: a for a in model.get_attributes().values() if a.is_hash_key or a.is_range_key}
    definitions = {name: a.attr_type for name, a in keys.items()}

    def key_schema(attributes) -> list:
        return sorted(([a.attr_name, "HASH" if a.is_hash_key else "RANGE"] for a in attributes
                       if a.is_hash_key or a.is_range_key), key=lambda k: k[1] != "HASH")

    indexes = {"GlobalSecondaryIndexes": {}, "LocalSecondaryIndexes": {}}
    for index in model._indexes.values():
        kind = "GlobalSecondaryIndexes" if isinstance(index, GlobalSecondaryIndex) else "LocalSecondaryIndexes"
        assert isinstance(index, (GlobalSecondaryIndex, LocalSecondaryIndex))
        attributes = list(index.Meta.attributes.values())
        for a in attributes:
            if a.is_hash_key or a.is_range_key:
                definitions[a.attr_name] = a.attr_type
        projection = index.Meta.projection
        indexes[kind][index.Meta.index_name] = {
            "keys": key_schema(attributes), "projection": projection.projection_type,
            "non_key": sorted(getattr(projection, "non_key_attributes", None) or []),
        }
    return {"keys": key_schema(keys.values()), "definitions": definitions, **indexes}


def actual_table(table: dict) -> dict:
    props = table["Properties"]

    def index_map(kind):
        return {i["IndexName"]: {"keys": [[k["AttributeName"], k["KeyType"]] for k in i["KeySchema"]],
                                 "projection": i["Projection"]["ProjectionType"],
                                 "non_key": sorted(i["Projection"].get("NonKeyAttributes", []))}
                for i in props.get(kind, [])}

    return {
        "keys": [[k["AttributeName"], k["KeyType"]] for k in props["KeySchema"]],
        "definitions": {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]},
        "GlobalSecondaryIndexes": index_map("GlobalSecondaryIndexes"),
        "LocalSecondaryIndexes": index_map("LocalSecondaryIndexes"),
    }


def table_for(resources: dict, model) -> dict:
    name = stage_env()["DQS_TABLE_PREFIX"] + model.Meta.table_suffix
    matches = [t for t in of_type(resources, "AWS::DynamoDB::Table").values() if t["Properties"]["TableName"] == name]
    assert len(matches) == 1, f"no single table named {name}"
    return matches[0]


# -- the build ------------------------------------------------------------------

def test_package_builds_offline_and_cfn_lint_finds_no_errors(built):
    # devtools.package exits non-zero on any cfn-lint error; warnings would be printed here.
    assert not re.search(r":E\d{4}:", built["output"]), built["output"]
    assert (built["dir"] / "deployment.zip").exists()
    assert built["template"]["Transform"] == "AWS::Serverless-2016-10-31"


# -- tables ---------------------------------------------------------------------

def test_every_model_has_its_table_and_no_other_table_exists(resources):
    names = {t["Properties"]["TableName"] for t in of_type(resources, "AWS::DynamoDB::Table").values()}
    prefix = stage_env()["DQS_TABLE_PREFIX"]
    assert names == {prefix + m.Meta.table_suffix for m in storage.MODELS}
    assert len(storage.MODELS) >= 6


@pytest.mark.parametrize("model", storage.MODELS, ids=lambda m: m.Meta.table_suffix)
def test_table_matches_model_keys_types_and_indexes(resources, model):
    assert actual_table(table_for(resources, model)) == expected_table(model)


@pytest.mark.parametrize("model", storage.MODELS, ids=lambda m: m.Meta.table_suffix)
def test_table_is_on_demand_recoverable_protected_encrypted(resources, model):
    props = table_for(resources, model)["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    # Kept when the stack goes or a failed first create rolls back: deleting a protected
    # table would fail instead (DELETE_FAILED, ROLLBACK_FAILED).
    table = table_for(resources, model)
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["SSESpecification"]["SSEEnabled"] is True
    ttl = getattr(model.Meta, "ttl_attribute", None)
    if ttl:
        assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_uniques_table_expires_claims():
    # The one model that declares a TTL today; guards the test above against a silent rename.
    assert any(getattr(m.Meta, "ttl_attribute", None) == "expires_at" for m in storage.MODELS)


# -- functions --------------------------------------------------------------------

def test_every_function_points_at_the_stage_tables_and_secret_parameter(resources):
    functions = of_type(resources, "AWS::Serverless::Function")
    assert "APIHandler" in functions
    expected = stage_env()
    for name, function in functions.items():
        env = dict(function["Properties"]["Environment"]["Variables"])
        # The display page (its CSP) and the stream handler (where it posts) know the WebSocket API's URL.
        websocket = env.pop("DQS_WEBSOCKET_URL", None)
        assert (websocket == package.WEBSOCKET_URL) == (name in ("APIHandler", "QueueChanges")), name
        # Only the stream handler sends email, from the required deploy parameter.
        sender = env.pop("DQS_EMAIL_SENDER", None)
        assert (sender == {"Ref": "EmailSender"}) == (name == "QueueChanges"), name
        queue = env.pop("DQS_WEBHOOK_QUEUE_URL", None)  # the webhook functions' delivery queue
        assert (queue == {"Ref": "WebhookDeliveryQueue"}) == (name in package_webhooks.FUNCTIONS_CFN), name
        assert env == expected, name
        assert "DQS_JWT_SECRET" not in env and "DQS_DYNAMODB_ENDPOINT" not in env
        assert env["DQS_JWT_SECRET_PARAM"].startswith("/dqs/")
        assert function["Properties"]["MemorySize"] >= 256
        assert function["Properties"]["Timeout"] <= 300


def test_scheduled_functions_of_the_app_are_deployed_with_their_schedules(resources):
    from chalice.app import ScheduledEventConfig

    from app import app

    scheduled = [e for e in app.event_sources if isinstance(e, ScheduledEventConfig)]
    assert scheduled, "the nightly queue reset must be a scheduled function"
    functions = of_type(resources, "AWS::Serverless::Function").values()
    for event in scheduled:
        expression = event.schedule_expression
        expression = expression if isinstance(expression, str) else expression.to_string()
        deployed = [f for f in functions if f["Properties"]["Handler"] == event.handler_string]
        assert len(deployed) == 1, event.name
        schedules = [e["Properties"]["Schedule"] for e in deployed[0]["Properties"].get("Events", {}).values()
                     if e["Type"] == "Schedule"]
        assert schedules == [expression]


def test_log_groups_belong_to_deployed_functions(resources):
    functions = set(of_type(resources, "AWS::Serverless::Function"))
    groups = {name: group for name, group in of_type(resources, "AWS::Logs::LogGroup").items()
              if name not in ("RestAPIAccessLogGroup", "WebsocketAPIAccessLogGroup")}
    assert len(groups) == len(functions)
    for group in groups.values():
        referenced = re.findall(r"\$\{(\w+)\}", group["Properties"]["LogGroupName"]["Fn::Sub"])
        assert referenced and set(referenced) <= functions
        assert group["Properties"]["RetentionInDays"] > 0


# -- least privilege ------------------------------------------------------------
# devtools.package.FUNCTION_ACCESS is checked against the code's real calls by
# tests/dynamodb_calls.py; here, against the policies the template gives each role.

def _table_arns(resources: dict) -> dict[str, tuple[str, str | None]]:
    """Each ARN the policies may name (as JSON) -> (table suffix, index name or None)."""
    arns = {}
    for model in storage.MODELS:
        logical = next(name for name, t in of_type(resources, "AWS::DynamoDB::Table").items()
                       if t["Properties"]["TableName"] == stage_env()["DQS_TABLE_PREFIX"] + model.Meta.table_suffix)
        arns[json.dumps({"Fn::GetAtt": [logical, "Arn"]})] = (model.Meta.table_suffix, None)
        for index in model._indexes.values():
            arns[json.dumps({"Fn::Sub": "${%s.Arn}/index/%s" % (logical, index.Meta.index_name)})] = (
                model.Meta.table_suffix, index.Meta.index_name)
    return arns


def _function_roles(resources: dict) -> dict[str, str]:
    """Each function's handler ("app.app", "app.queue_reset") -> its role's logical id."""
    return {f["Properties"]["Handler"]: f["Properties"]["Role"]["Fn::GetAtt"][0]
            for f in of_type(resources, "AWS::Serverless::Function").values()}


def _role_grants(resources: dict, role: str) -> tuple[set, list]:
    """What the policies attached to a role grant: {(action, table suffix, index)}, [other statements]."""
    arns = _table_arns(resources)
    dynamodb, other = set(), []
    for name, policy in of_type(resources, "AWS::IAM::Policy").items():
        if {"Ref": role} not in policy["Properties"]["Roles"] or policy.get("Condition") == "TracingOn":
            continue  # X-Ray's, only while tracing is on: test_each_function_has_its_own_role_and_data_policy
        if name.endswith("QueueAccess"):
            continue  # the webhook functions' queue and stream access: tests/deploy/test_package_webhooks.py
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            assert not any("*" in a for a in actions)
            if not all(a.startswith("dynamodb:") for a in actions):
                other.append(statement)
                continue
            assert "Condition" not in statement
            for resource in statement["Resource"]:
                assert isinstance(resource, dict), f"literal resource {resource!r}"
                assert json.dumps(resource) in arns, resource
                dynamodb.update((a.split(":", 1)[1], *arns[json.dumps(resource)]) for a in actions)
    return dynamodb, other


def _secret_statement() -> dict:
    """The current signing secret's parameter and the previous one's (kept during a rotation)."""
    params = [stage_env()[key].lstrip("/") for key in ("DQS_JWT_SECRET_PARAM", "DQS_JWT_PREVIOUS_SECRET_PARAM")]
    return {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" + param}
        for param in params]}


HANDLERS = {"app.app": "api_handler", "app.queue_reset": "queue_reset", "app.queue_changes": "queue_changes",
            "app.websocket_connect": "websocket_connect", "app.websocket_message": "websocket_message",
            "app.websocket_disconnect": "websocket_disconnect", "app.webhook_entry_events": "webhook_entry_events",
            "app.webhook_appointment_events": "webhook_appointment_events",
            "app.webhook_queue_events": "webhook_queue_events",
            "app.webhook_deliveries": "webhook_deliveries"}


def _own_logs(resources: dict, handler: str) -> dict:
    """The one logs statement of a function: its own log group's streams."""
    function = next(name for name, f in of_type(resources, "AWS::Serverless::Function").items()
                    if f["Properties"]["Handler"] == handler)
    group = next(name for name, g in of_type(resources, "AWS::Logs::LogGroup").items()
                 if g["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${%s}" % function})
    return {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [{"Fn::GetAtt": [group, "Arn"]}]}


def test_each_function_has_its_own_role_and_data_policy(resources):
    roles = _function_roles(resources)
    assert set(roles) == set(HANDLERS)
    assert len(set(roles.values())) == len(HANDLERS)
    policies = {name: p for name, p in of_type(resources, "AWS::IAM::Policy").items()
                if not name.endswith("QueueAccess")}  # the webhook functions' SQS and stream access
    tracing = policies.pop("TracingPolicy")
    assert tracing["Condition"] == "TracingOn"  # X-Ray's writes, only while tracing is on
    assert tracing["Properties"]["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": ["*"]}]
    assert sorted(r["Ref"] for r in tracing["Properties"]["Roles"]) == sorted(roles.values())
    assert len(policies) == len(HANDLERS)
    assert sorted(r["Ref"] for p in policies.values() for r in p["Properties"]["Roles"]) == sorted(roles.values())


def test_the_api_may_read_and_write_items_and_query_indexes_and_read_its_secret(resources):
    granted, other = _role_grants(resources, _function_roles(resources)["app.app"])
    assert granted == package.grants("api_handler")
    assert {a for a, _, _ in granted} == {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem",
                                          "Query"}
    # Queries of indexes, and of the tables whose items are one key's list (clinical lists, the access log,
    # the patient search's index table, a webhook's deliveries)
    assert {table for action, table, index in granted if action == "Query" and index is None} == {
        "clinical-entries", "access-log", "patient-search", "webhook-deliveries"}
    assert other == [_own_logs(resources, "app.app"), _secret_statement()]
    # The WebSocket connections are the WebSocket handlers' and the stream handler's only.
    assert not {t for _, t, _ in granted} & {"connections"}


def test_the_reset_may_only_query_open_entries_update_them_and_delete_their_claims_and_send_reminders(resources):
    granted, other = _role_grants(resources, _function_roles(resources)["app.queue_reset"])
    assert granted == package.grants("queue_reset") == {
        ("Query", "queue-entries", "open-date-index"),
        ("UpdateItem", "queue-entries", None),
        ("DeleteItem", "uniques", None),
        # the reminder pass (records2): the sparse index of due reminders, the mark on the appointment,
        # the patient's and the doctor's records
        ("Query", "appointments", "reminder-due-index"),
        ("UpdateItem", "appointments", None),
        ("GetItem", "patients", None),
        ("GetItem", "doctors", None),
    }
    assert other == [_own_logs(resources, "app.queue_reset")]  # not even the token secret


def test_no_function_may_scan_batch_or_manage_tables(resources):
    for role in _function_roles(resources).values():
        actions = {a for a, _, _ in _role_grants(resources, role)[0]}
        assert not actions & {"Scan", "BatchWriteItem", "BatchGetItem", "DeleteTable", "CreateTable", "UpdateTable",
                              "DescribeTable", "UpdateTimeToLive"}
    assert not set(package.LOCAL_ONLY) & {a for f in package.FUNCTION_ACCESS for a in package.FUNCTION_ACCESS[f]}


STREAM_READERS = ("app.queue_changes", "app.webhook_entry_events", "app.webhook_appointment_events",
                  "app.webhook_queue_events")


def test_function_roles_hold_no_logs_policy_of_chalices_and_only_the_stream_readers_an_inline_one(resources):
    """chalice's logs policy (every log group of the account) is gone; each function's own log group is in its
    data-access policy. A stream reader's stream grant is inline: it exists before the event source mapping."""
    roles = _function_roles(resources)
    assert set(STREAM_READERS) <= set(roles)
    for handler, name in roles.items():
        role = resources[name]["Properties"]
        assert "ManagedPolicyArns" not in role
        if handler not in STREAM_READERS:
            assert "Policies" not in role, name
            continue
        [inline] = role["Policies"]
        assert not any(a.startswith("logs:") for s in inline["PolicyDocument"]["Statement"] for a in s["Action"])


def test_after_the_transform_each_function_runs_with_only_its_own_role(translated):
    functions = of_type(translated, "AWS::Lambda::Function")
    roles = {f["Properties"]["Handler"]: f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert set(roles) == set(HANDLERS) and len(set(roles.values())) == len(HANDLERS)
    # SAM adds CodeDeploy's role for the canary; API Gateway's logging role is optional (a parameter).
    assert set(of_type(translated, "AWS::IAM::Role")) == {*roles.values(), "CodeDeployServiceRole",
                                                          "ApiGatewayLogsRole"}
    assert translated["ApiGatewayLogsRole"]["Condition"] == "CreateApiGatewayLogsRole"
    for handler, role in roles.items():
        actions = {a for s in _statements_of(translated, role) for a in s["Action"]}
        function = HANDLERS[handler]
        expected = {f"dynamodb:{a}" for a, _, _ in package.grants(function)}
        expected |= {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        if function == "api_handler":
            expected.add("ssm:GetParameter")
        if function in package.SENDS_TO_CONNECTIONS:
            expected.add("execute-api:ManageConnections")
        if function == package.READS_ENTRIES_STREAM:
            expected |= {f"dynamodb:{a}" for a in (*package.STREAM_ACTIONS, "ListStreams")}
            expected |= {"sns:Publish", "ses:SendEmail", "sqs:SendMessage"}
        expected |= package_webhooks.extra_actions(function)
        assert actions == expected, handler
        assert "ManagedPolicyArns" not in translated[role]["Properties"]


def _statements_of(resources: dict, role: str) -> list[dict]:
    """Every statement a role holds: its inline policies' and those of the policies attached to it."""
    statements = [s for inline in resources[role]["Properties"].get("Policies", [])
                  for s in inline["PolicyDocument"]["Statement"]]
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_websocket_functions_touch_only_connections_and_the_board(resources):
    roles = _function_roles(resources)
    assert _role_grants(resources, roles["app.websocket_connect"]) == (
        {("PutItem", "connections", None)}, [_own_logs(resources, "app.websocket_connect")])
    assert _role_grants(resources, roles["app.websocket_disconnect"]) == (
        {("DeleteItem", "connections", None)}, [_own_logs(resources, "app.websocket_disconnect")])
    granted, other = _role_grants(resources, roles["app.websocket_message"])
    assert granted == package.grants("websocket_message")
    assert {a for a, _, _ in granted} == {"PutItem", "GetItem", "Query", "DeleteItem"}
    # Its writes are the connections' own: a subscribe, and a screen gone before the answer.
    assert {t for a, t, _ in granted if a in ("PutItem", "DeleteItem")} == {"connections"}
    assert other == [_own_logs(resources, "app.websocket_message"), _manage_connections()]


def _manage_connections() -> dict:
    return {"Effect": "Allow", "Action": ["execute-api:ManageConnections"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/api/*/"
                    "@connections/*"}]}


def test_the_stream_handler_reads_the_entries_stream_and_posts_to_this_apis_connections(resources):
    entries = table_for(resources, next(m for m in storage.MODELS if m.Meta.table_suffix == "queue-entries"))
    assert entries["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    logical = next(n for n, t in resources.items() if t is entries)
    function = resources["QueueChanges"]["Properties"]
    [source] = function["Events"].values()
    assert source["Type"] == "DynamoDB"
    assert source["Properties"]["Stream"] == {"Fn::GetAtt": [logical, "StreamArn"]}
    granted, other = _role_grants(resources, _function_roles(resources)["app.queue_changes"])
    assert granted == package.grants("queue_changes")
    # Marks on entries (each message once), and the messages' daily caps (counters).
    assert {(a, t) for a, t, _ in granted if a in ("PutItem", "UpdateItem")} == {
        ("UpdateItem", "queue-entries"), ("UpdateItem", "counters")}
    # Email from the deploy parameter's address only, through whichever identity SES checks.
    assert {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"}],
        "Condition": {"StringEquals": {"ses:FromAddress": {"Ref": "EmailSender"}}}} in other
    # SMS to phone numbers only: every resource but SNS's own (topics, endpoints).
    assert {"Effect": "Allow", "Action": ["sns:Publish"],
            "NotResource": [{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}]} in other
    assert _manage_connections() in other
    assert other == [_own_logs(resources, "app.queue_changes"), *other[1:]]
    # The stream is read through the role's inline policy (made with the role, before the mapping).
    role = resources[_function_roles(resources)["app.queue_changes"]]["Properties"]
    [inline] = role["Policies"]
    assert {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                          "dynamodb:GetShardIterator"],
            "Resource": [{"Fn::GetAtt": [logical, "StreamArn"]}]} in inline["PolicyDocument"]["Statement"]


def test_the_websocket_api_has_its_stage_and_routes(resources, translated):
    [api] = of_type(resources, "AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    [stage] = of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["StageName"] == "api"
    routes = {r["Properties"]["RouteKey"] for r in of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {"$connect", "$default", "$disconnect"}
    assert of_type(translated, "AWS::Lambda::EventSourceMapping")


# -- API Gateway --------------------------------------------------------------------

def _render(template: str) -> dict:
    return json.loads(template.replace("$context.error.messageString", '"Something \\"quoted\\""'))


def test_unknown_routes_answer_a_json_404_and_gateway_errors_keep_the_error_shape(resources):
    # On the API itself (SAM's GatewayResponses), not as GatewayResponse resources of their own.
    assert not of_type(resources, "AWS::ApiGateway::GatewayResponse")
    responses = resources["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(responses) == set(package.GATEWAY_RESPONSES)
    for response in responses.values():
        assert response["ResponseParameters"]["Headers"] == {
            "Content-Type": "'application/json'", "X-Content-Type-Options": "'nosniff'"}
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404"
    assert _render(missing["ResponseTemplates"]["application/json"]) == {
        "Code": "NotFoundError", "Message": "No such route."}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        body = _render(responses[kind]["ResponseTemplates"]["application/json"])
        assert set(body) == {"Code", "Message"} and body["Code"].endswith("Error")


def test_the_stage_throttles_floods(resources):
    settings = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert settings == [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 100,
                         "ThrottlingBurstLimit": 200}]
    # chalice's own definition of the API is still there: the settings were merged into it.
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    assert "/queues/call_next" in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]


def test_after_the_transform_the_api_has_one_stage_named_api_and_it_is_throttled(translated):
    stages = of_type(translated, "AWS::ApiGateway::Stage")
    assert [stage["Properties"]["StageName"] for stage in stages.values()] == ["api"]
    stage = next(iter(stages.values()))["Properties"]
    assert stage["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 100,
                                        "ThrottlingBurstLimit": 200}]
    deployments = of_type(translated, "AWS::ApiGateway::Deployment")
    assert len(deployments) == 1
    name, deployment = next(iter(deployments.items()))
    # A StageName on the deployment would create a second stage ("Stage") serving the
    # whole API without the stage's throttle.
    assert "StageName" not in deployment["Properties"]
    assert stage["DeploymentId"] == {"Ref": name}
    # The only other stage is the waiting room's WebSocket API's, also named api, also throttled.
    [websocket] = of_type(translated, "AWS::ApiGatewayV2::Stage").values()
    assert websocket["Properties"]["ApiId"] == {"Ref": "WebsocketAPI"}
    assert websocket["Properties"]["StageName"] == "api"
    assert websocket["Properties"]["DefaultRouteSettings"] == {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}


def test_after_the_transform_the_gateway_responses_are_part_of_the_deployment(built, translated):
    assert not of_type(translated, "AWS::ApiGateway::GatewayResponse")
    api = of_type(translated, "AWS::ApiGateway::RestApi")
    assert list(api) == ["RestAPI"]
    deployed = api["RestAPI"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert set(deployed) == set(package.GATEWAY_RESPONSES)
    for kind, (status, _, _) in package.GATEWAY_RESPONSES.items():
        assert deployed[kind].get("statusCode") == status
        assert deployed[kind]["responseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/json'",
            "gatewayresponse.header.X-Content-Type-Options": "'nosniff'"}
    assert _render(deployed["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"]) == {
        "Code": "NotFoundError", "Message": "No such route."}
    # SAM names the deployment after the definition it deploys: a changed response is a
    # new deployment, so it goes live with the stack update that changes it.
    changed = copy.deepcopy(built["template"])
    changed["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]["DEFAULT_4XX"]["StatusCode"] = "418"
    redeployed = of_type(sam_transform(changed)["Resources"], "AWS::ApiGateway::Deployment")
    assert len(redeployed) == 1 and set(redeployed) != set(of_type(translated, "AWS::ApiGateway::Deployment"))


def test_after_the_transform_the_reset_runs_on_its_schedule(translated):
    rules = of_type(translated, "AWS::Events::Rule")
    assert [r["Properties"]["ScheduleExpression"] for r in rules.values()] == ["cron(5 * * * ? *)"]
    targets = next(iter(rules.values()))["Properties"]["Targets"]
    assert [t["Arn"] for t in targets] == [{"Fn::GetAtt": ["QueueReset", "Arn"]}]


# -- deploying ------------------------------------------------------------------------

INLINE_TEMPLATE_LIMIT = 51_200  # bytes: CloudFormation takes a bigger template only from S3


def _readme_deploy_commands() -> list[str]:
    """The shell commands of docs/DEPLOYMENT.md's "Deploying to AWS", one line each."""
    text = (PROJECT_DIR / "docs" / "DEPLOYMENT.md").read_text()
    section = text.split("\n## Deploying to AWS", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split("#", 1)[0].split())
            if line:
                commands.append(line)
    commands += [" ".join(c.split()) for c in re.findall(r"`((?:aws|sam) [^`]+)`", section)]
    return commands


def test_the_documented_deploy_sends_a_template_over_the_inline_limit_through_s3(built):
    size = (built["dir"] / "sam.json").stat().st_size
    compact = len(json.dumps(built["template"], separators=(",", ":")).encode())
    assert compact > INLINE_TEMPLATE_LIMIT  # even without whitespace: the case below is the real one
    commands = _readme_deploy_commands()
    deploys = [c for c in commands if c.startswith(("aws cloudformation deploy ", "sam deploy "))]
    assert len(deploys) >= 2, commands
    for command in deploys:
        if size > INLINE_TEMPLATE_LIMIT:
            # Without a bucket, deploy stops with "Templates with a size greater than 51,200
            # bytes must be deployed via an S3 Bucket" (DeployBucketRequiredError).
            assert "--s3-bucket" in command or (command.startswith("sam ") and "--resolve-s3" in command), command
        assert "--capabilities CAPABILITY_IAM" in command
    # The code goes to S3 first: chalice's template names a local zip.
    uploads = [c for c in commands if c.startswith("aws cloudformation package ")]
    assert uploads and all("--s3-bucket" in c for c in uploads)
    assert commands.index(uploads[0]) < commands.index(deploys[0])


def test_the_documented_secret_commands_never_read_a_secret_as_an_option():
    # token_urlsafe starts with "-" one time in 64; `--value "$SECRET"` would then fail.
    puts = [c for c in _readme_deploy_commands() if c.startswith("aws ssm put-parameter")]
    assert puts
    for command in puts:
        assert re.search(r'--value="\$\w+"', command) and " --value " not in command, command


# -- the zip ------------------------------------------------------------------------

def test_zip_is_within_1_mib_and_ships_only_what_runs(built):
    path = built["dir"] / "deployment.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert not top & {"moto", "flask", "werkzeug", "websockets"}  # `make run`'s, not the function's
    # cffi's Python side and pycparser only build argon2's bindings; at run time _cffi_backend is enough.
    assert not top & {"cffi", "pycparser"}
    assert not any(name.endswith(".dist-info") for name in top)
    assert [n for n in top if n.startswith("_cffi_backend.")] == ["_cffi_backend.cpython-312-aarch64-linux-gnu.so"]
    assert {"app.py", "chalicelib", "pynamodb", "jwt", "argon2", "_argon2_cffi_bindings", "tzdata"} <= top
    assert "chalicelib/api/docs.html" in names  # the docs page's template, read at first use
    # tzdata keeps the stage's clinic zone and UTC only (the dev stage's is UTC), its packages all.
    assert "tzdata/zoneinfo/UTC" in names and "tzdata/zoneinfo/tzdata.zi" not in names
    assert "tzdata/zoneinfo/Europe/London" not in names and "tzdata/zoneinfo/Europe/__init__.pyc" in names
    size = path.stat().st_size
    assert size <= MAX_ZIP_BYTES, f"{size:,} bytes"
    assert f"{size:,} bytes" in built["output"]  # `make package` prints it


ELF_AARCH64 = 183


def test_every_native_library_is_built_for_arm64(built):
    """Graviton: each shared library's ELF header names AArch64 (e_machine 183), as the template's architecture."""
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        libraries = {name: archive.read(name)[:20] for name in archive.namelist() if name.endswith(".so")}
    assert len(libraries) >= 2  # cffi's backend and argon2's bindings
    for name, header in libraries.items():
        assert header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 1, name  # 64-bit, little-endian
        assert int.from_bytes(header[18:20], "little") == ELF_AARCH64, name
        assert "x86_64" not in name and "cpython-311" not in name, name
    functions = of_type(built["template"]["Resources"], "AWS::Serverless::Function").values()
    assert {tuple(f["Properties"]["Architectures"]) for f in functions} == {("arm64",)}


def test_runtime_is_pinned_whatever_python_builds_the_package(resources, translated):
    functions = of_type(resources, "AWS::Serverless::Function").values()
    assert {f["Properties"]["Runtime"] for f in functions} == {"python3.12"}
    deployed = of_type(translated, "AWS::Lambda::Function").values()
    assert {(f["Properties"]["Runtime"], tuple(f["Properties"]["Architectures"])) for f in deployed} == {
        ("python3.12", ("arm64",))}
    assert len(deployed) == len(HANDLERS)


def _runtime_python() -> str:
    from devtools.package.build import runtime_python

    python = runtime_python("python3.12")
    if python is None:
        pytest.skip("no python3.12 on this machine to check its bytecode with")
    return python


def test_zip_ships_bytecode_for_every_module_compiled_for_the_runtime(built):
    """Lambda's task folder is read-only: without it, every cold start compiles from source. The app's
    modules keep their source (tracebacks); a library's module is its bytecode only."""
    python = _runtime_python()
    show_magic = "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"
    magic = bytes.fromhex(subprocess.run([python, "-c", show_magic], capture_output=True, text=True,
                                         check=True).stdout.strip())
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        names = set(archive.namelist())
        sources = [name for name in names if name.endswith(".py")]
        assert "app.py" in sources and len(sources) > 50
        assert all(name == "app.py" or name.startswith("chalicelib/") for name in sources)
        compiled = [name for name in names if name.endswith(".pyc")]
        for source in sources:
            assert f"{source.rsplit('/', 1)[0] + '/' if '/' in source else ''}__pycache__/" \
                   f"{source.rsplit('/', 1)[-1][:-3]}.cpython-312.pyc" in names, source
        assert "pynamodb/models.pyc" in names and "jwt/__init__.pyc" in names and "chalice/app.pyc" in names
        assert len(compiled) > len(sources) + 50
        for name in compiled:
            header = archive.read(name)[:8]
            assert header[:4] == magic, name  # python3.12's
            assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked against the source
        assert all(".cpython-312." in name for name in compiled if "/__pycache__/" in name or
                   name.startswith("__pycache__/"))


def test_no_secret_in_the_template_or_the_zip(built):
    secrets = [SENTINEL_SECRET.encode(), os.environ["DQS_JWT_SECRET"].encode()]
    blobs = [(built["dir"] / "sam.json").read_bytes()]
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        blobs += [archive.read(name) for name in archive.namelist()]
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob
    assert b'"DQS_JWT_SECRET"' not in blobs[0]


def test_unpacked_zip_imports_with_the_runtime_boto(built, tmp_path):
    """The app starts from the zip, on python3.12, with boto3/botocore only from outside it, as on Lambda
    (its native libraries are arm64's: argon2 is not imported at start, so this runs on any machine)."""
    import importlib

    python = _runtime_python()
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        archive.extractall(tmp_path / "task")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        source = Path(importlib.import_module(name).__file__)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    probe = ("import sys; sys.path[:0] = sys.argv[1:3]; import app, botocore, pynamodb, jwt; "
             "from chalicelib import storage; storage.bind(); storage.binding.connection().client; "
             "from zoneinfo import ZoneInfo; ZoneInfo('Europe/London'); "
             "print(app.app.app_name, botocore.__file__.startswith(sys.argv[2]), pynamodb.__file__, "
             "sys.version_info[:2] == (3, 12))")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([python, "-I", "-S", "-c", probe, str(tmp_path / "task"), str(runtime)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    name, botocore_from_runtime, pynamodb_file, on_312 = result.stdout.split()
    assert name == "digital-queue-system" and botocore_from_runtime == "True" and on_312 == "True"
    assert pynamodb_file == str(tmp_path / "task" / "pynamodb" / "__init__.pyc")  # bytecode only


# -- operating it: alarms, logs, releases, stream failures (devtools/package/operations.py) ------------

def _alarm_metrics(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of an alarm: its metric, or each metric of its math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"],
                 {d["Name"]: d["Value"] for d in props.get("Dimensions", [])})]
    return [(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
             {d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]})
            for m in props["Metrics"] if "MetricStat" in m]


def test_every_alarm_the_operator_needs_exists_and_notifies_the_alarm_topic(translated):
    alarms = of_type(translated, "AWS::CloudWatch::Alarm")
    watched = {(ns, metric, json.dumps(dims, sort_keys=True)) for a in alarms.values() for ns, metric, dims in
               _alarm_metrics(a)}

    def watches(namespace, metric, **dimensions):
        return (namespace, metric, json.dumps(dimensions, sort_keys=True)) in watched

    assert watches("AWS/ApiGateway", "5XXError", ApiName={"Ref": "AWS::StackName"}, Stage="api")
    assert translated["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}  # the alarm's ApiName
    functions = of_type(translated, "AWS::Lambda::Function")
    assert len(functions) == len(HANDLERS)
    for name in functions:
        assert watches("AWS/Lambda", "Errors", FunctionName={"Ref": name}), name
        assert watches("AWS/Lambda", "Throttles", FunctionName={"Ref": name}), name
    assert watches("AWS/Lambda", "IteratorAge", FunctionName={"Ref": "QueueChanges"})
    assert watches("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                   QueueName={"Fn::GetAtt": ["StreamFailuresQueue", "QueueName"]})
    for table in of_type(translated, "AWS::DynamoDB::Table"):
        assert watches("AWS/DynamoDB", "ReadThrottleEvents", TableName={"Ref": table}), table
        assert watches("AWS/DynamoDB", "WriteThrottleEvents", TableName={"Ref": table}), table
    for function in ("api", "queue_changes", "queue_reset"):  # chalicelib/telemetry.py's dimension values
        assert watches("DigitalQueueSystem", "MessagesFailed", function=function), function
    assert watches("AWS/SNS", "SMSMonthToDateSpentUSD")
    assert translated["SmsSpendAlarm"]["Properties"]["Threshold"] == {"Ref": "SmsMonthlySpendAlarmUSD"}
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}] and props["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["AlarmDescription"]
        # Math alarms return one series: the sum they alarm on.
        assert "Metrics" not in props or sum(m["ReturnData"] for m in props["Metrics"]) == 1, name


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_email_is_optional(built, translated):
    topic = translated["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = translated["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["KeyPolicy"]["Statement"]
                  if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    subscription = translated["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email",
                                          "Endpoint": {"Ref": "AlarmEmail"}}
    parameters = built["template"]["Parameters"]
    assert parameters["AlarmEmail"]["Default"] == ""
    assert built["template"]["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"},
                                                                                              ""]}]}


def test_the_email_sender_is_a_required_parameter_and_no_placeholder_is_left(built):
    sender = built["template"]["Parameters"]["EmailSender"]
    assert "Default" not in sender  # a deploy without it is refused
    assert re.fullmatch(sender["AllowedPattern"], "queue@clinic.example.org")
    assert not re.fullmatch(sender["AllowedPattern"], "")
    text = (built["dir"] / "sam.json").read_text() + (PROJECT_DIR / ".chalice" / "config.json").read_text()
    assert "clinic.example" not in text


def test_the_api_is_released_through_the_alias_live_with_a_canary_the_alarms_roll_back(translated):
    [alias] = of_type(translated, "AWS::Lambda::Alias").items()
    alias_name, alias = alias
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": "APIHandler"}
    [version] = of_type(translated, "AWS::Lambda::Version")
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version, "Version"]}
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = translated[update["DeploymentGroupName"]["Ref"]]["Properties"]
    assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "Canary10Percent5Minutes"}
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["AlarmConfiguration"]["Enabled"] is True
    rollback = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
    assert set(rollback) == {"Api5xxAlarm", "APIHandlerNewVersionErrorsAlarm"}
    # The error alarm watches the version being released, through the alias.
    dims = {d["Name"]: d["Value"] for d in translated["APIHandlerNewVersionErrorsAlarm"]["Properties"]["Dimensions"]}
    assert dims == {"FunctionName": {"Ref": "APIHandler"}, "Resource": {"Fn::Sub": "${APIHandler}:live"},
                    "ExecutedVersion": {"Fn::GetAtt": [version, "Version"]}}
    # API Gateway invokes the alias, on every route, and may: a canary then reaches callers.
    body = translated["RestAPI"]["Properties"]["Body"]
    integrations = [operation["x-amazon-apigateway-integration"] for path in body["paths"].values()
                    for operation in path.values() if "x-amazon-apigateway-integration" in operation]
    assert len(integrations) > 20
    assert {json.dumps(i["uri"]) for i in integrations if i["type"] == "aws_proxy"} == {json.dumps(
        {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                    "${%s}/invocations" % alias_name})}
    assert "APIHandler.Arn" not in json.dumps(body)
    assert translated["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": alias_name}


def test_the_websocket_api_is_redeployed_when_its_routes_change(built, translated):
    [deployment] = of_type(translated, "AWS::ApiGatewayV2::Deployment")
    [stage] = of_type(translated, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["DeploymentId"] == {"Ref": deployment}
    changed = copy.deepcopy(built["template"])
    route = next(r for r in changed["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Route"
                 and r["Properties"]["RouteKey"] == "$default")
    route["Properties"]["RouteKey"] = "subscribe"
    from devtools.package.operations import _redeploy_websocket_on_route_change

    # The id is made from the routes when the package is built: rebuild that step on the changed routes.
    rebuilt = copy.deepcopy(changed)
    [old] = of_type(rebuilt["Resources"], "AWS::ApiGatewayV2::Deployment")
    rebuilt["Resources"]["WebsocketAPIDeployment"] = rebuilt["Resources"].pop(old)
    rebuilt = json.loads(json.dumps(rebuilt).replace(json.dumps({"Ref": old}),
                                                     json.dumps({"Ref": "WebsocketAPIDeployment"})))
    _redeploy_websocket_on_route_change(rebuilt)
    [new] = of_type(rebuilt["Resources"], "AWS::ApiGatewayV2::Deployment")
    assert new != deployment and new.startswith("WebsocketAPIDeployment")
    assert of_type(rebuilt["Resources"], "AWS::ApiGatewayV2::Stage")["WebsocketAPIStage"]["Properties"][
        "DeploymentId"] == {"Ref": new}


def test_no_policy_may_publish_to_a_topic_or_everything(translated):
    for name, resource in translated.items():
        documents = []
        if resource["Type"] == "AWS::IAM::Policy":
            documents.append(resource["Properties"]["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a in ("sns:Publish", "sns:*", "*") for a in actions):
                    assert "Resource" not in statement, name
                    assert statement["NotResource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}], name


def test_no_role_but_the_websocket_and_stream_handlers_touches_the_connections_table(translated):
    roles = {f["Properties"]["Handler"]: f["Properties"]["Role"]["Fn::GetAtt"][0]
             for f in of_type(translated, "AWS::Lambda::Function").values()}
    connections = next(name for name, t in of_type(translated, "AWS::DynamoDB::Table").items()
                       if t["Properties"]["TableName"].endswith("-connections"))
    for handler, role in roles.items():
        text = json.dumps(_statements_of(translated, role))
        touches = connections in text
        assert touches == (handler in ("app.websocket_connect", "app.websocket_message", "app.websocket_disconnect",
                                       "app.queue_changes")), handler


def test_each_function_may_write_its_own_log_group_only(translated):
    for function in of_type(translated, "AWS::Lambda::Function"):
        role = translated[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        logs = [s for s in _statements_of(translated, role) if any(a.startswith("logs:") for a in s["Action"])]
        [statement] = logs
        assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        [(group_name, group)] = [(n, g) for n, g in of_type(translated, "AWS::Logs::LogGroup").items()
                                 if g["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${%s}" % function}]
        assert statement["Resource"] == [{"Fn::GetAtt": [group_name, "Arn"]}], function
        assert group["Properties"]["RetentionInDays"] > 0


def test_both_apis_write_access_logs_without_personal_data(translated):
    [rest] = of_type(translated, "AWS::ApiGateway::Stage").values()
    [websocket] = of_type(translated, "AWS::ApiGatewayV2::Stage").values()
    for settings, route_key in ((rest["Properties"]["AccessLogSetting"], "$context.resourcePath"),
                                (websocket["Properties"]["AccessLogSettings"], "$context.routeKey")):
        group = settings["DestinationArn"]["Fn::GetAtt"][0]
        assert settings["DestinationArn"] == {"Fn::GetAtt": [group, "Arn"]}
        assert translated[group]["Type"] == "AWS::Logs::LogGroup"
        assert translated[group]["Properties"]["RetentionInDays"] > 0
        line = json.loads(settings["Format"])  # one JSON object a line
        assert {"requestId", "status", "route", "latency"} <= set(line)
        assert line["route"] == route_key
        text = settings["Format"]
        # No source IP, user agent, caller identity or path with ids in it.
        for personal in ("sourceIp", "userAgent", "identity", "$context.path", "authorizer", "connectionId"):
            assert personal not in text
    assert rest["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingOn", True, False]}


def test_tracing_is_a_setting_off_by_default(built, translated):
    assert built["template"]["Parameters"]["Tracing"]["Default"] == "false"
    for function in of_type(translated, "AWS::Lambda::Function").values():
        assert function["Properties"]["TracingConfig"] == {"Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}}


def test_every_stream_mapping_isolates_failures_and_sends_what_it_gives_up_on_to_an_encrypted_queue(translated):
    # The board's and messages' mapping, and the webhooks' three: one poison record holds up none of them.
    mappings = [m["Properties"] for m in of_type(translated, "AWS::Lambda::EventSourceMapping").values()
                if "StartingPosition" in m["Properties"]]  # the streams' (the delivery queue's has none)
    assert sorted(p["FunctionName"]["Ref"] for p in mappings) == [
        "QueueChanges", "WebhookAppointmentEvents", "WebhookEntryEvents", "WebhookQueueEvents"]
    queue = translated["StreamFailuresQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["SqsManagedSseEnabled"] is True
    for props in mappings:
        assert props["BisectBatchOnFunctionError"] is True
        assert 0 <= props["MaximumRetryAttempts"] <= 3
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 3600
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["StreamFailuresQueue",
                                                                                            "Arn"]}}}
        # The grants the mapping needs are inline in the function's role: they exist when the mapping is made.
        function = props["FunctionName"]["Ref"]
        role = translated[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        inline = [s for p in translated[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert {"Effect": "Allow", "Action": ["sqs:SendMessage"],
                "Resource": [{"Fn::GetAtt": ["StreamFailuresQueue", "Arn"]}]} in inline, function
        assert any("dynamodb:GetRecords" in s["Action"] and s["Resource"] == [props["EventSourceArn"]]
                   for s in inline), function


def test_argon2_hashes_from_the_zip_without_cffis_python_side(tmp_path):
    """The same build for this machine's architecture (its native libraries are the only difference):
    argon2's bindings load with _cffi_backend alone, and a password is hashed and verified on python3.12."""
    import platform

    python = _runtime_python()
    here = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    # In a process of its own: the build imports the app from its copy of the project.
    build = ("import sys; from pathlib import Path; from devtools.package.build import build; "
             "print(build('dev', Path(sys.argv[1]), run_lint=False, architecture=sys.argv[2]))")
    built = subprocess.run([sys.executable, "-c", build, str(tmp_path / "package"), here], cwd=PROJECT_DIR,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    out = Path(built.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        assert not any(name.startswith(("cffi/", "pycparser/")) for name in archive.namelist())
        archive.extractall(tmp_path / "task")
    probe = ("import sys; sys.path[:0] = [sys.argv[1]]\n"
             "from argon2 import PasswordHasher\n"
             "hashed = PasswordHasher().hash('correct horse battery')\n"
             "print(PasswordHasher().verify(hashed, 'correct horse battery'), 'cffi' in sys.modules)")
    result = subprocess.run([python, "-I", "-S", "-c", probe, str(tmp_path / "task")], capture_output=True, text=True,
                            timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


def test_the_clinic_zone_loads_from_the_zip_and_other_zones_are_not_shipped(built, tmp_path):
    """zoneinfo finds the stage's zone in the shipped tzdata alone (no system zone files)."""
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        archive.extractall(tmp_path, [n for n in archive.namelist() if n.startswith("tzdata/")])
    # The shipped bytecode is the runtime's (3.12); this interpreter reads the zone files from the folder.
    for pyc in tmp_path.rglob("__init__.pyc"):
        pyc.with_suffix(".py").write_text("")
    script = ("import sys, zoneinfo; zoneinfo.reset_tzpath([]); sys.path.insert(0, sys.argv[1]);"
              "print(zoneinfo.ZoneInfo('UTC').key)\n"
              "try:\n    zoneinfo.ZoneInfo('Europe/London')\n"
              "except zoneinfo.ZoneInfoNotFoundError:\n    print('absent')")
    result = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert result.stdout.split() == ["UTC", "absent"], result.stderr


def test_a_stage_keeps_its_own_clinic_zone(tmp_path):
    import importlib

    building = importlib.import_module("devtools.package.build")

    root = tmp_path / "tzdata" / "zoneinfo"
    for zone in ("UTC", "Europe/London", "Europe/Paris", "America/New_York"):
        (root / zone).parent.mkdir(parents=True, exist_ok=True)
        (root / zone).write_bytes(b"TZif")
        (root / zone).parent.joinpath("__init__.py").write_text("")
    building._keep_zones(tmp_path, ("Europe/Paris", "UTC"))
    kept = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "__init__.py")
    assert kept == ["Europe/Paris", "UTC"] and (root / "America" / "__init__.py").exists()
    with pytest.raises(SystemExit, match="Mars/Olympus"):
        building._keep_zones(tmp_path, ("Mars/Olympus",))
