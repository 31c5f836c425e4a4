"""What an operator needs from the deployed stack, added to chalice's template once it is written:
the pinned runtime and architecture, deploy parameters, alarms and where they go, access logs and
tracing, the stream's failure handling, each role's own logs and stream access, and releases
through an alias with a canary that rolls itself back.

Everything here works on chalice's output (build/package/<stage>/sam.json) rather than on the
template merged into it, because it rewrites what chalice wrote: the API definition's integration
URIs (to the alias), the WebSocket deployment's logical id (to follow its routes), the roles'
inline policies.
"""
from __future__ import annotations

import hashlib
import json

from devtools.package.iam import READS_ENTRIES_STREAM, STREAM_ACTIONS
from devtools.package.tables import cfn_name

# The runtime every function runs on, whatever Python builds the package, and the architecture
# (Graviton: about 20 % cheaper per GB-s than x86_64, and every native library we ship has an
# aarch64 wheel). build.py builds the zip's wheels and bytecode for exactly these.
RUNTIME = "python3.12"
PYTHON_VERSION = (3, 12)
ARCHITECTURE = "arm64"

API_FUNCTION = "APIHandler"
ALIAS = "live"
ALIAS_RESOURCE = f"{API_FUNCTION}Alias{ALIAS}"  # the alias SAM makes for AutoPublishAlias
# CodeDeploy shifts 10 % of the API's traffic to the new version, waits 5 minutes, then the rest;
# an alarm in ALARM meanwhile rolls back to the previous version.
CANARY = "Canary10Percent5Minutes"

ALARM_TOPIC = "AlarmTopic"
ALARM_KEY = "AlarmTopicKey"
STREAM_FAILURES = "StreamFailuresQueue"
REST_ACCESS_LOGS = "RestAPIAccessLogGroup"
WEBSOCKET_ACCESS_LOGS = "WebsocketAPIAccessLogGroup"
METRICS_NAMESPACE = "DigitalQueueSystem"  # chalicelib/telemetry.py's EMF namespace

# The stream's event source mapping: a poison record is split out of its batch (bisect) and,
# after at most 3 retries or 10 minutes, sent to the on-failure queue, so one bad record never
# holds up a shard. The handler names the records it failed (ReportBatchItemFailures).
STREAM_MAPPING = {
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 3,
    "MaximumRecordAgeInSeconds": 600,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}
ITERATOR_AGE_ALARM_MS = 60_000  # boards a minute behind: the screens are stale
API_5XX_RATE = 0.05  # of the API's requests in a minute, two minutes running

# The access log lines: no source IP, no user agent, no path with ids in it (the resource
# path is the route's template, /patients/{patient_id}); the request id joins a line to the
# function's own line. A patient's IP is personal data and nothing here needs it: floods are
# met by the stage's throttle, not by reading logs.
REST_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "method": "$context.httpMethod",
    "route": "$context.resourcePath", "status": "$context.status", "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency", "bytes": "$context.responseLength",
    "error": "$context.error.responseType",
}
WEBSOCKET_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "event": "$context.eventType",
    "route": "$context.routeKey", "status": "$context.status", "latency": "$context.integrationLatency",
    "error": "$context.error.responseType",
}

PARAMETERS = {
    "EmailSender": {
        "Type": "String", "AllowedPattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "Description": "The From address of email messages: an SES identity verified in this region "
                       "(the address itself or its domain). Required: there is no default.",
        "ConstraintDescription": "an email address"},
    "AlarmEmail": {
        "Type": "String", "Default": "", "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "Description": "Where alarms are emailed (empty: none; subscribe to the alarm topic instead)."},
    "Tracing": {
        "Type": "String", "Default": "false", "AllowedValues": ["false", "true"],
        "Description": "X-Ray tracing of the REST API and the functions."},
    "SmsMonthlySpendAlarmUSD": {
        "Type": "Number", "Default": 0.8, "MinValue": 0,
        "Description": "Alarm when this month's SMS spend passes this (SNS's default limit is 1 USD)."},
    "ApiGatewayAccountLogging": {
        "Type": "String", "Default": "create", "AllowedValues": ["create", "existing"],
        "Description": "API Gateway writes access logs through one role per account and region: create it "
                       "with this stack, or keep the one the account already has."},
}
CONDITIONS = {
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "TracingOn": {"Fn::Equals": [{"Ref": "Tracing"}, "true"]},
    "CreateApiGatewayLogsRole": {"Fn::Equals": [{"Ref": "ApiGatewayAccountLogging"}, "create"]},
}


def _functions(resources: dict) -> dict[str, dict]:
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def log_group_of(function_logical_id: str) -> str:
    """chalice's log group of a function (it names the API handler's "ApiHandler", not "APIHandler")."""
    return ("ApiHandler" if function_logical_id == API_FUNCTION else function_logical_id) + "LogGroup"


def _alarm(description: str, metric: dict | None = None, *, threshold: float, comparison: str =
           "GreaterThanThreshold", periods: int = 1, metrics: list | None = None) -> dict:
    properties = {
        "AlarmDescription": description,
        "ComparisonOperator": comparison, "Threshold": threshold,
        "EvaluationPeriods": periods, "DatapointsToAlarm": periods,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": ALARM_TOPIC}], "OKActions": [{"Ref": ALARM_TOPIC}],
    }
    if metric is not None:
        properties.update(metric)
    if metrics is not None:
        properties["Metrics"] = metrics
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _metric(namespace: str, name: str, dimensions: dict, statistic: str = "Sum", period: int = 60) -> dict:
    return {"Namespace": namespace, "MetricName": name, "Statistic": statistic, "Period": period,
            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()]}


def _stat(metric_id: str, namespace: str, name: str, dimensions: dict, stat: str = "Sum", period: int = 60) -> dict:
    return {"Id": metric_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name,
                   "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()]},
        "Period": period, "Stat": stat}}


def alarms(resources: dict, telemetry_functions: list[str]) -> dict[str, dict]:
    """Every alarm of the stack, by logical id; each notifies the alarm topic."""
    found = {}
    found["Api5xxAlarm"] = _alarm(
        f"More than {API_5XX_RATE:.0%} of the REST API's requests answered 5xx, two minutes running.",
        _metric("AWS/ApiGateway", "5XXError", {"ApiName": {"Ref": "AWS::StackName"}, "Stage": "api"}, "Average"),
        threshold=API_5XX_RATE, periods=2)
    for name in sorted(_functions(resources)):
        function = {"FunctionName": {"Ref": name}}
        found[f"{name}ErrorsAlarm"] = _alarm(f"{name} failed (an exception or a timeout).",
                                             _metric("AWS/Lambda", "Errors", function), threshold=0)
        found[f"{name}ThrottlesAlarm"] = _alarm(f"{name} was throttled (concurrency).",
                                                _metric("AWS/Lambda", "Throttles", function), threshold=0)
    # The canary's own trigger: errors of the version being released, through the alias.
    found["APIHandlerNewVersionErrorsAlarm"] = _alarm(
        "The API function's version being released failed (rolls the release back).",
        _metric("AWS/Lambda", "Errors", {"FunctionName": {"Ref": API_FUNCTION},
                                         "Resource": {"Fn::Sub": "${%s}:%s" % (API_FUNCTION, ALIAS)},
                                         "ExecutedVersion": {"Fn::GetAtt": [f"{API_FUNCTION}.Version", "Version"]}}),
        threshold=0)
    changes = cfn_name(READS_ENTRIES_STREAM)
    found["StreamIteratorAgeAlarm"] = _alarm(
        "The entries' stream is being handled more than a minute late: the waiting room's screens are stale.",
        _metric("AWS/Lambda", "IteratorAge", {"FunctionName": {"Ref": changes}}, "Maximum"),
        threshold=ITERATOR_AGE_ALARM_MS)
    found["StreamFailuresAlarm"] = _alarm(
        "Stream records the handler gave up on are waiting in the on-failure queue.",
        _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                {"QueueName": {"Fn::GetAtt": [STREAM_FAILURES, "QueueName"]}}, "Maximum"),
        threshold=0)
    for name, table in sorted(resources.items()):
        if table["Type"] != "AWS::DynamoDB::Table":
            continue
        dims = {"TableName": {"Ref": name}}
        found[f"{name}ThrottlesAlarm"] = _alarm(
            f"Requests to the table {name} were throttled.", threshold=0, metrics=[
                _stat("reads", "AWS/DynamoDB", "ReadThrottleEvents", dims),
                _stat("writes", "AWS/DynamoDB", "WriteThrottleEvents", dims),
                {"Id": "throttled", "Expression": "FILL(reads, 0) + FILL(writes, 0)", "Label": "throttle events",
                 "ReturnData": True}])
    failed = [_stat(f"f{i}", METRICS_NAMESPACE, "MessagesFailed", {"function": function}, period=300)
              for i, function in enumerate(telemetry_functions)]
    found["MessagesFailedAlarm"] = _alarm(
        "SMS or email messages failed (SES identity or sandbox, SNS spend limit, a bad number).", threshold=0,
        metrics=[*failed, {"Id": "failed", "Label": "messages failed", "ReturnData": True,
                           "Expression": " + ".join(f"FILL({m['Id']}, 0)" for m in failed)}])
    found["SmsSpendAlarm"] = _alarm(
        "This month's SMS spend is near the account's SNS spend limit; past it, SMS stop.",
        _metric("AWS/SNS", "SMSMonthToDateSpentUSD", {}, "Maximum", period=300),
        threshold={"Ref": "SmsMonthlySpendAlarmUSD"}, comparison="GreaterThanOrEqualToThreshold")
    found["SmsSpendAlarm"]["Properties"].pop("Dimensions")
    return found


def alarm_topic() -> dict[str, dict]:
    """The alarms' SNS topic, encrypted with a key of its own that CloudWatch may use (the AWS-managed
    aws/sns key's policy cannot let CloudWatch publish), and the optional email subscription."""
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Account", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}},
        {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}},
    ]}
    return {
        ALARM_KEY: {"Type": "AWS::KMS::Key", "Properties": {
            "Description": {"Fn::Sub": "${AWS::StackName}: the alarm topic's key"},
            "EnableKeyRotation": True, "KeyPolicy": key_policy}},
        ALARM_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": {"Fn::Sub": "${AWS::StackName} alarms"},
            "KmsMasterKeyId": {"Ref": ALARM_KEY}}},
        "AlarmTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": ALARM_TOPIC}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                 "Action": "sns:Publish", "Resource": {"Ref": ALARM_TOPIC},
                 "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "TopicArn": {"Ref": ALARM_TOPIC}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}},
    }


def _access_logs(resources: dict, retention: int) -> None:
    for name in (REST_ACCESS_LOGS, WEBSOCKET_ACCESS_LOGS):
        kind = "rest" if name == REST_ACCESS_LOGS else "websocket"
        resources[name] = {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}/%s-access" % kind},
            "RetentionInDays": retention,
            # Made after the account's logging role is set (when this stack sets it), so the
            # stages that log here are too: a stage with access logs fails without that role.
            "Tags": [{"Key": "api-gateway-logging-role", "Value": {
                "Fn::If": ["CreateApiGatewayLogsRole", {"Ref": "ApiGatewayAccount"}, "existing"]}}]}}
    api = resources["RestAPI"]["Properties"]
    api["Name"] = {"Ref": "AWS::StackName"}  # the alarm's ApiName: one per stack, not the app's name
    api["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": [REST_ACCESS_LOGS, "Arn"]},
                               "Format": json.dumps(REST_ACCESS_LOG_FORMAT, separators=(",", ":"))}
    api["TracingEnabled"] = {"Fn::If": ["TracingOn", True, False]}
    stage = resources["WebsocketAPIStage"]["Properties"]
    stage["AccessLogSettings"] = {"DestinationArn": {"Fn::GetAtt": [WEBSOCKET_ACCESS_LOGS, "Arn"]},
                                  "Format": json.dumps(WEBSOCKET_ACCESS_LOG_FORMAT, separators=(",", ":"))}
    # API Gateway writes access logs with the account's (per region) CloudWatch role.
    resources["ApiGatewayLogsRole"] = {"Type": "AWS::IAM::Role", "Condition": "CreateApiGatewayLogsRole",
                                       "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                          "AmazonAPIGatewayPushToCloudWatchLogs"}]}}
    resources["ApiGatewayAccount"] = {
        "Type": "AWS::ApiGateway::Account", "Condition": "CreateApiGatewayLogsRole",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}}}


def _stream_sources(resources: dict, roles: dict[str, str]) -> dict[str, list[dict]]:
    """The DynamoDB stream event sources of every function a table's stream feeds, by the function's role
    (the live path's reader, and the webhooks' event functions)."""
    found: dict[str, list[dict]] = {}
    for function, role in sorted(roles.items()):
        events = resources.get(cfn_name(function), {}).get("Properties", {}).get("Events", {})
        sources = [event["Properties"] for event in events.values() if "Stream" in event.get("Properties", {})]
        if sources:
            found[role] = sources
    return found


def _stream_failures(resources: dict, roles: dict[str, str]) -> None:
    resources[STREAM_FAILURES] = {"Type": "AWS::SQS::Queue", "Properties": {
        "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}}
    for sources in _stream_sources(resources, roles).values():
        for source in sources:
            source.update(STREAM_MAPPING)
            source["DestinationConfig"] = {"OnFailure": {"Destination": {"Fn::GetAtt": [STREAM_FAILURES, "Arn"]}}}


def _role_policies(resources: dict, roles: dict[str, str]) -> None:
    """No role keeps chalice's logs policy (every log group of the account): each function's own log
    group is in its data-access policy. A stream reader's stream and on-failure grants are inline in
    its role, so they exist before its event source mapping (which needs them to be created)."""
    for role in roles.values():
        resources[role]["Properties"].pop("Policies", None)
    for role, sources in _stream_sources(resources, roles).items():
        resources[role]["Properties"]["Policies"] = [{
            "PolicyName": "stream-read",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": [f"dynamodb:{a}" for a in STREAM_ACTIONS],
                 "Resource": [source["Stream"] for source in sources]},
                # ListStreams names no resource in IAM: it lists stream ARNs only.
                {"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": ["*"]},
                {"Effect": "Allow", "Action": ["sqs:SendMessage"],
                 "Resource": [{"Fn::GetAtt": [STREAM_FAILURES, "Arn"]}]},
            ]}}]


def _tracing_policy(roles: dict[str, str]) -> dict:
    return {"Type": "AWS::IAM::Policy", "Condition": "TracingOn", "Properties": {
        "PolicyName": {"Fn::Sub": "${AWS::StackName}-xray"},
        "Roles": [{"Ref": role} for role in sorted(roles.values())],
        # X-Ray's write actions name no resource.
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": ["*"]}]}}}


def _release_through_alias(resources: dict) -> None:
    """The API function is published as a version behind the alias `live` on every change; API Gateway
    invokes the alias, and CodeDeploy moves the alias by a canary, rolled back by the alarms."""
    function = resources[API_FUNCTION]["Properties"]
    function["AutoPublishAlias"] = ALIAS
    function["DeploymentPreference"] = {"Type": CANARY, "Alarms": [{"Ref": "Api5xxAlarm"},
                                                                   {"Ref": "APIHandlerNewVersionErrorsAlarm"}]}
    api = resources["RestAPI"]["Properties"]
    text = json.dumps(api["DefinitionBody"])
    target = "${%s.Arn}" % API_FUNCTION
    if target not in text:
        raise SystemExit(f"chalice's API definition no longer invokes {target}: point the alias anew.")
    # A Ref to an alias is its ARN.
    api["DefinitionBody"] = json.loads(text.replace(target, "${%s}" % ALIAS_RESOURCE))
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    if permission["FunctionName"] != {"Ref": API_FUNCTION}:
        raise SystemExit("chalice's API permission changed: point it at the alias anew.")
    permission["FunctionName"] = {"Ref": ALIAS_RESOURCE}


def _redeploy_websocket_on_route_change(template: dict) -> None:
    """A deployment freezes the routes it was made with: its logical id follows them, so a changed
    route or integration makes a new deployment, and the stage moves to it."""
    resources = template["Resources"]
    old = "WebsocketAPIDeployment"
    deployment = resources.pop(old)
    routes = {name: r["Properties"] for name, r in sorted(resources.items())
              if r["Type"] in ("AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration")}
    digest = hashlib.sha256(json.dumps(routes, sort_keys=True).encode()).hexdigest()[:10]
    new = f"{old}{digest}"
    resources[new] = deployment
    text = json.dumps(template).replace(json.dumps({"Ref": old}), json.dumps({"Ref": new}))
    template.clear()
    template.update(json.loads(text))


def finish(template: dict, roles: dict[str, str], retention: int, telemetry_functions: list[str]) -> dict:
    """chalice's template made operable (see the module's description); returns it."""
    resources = template["Resources"]
    template.setdefault("Parameters", {}).update(PARAMETERS)
    template.setdefault("Conditions", {}).update(CONDITIONS)
    missing = [f for f in (log_group_of(name) for name in _functions(resources)) if f not in resources]
    if missing:
        raise SystemExit(f"No log group for {missing}: set log_retention_in_days in .chalice/config.json.")
    for function in _functions(resources).values():
        properties = function["Properties"]
        properties["Runtime"] = RUNTIME
        properties["Architectures"] = [ARCHITECTURE]
        properties["Tracing"] = {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    changes = resources[cfn_name(READS_ENTRIES_STREAM)]["Properties"]
    changes["Environment"]["Variables"]["DQS_EMAIL_SENDER"] = {"Ref": "EmailSender"}
    _role_policies(resources, roles)
    resources["TracingPolicy"] = _tracing_policy(roles)
    _stream_failures(resources, roles)
    _access_logs(resources, retention)
    resources.update(alarm_topic())
    resources.update(alarms(resources, telemetry_functions))
    _release_through_alias(resources)
    _redeploy_websocket_on_route_change(template)
    template["Outputs"].update({
        "AlarmTopicArn": {"Value": {"Ref": ALARM_TOPIC}},
        "StreamFailuresQueueUrl": {"Value": {"Ref": STREAM_FAILURES}},
        "RestAPIAccessLogGroupName": {"Value": {"Ref": REST_ACCESS_LOGS}},
        "WebsocketAPIAccessLogGroupName": {"Value": {"Ref": WEBSOCKET_ACCESS_LOGS}},
    })
    return template
