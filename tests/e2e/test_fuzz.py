"""Fuzzing the served API against its own OpenAPI description (schemathesis).

Each operation gets the app over HTTP on moto's DynamoDB server (`live_server`),
users of every role, and seed data so that ids 1..3 of every kind exist. Every
generated request (valid and invalid data, boundary values, methods a path does
not have) is sent as admin, who gets past every permission check to the
validation and storage code, and as one more identity (staff, doctor, patient
or anonymous) picked from the request's content, so that each of them sees a
quarter of the requests and a replayed request goes out as the same identities.
It must:

* never get a 5xx;
* get only documented status codes, with a JSON body matching the documented schema;
* leave stored data as it was whenever it is answered with a 4xx.

DQS_FUZZ_EXAMPLES sets the examples per operation in the random phase (default 8);
the boundary-value phase adds its own deterministic cases.
"""
from __future__ import annotations

import hashlib
import json
import os
import zlib

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import app  # noqa: F401 (registers every route before the description is built)
from chalicelib import openapi
from tests.conftest import ADMIN_CREDENTIALS
from tests.support import dynamodb

EXAMPLES = int(os.environ.get("DQS_FUZZ_EXAMPLES", "8"))
OTHER_IDENTITIES = ("staff", "doctor", "patient", "anonymous")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
# Counters a refused request may still move: ids taken, failed logins, wrong link codes.
UNCOUNTED_COUNTERS = ("id#", "login-failures#", "link-code-failures#")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

CONFIG = SchemathesisConfig.from_dict({
    "seed": 20240601,
    "generation": {
        "mode": "all",  # valid and invalid data
        "max-examples": EXAMPLES,
        "database": "none",
        # The Authorization header is ours to set, per identity; not a parameter to fuzz.
        "with-security-parameters": False,
    },
    "phases": {
        "examples": {"enabled": False},
        # Boundary values, and methods a path does not have (405). Methods http.server
        # itself does not know (TRACE, QUERY) are tested in tests/test_e2e_http.py.
        "coverage": {"enabled": True, "unexpected-methods": ["get", "put", "post", "delete", "patch", "options"]},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
})

schema = schemathesis.openapi.from_dict(openapi.describe(), config=CONFIG)


class FuzzEnv:
    """The server, a token per role, and a view of every table's items."""

    def __init__(self, live_server, endpoint: str):
        self.server = live_server
        self.credentials: dict[str, tuple[str, str]] = {"admin": ADMIN_CREDENTIALS}
        self.tokens: dict[str, str | None] = {"anonymous": None}
        self.user_ids: dict[str, int] = {}
        self.dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        self.tables = sorted(self.dynamodb.list_tables()["TableNames"])
        self.writes: list[str] = []
        self._digest: str | None = None
        # Every DynamoDB call the app makes passes this listener.
        self._listening = dynamodb.listening(self._count_write)
        self._listening.__enter__()

    def _count_write(self, name, params):
        if name in WRITES:
            self.writes.append(f"{name} {json.dumps(params, default=str)[:400]}")

    def close(self):
        self._listening.__exit__(None, None, None)

    # -- identities and seed data
    def login(self, role: str) -> None:
        username, password = self.credentials[role]
        response = self.server.call("POST", "/auth/login", {"username": username, "password": password})
        assert response.status == 200, response
        self.tokens[role] = response.body["token"]
        self.user_ids[role] = response.body["user"]["id"]

    def post(self, path: str, body: dict, role: str = "admin") -> dict:
        response = self.server.call("POST", path, body, token=self.tokens[role])
        assert response.status in (200, 201), (path, body, response)
        return response.body

    def seed(self) -> None:
        self.login("admin")
        for role in ("staff", "doctor", "patient"):
            username, password = f"fuzz-{role}", f"{role}-password-1"
            body = {"username": username, "email": f"{username}@clinic.test", "password": password, "role": role}
            if role == "patient":
                body["date_of_birth"] = "1990-01-15"
            self.post("/register", body)
            self.credentials[role] = (username, password)
            self.login(role)
        for name in ("Cardiology", "Neurology", "Pediatrics"):
            self.post("/departments", {"name": name, "description": f"{name} department"})
        for n in (2, 3):
            self.post("/doctors", {"name": f"Dr. Seed {n}", "specialty": "Seeding", "department": n})
            self.post("/patients", {"name": f"Seed Patient {n}", "email": f"seed{n}@clinic.test",
                                    "phone": "123-456-7890", "date_of_birth": f"1980-02-0{n}"}, role="staff")
        for n in (1, 2, 3):
            self.post("/appointments", {"patient": n, "doctor": n, "date": f"2030-01-0{n}T10:00:00Z"}, role="staff")
            self.post("/queues/join_queue", {"patient_id": n}, role="staff")
        # A spare account, so that deleting a user can succeed without touching the fuzzing users.
        self.post("/register", {"username": "spare", "email": "spare@clinic.test", "password": "spare-password-1",
                                "date_of_birth": "1970-07-07"})

    # -- stored data
    def items(self) -> dict[str, list[dict]]:
        found = {}
        for table in self.tables:
            found[table] = [item for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=table, ConsistentRead=True) for item in page["Items"]]
        return found

    def restore(self, items: dict[str, list[dict]]) -> None:
        """Put back a snapshot (over the admin live_server made, which it includes)."""
        for table, table_items in items.items():
            for start in range(0, len(table_items), 25):
                chunk = table_items[start:start + 25]
                self.dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in chunk]})
        self.forget_digest()

    def digest(self) -> str:
        """A hash of every table's items. Counters of ids are left out: an id taken by a
        create that then failed is never reused, so a gap in ids is not a change. So are
        counters of failed logins and wrong link codes: a refused attempt is meant to count."""
        if self._digest is None:
            h = hashlib.sha256()
            for table, items in self.items().items():
                kept = sorted(json.dumps(item, sort_keys=True) for item in items
                              if not item.get("name", {}).get("S", "").startswith(UNCOUNTED_COUNTERS))
                h.update(table.encode() + b"\0" + "\n".join(kept).encode() + b"\0")
            self._digest = h.hexdigest()
        return self._digest

    def forget_digest(self) -> None:
        self._digest = None


# Seeding through the API costs about a second (password hashing); it is done for the
# first operation, and the stored items and tokens are put back for the others.
_seeded: dict = {}


@pytest.fixture
def fuzz_env(live_server, dynamodb_server):
    env = FuzzEnv(live_server, dynamodb_server)
    if not _seeded:
        env.seed()
        _seeded.update(items=env.items(), digest=env.digest(), credentials=dict(env.credentials),
                       tokens=dict(env.tokens), user_ids=dict(env.user_ids))
    else:
        env.restore(_seeded["items"])
        assert env.digest() == _seeded["digest"], "the seed snapshot did not restore exactly"
        env.credentials.update(_seeded["credentials"])
        env.tokens.update(_seeded["tokens"])
        env.user_ids.update(_seeded["user_ids"])
    yield env
    env.close()


def _identities(case) -> tuple[str, str]:
    content = repr((case.method, case.path_parameters, case.query, case.body)).encode()
    return "admin", OTHER_IDENTITIES[zlib.crc32(content) % len(OTHER_IDENTITIES)]


def _revokes_fuzzing_token(case, identity: str, env: FuzzEnv) -> bool:
    """Requests that by design end a fuzzing user's tokens: an admin deleting one of them,
    or changing their role, is_active or password. They are not sent (fuzzing would go on with a
    dead token); deleting the spare account and every other change to users still are.
    Logout is sent too: the test logs that user in again after it."""
    params = case.path_parameters or {}
    if identity != "admin" or str(params.get("user_id")) not in {str(uid) for uid in env.user_ids.values()}:
        return False
    if case.method == "DELETE":
        return True
    body = case.body if isinstance(case.body, dict) else {}
    return case.method in ("PUT", "PATCH") and bool({"role", "is_active", "password"} & set(body))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz_every_operation_as_every_role(case, fuzz_env):
    for identity in _identities(case):
        if _revokes_fuzzing_token(case, identity, fuzz_env):
            continue
        token = fuzz_env.tokens[identity]
        headers = {"Authorization": f"Token {token}"} if token else None
        before = fuzz_env.digest()
        fuzz_env.writes.clear()
        response = case.call(base_url=fuzz_env.server.base_url, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if not fuzz_env.writes:
            continue  # no write was attempted, so nothing changed
        fuzz_env.forget_digest()
        if 400 <= response.status_code < 500:
            assert fuzz_env.digest() == before, (
                f"{case.method} {case.formatted_path} as {identity} was answered {response.status_code} "
                f"{response.text[:300]} but changed stored data; writes: {fuzz_env.writes}")
        if case.operation.path == "/auth/logout" and response.status_code == 200:
            fuzz_env.login(identity)  # logging out ends every token of the user: log in again


def test_the_fuzzer_sees_writes_and_changes(fuzz_env):
    """The two things the 4xx check relies on: writes are seen, and a change shows in the digest."""
    before = fuzz_env.digest()
    fuzz_env.writes.clear()
    fuzz_env.post("/departments", {"name": "Dermatology"})
    assert any(write.startswith("TransactWriteItems") or write.startswith("PutItem") for write in fuzz_env.writes)
    fuzz_env.forget_digest()
    assert fuzz_env.digest() != before
