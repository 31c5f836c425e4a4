"""`make package`: the deployable artifact for each stage, built offline.

For every stage in .chalice/config.json this writes build/package/<stage>/:
  sam.json          chalice's SAM template merged with this system's resources
  deployment.zip    the Lambda code (app, chalicelib, pynamodb, PyJWT, argon2, tzdata)
  resources.json    the merged-in template: generated here from the PynamoDB models

The resources come from the models registered in chalicelib.storage (keys,
attribute types, indexes, TTL), so a model change changes the deployed tables.
The zip leaves boto3/botocore out (the Lambda runtime has them): the project is
copied to build/package/src with pynamodb installed into vendor/ without its
dependencies (`pip install --no-deps --target`) and a requirements file without it.

No AWS account is needed: credentials are removed from chalice's environment
and a region is set if none is.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from devtools.stage import CONFIG_FILE, load_config, stage_env, stages

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_DIR / "build" / "package"
LOGS_POLICY = PROJECT_DIR / "deploy" / "lambda-logs-policy.json"

# Already in the Lambda Python runtime: never shipped in the zip.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
# Shipped under vendor/ without their dependencies (which must all be runtime-provided).
VENDORED = ("pynamodb",)

# -- what each function may do to DynamoDB ------------------------------------------
# Written out by hand. tests/dynamodb_calls.py records every DynamoDB call the test
# suite makes and fails the suite when the code makes a call its function's list
# lacks, or (after a full run) when a list grants an action no call needed.
# A transaction needs no action of its own: IAM checks each of its items as the
# PutItem, UpdateItem, DeleteItem or ConditionCheckItem it is.
# Where: TABLES is every table of the stage, INDEXES every index of them;
# otherwise a list of (table suffix, index name or None for the table itself).
TABLES, INDEXES = "tables", "indexes"

# The API (every route, as the function `api_handler`).
API_ACCESS = {
    "GetItem": TABLES,
    "PutItem": TABLES,
    "UpdateItem": TABLES,
    "DeleteItem": TABLES,
    "ConditionCheckItem": TABLES,
    "Query": INDEXES,
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
    "UpdateItem": [("queue-entries", None)],
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
WEBSOCKET_URL = {"Fn::Sub": "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/%s"
                 % WEBSOCKET_STAGE}
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


def _log_retention(stage: str) -> int | None:
    config = load_config()
    return config["stages"][stage].get("log_retention_in_days", config.get("log_retention_in_days"))


def cfn_name(name: str) -> str:
    """A CloudFormation logical id from a table suffix or function name (chalice's rule)."""
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name(name)


def table_logical_id(model) -> str:
    return cfn_name(model.Meta.table_suffix) + "Table"


def _models():
    from chalicelib import storage

    suffixes = [model.Meta.table_suffix for model in storage.MODELS]
    duplicates = {s for s in suffixes if suffixes.count(s) > 1}
    if duplicates:
        raise SystemExit(f"Two models share the table suffix(es) {sorted(duplicates)}.")
    return list(storage.MODELS)


def _key_schema(entries: list[dict]) -> list[dict]:
    # DynamoDB wants HASH before RANGE; PynamoDB lists them in attribute order.
    return sorted(({"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in entries),
                  key=lambda e: e["KeyType"] != "HASH")


def _projection(index: dict) -> dict:
    projection = {"ProjectionType": index["projection"]["ProjectionType"]}
    if index["projection"].get("NonKeyAttributes"):
        projection["NonKeyAttributes"] = sorted(index["projection"]["NonKeyAttributes"])
    return projection


def table_resource(model, prefix: str) -> dict:
    """A model's table as a CloudFormation resource: on-demand, PITR, protected, encrypted."""
    schema = model._get_schema()
    definitions: dict[str, str] = {}
    for entry in schema["attribute_definitions"]:
        definitions[entry["AttributeName"]] = entry["AttributeType"]
    for index in schema["global_secondary_indexes"] + schema["local_secondary_indexes"]:
        for entry in index.get("attribute_definitions", []):
            definitions[entry["AttributeName"]] = entry["AttributeType"]
    properties: dict = {
        "TableName": prefix + model.Meta.table_suffix,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind}
                                 for name, kind in sorted(definitions.items())],
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
        "SSESpecification": {"SSEEnabled": True},
    }
    if schema["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = [
            {"IndexName": index["index_name"], "KeySchema": _key_schema(index["key_schema"]),
             "Projection": _projection(index)}
            for index in sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"])
        ]
    if schema["local_secondary_indexes"]:
        properties["LocalSecondaryIndexes"] = [
            {"IndexName": index["index_name"], "KeySchema": _key_schema(index["key_schema"]),
             "Projection": _projection(index)}
            for index in sorted(schema["local_secondary_indexes"], key=lambda i: i["index_name"])
        ]
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": stream}
    ttl = getattr(model.Meta, "ttl_attribute", None)
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    # Retained: deleting the stack (or rolling back a failed first create) leaves the
    # tables and the clinic's data in place, instead of failing on their deletion
    # protection (DELETE_FAILED, ROLLBACK_FAILED). A key change (a replacement) keeps
    # the old table too. Deleting a stage's tables is a separate, deliberate step (README).
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": properties}


def _indexes(model) -> list[str]:
    schema = model._get_schema()
    return sorted(i["index_name"] for i in schema["global_secondary_indexes"] + schema["local_secondary_indexes"])


def grants(function: str) -> set[tuple[str, str, str | None]]:
    """What a function's policy allows: (action, table suffix, index name or None for the table)."""
    granted = set()
    for action, where in FUNCTION_ACCESS[function].items():
        if where == TABLES:
            granted.update((action, m.Meta.table_suffix, None) for m in _models())
        elif where == INDEXES:
            granted.update((action, m.Meta.table_suffix, i) for m in _models() for i in _indexes(m))
        else:
            granted.update((action, suffix, index) for suffix, index in where)
    return granted


def _parameter_arn(name: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" + name.lstrip("/")}


def _arn(suffix: str, index: str | None) -> dict:
    logical = next(table_logical_id(m) for m in _models() if m.Meta.table_suffix == suffix)
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
        entries = next(table_logical_id(m) for m in _models() if m.Meta.table_suffix == ENTRIES_TABLE)
        policy_statements.append({"Effect": "Allow", "Action": [f"dynamodb:{action}" for action in STREAM_ACTIONS],
                                  "Resource": [{"Fn::GetAtt": [entries, "StreamArn"]}]})
        # ListStreams names no resource in IAM: it lists stream ARNs only.
        policy_statements.append({"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": ["*"]})
    if function == READS_ENTRIES_STREAM:
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


def function_roles(project_dir: Path, stage: str) -> dict[str, str]:
    """Each of the app's functions (chalice's name) and the logical id of the role chalice gives it."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    # Importing the app from the build copy must not leave .pyc files for chalice to zip.
    sys.dont_write_bytecode = True
    config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
    application = ApplicationGraphBuilder().build(config, stage)
    roles = {}
    for resource in DependencyBuilder().build_dependencies(application):
        if isinstance(resource, models.LambdaFunction):
            if not isinstance(resource.role, models.ManagedIAMRole):
                raise SystemExit(f"Function {resource.resource_name} has no role of its own: keep autogen_policy off.")
            roles[resource.resource_name] = cfn_name(resource.role.resource_name)
    if len(set(roles.values())) != len(roles):
        raise SystemExit(f"Functions share a role ({roles}): each needs its own policy.")
    return roles


THROTTLE_RATE_PER_SECOND = 100
THROTTLE_BURST = 200


def resources_template(stage: str, roles: dict[str, str]) -> dict:
    """Everything chalice does not know about: tables, data access, the API's stage settings."""
    env = stage_env(stage)
    models = _models()
    undeclared = set(roles) - set(FUNCTION_ACCESS)
    if undeclared:
        raise SystemExit(f"No DynamoDB access declared for {sorted(undeclared)}: add it to FUNCTION_ACCESS.")
    prefix = env["DQS_TABLE_PREFIX"]
    resources = {table_logical_id(m): table_resource(m, prefix) for m in models}
    for function, role in sorted(roles.items()):
        resources[policy_logical_id(function)] = data_access_policy(function, role, env.get("DQS_JWT_SECRET_PARAM"),
                                                                    env.get("DQS_EMAIL_SENDER"))
    resources["RestAPI"] = {"Properties": {
        # Any OpenApiVersion stops SAM from adding a second stage named "Stage" (its
        # deployment's own), which would serve the whole API without the settings below.
        # chalice's definition stays Swagger 2.0: SAM leaves a "swagger" body as it is.
        "OpenApiVersion": "3.0.1",
        # A stage-wide ceiling on requests: far above what a clinic's desks, phones and screens
        # send, low enough that a flood is turned away with a 429 before it becomes a bill.
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                            "ThrottlingRateLimit": THROTTLE_RATE_PER_SECOND, "ThrottlingBurstLimit": THROTTLE_BURST}],
        "GatewayResponses": gateway_responses(),
    }}
    # The stream handler's event source: the entries table's stream, known only once the stack
    # exists (the app names a placeholder ARN, chalicelib/api/live.py).
    entries = next(table_logical_id(m) for m in models if m.Meta.table_suffix == ENTRIES_TABLE)
    changes = cfn_name(READS_ENTRIES_STREAM)
    resources[changes] = {"Properties": {
        "Events": {changes + "DynamodbEventSource": {"Properties": {"Stream": {"Fn::GetAtt": [entries, "StreamArn"]}}}},
        "Environment": {"Variables": {"DQS_WEBSOCKET_URL": WEBSOCKET_URL}}}}
    resources["WebsocketAPIStage"] = {"Properties": {"DefaultRouteSettings": {
        "ThrottlingRateLimit": THROTTLE_RATE_PER_SECOND, "ThrottlingBurstLimit": THROTTLE_BURST}}}
    # The display page's Content-Security-Policy names the WebSocket it connects to.
    resources["APIHandler"] = {"Properties": {"Environment": {"Variables": {"DQS_WEBSOCKET_URL": WEBSOCKET_URL}}}}
    if _log_retention(stage):
        # chalice 1.34 names the API handler's log group after "ApiHandler", a resource
        # that does not exist (the function is "APIHandler"): point it at the function.
        resources["ApiHandlerLogGroup"] = {
            "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}}
    outputs = {table_logical_id(m) + "Name": {"Value": {"Ref": table_logical_id(m)}} for m in models}
    return {"Resources": resources, "Outputs": outputs}


# -- the build copy ---------------------------------------------------------

def _requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    return re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")


def _requirement_line(name: str) -> str:
    for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines():
        if _requirement_name(line) == name:
            return line.split("#", 1)[0].strip()
    raise SystemExit(f"{name} is not in requirements.txt.")


def _vendor(name: str, vendor_dir: Path) -> None:
    """Install a requirement's pinned wheel into vendor/ without its dependencies.

    Every dependency it declares must be one the Lambda runtime provides.
    """
    from packaging.requirements import Requirement

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(vendor_dir),
                    _requirement_line(name)], check=True)
    dist = next(importlib.metadata.distributions(name=name, path=[str(vendor_dir)]))
    for requirement in map(Requirement, dist.requires or []):
        wanted = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
        if wanted and requirement.name.lower() not in RUNTIME_PROVIDED:
            raise SystemExit(f"{name} needs {requirement.name}, which the Lambda runtime lacks: do not vendor it.")


def prepare_project(dest: Path, *, slim: bool = True) -> Path:
    """A copy of the project for chalice to package (slim: pynamodb vendored, no botocore)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(PROJECT_DIR / "app.py", dest / "app.py")
    shutil.copytree(PROJECT_DIR / "chalicelib", dest / "chalicelib", ignore=ignore)
    (dest / ".chalice").mkdir()
    shutil.copy2(CONFIG_FILE, dest / ".chalice" / "config.json")
    # autogen_policy is off: chalice gives each function a role of its own with this
    # policy file (logging only); data access is each function's separate policy.
    for stage in stages():
        shutil.copy2(LOGS_POLICY, dest / ".chalice" / f"policy-{stage}.json")
    lines = (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    if slim:
        lines = [line for line in lines if _requirement_name(line) not in {*VENDORED, *RUNTIME_PROVIDED}]
        for name in VENDORED:
            _vendor(name, dest / "vendor")
    (dest / "requirements.txt").write_text("\n".join(lines) + "\n")
    return dest


def _chalice_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("AWS_") or key in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # chalice imports the app from the copy it zips
    # No profile or credentials file is read: packaging never talks to AWS.
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def chalice_package(project_dir: Path, stage: str, out_dir: Path, merge_template: Path | None) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    command = [str(Path(sys.executable).with_name("chalice")), "--project-dir", str(project_dir),
               "package", "--stage", stage]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    command.append(str(out_dir))
    subprocess.run(command, check=True, env=_chalice_env(), cwd=project_dir, stdout=subprocess.DEVNULL)


def add_bytecode(zip_path: Path, runtime: str) -> int:
    """Add compiled bytecode for every module in the zip; returns how many files it added.

    The Lambda task folder is read-only, so without bytecode in the package every cold
    start compiles the app and its libraries from source. The .pyc files are checked
    against nothing (unchecked-hash): they are valid exactly as shipped. They must be
    compiled by the runtime's own Python version, which is the one running this.
    """
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        raise SystemExit(f"The functions run on {runtime}; compile their bytecode with {runtime}, not {here}.")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            archive.extractall(root)
        sources = [info.filename for info in infos if info.filename.endswith(".py")]
        compiled = []
        for name in sources:
            target = Path(importlib.util.cache_from_source(name))
            py_compile.compile(str(root / name), cfile=str(root / target), dfile=name, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            compiled.append(target.as_posix())
        rebuilt = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for info in infos:
                archive.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"")
            for name in compiled:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / name).read_bytes())
        rebuilt.replace(zip_path)
    return len(compiled)


def function_runtime(template: dict) -> str:
    """The one Python runtime every function of the template runs on."""
    runtimes = {resource["Properties"]["Runtime"] for resource in template["Resources"].values()
                if resource.get("Type") == "AWS::Serverless::Function"}
    if len(runtimes) != 1:
        raise SystemExit(f"Expected one runtime for every function, found {sorted(runtimes)}.")
    return runtimes.pop()


def lint(template: Path) -> None:
    """cfn-lint: errors fail the build (warnings are shown)."""
    command = [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(template)]
    result = subprocess.run(command, env=_chalice_env(), capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout.strip())
    if result.returncode & 2 or result.returncode & 1:  # 2 = errors, 1 = a fatal cfn-lint failure
        raise SystemExit(f"cfn-lint found errors in {template}.")


def build(stage: str, out_root: Path = BUILD_DIR, *, slim: bool = True, run_lint: bool = True) -> Path:
    """Package one stage into out_root/<stage>; returns that directory."""
    project = prepare_project(out_root / "src", slim=slim)
    out_dir = out_root / stage
    merge = out_root / f"resources-{stage}.json"
    merge.write_text(json.dumps(resources_template(stage, function_roles(project, stage)), indent=2) + "\n")
    chalice_package(project, stage, out_dir, merge)
    add_bytecode(out_dir / "deployment.zip", function_runtime(json.loads((out_dir / "sam.json").read_text())))
    shutil.copy2(merge, out_dir / "resources.json")
    merge.unlink()
    if run_lint:
        lint(out_dir / "sam.json")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=stages(),
                        help="stage to package (repeatable; default: every stage)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory (default build/package)")
    parser.add_argument("--no-lint", action="store_true", help="skip cfn-lint")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    for stage in args.stage or stages():
        out_dir = build(stage, args.out.resolve(), run_lint=not args.no_lint)
        size = (out_dir / "deployment.zip").stat().st_size
        print(f"{stage}: {out_dir.relative_to(Path.cwd()) if out_dir.is_relative_to(Path.cwd()) else out_dir}"
              f"/sam.json + deployment.zip ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
