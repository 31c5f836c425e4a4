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

PROJECT_DIR = Path(__file__).resolve().parents[2]
STAGE = "prod"
SENTINEL_SECRET = "sentinel-jwt-secret-never-shipped-0123456789abcdef"
MAX_ZIP_BYTES = 2 * 1024 * 1024  # the naive package (botocore bundled) is about 18 MB


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = dict(os.environ, DQS_JWT_SECRET=SENTINEL_SECRET)
    result = subprocess.run([sys.executable, "-m", "devtools.package", "--stage", STAGE, "--out", str(out)],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    stage_dir = out / STAGE
    return {"dir": stage_dir, "output": result.stdout, "template": json.loads((stage_dir / "sam.json").read_text())}


@pytest.fixture(scope="session")
def resources(built):
    return built["template"]["Resources"]


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def stage_env() -> dict:
    return config_stage_env(STAGE)


class _NoManagedPolicies:
    """The translator asks IAM for AWS managed policies only when a function names one."""

    def load(self) -> dict:
        return {}


def sam_transform(template: dict) -> dict:
    """What CloudFormation's AWS::Serverless transform makes of a template, offline.

    The code is first given an S3 address, as `aws cloudformation package` does.
    """
    from samtranslator.translator.transform import transform

    text = json.dumps(template).replace('"./deployment.zip"', '"s3://artifacts/deployment.zip"')
    return transform(json.loads(text), {}, _NoManagedPolicies())


@pytest.fixture(scope="session")
def translated(built) -> dict:
    return sam_transform(built["template"])["Resources"]


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
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert groups
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
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement
            actions = statement["Action"]
            assert not any("*" in a for a in actions)
            stream = {f"dynamodb:{a}" for a in (*package.STREAM_ACTIONS, "ListStreams")}
            if not all(a.startswith("dynamodb:") for a in actions) or set(actions) <= stream:
                other.append(statement)
                continue
            for resource in statement["Resource"]:
                assert isinstance(resource, dict), f"literal resource {resource!r}"
                assert json.dumps(resource) in arns, resource
                dynamodb.update((a.split(":", 1)[1], *arns[json.dumps(resource)]) for a in actions)
    return dynamodb, other


def _secret_statement() -> dict:
    param = stage_env()["DQS_JWT_SECRET_PARAM"].lstrip("/")
    return {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" + param}]}


HANDLERS = {"app.app": "api_handler", "app.queue_reset": "queue_reset", "app.queue_changes": "queue_changes",
            "app.websocket_connect": "websocket_connect", "app.websocket_message": "websocket_message",
            "app.websocket_disconnect": "websocket_disconnect", "app.webhook_entry_events": "webhook_entry_events",
            "app.webhook_appointment_events": "webhook_appointment_events",
            "app.webhook_deliveries": "webhook_deliveries"}


def test_each_function_has_its_own_role_and_data_policy(resources):
    roles = _function_roles(resources)
    assert set(roles) == set(HANDLERS)
    assert len(set(roles.values())) == len(HANDLERS)
    policies = {name: p for name, p in of_type(resources, "AWS::IAM::Policy").items()
                if not name.endswith("QueueAccess")}  # the webhook functions' SQS and stream access
    assert len(policies) == len(HANDLERS)
    assert sorted(r["Ref"] for p in policies.values() for r in p["Properties"]["Roles"]) == sorted(roles.values())


def test_the_api_may_read_and_write_items_and_query_indexes_and_read_its_secret(resources):
    granted, other = _role_grants(resources, _function_roles(resources)["app.app"])
    assert granted == package.grants("api_handler")
    assert {a for a, _, _ in granted} == {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem",
                                          "Query"}
    assert all(index is not None or table in ("clinical-entries", "access-log", "webhook-deliveries")
               for action, table, index in granted if action == "Query")
    assert other == [_secret_statement()]


def test_the_reset_may_only_query_open_entries_update_them_and_delete_their_claims(resources):
    granted, other = _role_grants(resources, _function_roles(resources)["app.queue_reset"])
    assert granted == package.grants("queue_reset") == {
        ("Query", "queue-entries", "open-date-index"),
        ("UpdateItem", "queue-entries", None),
        ("DeleteItem", "uniques", None),
    }
    assert other == []  # not even the token secret


def test_no_function_may_scan_batch_or_manage_tables(resources):
    for role in _function_roles(resources).values():
        actions = {a for a, _, _ in _role_grants(resources, role)[0]}
        assert not actions & {"Scan", "BatchWriteItem", "BatchGetItem", "DeleteTable", "CreateTable", "UpdateTable",
                              "DescribeTable", "UpdateTimeToLive"}
    assert not set(package.LOCAL_ONLY) & {a for f in package.FUNCTION_ACCESS for a in package.FUNCTION_ACCESS[f]}


def test_chalice_roles_keep_only_their_logging_permissions(resources):
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(a.startswith("logs:") for a in actions), name
        assert "ManagedPolicyArns" not in role["Properties"]


def test_after_the_transform_each_function_runs_with_only_its_own_role(translated):
    functions = of_type(translated, "AWS::Lambda::Function")
    roles = {f["Properties"]["Handler"]: f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert set(roles) == set(HANDLERS) and len(set(roles.values())) == len(HANDLERS)
    assert set(of_type(translated, "AWS::IAM::Role")) == set(roles.values())  # SAM added none
    for handler, role in roles.items():
        attached = [policy["Properties"]["PolicyDocument"]["Statement"]
                    for policy in of_type(translated, "AWS::IAM::Policy").values()
                    if {"Ref": role} in policy["Properties"]["Roles"]]
        actions = {a for statements in attached for s in statements for a in s["Action"]}
        function = HANDLERS[handler]
        expected = {f"dynamodb:{a}" for a, _, _ in package.grants(function)}
        if function == "api_handler":
            expected.add("ssm:GetParameter")
        if function in package.SENDS_TO_CONNECTIONS:
            expected.add("execute-api:ManageConnections")
        if function == package.READS_ENTRIES_STREAM:
            expected |= {f"dynamodb:{a}" for a in (*package.STREAM_ACTIONS, "ListStreams")}
            expected |= {"sns:Publish", "ses:SendEmail"}
        expected |= package_webhooks.extra_actions(function)
        assert actions == expected, handler
        assert "ManagedPolicyArns" not in translated[role]["Properties"]


def test_the_websocket_functions_touch_only_connections_and_the_board(resources):
    roles = _function_roles(resources)
    assert _role_grants(resources, roles["app.websocket_connect"]) == (
        {("PutItem", "connections", None)}, [])
    assert _role_grants(resources, roles["app.websocket_disconnect"]) == (
        {("DeleteItem", "connections", None)}, [])
    granted, other = _role_grants(resources, roles["app.websocket_message"])
    assert granted == package.grants("websocket_message")
    assert {a for a, _, _ in granted} == {"PutItem", "GetItem", "Query"}
    assert {t for a, t, _ in granted if a == "PutItem"} == {"connections"}
    assert other == [_manage_connections()]


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
    assert {(a, t) for a, t, _ in granted if a in ("PutItem", "UpdateItem")} == {("UpdateItem", "queue-entries")}
    sender = stage_env()["DQS_EMAIL_SENDER"]
    assert {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/" + sender}]} in other
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["*"]} in other
    assert {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                          "dynamodb:GetShardIterator"],
            "Resource": [{"Fn::GetAtt": [logical, "StreamArn"]}]} in other
    assert _manage_connections() in other


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

def test_zip_is_small_and_leaves_boto_to_the_runtime(built):
    path = built["dir"] / "deployment.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert not top & {"moto", "flask", "werkzeug", "websockets"}  # `make run`'s, not the function's
    assert {"app.py", "chalicelib", "pynamodb", "jwt", "argon2"} <= top
    assert "chalicelib/api/docs.html" in names  # the docs page's template, read at first use
    assert path.stat().st_size < MAX_ZIP_BYTES


def test_zip_ships_bytecode_for_every_module_compiled_for_the_runtime(built):
    """Lambda's task folder is read-only: without it, every cold start compiles from source."""
    import importlib.util

    template = json.loads((built["dir"] / "sam.json").read_text())
    runtimes = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                if r.get("Type") == "AWS::Serverless::Function"}
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        names = set(archive.namelist())
        sources = [name for name in names if name.endswith(".py")]
        assert "app.py" in sources and len(sources) > 100
        for source in sources:
            compiled = importlib.util.cache_from_source(source)
            assert compiled in names, source
            header = archive.read(compiled)[:8]
            assert header[:4] == importlib.util.MAGIC_NUMBER  # this Python's, the runtime's
            assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked against the source
        assert all(f".{sys.implementation.cache_tag}." in name for name in names if name.endswith(".pyc"))


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
    """The app starts from the zip with boto3/botocore only from outside it, as on Lambda."""
    import importlib

    with zipfile.ZipFile(built["dir"] / "deployment.zip") as archive:
        archive.extractall(tmp_path / "task")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        source = Path(importlib.import_module(name).__file__)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    probe = ("import sys; sys.path[:0] = sys.argv[1:3]; import app, botocore, pynamodb; "
             "from chalicelib import storage; storage.bind(); storage.binding.connection().client; "
             "print(app.app.app_name, botocore.__file__.startswith(sys.argv[2]), pynamodb.__file__)")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(tmp_path / "task"), str(runtime)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    name, botocore_from_runtime, pynamodb_file = result.stdout.split()
    assert name == "digital-queue-system" and botocore_from_runtime == "True"
    assert pynamodb_file.startswith(str(tmp_path / "task"))
