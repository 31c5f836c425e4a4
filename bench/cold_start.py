"""Cold start: a fresh Python process imports the app and serves its first request,
as a new Lambda instance does (the handler called with an API Gateway event).

Both sides run as Lambda runs them: from the unpacked deployment zip that `make
package` builds (the app, its libraries and their bytecode; a read-only task folder,
so nothing is compiled or written), with boto3/botocore from outside it as the
runtime provides them, in an isolated interpreter (-I -S) of the functions' Python
version (python3.12, found on PATH or in pyenv, whatever Python runs the bench). The
zip's native libraries are built for this machine's architecture here (the deployed
one's are arm64's). The floor is a bare
Chalice app with the same libraries imported (chalice, pynamodb, PyJWT, argon2),
compiled the same way, serving a route that returns a constant.

The first request is `GET /departments` with a token: it checks the token against
the users table and runs one Query, so it pays for the first DynamoDB client and
connection. DynamoDB is moto's server on loopback, started once by the parent process.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from bench.harness import ADMIN, STAGE_TABLE_PREFIX, server_table_prefix


def runtime_python() -> str:
    """The functions' Python (operations.RUNTIME) on this machine: the zip's bytecode is its own."""
    from devtools.package.build import runtime_python as find
    from devtools.package.operations import RUNTIME

    python = find(RUNTIME)
    if python is None:
        raise SystemExit(f"The cold start runs the package on {RUNTIME}, which is not installed here.")
    return python


def host_architecture() -> str:
    import platform

    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

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


def _loader(pad: int) -> str:
    """Code for `load(module)`: `module` imported from a frame with `pad` locals (see STACK_OFFSETS)."""
    padding = (",".join(f"v{i}" for i in range(pad)) + f" = (None,) * {pad}\n    ") if pad else ""
    return f"def load(module):\n    {padding}return __import__(module)\n"


def _probe(pad: int) -> str:
    """Code that times importing the app and its first two requests. argv: the import path, the
    module holding `app`, and the token of the first request (the floor needs none)."""
    return ("import time\nstarted = time.perf_counter()\nimport json, sys\n"
            "sys.path[:0] = sys.argv[1].split(':')\n" + _loader(pad) + """
app = load(sys.argv[2]).app
imported = time.perf_counter()
""" + _EVENT + """
token = sys.argv[3] if len(sys.argv) > 3 else None
response = app(event("GET", "/departments", "/departments", token), None)
served = time.perf_counter()
again = app(event("GET", "/departments", "/departments", token), None)
print(json.dumps({"import": imported - started, "first": served - imported, "second": time.perf_counter() - served,
                  "status": max(response["statusCode"], again["statusCode"])}))
""")


FLOOR_APP = """
import argon2, jwt, pynamodb.connection, pynamodb.models  # noqa: F401 (what the app imports)
from chalice import Chalice
app = Chalice(app_name="floor")

@app.route("/departments")
def departments():
    return {"results": [], "next": None}
"""

# Where the stack stands when the runtime imports the handler, as locals of the importing frame.
# CPython 3.11 keeps frames in 16 KiB chunks and frees a chunk as soon as it empties: code that
# recurses back and forth across a chunk's end (the regex parser compiling urllib3's patterns, for
# one) maps and unmaps memory on every call, and an import can take 50 ms longer for it. Which
# import hits an end depends on the depth the runtime's bootstrap imports from, which differs
# between Python's own start and Lambda's: each side is measured at 8 depths across one chunk
# (256 locals = 2 KiB apart), so neither wins or loses by where a chunk happens to end.
STACK_OFFSETS = tuple(range(0, 2048, 256))


def _run(code: str, args: list[str], env: dict, cwd: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([runtime_python(), "-I", "-S", "-c", code, *args], capture_output=True, text=True,
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

    built = package.build("dev", root / "package", run_lint=False, architecture=host_architecture())
    task = root / "task"
    with zipfile.ZipFile(built / "deployment.zip") as archive:
        archive.extractall(task)
    runtime = root / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        source = Path(importlib.import_module(name).__file__)
        source = source.parent if source.name == "__init__.py" else source
        # The runtime's own copies come with their bytecode; so do these (in the venv, once).
        subprocess.run([runtime_python(), "-m", "compileall", "-q", str(source)], check=True,
                       capture_output=True)
        (runtime / source.name).symlink_to(source)
    floor = root / "floor"
    floor.mkdir()
    (floor / "floor_app.py").write_text(FLOOR_APP)
    subprocess.run([runtime_python(), "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True, "
                    "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)", str(floor / "floor_app.py")],
                   check=True)
    for folder in (task, floor):  # read-only, as Lambda's task folder is
        for path in folder.rglob("*"):
            path.chmod(path.stat().st_mode & ~0o222)
    return task, floor, runtime


def import_profile(task: Path, runtime: Path, top: int = 12) -> tuple[list[tuple[str, float]], float]:
    """The app's slowest imports by their own time (ms, median over STACK_OFFSETS, from -X importtime
    in the task folder), and the own time of the app's modules (app and chalicelib) together."""
    own: dict[str, list[float]] = {}
    for pad in STACK_OFFSETS:
        done = subprocess.run([runtime_python(), "-I", "-S", "-X", "importtime", "-c",
                               f"import sys; sys.path[:0] = {[str(task), str(runtime)]!r}\n"
                               + _loader(pad) + "load('app')\n"],
                              capture_output=True, text=True, cwd=str(task), timeout=120)
        for line in done.stderr.splitlines():
            parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[0].isdigit():
                own.setdefault(parts[2], []).append(int(parts[0]) / 1000)
    medians = {name: statistics.median(times) for name, times in own.items()}
    ours = sum(ms for name, ms in medians.items() if name == "app" or name.split(".")[0] == "chalicelib")
    return sorted(medians.items(), key=lambda item: -item[1])[:top], ours


def measure(runs: int) -> dict:
    """Median seconds of import, first and second request and the whole process, for the app and the
    floor, over `runs` rounds of STACK_OFFSETS; the import ratio at each offset; the import profile."""
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
        token = accounts.login(*ADMIN).token
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        with tempfile.TemporaryDirectory() as tmp:
            task, floor, runtime = lambda_task(Path(tmp))
            samples: dict[str, dict[int, list[dict]]] = {"app": {}, "floor": {}}
            for _ in range(runs):
                for pad in STACK_OFFSETS:  # interleaved, so both see the same machine load
                    samples["app"].setdefault(pad, []).append(
                        _run(_probe(pad), [f"{task}:{runtime}", "app", token], env, task))
                    samples["floor"].setdefault(pad, []).append(
                        _run(_probe(pad), [f"{floor}:{task}:{runtime}", "floor_app"], env, task))
            profile, ours = import_profile(task, runtime)
            for folder in (task, floor):  # writable again, so the folder can be removed
                for path in folder.rglob("*"):
                    path.chmod(path.stat().st_mode | 0o200)
        keys = ("import", "first", "second", "process")
        result: dict = {name: {key: statistics.median(s[key] for runs_ in by_pad.values() for s in runs_)
                               for key in keys}
                        for name, by_pad in samples.items()}
        result["by_offset"] = {pad: statistics.median(s["import"] for s in samples["app"][pad])
                               / statistics.median(s["import"] for s in samples["floor"][pad])
                               for pad in STACK_OFFSETS}
        result["profile"], result["own_ms"] = profile, ours
        return result
    finally:
        os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
        os.environ["DQS_TABLE_PREFIX"] = STAGE_TABLE_PREFIX
        server.stop()
