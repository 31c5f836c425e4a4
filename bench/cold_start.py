"""Cold start: a fresh Python process imports the app and serves its first request,
as a new Lambda instance does (the handler called with an API Gateway event).

The first request is `GET /departments` with a token: it checks the token against
the users table and runs one Query, so it pays for the first DynamoDB client and
connection. The floor is a bare Chalice app with the same libraries imported
(chalice, pynamodb, PyJWT, argon2) serving a route that returns a constant.
DynamoDB is moto's server on loopback, started once by the parent process.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from bench.harness import ADMIN, PROJECT_DIR, STAGE_TABLE_PREFIX, server_table_prefix

_EVENT = """
def event(method, resource, path, token=None):
    headers = {"content-type": "application/json", "host": "localhost"}
    if token:
        headers["authorization"] = "Token " + token
    return {"requestContext": {"httpMethod": method, "resourcePath": resource, "path": path,
                               "identity": {"sourceIp": "127.0.0.1"}, "requestId": "cold-start"},
            "headers": headers, "pathParameters": None, "stageVariables": {},
            "multiValueQueryStringParameters": None, "body": None, "isBase64Encoded": False}
"""

APP_PROBE = """
import time
started = time.perf_counter()
import json, sys
sys.path.insert(0, sys.argv[1])
from app import app
imported = time.perf_counter()
""" + _EVENT + """
response = app(event("GET", "/departments", "/departments", sys.argv[2]), None)
served = time.perf_counter()
again = app(event("GET", "/departments", "/departments", sys.argv[2]), None)
print(json.dumps({"import": imported - started, "first": served - imported, "second": time.perf_counter() - served,
                  "status": max(response["statusCode"], again["statusCode"])}))
"""

FLOOR_PROBE = """
import time
started = time.perf_counter()
import json, sys
import argon2, jwt, pynamodb.connection, pynamodb.models  # noqa: F401 (what the app imports)
from chalice import Chalice
app = Chalice(app_name="floor")

@app.route("/departments")
def departments():
    return {"results": [], "next": None}

imported = time.perf_counter()
""" + _EVENT + """
response = app(event("GET", "/departments", "/departments"), None)
served = time.perf_counter()
again = app(event("GET", "/departments", "/departments"), None)
print(json.dumps({"import": imported - started, "first": served - imported, "second": time.perf_counter() - served,
                  "status": max(response["statusCode"], again["statusCode"])}))
"""


def _run(code: str, args: list[str], env: dict) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=str(PROJECT_DIR), timeout=120)
    total = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != 200:
        raise RuntimeError(f"cold start probe answered {result['status']}")
    result["process"] = total
    return result


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median seconds of import, first and second request and the whole process, for the app and the floor."""
    from chalicelib import storage
    from chalicelib.domain import accounts
    from devtools.local_server import start_embedded_dynamodb

    server, endpoint = start_embedded_dynamodb()
    try:
        os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
        os.environ["DQS_TABLE_PREFIX"] = server_table_prefix()
        storage.bind()
        storage.create_tables()
        accounts.ensure_admin(ADMIN[0], "admin@clinic.test", ADMIN[1])
        token = accounts.login(*ADMIN)["token"]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        samples: dict[str, list[dict]] = {"app": [], "floor": []}
        for _ in range(runs):  # interleaved, so both see the same machine load
            samples["app"].append(_run(APP_PROBE, [str(PROJECT_DIR), token], env))
            samples["floor"].append(_run(FLOOR_PROBE, [], env))
        keys = ("import", "first", "second", "process")
        return {name: {key: statistics.median(s[key] for s in runs_) for key in keys}
                for name, runs_ in samples.items()}
    finally:
        os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
        os.environ["DQS_TABLE_PREFIX"] = STAGE_TABLE_PREFIX
        server.stop()
