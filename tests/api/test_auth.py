"""Registration, login, logout, passwords and tokens, through chalice.test.Client on moto."""
from __future__ import annotations

import contextlib
import time
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest
from chalice.local import LambdaEventConverter

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
    assert login.body["user"] == {"id": r.body["id"], "username": "johndoe", "role": "patient",
                                  "patient_id": r.body["patient_id"], "doctor_id": None}
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


def test_bad_registrations_are_400_naming_the_field(api):
    """Each case against one set of tables: a 400 registers nothing, so the cases cannot meet."""
    for changes, field in [
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
    ]:
        r = api.post("/register", {**SEED_REGISTER, **changes})
        assert r.status == 400 and r.body["Code"] == "BadRequestError" and field in r.body["Fields"], (changes, r)


def test_missing_fields_are_named(api):
    for missing in ["username", "email", "password"]:
        r = api.post("/register", {k: v for k, v in SEED_REGISTER.items() if k != missing})
        assert r.status == 400 and r.body["Fields"][missing] == "This field is required.", (missing, r)


def test_malformed_bodies_are_400(api):
    for raw in [b"{", b"[1, 2]", b"5", b'"text"', b"null", b"\xff\xfe", b"{" * 70000]:
        r = api.post("/register", raw=raw)
        assert r.status == 400 and r.body["Code"] == "BadRequestError", (raw[:20], r)


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


def _token(claims: dict, key: bytes | str | None = None, algorithm: str = "HS256") -> str:
    """A token as the server signs one: with the tokens' key derived from the secret (chalicelib.keys)."""
    from chalicelib.keys import TOKENS, derived_key

    return jwt.encode(claims, derived_key(TOKENS) if key is None else key, algorithm=algorithm)


def test_forged_expired_malformed_and_unsigned_tokens_are_401(api, people):
    from chalicelib.storage import users

    p = people.make("patient")
    now = int(time.time())
    good = {"sub": str(p.id), "key": users.get(p.id).token_key, "ver": 0, "iat": now, "exp": now + 600}
    assert api.get(f"/users/{p.id}", token=_token(good)).status == 200  # each bad one below differs in one way
    unsigned = jwt.encode(good, None, algorithm="none")
    bad_tokens = [
        _token(good, key="another-secret-that-is-also-32-bytes-long"),  # forged
        _token(good, key=SECRET),  # signed with the bare secret, not the tokens' own key
        _token({**good, "exp": now - 1}),  # expired
        _token({**good, "sub": "abc"}),  # malformed subject
        _token({**good, "ver": "0"}),  # malformed version
        _token({k: v for k, v in good.items() if k != "exp"}),  # no expiry
        _token({k: v for k, v in good.items() if k != "key"}),  # no account key
        _token({**good, "key": "0" * 32}),  # another account's key
        _token({**good, "key": 5}),  # malformed key
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



# -- failed logins: throttled per username and client address --------------------------

@contextlib.contextmanager
def from_address(monkeypatch, address: str):
    """Requests in the block come from `address` (API Gateway's requestContext.identity.sourceIp)."""
    with monkeypatch.context() as patch:
        patch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)
        yield


@pytest.fixture
def fixed_clock(monkeypatch):
    """The clock stands still, one second into the current 15-minute window (tokens it
    issues are checked against the real time, so it stays close to it); move it with now[0]."""
    from chalicelib.domain import clock

    quarter = 15 * 60
    start = datetime.fromtimestamp(int(time.time()) // quarter * quarter + 1, tz=UTC)
    now = [start]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def _fail(api, username):
    return api.post("/auth/login", {"username": username, "password": "wrong-password"})


def test_ten_failures_from_one_address_shut_that_address_out_until_the_window_ends(api, people, monkeypatch,
                                                                                     fixed_clock):
    from chalicelib.domain.accounts import throttling

    p = people.make("patient")
    with from_address(monkeypatch, "203.0.113.9"):
        for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS):
            r = _fail(api, p.username.upper())
            assert r.status == 401 and r.body["Message"] == "Unable to log in with provided credentials."
        fixed_clock[0] += timedelta(minutes=5)
        r = api.post("/auth/login", {"username": p.username, "password": p.password})
        assert r.status == 429 and r.body["Code"] == "TooManyRequestsError", r
        # A sliding window of 15 minutes: the oldest failure leaves it 10 minutes from now.
        assert r.headers["Retry-After"] == str(10 * 60)
        assert "token" not in r.body
    # The owner, from another address, is not locked out; tokens already issued keep working.
    with from_address(monkeypatch, "198.51.100.7"):
        assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 200
    assert api.get(f"/users/{p.id}", token=p.token).status == 200
    # Another username from the shut-out address is not affected.
    other = people.make("patient")
    with from_address(monkeypatch, "203.0.113.9"):
        assert api.post("/auth/login", {"username": other.username, "password": other.password}).status == 200
        # Unknown usernames are counted alike, so a 429 tells nothing about which exist.
        for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS):
            assert _fail(api, "nobody-here").status == 401
        assert _fail(api, "nobody-here").status == 429
        # Once the failures have left the window, the door opens again.
        fixed_clock[0] += timedelta(minutes=10)
        assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 200


# Successes given back, and the limit per username across addresses, are domain rules tested
# through the fakes (tests/unit/test_accounts.py); here the edge's 429 and Retry-After.


def test_logins_sent_at_once_cannot_get_past_the_limit(api, people, monkeypatch, fixed_clock):
    """The attempt is counted before the password is checked, in one conditional write."""
    from chalicelib.domain.accounts import throttling
    from chalicelib.domain.ports.attempts import Entry, Limits
    from chalicelib.storage import attempts

    p = people.make("patient")
    # Nine failures already; the tenth and anything after it must not get an answer about the password.
    for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS - 1):
        _fail(api, p.username)
    name = f"login-window#{p.username.lower()}"
    # A request in flight holds its attempt: another sent meanwhile is refused.
    entry = Entry(fixed_clock[0].timestamp(), "from#127.0.0.1", "in-flight")
    assert attempts.take_sliding(name, entry, Limits(throttling.LOGIN_WINDOW_SECONDS, 101, 10)) == 0
    assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 429
    attempts.give_back_sliding(name, "in-flight")
    assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 200


def test_known_and_unknown_usernames_cost_the_same_calls(api, people):
    """The same calls on the same tables; an unknown name reads a stand-in user (the first
    account), so both reads of the user table find an item of a user's size."""
    from chalicelib.storage import users
    from tests.support.dynamodb import listening

    people.admin()
    p = people.make("patient")
    _fail(api, "warm-up")
    answers = {}
    for username in (p.username, "nobody-by-this-name", "not a valid name!"):
        calls = []

        def record(name, kwargs, calls=calls):
            calls.append((name, kwargs["TableName"].rsplit("-", 1)[-1]))

        with listening(record):
            r = _fail(api, username)
        assert r.status == 401 and r.body["Message"] == "Unable to log in with provided credentials."
        answers[username] = calls
    assert answers[p.username] == answers["nobody-by-this-name"] == answers["not a valid name!"], answers
    # The account's known addresses, its sliding window read and written, then the user.
    assert answers[p.username] == [("GetItem", "counters"), ("GetItem", "counters"), ("UpdateItem", "counters"),
                                   ("GetItem", "uniques"), ("GetItem", "users")]
    assert users.get(users.STAND_IN_ID) is not None and users.get_by_username("nobody-by-this-name") is None


# -- tokens name their account by id and by the account's own key ----------------------------

def _wipe_tables():
    from chalicelib import storage
    from chalicelib.storage.binding import MODELS

    for model in MODELS:
        model.delete_table()
    storage.create_tables()


def test_a_token_from_before_a_wipe_never_authenticates_the_account_that_gets_its_id(api, people):
    from chalicelib.domain import accounts

    people.admin()
    old_patient = people.make("patient")
    assert old_patient.id == 2  # the admin is 1
    _wipe_tables()
    accounts.ensure_admin("root", "root@clinic.test", "root-password-1")
    r = api.post("/register", {"username": "newadmin", "email": "new@clinic.test", "password": "new-password-1",
                               "role": "admin"}, token=people.login("root", "root-password-1").token)
    assert r.status == 201 and r.body["id"] == old_patient.id
    # Same signing key, same id, same token version: still not that account.
    for path in ("/users", f"/users/{old_patient.id}"):
        assert api.get(path, token=old_patient.token).status == 401
    assert api.get("/users", token=people.login("newadmin", "new-password-1").token).status == 200


def test_an_account_made_before_keys_logs_in_once_more_and_gets_one(api, people):
    """Accounts stored before account keys existed: their old tokens (which carry no key) stop
    working, and the next login draws the key (once, even when two logins race)."""
    from chalicelib.domain import security
    from chalicelib.settings import get_settings
    from chalicelib.storage import users
    from chalicelib.storage.users import UserModel

    p = people.make("staff")
    UserModel(p.id).update(actions=[UserModel.token_key.remove()])
    now = datetime.now(UTC)
    old_style = _token({"sub": str(p.id), "ver": 0, "iat": int(now.timestamp()),
                        "exp": int(now.timestamp()) + 600})
    assert api.get(f"/users/{p.id}", token=old_style).status == 401
    assert api.get(f"/users/{p.id}", token=p.token).status == 401  # its key is no longer the account's
    first = people.login(p.username, p.password)
    key = users.get(p.id).token_key
    assert len(key) == 32
    second = people.login(p.username, p.password)
    assert users.get(p.id).token_key == key
    for person in (first, second):
        assert api.get(f"/users/{p.id}", token=person.token).status == 200
    # A login that read the account before another stored its key agrees on the stored one.
    stale = users.get(p.id)
    stale.token_key = ""
    assert users.ensure_token_key(stale, security.new_token_key()) == key
    assert security.read_token(first.token, get_settings())[2] == key


# -- the login answer names the linked records --------------------------------------------

@pytest.mark.parametrize("role", ["patient", "doctor", "staff", "admin"])
def test_the_login_answer_names_the_linked_record(api, people, role):
    person = people.admin() if role == "admin" else people.make(role)
    r = api.post("/auth/login", {"username": person.username, "password": person.password})
    assert r.status == 200
    expected = {"id": person.id, "username": person.username, "role": role, "patient_id": None, "doctor_id": None}
    if role == "patient":
        expected["patient_id"] = person.record["patient_id"]
    if role == "doctor":
        expected["doctor_id"] = person.record["doctor_id"]
    assert r.body["user"] == expected


# -- changing one's own password ----------------------------------------------------------

IDENTITIES = ("anonymous", "patient", "doctor", "staff", "admin")


@pytest.mark.parametrize("identity", IDENTITIES)
def test_changing_ones_own_password(api, as_role, people, identity):
    person = as_role(identity)
    body = {"old_password": person.password if person else "whatever", "new_password": "a-brand-new-secret"}
    r = api.post("/auth/password/", body, token=person.token if person else None)
    if person is None:
        assert r.status == 401
        return
    assert r.status == 200, r
    assert set(r.body) == {"token", "user", "expires_at"} and r.body["user"]["id"] == person.id
    assert r.body["user"]["role"] == identity
    # Every older token stops working; the new one works, and so does the new password.
    second = people.login(person.username, "a-brand-new-secret")
    assert api.get(f"/users/{person.id}", token=person.token).status == 401
    assert api.get(f"/users/{person.id}", token=r.body["token"]).status == 200
    assert api.get(f"/users/{person.id}", token=second.token).status == 200
    assert api.post("/auth/login", {"username": person.username, "password": person.password}).status == 401


def test_a_wrong_old_password_is_a_400_and_counts_as_a_failed_login(api, people, monkeypatch, fixed_clock):
    from chalicelib.domain.accounts import throttling

    p = people.make("patient")
    r = api.post("/auth/password", {"old_password": "not-my-password", "new_password": "a-brand-new-secret"},
                 token=p.token)
    assert r.status == 400 and r.body["Fields"] == {"old_password": "The old password is not correct."}
    assert api.get(f"/users/{p.id}", token=p.token).status == 200  # nothing changed: the token still works
    for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS - 1):
        api.post("/auth/password", {"old_password": "guess", "new_password": "a-brand-new-secret"}, token=p.token)
    r = api.post("/auth/password", {"old_password": p.password, "new_password": "a-brand-new-secret"}, token=p.token)
    assert r.status == 429 and "Retry-After" in r.headers
    assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 429


def test_bad_password_changes_are_400_naming_the_field(api, people):
    p = people.make("patient")
    for body, field in [
        ({"old_password": "x"}, "new_password"),
        ({"new_password": "a-brand-new-secret"}, "old_password"),
        ({"old_password": "x", "new_password": "short"}, "new_password"),
        ({"old_password": "x", "new_password": "123456789"}, "new_password"),
        ({"old_password": "x", "new_password": "a-brand-new-secret", "username": "x"}, "username"),
    ]:
        r = api.post("/auth/password", body, token=p.token)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
    assert api.get(f"/users/{p.id}", token=p.token).status == 200  # nothing changed: the token still works


def test_the_new_password_may_not_be_the_username(api, people):
    p = people.make("patient")
    r = api.post("/auth/password", {"old_password": p.password, "new_password": p.username.upper()}, token=p.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"new_password"}
    assert api.get(f"/users/{p.id}", token=p.token).status == 200


# -- dates of birth ---------------------------------------------------------------------------

@pytest.mark.parametrize("born, status", [("2999-01-01", 400), ("1899-12-31", 400), ("1900-01-01", 201),
                                          ("tomorrow", 400), ("today", 201)])
def test_a_date_of_birth_is_never_in_the_future_nor_before_1900(api, born, status):
    from chalicelib.domain import clock

    today = clock.today()
    born = {"tomorrow": (today + timedelta(days=1)).isoformat(), "today": today.isoformat()}.get(born, born)
    r = api.post("/register", {**SEED_REGISTER, "date_of_birth": born})
    assert r.status == status, r
    if status == 400:
        assert set(r.body["Fields"]) == {"date_of_birth"}
    else:
        assert date.fromisoformat(r.body["date_of_birth"]) == date.fromisoformat(born)

