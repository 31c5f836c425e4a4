"""Shared fixtures: moto-mocked DynamoDB, the Chalice test client, and users of every role."""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os

# The dev stage's variables, as chalice.test.Client applies them during each
# request; then fake credentials and loopback only, before any AWS client exists.
from devtools.stage import stage_env  # noqa: E402 (reads a file; no AWS client)

# Before any AWS client exists: every botocore session announces its DynamoDB calls to the tests.
from tests.support import dynamodb  # noqa: F401

os.environ.update(stage_env("dev"))
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "DQS_JWT_SECRET": "test-secret-that-is-at-least-32-bytes-long!",
    # The tests' DynamoDB over HTTP is moto's server in this process, one request at a time (as
    # make run's): on a loaded machine a 3 s read timeout would retry writes that already landed.
    "DQS_DYNAMODB_READ_TIMEOUT": "15",
})
os.environ.pop("DQS_DYNAMODB_ENDPOINT", None)
os.environ.pop("AWS_PROFILE", None)

import gc  # noqa: E402

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.domain import queue, security  # noqa: E402
from devtools import moto_transactions, overrides  # noqa: E402
from devtools.moto_memory import forget_dynamodb_objects  # noqa: E402

forget_dynamodb_objects()  # moto would keep every item of every test (devtools/moto_memory.py)
moto_transactions.install()  # the same transactions as make run's engine: an undo log, not table copies
overrides.fast_dynamodb_results()  # as make run's engine answers (devtools/overrides.py)

# Passwords: argon2id at the deployed cost (OWASP's baseline, 19 MiB and 2 passes: some 30 ms a hash
# or a check) would cost the suite over a minute of CPU, for the several passwords nearly every test
# sets and checks. In this process passwords are hashed at argon2's least cost instead. A hash made at
# the deployed cost still verifies (argon2 reads the cost from the hash); the servers the tests start
# as processes hash at the deployed cost; tests/unit/test_password_cost.py checks that cost itself.
DEPLOYED_HASHER = security._hasher


@functools.cache
def _cheapest_hasher():
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


security._hasher = _cheapest_hasher

# The suite makes and drops many short-lived objects (moto's items, botocore's parsed answers): the
# collector's default first threshold (700 allocations) ran it tens of thousands of times a run.
# The modules imported so far stay out of its scans (gc.freeze), and it runs 50 times less often.
gc.freeze()
gc.set_threshold(35_000, 20, 20)

pytest_plugins = [
    "tests.support.iam_calls",  # records DynamoDB calls; checks the IAM policies at the end
    "tests.support.layers",  # prints the time of each layer of tests
]


@pytest.fixture
def aws():
    """A fresh, empty set of tables in moto for each test."""
    from tests.support.tables import fresh_tables

    with mock_aws():
        fresh_tables()
        queue.forget_contention()
        yield


class Api:
    """The Chalice test client with JSON in and out, and a token per call."""

    def __init__(self, client: Client):
        self.client = client

    def call(self, method: str, path: str, body=None, token: str | None = None, raw: bytes | str | None = None,
             headers: dict | None = None):
        all_headers = {"Content-Type": "application/json"}
        if token:
            all_headers["Authorization"] = f"Token {token}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=all_headers, body=payload or b"")
        text = response.body.decode() if response.body else ""
        return Response(response.status_code, json.loads(text) if text else None, response.headers)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


class Response:
    def __init__(self, status: int, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def __repr__(self):
        return f"<{self.status} {self.body!r}>"


@pytest.fixture
def api(aws):
    from app import app

    with Client(app) as client:
        yield Api(client)


_names = itertools.count(1)


class People:
    """Makes users of each role through the API, and logs them in."""

    def __init__(self, api: Api):
        self.api = api
        self._admin = None

    def admin(self):
        if self._admin is None:
            from chalicelib.domain import accounts

            accounts.ensure_admin("admin", "admin@clinic.test", "admin-password-1")
            self._admin = self.login("admin", "admin-password-1")
        return self._admin

    def login(self, username: str, password: str):
        response = self.api.post("/auth/login", {"username": username, "password": password})
        assert response.status == 200, response
        return Person(response.body["token"], response.body["user"]["id"], username, password)

    def make(self, role: str, **fields):
        n = next(_names)
        username = fields.pop("username", f"{role}{n}")
        password = fields.pop("password", f"{role}-password-{n}")
        body = {"username": username, "email": f"{username}@clinic.test", "password": password, "role": role}
        if role == "patient":
            body["date_of_birth"] = "1990-01-15"
        body.update(fields)
        token = None if role == "patient" else self.admin().token
        response = self.api.post("/register", body, token=token)
        assert response.status == 201, response
        person = self.login(username, password)
        person.record = response.body
        return person


class Person:
    def __init__(self, token: str, id: int, username: str, password: str):
        self.token = token
        self.id = id
        self.username = username
        self.password = password
        self.record: dict = {}


@pytest.fixture
def people(api):
    return People(api)


@pytest.fixture
def as_role(people):
    """A token for each identity the contract names (None = anonymous)."""
    def make(role: str):
        if role == "anonymous":
            return None
        if role == "admin":
            return people.admin()
        return people.make(role)
    return make


# -- a real DynamoDB over HTTP (moto's server) and the app over real HTTP ------------

@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's DynamoDB server on a loopback port: the embedded DynamoDB `make run` uses."""
    from devtools.local_server import start_embedded_dynamodb

    server, endpoint = start_embedded_dynamodb()
    yield endpoint
    server.stop()


@pytest.fixture
def dynamodb_server(moto_endpoint, monkeypatch):
    """Empty tables on moto's server; storage talks to it over HTTP (thread-safe, like the real thing)."""
    import urllib.request

    # The engine serves only requests carrying its key (the access key id of this process's clients).
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST", headers={
        "X-Dqs-Engine-Key": os.environ["AWS_ACCESS_KEY_ID"]})).read()
    monkeypatch.setenv("DQS_DYNAMODB_ENDPOINT", moto_endpoint)
    from tests.support.tables import fresh_tables

    fresh_tables()  # the server runs in this process, on moto's backend: the same copies serve
    queue.forget_contention()
    yield moto_endpoint


class LiveServer:
    """The app served over HTTP under /api, as `make run` serves it."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None,
             headers: dict | None = None):
        import urllib.error
        import urllib.request

        all_headers = {"Content-Type": "application/json"}
        if token:
            all_headers["Authorization"] = f"Token {token}"
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text, response_headers = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            status, text, response_headers = error.code, error.read().decode(), error.headers
        return Response(status, json.loads(text) if text else None, response_headers)

    def login(self, username: str, password: str) -> str:
        response = self.call("POST", "/auth/login", {"username": username, "password": password})
        assert response.status == 200, response
        return response.body["token"]


ADMIN_CREDENTIALS = ("admin", "admin-password-1")


@contextlib.contextmanager
def _serving():
    """The app on a loopback port (path prefix /api) over whatever DynamoDB this process's storage
    reaches, with an admin (ADMIN_CREDENTIALS). Requests run on real threads, as with `make run`."""
    import threading

    from chalicelib.domain import accounts
    from devtools.local_server import make_server

    accounts.ensure_admin(ADMIN_CREDENTIALS[0], "admin@clinic.test", ADMIN_CREDENTIALS[1])
    server = make_server("127.0.0.1", 0)
    host, port = server.server.server_address[:2]
    # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://{host}:{port}/api")
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def live_server(dynamodb_server):
    """The app over HTTP, its DynamoDB moto's server over HTTP too: as `make run` serves it."""
    with _serving() as server:
        yield server


@pytest.fixture
def live_server_on_mock(aws):
    """The app over HTTP, its DynamoDB moto's mock in this process: the same answers, for tests that
    send thousands of requests (the fuzz pass), without the second HTTP hop of every DynamoDB call,
    which costs 2.6 times the call itself (3.8 ms against 1.45 ms on this machine)."""
    with _serving() as server:
        yield server


# -- running on several processes (pytest-xdist; `make test` uses --dist loadgroup) ---------

# Modules whose tests share something costly (a server or a build in a fixture of module or session
# scope), each with its group: under xdist a group runs on one worker, so that it is made once.
SHARED = {
    "tests/deploy/test_package.py": "package",  # the package build, its cfn-lint run and SAM transform
    "tests/deploy/test_package_webhooks.py": "package",  # the same fixtures
    **{f"tests/e2e/{name}.py": name for name in (
        "test_display_screen", "test_docs_page_browser", "test_e2e_http", "test_edge_http", "test_live_feed_heals",
        "test_pages_browser", "test_waiting_room_live")},  # a local server of their own, per module
}
# The races (16 threads against moto's server, each request timing out after 3 s as deployed) run
# one after another on one worker: two at once on two cores starve each other into timeouts.
RACES = "tests/e2e/test_*races*.py"


def group_of(nodeid: str) -> str | None:
    """The group a test runs in (SHARED, RACES), or None: it goes to whichever worker is free."""
    from fnmatch import fnmatch

    module = nodeid.split("::", 1)[0]
    if module in SHARED:
        return SHARED[module]
    return "races" if fnmatch(module, RACES) else None


def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup with the groups above. pytest-xdist's own loadgroup finds a test's group in
    its node id, where its hook appends the `xdist_group` marker's name; since pytest 9.2 (node ids
    kept as `Node._id`) that append is lost, and every test went to any worker: the package built
    twice, the races ran beside each other. This scheduler takes the group from the node id as it is."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Groups(LoadScopeScheduling):
        """Whole groups, the largest first, to whichever worker is free; every other test alone."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

    return Groups(config, log)
