"""What every part of the benchmark shares: the environment, two ways to send a
request (chalice.test.Client on moto in this process; the local HTTP server on
moto's server), a DynamoDB call counter, and latency statistics.

The environment is set before the app is imported, as tests/conftest.py does:
the dev stage's variables, fake AWS credentials, loopback endpoints only.
"""
from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import os
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import devtools.calls  # noqa: F401 (first: it counts the DynamoDB calls of botocore clients made after it)
from devtools.stage import stage_env

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADMIN = ("admin", "admin-password-1")


# Tables on moto's server get their own prefix: moto's servers in one process (and its in-process
# mock) keep their data in the same place, so each server's tables get names of their own.
SERVER_TABLE_PREFIX = "dqs-server-"
STAGE_TABLE_PREFIX = stage_env("dev")["DQS_TABLE_PREFIX"]
_servers_started = itertools.count()


def server_table_prefix() -> str:
    """The table prefix for the next moto server this process starts: each server its own, so
    that each starts with empty tables (the first keeps SERVER_TABLE_PREFIX)."""
    n = next(_servers_started)
    return SERVER_TABLE_PREFIX if n == 0 else f"{SERVER_TABLE_PREFIX}{n}-"


def leave_server_environment() -> None:
    """After a local server stops: the next transport talks to moto's mock with the stage's tables
    again (chalice.test.Client sets the stage's prefix only while a request runs)."""
    os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
    os.environ.pop("DQS_DYNAMODB_READ_TIMEOUT", None)
    os.environ["DQS_TABLE_PREFIX"] = STAGE_TABLE_PREFIX


def prepare_environment() -> None:
    """Dev stage settings, a JWT secret for this run, fake credentials; no AWS account is touched."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    os.environ.update(stage_env("dev"))
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DQS_JWT_SECRET": os.environ.get("DQS_BENCH_JWT_SECRET") or secrets.token_urlsafe(48),
        # Every account a benchmark registers comes from one address: the throttle would stop the 21st.
        "DQS_REGISTRATIONS_PER_ADDRESS_HOUR": "100000",
    })
    for key in ("DQS_JWT_SECRET_PARAM", "DQS_DYNAMODB_ENDPOINT", "AWS_PROFILE"):
        os.environ.pop(key, None)
    from devtools import moto_transactions
    from devtools.moto_memory import forget_dynamodb_objects

    forget_dynamodb_objects()  # the clinic day's transactions would fill memory (devtools/moto_memory.py)
    moto_transactions.install()  # the in-process mock's transactions as make run's engine runs them


# -- statistics ---------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# -- counting DynamoDB calls ------------------------------------------------------

class CallCounter:
    """Counts the DynamoDB calls the app makes (every call PynamoDB dispatches)."""

    def __init__(self):
        self.calls: list[str] = []
        self._listening = None

    def attach(self) -> None:
        from devtools.calls import listening

        self.detach()
        self._listening = listening(self._record)
        self._listening.__enter__()

    def detach(self) -> None:
        if self._listening is not None:
            self._listening.__exit__(None, None, None)
            self._listening = None

    def _record(self, name, _kwargs):
        self.calls.append(name)

    @contextlib.contextmanager
    def counting(self):
        self.calls.clear()
        yield self.calls


# -- transports --------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    body: object
    seconds: float
    calls: list[str]


class Transport:
    name = ""

    def __init__(self):
        self.counter = CallCounter()

    def send(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, object]:
        raise NotImplementedError

    def call(self, method: str, path: str, body=None, token: str | None = None) -> Reply:
        """One request, timed from the client's side, with the DynamoDB calls it made."""
        with self.counter.counting() as calls:
            started = time.perf_counter()
            status, payload = self.send(method, path, body, token)
            elapsed = time.perf_counter() - started
        return Reply(status, payload, elapsed, list(calls))

    def ok(self, method: str, path: str, body=None, token: str | None = None, expect=(200, 201)):
        reply = self.call(method, path, body, token)
        if reply.status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise RuntimeError(f"{method} {path} {body!r}: {reply.status} {reply.body!r}")
        return reply.body

    def login(self, username: str, password: str) -> dict:
        return self.ok("POST", "/auth/login", {"username": username, "password": password})

    def bootstrap(self) -> None:
        from chalicelib import storage
        from chalicelib.domain import accounts

        storage.bind()
        storage.create_tables()
        accounts.ensure_admin(ADMIN[0], "admin@clinic.test", ADMIN[1])
        self.counter.attach()

    def close(self) -> None:
        self.counter.detach()


def _headers(token: str | None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    return headers


def _decode(raw: bytes | str):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw if isinstance(raw, str) else raw.decode(errors="replace")


class ClientTransport(Transport):
    """chalice.test.Client: the app called in this process, on moto's in-process DynamoDB."""
    name = "chalice.test.Client on moto"

    def __init__(self):
        super().__init__()
        from chalice.test import Client
        from moto import mock_aws

        from app import app

        os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
        self._mock = mock_aws()
        self._mock.start()
        self._client = Client(app, stage_name="dev", project_dir=str(PROJECT_DIR))
        self._client.__enter__()
        self.bootstrap()

    def send(self, method, path, body=None, token=None):
        payload = json.dumps(body).encode() if body is not None else b""
        response = self._client.http.request(method, path, headers=_headers(token), body=payload)
        return response.status_code, _decode(response.body)

    def close(self):
        super().close()
        self._client.__exit__(None, None, None)
        self._mock.stop()


class HttpTransport(Transport):
    """The local HTTP server (`make run`'s) under /api, on moto's DynamoDB server, over loopback.

    A new connection per request by default, as curl makes; keep_alive=True reuses one.
    """
    name = "local HTTP server on moto's server"

    def __init__(self, endpoint: str | None = None, keep_alive: bool = False):
        super().__init__()
        from devtools.local_server import make_server, start_embedded_dynamodb

        self._moto = None
        if endpoint is None:
            self._moto, endpoint = start_embedded_dynamodb()
        self.endpoint = endpoint
        self.keep_alive = keep_alive
        os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
        # Empty tables of its own; the moto-mocked transport uses the stage's.
        os.environ["DQS_TABLE_PREFIX"] = server_table_prefix()
        self.bootstrap()
        self._server = make_server("127.0.0.1", 0)
        self.host, self.port = self._server.server.server_address[:2]
        self._thread = threading.Thread(target=self._server.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        self.base_url = f"http://{self.host}:{self.port}/api"
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        if not self.keep_alive:
            return http.client.HTTPConnection(self.host, self.port, timeout=60)
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return connection

    def send(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        connection = self._connection()
        connection.request(method, "/api" + path, body=data, headers=_headers(token))
        response = connection.getresponse()
        payload = response.read()
        if not self.keep_alive:
            connection.close()
        return response.status, _decode(payload)

    def close(self):
        super().close()
        self._server.server.shutdown()
        self._server.server.server_close()
        if self._moto is not None:
            self._moto.stop()
        leave_server_environment()
