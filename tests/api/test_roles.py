"""Who may call what: the roles each route declares are API-CONTRACT.md's table, they are
published as `x-roles`, and a caller whose role is not among them is turned away (401
anonymous, 403 logged in) before anything about the request's body is looked at."""
from __future__ import annotations

import re

import pytest

from app import app  # noqa: F401 (registers every route)
from chalicelib.api import openapi

ANYONE = ["anonymous"]
EVERY_ROLE = ["patient", "doctor", "staff", "admin"]
STAFF = ["staff", "admin"]
ADMIN = ["admin"]
DESK = ["doctor", "staff", "admin"]  # a doctor: their own department's queue only (the domain checks)

# API-CONTRACT.md's "Roles and who may do what", operation by operation: the roles that may
# call it at all. Rules about owning an object ("own only") come on top, in the domain.
CONTRACT = {
    ("GET", "/"): ANYONE,
    ("GET", "/health"): ANYONE,
    ("POST", "/register"): ANYONE,
    ("POST", "/auth/login"): ANYONE,
    ("POST", "/auth/logout"): EVERY_ROLE,
    ("POST", "/auth/password"): EVERY_ROLE,
    ("POST", "/auth/password/reset"): ANYONE,
    ("POST", "/auth/password/reset/confirm"): ANYONE,
    ("GET", "/profile"): EVERY_ROLE,
    ("PUT", "/profile"): EVERY_ROLE,
    ("PATCH", "/profile"): EVERY_ROLE,
    ("POST", "/appointments/{appointment_id}/send_reminder"): STAFF,
    ("GET", "/users"): ADMIN,
    ("GET", "/users/{user_id}"): EVERY_ROLE,
    ("PUT", "/users/{user_id}"): EVERY_ROLE,
    ("PATCH", "/users/{user_id}"): EVERY_ROLE,
    ("DELETE", "/users/{user_id}"): ADMIN,
    ("GET", "/patients"): EVERY_ROLE,
    ("GET", "/patients/{patient_id}"): EVERY_ROLE,
    ("POST", "/patients"): STAFF,
    ("POST", "/patients/{patient_id}/link_code"): STAFF,
    ("POST", "/patients/{patient_id}/verify_contact"): ["patient", "staff", "admin"],
    ("PUT", "/patients/{patient_id}"): ["patient", "staff", "admin"],
    ("PATCH", "/patients/{patient_id}"): ["patient", "staff", "admin"],
    ("GET", "/doctors"): EVERY_ROLE,
    ("GET", "/doctors/{doctor_id}"): EVERY_ROLE,
    ("POST", "/doctors"): ADMIN,
    ("GET", "/departments"): EVERY_ROLE,
    ("GET", "/departments/{department_id}"): EVERY_ROLE,
    ("POST", "/departments"): ADMIN,
    ("GET", "/appointments"): EVERY_ROLE,
    ("GET", "/appointments/{appointment_id}"): EVERY_ROLE,
    ("POST", "/appointments"): ["patient", "staff", "admin"],
    ("PATCH", "/appointments/{appointment_id}"): ["patient", "doctor", "staff", "admin"],
    ("POST", "/appointments/{appointment_id}/check_in"): ["patient", "staff", "admin"],
    ("POST", "/webhooks"): ADMIN,
    ("GET", "/webhooks"): ADMIN,
    ("GET", "/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/webhooks/{webhook_id}/ping"): ADMIN,
    ("GET", "/queues"): EVERY_ROLE,
    ("GET", "/queues/{entry_id}"): EVERY_ROLE,
    ("POST", "/queues/join_queue"): ["patient", "staff", "admin"],
    ("GET", "/queues/{entry_id}/position"): EVERY_ROLE,
    ("POST", "/queues/call_next"): DESK,
    ("POST", "/queues/{entry_id}/mark_served"): DESK,
    ("POST", "/queues/reset_queue"): ADMIN,
    ("PATCH", "/departments/{department_id}"): ADMIN,
    ("PATCH", "/doctors/{doctor_id}"): ADMIN,
    ("GET", "/service-points"): EVERY_ROLE,
    ("GET", "/service-points/{service_point_id}"): EVERY_ROLE,
    ("POST", "/service-points"): ADMIN,
    ("PATCH", "/service-points/{service_point_id}"): ADMIN,
    ("POST", "/queues/{entry_id}/recall"): DESK,
    ("POST", "/queues/{entry_id}/no_show"): DESK,
    ("POST", "/queues/{entry_id}/transfer"): DESK,
    ("POST", "/queues/{entry_id}/requeue"): STAFF,
    ("POST", "/queues/close"): STAFF,
    ("POST", "/queues/open"): STAFF,
    ("POST", "/queues/{entry_id}/cancel"): ["patient", "staff", "admin"],
    ("GET", "/queues/stats"): ["doctor", "staff", "admin"],
    ("GET", "/queues/board"): ANYONE,
    # Clinical records: admins read all but write no diagnosis, treatment or note (the domain
    # refuses them, as it refuses a patient another patient's records).
    ("GET", "/patients/{patient_id}/medical-record"): EVERY_ROLE,
    ("PUT", "/patients/{patient_id}/medical-record"): DESK,
    ("PATCH", "/patients/{patient_id}/medical-record"): DESK,
    ("GET", "/patients/{patient_id}/medical-history"): ["patient", "doctor", "admin"],
    ("GET", "/patients/{patient_id}/access-log"): ["patient", "admin"],
    **{(method, f"/patients/{{patient_id}}/{path}"): roles
       for plural, kind in (("diagnoses", "diagnosis"), ("treatments", "treatment"), ("notes", "note"))
       for method, path, roles in (
           ("GET", plural, ["patient", "doctor", "admin"]),
           ("POST", plural, ["doctor", "admin"]),
           ("GET", f"{plural}/{{{kind}_id}}", ["patient", "doctor", "admin"]),
           *([("PATCH", f"{plural}/{{{kind}_id}}", ["doctor", "admin"])] if kind != "note" else []))},
}

IDENTITIES = ("anonymous", "patient", "doctor", "staff", "admin")


def _operations() -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): operation for path, item in openapi.describe()["paths"].items()
            for method, operation in item.items()}


def test_every_operation_publishes_the_contracts_roles():
    published = {key: operation["x-roles"] for key, operation in _operations().items()}
    assert set(published) == set(CONTRACT), "operations missing from the contract's table, or gone from the API"
    for key, roles in published.items():
        assert sorted(roles) == sorted(CONTRACT[key]), key


@pytest.fixture
def tokens(as_role):
    return {identity: (person.token if person else None)
            for identity in IDENTITIES for person in [as_role(identity)]}


def _forbidden_cases():
    for (method, path), roles in sorted(CONTRACT.items()):
        for identity in IDENTITIES:
            if identity not in roles and roles != ANYONE:
                yield method, path, identity


def test_a_caller_without_the_role_is_refused_before_the_body_is_read(api, tokens):
    """An invalid body and a bogus query, sent by every identity the route does not allow."""
    refused = 0
    for method, path, identity in _forbidden_cases():
        url = re.sub(r"{\w+}", "1", path) + "?bogus=1"
        response = api.call(method, url, raw=b'{"not a field": [', token=tokens[identity])
        expected = 401 if identity == "anonymous" else 403
        assert response.status == expected, (method, path, identity, response)
        refused += 1
    assert refused > 50


def test_owning_an_object_is_checked_before_the_body_too(api, people):
    """Object rules (a patient's own record, profile or appointment) come before the body as well."""
    me, other = people.make("patient"), people.make("patient")
    staff = people.make("staff")
    doctor = people.make("doctor")
    booked = api.post("/appointments", {"patient": other.record["patient_id"], "doctor": doctor.record["doctor_id"],
                                        "date": "2031-01-02T10:00:00Z"}, token=staff.token)
    assert booked.status == 201, booked
    bad_body = {"email": "not an email", "unknown": 1}
    for path in (f"/users/{other.id}", f"/patients/{other.record['patient_id']}",
                 f"/appointments/{booked.body['id']}"):
        response = api.patch(path, bad_body, token=me.token)
        assert response.status == 403, (path, response)
    # The owner gets the 400 for the same body.
    assert api.patch(f"/users/{other.id}", bad_body, token=other.token).status == 400
