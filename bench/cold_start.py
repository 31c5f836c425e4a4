"""Cold start: a fresh Python process imports the app and serves its first request,
as a new Lambda instance does (the handler called with an API Gateway event).

Both sides run as Lambda runs them: from the unpacked deployment zip that `make
package` builds (the app, its libraries and their bytecode; a read-only task folder,
so nothing is compiled or written), with boto3/botocore from outside it as the
runtime provides them, in an isolated interpreter (-I -S). The floor is a bare
Chalice app with the same libraries imported (chalice, pynamodb, PyJWT, argon2),
compiled the same way, serving a route that returns a constant.

The first request is `GET /departments` with a token: it checks the token against
the users table and runs one Query, so it pays for the first DynamoDB client and
connection. DynamoDB is moto's server on loopback, started once by the parent process.
"""
from __future__ import annotations

import json
import os
import py_compile
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.harness import ADMIN, STAGE_TABLE_PREFIX, server_table_prefix

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
sys.path[:0] = sys.argv[1].split(":")
from app import app
imported = time.perf_counter()
""" + _EVENT + """
response = app(event("GET", "/departments", "/departments", sys.argv[2]), None)
served = time.perf_counter()
again = app(event("GET", "/departments", "/departments", sys.argv[2]), None)
print(json.dumps({"import": imported - started, "first": served - imported, "second": time.perf_counter() - served,
                  "status": max(response["statusCode"], again["statusCode"])}))
"""

FLOOR_APP = """
import argon2, jwt, pynamodb.connection, pynamodb.models  # noqa: F401 (what the app imports)
from chalice import Chalice
app = Chalice(app_name="floor")

@app.route("/departments")
def departments():
    return {"results": [], "next": None}
"""

FLOOR_PROBE = """
import time
started = time.perf_counter()
import json, sys
sys.path[:0] = sys.argv[1].split(":")
from floor_app import app
imported = time.perf_counter()
""" + _EVENT + """
response = app(event("GET", "/departments", "/departments"), None)
served = time.perf_counter()
again = app(event("GET", "/departments", "/departments"), None)
print(json.dumps({"import": imported - started, "first": served - imported, "second": time.perf_counter() - served,
                  "status": max(response["statusCode"], again["statusCode"])}))
"""


def _run(code: str, args: list[str], env: dict, cwd: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=str(cwd), timeout=120)
    total = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != 200:
        raise RuntimeError(f"cold start probe answered {result['status']}")
    result["process"] = total
    return result


RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def lambda_task(root: Path) -> tuple[Path, Path, Path]:
    """(the app's task folder, the floor's, the runtime's libraries) under root, as Lambda lays them out."""
    import importlib

    from devtools import package

    built = package.build("dev", root / "package", run_lint=False)
    task = root / "task"
    with zipfile.ZipFile(built / "deployment.zip") as archive:
        archive.extractall(task)
    runtime = root / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        source = Path(importlib.import_module(name).__file__)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    floor = root / "floor"
    floor.mkdir()
    (floor / "floor_app.py").write_text(FLOOR_APP)
    py_compile.compile(str(floor / "floor_app.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    for folder in (task, floor):  # read-only, as Lambda's task folder is
        for path in folder.rglob("*"):
            path.chmod(path.stat().st_mode & ~0o222)
    return task, floor, runtime


def import_profile(task: Path, runtime: Path, top: int = 12) -> list[tuple[str, float]]:
    """The app's slowest imports by their own time (ms), from -X importtime in the task folder."""
    done = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", "-c",
                           f"import sys; sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]; import app"],
                          capture_output=True, text=True, cwd=str(task), timeout=120)
    own = []
    for line in done.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            own.append((parts[2], int(parts[0]) / 1000))
    return sorted(own, key=lambda item: -item[1])[:top]


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
        with tempfile.TemporaryDirectory() as tmp:
            task, floor, runtime = lambda_task(Path(tmp))
            samples: dict[str, list[dict]] = {"app": [], "floor": []}
            for _ in range(runs):  # interleaved, so both see the same machine load
                samples["app"].append(_run(APP_PROBE, [f"{task}:{runtime}", token], env, task))
                samples["floor"].append(_run(FLOOR_PROBE, [f"{floor}:{task}:{runtime}"], env, task))
            profile = import_profile(task, runtime)
            for folder in (task, floor):  # writable again, so the folder can be removed
                for path in folder.rglob("*"):
                    path.chmod(path.stat().st_mode | 0o200)
        keys = ("import", "first", "second", "process")
        result = {name: {key: statistics.median(s[key] for s in runs_) for key in keys}
                  for name, runs_ in samples.items()}
        result["profile"] = profile
        return result
    finally:
        os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
        os.environ["DQS_TABLE_PREFIX"] = STAGE_TABLE_PREFIX
        server.stop()
