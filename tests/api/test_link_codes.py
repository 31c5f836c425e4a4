"""A patient record made at the desk is claimed only with its link code, never by its email."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.api.test_auth import from_address

WALK_IN = {"name": "John Doe", "email": "john@example.com", "phone": "123-456-7890", "date_of_birth": "1990-01-15"}
ACCOUNT = {"username": "johndoe", "email": "john@example.com", "password": "securepassword123",
           "date_of_birth": "1990-01-15"}
IDENTITIES = ("anonymous", "patient", "doctor", "staff", "admin")


@pytest.fixture
def staff(people):
    return people.make("staff").token


def walk_in(api, staff, **fields) -> dict:
    r = api.post("/patients", {**WALK_IN, **fields}, token=staff)
    assert r.status == 201, r
    return r.body


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_desk_is_shown_a_code_once_valid_seven_days(api, staff):
    from chalicelib.domain import security

    record = walk_in(api, staff)
    code = record["link_code"]
    assert len(code) == 8 and set(code) <= set(security.LINK_CODE_ALPHABET)
    left = _instant(record["link_code_expires_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=1) < left <= timedelta(days=7)
    assert "link_code" not in api.get(f"/patients/{record['id']}", token=staff).body
    assert all("link_code" not in p for p in api.get("/patients", token=staff).body["results"])
    assert walk_in(api, staff, email="other@example.com")["link_code"] != code


def test_the_code_itself_is_stored_nowhere(api, staff):
    code = walk_in(api, staff)["link_code"]
    client = boto3.client("dynamodb")
    for table in client.list_tables()["TableNames"]:
        items = client.scan(TableName=table)["Items"]
        assert code not in str(items) and code.lower() not in str(items), table


def test_an_email_alone_never_links_anybody_to_a_record(api, staff):
    """The account takeover: someone registering with a walk-in's email, in any case, got the record."""
    from chalicelib.storage import patients

    record = walk_in(api, staff)
    for email in ("john@example.com", "JOHN@example.com", "John@Example.COM"):
        r = api.post("/register", {**ACCOUNT, "email": email})
        assert r.status == 409, r
        assert set(r.body["Fields"]) == {"email"} and "ask the desk for your link code" in r.body["Fields"]["email"]
    assert patients.get(record["id"]).user_id is None
    assert api.post("/auth/login", {"username": "johndoe", "password": "securepassword123"}).status == 401


def test_an_email_an_account_holds_and_one_a_walk_in_holds_get_the_same_answer(api, staff):
    """Registration never tells a stranger whether somebody is a patient of the clinic."""
    walk_in(api, staff, email="walkin@example.com")
    assert api.post("/register", {**ACCOUNT, "username": "holder", "email": "account@example.com"}).status == 201
    answers = [api.post("/register", {**ACCOUNT, "email": email})
               for email in ("walkin@example.com", "account@example.com")]
    assert answers[0].status == answers[1].status == 409
    assert answers[0].body == answers[1].body
    assert "ask the desk for your link code" in answers[0].body["Fields"]["email"]


def test_registering_with_the_code_links_the_account_to_the_record(api, staff):
    from chalicelib.storage import patients

    record = walk_in(api, staff)
    # The code identifies the record: the account's email may be another, and the code may be
    # typed in lower case and with a dash.
    typed = record["link_code"][:4].lower() + "-" + record["link_code"][4:]
    r = api.post("/register", {**ACCOUNT, "email": "john.doe@mail.example", "link_code": typed})
    assert r.status == 201, r
    assert r.body["patient_id"] == record["id"] and r.body["role"] == "patient"
    assert patients.get(record["id"]).user_id == r.body["id"]
    login = api.post("/auth/login", {"username": "johndoe", "password": "securepassword123"}).body
    assert login["user"]["patient_id"] == record["id"]
    own = api.get("/patients", token=login["token"]).body["results"]
    assert [p["id"] for p in own] == [record["id"]] and own[0]["user_id"] == r.body["id"]
    assert own[0]["email"] == WALK_IN["email"]  # the record stays as the desk made it


def test_a_code_is_used_once(api, staff):
    from chalicelib.storage import patients

    record = walk_in(api, staff)
    assert api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).status == 201
    r = api.post("/register", {**ACCOUNT, "username": "someone", "email": "someone@example.com",
                               "link_code": record["link_code"]})
    assert r.status == 400 and set(r.body["Fields"]) == {"link_code"}
    assert api.post("/auth/login", {"username": "someone", "password": "securepassword123"}).status == 401
    assert patients.get(record["id"]).link_code_hash is None


@pytest.mark.parametrize("code", ["ABCDEFGH", "short", "", "0000000O", "x" * 32])
def test_a_wrong_code_is_a_400_on_link_code_and_creates_nothing(api, staff, code):
    from chalicelib.storage import counters

    walk_in(api, staff)
    ids = counters.current_value("id#user")
    r = api.post("/register", {**ACCOUNT, "email": "fresh@example.com", "link_code": code})
    assert r.status == 400 and set(r.body["Fields"]) == {"link_code"}, r
    assert counters.current_value("id#user") == ids  # checked before an id or a password hash is spent
    assert api.post("/auth/login", {"username": "johndoe", "password": "securepassword123"}).status == 401


def test_an_expired_code_is_refused(api, staff, monkeypatch):
    from chalicelib.domain import clock

    record = walk_in(api, staff)
    expires = _instant(record["link_code_expires_at"])
    monkeypatch.setattr(clock, "now", lambda: expires + timedelta(seconds=1))
    r = api.post("/register", {**ACCOUNT, "link_code": record["link_code"]})
    assert r.status == 400 and set(r.body["Fields"]) == {"link_code"}
    monkeypatch.setattr(clock, "now", lambda: expires - timedelta(seconds=5))
    assert api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).status == 201


def test_only_a_patient_account_takes_a_link_code(api, staff, people):
    record = walk_in(api, staff)
    r = api.post("/register", {**ACCOUNT, "role": "staff", "link_code": record["link_code"]},
                 token=people.admin().token)
    assert r.status == 400 and set(r.body["Fields"]) == {"link_code"}


@pytest.mark.parametrize("identity, status", [("anonymous", 401), ("patient", 403), ("doctor", 403),
                                              ("staff", 201), ("admin", 201)])
def test_who_may_issue_a_new_code(api, as_role, staff, identity, status):
    record = walk_in(api, staff)
    person = as_role(identity)
    r = api.post(f"/patients/{record['id']}/link_code/", token=person.token if person else None)
    assert r.status == status, r
    if status != 201:
        # The first code still works.
        assert api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).status == 201
        return
    assert set(r.body) == {"link_code", "expires_at"} and r.body["link_code"] != record["link_code"]
    # The old code dies; the new one links.
    old = api.post("/register", {**ACCOUNT, "link_code": record["link_code"]})
    assert old.status == 400 and set(old.body["Fields"]) == {"link_code"}
    new = api.post("/register", {**ACCOUNT, "link_code": r.body["link_code"]})
    assert new.status == 201 and new.body["patient_id"] == record["id"]


def test_a_new_code_for_a_linked_or_unknown_record(api, staff, people):
    linked = people.make("patient").record["patient_id"]
    r = api.post(f"/patients/{linked}/link_code", token=staff)
    assert r.status == 409 and r.body["Message"] == "This patient record is already linked to an account."
    for path in ("/patients/99999/link_code", "/patients/abc/link_code"):
        assert api.post(path, token=staff).status == 404
    assert api.get(f"/patients/{linked}/link_code", token=staff).status == 405


def test_a_record_whose_account_was_deleted_needs_a_fresh_code(api, staff, people):
    from chalicelib.storage import patients

    admin = people.admin().token
    record = walk_in(api, staff)
    first = api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).body
    assert api.delete(f"/users/{first['id']}", token=admin).status == 204
    assert patients.get(record["id"]).user_id is None
    # The used code stays used; the email alone gets nothing.
    assert api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).status == 400
    r = api.post("/register", ACCOUNT)
    assert r.status == 409 and set(r.body["Fields"]) == {"email"}
    code = api.post(f"/patients/{record['id']}/link_code", token=staff).body["link_code"]
    again = api.post("/register", {**ACCOUNT, "link_code": code})
    assert again.status == 201 and again.body["patient_id"] == record["id"]


def test_wrong_codes_are_throttled_per_client_address_and_a_right_one_still_links(api, staff, monkeypatch):
    """Only wrong codes are counted and refused: a patient sharing an address with a guesser (or
    anybody) still links with the right code."""
    from chalicelib.domain.accounts import throttling

    record = walk_in(api, staff)
    with from_address(monkeypatch, "203.0.113.50"):
        for n in range(throttling.LINK_CODE_FAILURES_PER_ADDRESS):
            r = api.post("/register", {**ACCOUNT, "link_code": f"AAAA{n:04d}".replace("0", "A").replace("1", "B")})
            assert r.status == 400, r
        r = api.post("/register", {**ACCOUNT, "link_code": "ABABABAB"})
        assert r.status == 429 and r.body["Code"] == "TooManyRequestsError" and int(r.headers["Retry-After"]) > 0
        assert api.post("/register", {**ACCOUNT, "link_code": record["link_code"]}).status == 201
    with from_address(monkeypatch, "198.51.100.50"):
        r = api.post("/register", {**ACCOUNT, "username": "other", "email": "other@example.com",
                                   "link_code": "ABABABAB"})
        assert r.status == 400, r


def test_right_codes_are_not_counted_as_wrong_ones(api, staff, monkeypatch):
    from chalicelib.domain.accounts import throttling

    with from_address(monkeypatch, "203.0.113.60"):
        for n in range(throttling.LINK_CODE_FAILURES_PER_ADDRESS + 1):
            record = walk_in(api, staff, email=f"walk{n}@example.com")
            r = api.post("/register", {**ACCOUNT, "username": f"walk{n}", "email": f"walk{n}@example.com",
                                       "link_code": record["link_code"]})
            assert r.status == 201, r
