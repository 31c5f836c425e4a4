"""The template merged into chalice's: everything chalice does not know about. The tables (from
the models), each function's data-access policy, the REST and WebSocket APIs' stage settings and
gateway responses, the stream handler's event source, and the tables' names as outputs."""
from __future__ import annotations

from devtools.package.iam import (
    ENTRIES_TABLE,
    FUNCTION_ACCESS,
    READS_ENTRIES_STREAM,
    WEBSOCKET_STAGE,
    data_access_policy,
    policy_logical_id,
)
from devtools.package.tables import cfn_name, model_of, models, table_logical_id, table_resource
from devtools.package.webhooks import webhook_resources
from devtools.stage import load_config, stage_env

WEBSOCKET_URL = {"Fn::Sub": "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/%s"
                 % WEBSOCKET_STAGE}

# A stage-wide ceiling on requests: far above what a clinic's desks, phones and screens
# send, low enough that a flood is turned away with a 429 before it becomes a bill.
THROTTLE_RATE_PER_SECOND = 100
THROTTLE_BURST = 200

# API Gateway's own answers (no route, throttling, ...) in the app's error shape.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "NotFoundError", '"No such route."'),
    "ACCESS_DENIED": ("403", "ForbiddenError", "$context.error.messageString"),
    "THROTTLED": ("429", "TooManyRequestsError", "$context.error.messageString"),
    "QUOTA_EXCEEDED": ("429", "TooManyRequestsError", "$context.error.messageString"),
    "REQUEST_TOO_LARGE": ("413", "BadRequestError", "$context.error.messageString"),
    "INTEGRATION_TIMEOUT": ("504", "GatewayTimeoutError", "$context.error.messageString"),
    "DEFAULT_4XX": (None, "BadRequestError", "$context.error.messageString"),
    "DEFAULT_5XX": (None, "InternalServerError", "$context.error.messageString"),
}


def log_retention(stage: str) -> int | None:
    config = load_config()
    return config["stages"][stage].get("log_retention_in_days", config.get("log_retention_in_days"))


def gateway_responses() -> dict:
    """API Gateway's own answers, as the API's GatewayResponses property.

    SAM writes them into the API's definition, so every deployment of the stage
    carries them (separate GatewayResponse resources would wait for the next one).
    """
    responses = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        response = {
            "ResponseParameters": {"Headers": {"Content-Type": "'application/json'",
                                               "X-Content-Type-Options": "'nosniff'"}},
            "ResponseTemplates": {"application/json": '{"Code":"%s","Message":%s}' % (code, message)},
        }
        if status:
            response["StatusCode"] = status
        responses[kind] = response
    return responses


def resources_template(stage: str, roles: dict[str, str]) -> dict:
    """Everything chalice does not know about: tables, data access, the API's stage settings."""
    env = stage_env(stage)
    tables = models()
    undeclared = set(roles) - set(FUNCTION_ACCESS)
    if undeclared:
        raise SystemExit(f"No DynamoDB access declared for {sorted(undeclared)}: add it to FUNCTION_ACCESS.")
    prefix = env["DQS_TABLE_PREFIX"]
    resources = {table_logical_id(m): table_resource(m, prefix) for m in tables}
    for function, role in sorted(roles.items()):
        resources[policy_logical_id(function)] = data_access_policy(
            function, role, cfn_name(function) + "LogGroup", env.get("DQS_JWT_SECRET_PARAM"),
            env.get("DQS_JWT_PREVIOUS_SECRET_PARAM"))
    resources["RestAPI"] = {"Properties": {
        # Any OpenApiVersion stops SAM from adding a second stage named "Stage" (its
        # deployment's own), which would serve the whole API without the settings below.
        # chalice's definition stays Swagger 2.0: SAM leaves a "swagger" body as it is.
        "OpenApiVersion": "3.0.1",
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                            "ThrottlingRateLimit": THROTTLE_RATE_PER_SECOND, "ThrottlingBurstLimit": THROTTLE_BURST}],
        "GatewayResponses": gateway_responses(),
    }}
    # The stream handler's event source: the entries table's stream, known only once the stack
    # exists (the app names a placeholder ARN, chalicelib/api/live.py).
    entries = table_logical_id(model_of(ENTRIES_TABLE))
    changes = cfn_name(READS_ENTRIES_STREAM)
    resources[changes] = {"Properties": {
        "Events": {changes + "DynamodbEventSource": {"Properties": {"Stream": {"Fn::GetAtt": [entries, "StreamArn"]}}}},
        "Environment": {"Variables": {"DQS_WEBSOCKET_URL": WEBSOCKET_URL}}}}
    resources["WebsocketAPIStage"] = {"Properties": {"DefaultRouteSettings": {
        "ThrottlingRateLimit": THROTTLE_RATE_PER_SECOND, "ThrottlingBurstLimit": THROTTLE_BURST}}}
    # The display page's Content-Security-Policy names the WebSocket it connects to.
    resources["APIHandler"] = {"Properties": {"Environment": {"Variables": {"DQS_WEBSOCKET_URL": WEBSOCKET_URL}}}}
    if log_retention(stage):
        # chalice 1.34 names the API handler's log group after "ApiHandler", a resource
        # that does not exist (the function is "APIHandler"): point it at the function.
        resources["ApiHandlerLogGroup"] = {
            "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}}
    resources.update(webhook_resources(resources, roles, env.get("DQS_JWT_SECRET_PARAM")))
    outputs = {table_logical_id(m) + "Name": {"Value": {"Ref": table_logical_id(m)}} for m in tables}
    return {"Resources": resources, "Outputs": outputs}
