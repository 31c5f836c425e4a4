"""Registration, login, logout and tokens, through chalice.test.Client on moto."""
from __future__ import annotations

import time
from datetime import UTC

import jwt
import pytest

SEED_REGISTER = {"username": "johndoe", "email": "john@example.com", "password": "securepassword123",
                 "role": "patient", "date_of_birth": "1990-01-15"}
SECRET = "test-secret-that-is-at-least-32-bytes-long!"


def test_seed_flow_register_login_profile_logout(api):
    r = api.post("/register/", SEED_REGISTER)
    assert r.status == 201, r
    assert r.body["role"] == "patient" and r.body["username"] == "johndoe"
    assert set(r.body) == {"id", "username", "email", "role", "date_of_birth", "first_name", "last_name",
                           "is_active", "date_joined", "patient_id"}
    assert r.body["date_joined"].endswith("Z")
    login = api.post("/auth/login/", {"username": "JohnDoe", "password": "securepassword123"})
    assert login.status == 200
    assert set(login.body) == {"token", "user", "expires_at"}
    assert login.body["user"] == {"id": r.body["id"], "username": "johndoe", "role": "patient"}
    token = login.body["token"]
    me = api.get(f"/users/{r.body['id']}/", token=token)
    assert me.status == 200 and me.body == r.body
    assert api.post("/auth/logout/", token=token).status == 200
    assert api.get(f"/users/{r.body['id']}", token=token).status == 401


def test_registering_a_patient_creates_the_linked_patient_record(api):
    from chalicelib.storage import patients

    r = api.post("/register", {**SEED_REGISTER, "first_name": "John", "last_name": "Doe"})
    record = patients.get(r.body["patient_id"])
    assert record.user_id == r.body["id"] and record.name == "John Doe"
    assert record.email == "john@example.com" and record.date_of_birth.isoformat() == "1990-01-15"


def test_role_defaults_to_patient_and_other_roles_need_an_admin(api, people):
    body = dict(SEED_REGISTER)
    body.pop("role")
    assert api.post("/register", body).body["role"] == "patient"
    for role in ("staff", "doctor", "admin"):
        r = api.post("/register", {**SEED_REGISTER, "username": f"x{role}", "email": f"x{role}@a.io", "role": role})
        assert r.status == 403, (role, r)
    patient = people.make("patient")
    r = api.post("/register", {**SEED_REGISTER, "username": "sneaky", "email": "s@a.io", "role": "admin"},
                 token=patient.token)
    assert r.status == 403
    for role in ("staff", "doctor"):
        token = people.make(role).token
        r = api.post("/register", {**SEED_REGISTER, "username": f"y{role}", "email": f"y{role}@a.io",
                                   "role": "admin"}, token=token)
        assert r.status == 403
    r = api.post("/register", {"username": "nurse", "email": "n@a.io", "password": "long-enough-1",
                               "role": "staff"}, token=people.admin().token)
    assert r.status == 201 and r.body["role"] == "staff" and "patient_id" not in r.body


def test_registering_a_doctor_creates_the_doctor_record(api, people):
    from chalicelib.storage import departments, doctors

    admin = people.admin().token
    r = api.post("/register", {"username": "drsmith", "email": "smith@clinic.test", "password": "long-enough-1",
                               "role": "doctor", "first_name": "Ann", "last_name": "Smith"}, token=admin)
    assert r.status == 201
    doctor = doctors.get(r.body["doctor_id"])
    assert doctor.user_id == r.body["id"] and doctor.name == "Ann Smith"
    assert doctor.specialty == "General Practice"
    assert departments.get(doctor.department).name == "General Medicine"
    # A second doctor joins the same default department.
    r2 = api.post("/register", {"username": "drjones", "email": "jones@clinic.test", "password": "long-enough-1",
                                "role": "doctor"}, token=admin)
    assert doctors.get(r2.body["doctor_id"]).department == doctor.department
    bad = api.post("/register", {"username": "drwho", "email": "who@clinic.test", "password": "long-enough-1",
                                 "role": "doctor", "department": 999}, token=admin)
    assert bad.status == 400 and "department" in bad.body["Fields"]


def test_usernames_and_emails_are_unique_without_regard_to_case(api):
    assert api.post("/register", SEED_REGISTER).status == 201
    r = api.post("/register", {**SEED_REGISTER, "username": "JOHNDOE", "email": "other@example.com"})
    assert r.status == 409 and r.body["Fields"] == {"username": "A user with that username already exists."}
    r = api.post("/register", {**SEED_REGISTER, "username": "other", "email": "John@Example.COM"})
    assert r.status == 409 and set(r.body["Fields"]) == {"email"}


@pytest.mark.parametrize("changes, field", [
    ({"password": "short1"}, "password"),
    ({"password": "1234567890"}, "password"),
    ({"password": "JohnDoe"}, "password"),
    ({"password": "johndoe12", "username": "johndoe12"}, "password"),
    ({"username": "x" * 151}, "username"),
    ({"username": "john doe"}, "username"),
    ({"username": ""}, "username"),
    ({"username": 5}, "username"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"email": ["a@b.io"]}, "email"),
    ({"date_of_birth": "15/01/1990"}, "date_of_birth"),
    ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
    ({"date_of_birth": None}, "date_of_birth"),
    ({"role": "superuser"}, "role"),
    ({"first_name": "x" * 151}, "first_name"),
    ({"first_name": "nul\x00byte"}, "first_name"),
    ({"is_admin": True}, "is_admin"),
    ({"specialty": "Cardiology"}, "specialty"),
])
def test_bad_registrations_are_400_naming_the_field(api, changes, field):
    body = {**SEED_REGISTER, **changes}
    r = api.post("/register", body)
    assert r.status == 400, r
    assert r.body["Code"] == "BadRequestError" and field in r.body["Fields"], r.body


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_missing_fields_are_named(api, missing):
    body = {k: v for k, v in SEED_REGISTER.items() if k != missing}
    r = api.post("/register", body)
    assert r.status == 400 and r.body["Fields"][missing] == "This field is required."


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"5", b'"text"', b"null", b"\xff\xfe", b"{" * 70000])
def test_malformed_bodies_are_400(api, raw):
    r = api.post("/register", raw=raw)
    assert r.status == 400 and r.body["Code"] == "BadRequestError"


def test_empty_body_counts_as_an_empty_object(api):
    r = api.post("/register", raw=b"")
    assert r.status == 400 and set(r.body["Fields"]) == {"username", "email", "password"}


def test_login_failures_are_401(api, people):
    api.post("/register", SEED_REGISTER)
    for body in ({"username": "johndoe", "password": "wrong-password"},
                 {"username": "nobody", "password": "securepassword123"},
                 {"username": "john doe!", "password": "securepassword123"}):
        r = api.post("/auth/login", body)
        assert r.status == 401 and r.body["Code"] == "UnauthorizedError"
        assert "token" not in r.body
    r = api.post("/auth/login", {"username": "johndoe"})
    assert r.status == 400 and "password" in r.body["Fields"]


def test_bearer_and_token_schemes_both_work(api, people):
    p = people.make("patient")
    for header in (f"Token {p.token}", f"Bearer {p.token}", f"token  {p.token} "):
        assert api.get(f"/users/{p.id}", headers={"Authorization": header}).status == 200


def _token(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def test_forged_expired_malformed_and_unsigned_tokens_are_401(api, people):
    p = people.make("patient")
    now = int(time.time())
    good = {"sub": str(p.id), "ver": 0, "iat": now, "exp": now + 600}
    unsigned = jwt.encode(good, None, algorithm="none")
    bad_tokens = [
        _token(good, key="another-secret-that-is-also-32-bytes-long"),  # forged
        _token({**good, "exp": now - 1}),  # expired
        _token({**good, "sub": "abc"}),  # malformed subject
        _token({**good, "ver": "0"}),  # malformed version
        _token({k: v for k, v in good.items() if k != "exp"}),  # no expiry
        _token({**good, "sub": "999"}),  # no such user
        unsigned,  # alg: none
        p.token[:-2] + ("AA" if not p.token.endswith("AA") else "BB"),  # tampered signature
        "not-a-jwt",
    ]
    for token in bad_tokens:
        r = api.get(f"/users/{p.id}", token=token)
        assert r.status == 401, token
        assert r.body["Code"] == "UnauthorizedError"
    for header in ("Basic abc", "Token", "Bearer ", "x" * 10):
        assert api.get(f"/users/{p.id}", headers={"Authorization": header}).status == 401


def test_logout_revokes_every_token_of_the_user(api, people):
    p = people.make("patient")
    second = people.login(p.username, p.password)
    assert api.post("/auth/logout", token=p.token).status == 200
    assert api.get(f"/users/{p.id}", token=second.token).status == 401
    assert api.post("/auth/logout", token=p.token).status == 401
    # Logging in again works.
    assert api.get(f"/users/{p.id}", token=people.login(p.username, p.password).token).status == 200


def test_logout_needs_a_token(api):
    assert api.post("/auth/logout").status == 401


def test_errors_never_leak_hashes_or_traces(api, people):
    p = people.make("patient")
    for r in (api.get(f"/users/{p.id}", token=p.token), api.get("/users", token=people.admin().token)):
        assert "argon2" not in str(r.body) and "password" not in str(r.body)


def test_a_too_short_secret_refuses_to_serve(api, people, monkeypatch):
    p = people.make("patient")
    monkeypatch.setenv("DQS_JWT_SECRET", "short")
    r = api.get(f"/users/{p.id}", token=p.token)
    assert r.status == 500 and r.body == {"Code": "InternalServerError",
                                          "Message": "The server is not configured correctly."}


def test_a_deployed_stage_reads_its_secret_from_parameter_store(api, people, monkeypatch):
    import boto3

    from chalicelib import settings

    p = people.make("patient")
    monkeypatch.delenv("DQS_JWT_SECRET")
    monkeypatch.setattr(settings, "_secret_cache", {})
    # The dev stage names /dqs/dev/jwt-secret; without the parameter the API refuses to serve.
    r = api.get(f"/users/{p.id}", token=p.token)
    assert r.status == 500 and r.body["Code"] == "InternalServerError" and "Traceback" not in str(r.body)
    boto3.client("ssm").put_parameter(Name="/dqs/dev/jwt-secret", Value=SECRET, Type="SecureString")
    assert api.get(f"/users/{p.id}", token=p.token).status == 200


def test_repeated_failed_logins_lock_the_username_for_the_window(api, people, monkeypatch):
    from datetime import datetime, timedelta

    from chalicelib.domain import accounts, clock

    p = people.make("patient")
    start = datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: start)
    for _ in range(accounts.MAX_LOGIN_FAILURES):
        r = api.post("/auth/login", {"username": p.username.upper(), "password": "wrong-password"})
        assert r.status == 401 and r.body["Message"] == "Unable to log in with provided credentials."
    r = api.post("/auth/login", {"username": p.username, "password": p.password})
    assert r.status == 401 and r.body["Message"].startswith("Too many failed logins")
    # Another username is not affected, nor are tokens already issued.
    assert api.get(f"/users/{p.id}", token=p.token).status == 200
    other = people.make("patient")
    assert api.post("/auth/login", {"username": other.username, "password": other.password}).status == 200
    # Unknown usernames are counted the same way, so the lock tells nothing about who exists.
    for _ in range(accounts.MAX_LOGIN_FAILURES):
        api.post("/auth/login", {"username": "nobody-here", "password": "wrong-password"})
    r = api.post("/auth/login", {"username": "nobody-here", "password": "wrong-password"})
    assert r.body["Message"].startswith("Too many failed logins")
    # The next window opens the door again.
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=accounts.LOGIN_WINDOW_SECONDS))
    assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 200
