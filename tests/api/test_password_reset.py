"""Password reset by email: the same answer whoever asks, a one-time code stored only as a keyed hash,
valid 30 minutes, voided by a newer one; spending it ends every older token; wrong codes are throttled."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from chalicelib import messaging
from chalicelib.domain import clock
from chalicelib.domain.accounts import password_reset
from chalicelib.storage.password_resets import PasswordResetModel

NEW = "brand-new-password-7"


@pytest.fixture
def outbox(monkeypatch):
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(messaging, "send_email", lambda address, subject, text: sent.append((address, subject, text)))
    monkeypatch.setattr(password_reset, "ANSWER_FLOOR_SECONDS", 0.0)
    return sent


def _code(text: str) -> str:
    return re.search(r"is ([2-9A-Z]{8})\.", text).group(1)


def _ask(api, email, **kw):
    r = api.post("/auth/password/reset/", {"email": email}, **kw)
    assert r.status == 200, r
    return r


@pytest.mark.parametrize("role", ["anonymous", "patient", "doctor", "staff", "admin"])
def test_every_identity_may_ask_and_a_known_and_unknown_email_answer_alike(api, as_role, outbox, role):
    person = as_role(role)
    token = person.token if person else None
    known = _ask(api, "admin@clinic.test", token=token) if role == "admin" else None
    unknown = _ask(api, "nobody-here@clinic.test", token=token)
    if known is not None:
        assert known.body == unknown.body and set(known.headers) == set(unknown.headers)
        assert [address for address, _, _ in outbox] == ["admin@clinic.test"]
    assert unknown.body == {"message": password_reset.REQUEST_ANSWER}


def test_the_owner_gets_a_code_that_sets_a_new_password_and_ends_older_tokens(api, people, outbox):
    me = people.make("patient")
    other_session = people.login(me.username, me.password)
    _ask(api, f"{me.username.upper()}@CLINIC.TEST")  # any case
    (address, subject, text), = outbox
    assert address == f"{me.username}@clinic.test" and "reset" in subject and "30 minutes" in text
    code = _code(text)
    stored = str([item.attribute_values for item in PasswordResetModel.scan()])
    assert stored.count("code_hash") == 1 and code not in stored and address not in stored
    assert me.username not in stored
    r = api.post("/auth/password/reset/confirm/", {"email": address, "code": code.lower(), "new_password": NEW})
    assert r.status == 200 and r.body["user"]["id"] == me.id and r.body["token"] and r.body["expires_at"]
    assert api.get("/profile/", token=r.body["token"]).status == 200
    for old in (me.token, other_session.token):
        assert api.get("/profile/", token=old).status == 401
    assert api.post("/auth/login/", {"username": me.username, "password": me.password}).status == 401
    assert api.post("/auth/login/", {"username": me.username, "password": NEW}).status == 200
    r = api.post("/auth/password/reset/confirm/", {"email": address, "code": code, "new_password": NEW + "x"})
    assert r.status == 400 and "code" in r.body["Fields"]  # spent


def test_wrong_unknown_and_malformed_codes_are_400_on_code(api, people, outbox):
    me = people.make("patient")
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    code = _code(outbox[0][2])
    wrong = "22222222" if code != "22222222" else "33333333"
    for body in ({"email": email, "code": wrong, "new_password": NEW},
                 {"email": email, "code": "not a code", "new_password": NEW},
                 {"email": "nobody-here@clinic.test", "code": code, "new_password": NEW}):
        r = api.post("/auth/password/reset/confirm/", body)
        assert r.status == 400 and list(r.body["Fields"]) == ["code"], (body, r)
    _ask(api, "nobody-here@clinic.test")  # an unknown address's code opens nothing, whatever it is
    r = api.post("/auth/password/reset/confirm/", {"email": "nobody-here@clinic.test", "code": code,
                                                   "new_password": NEW})
    assert r.status == 400 and "code" in r.body["Fields"]
    assert api.post("/auth/login/", {"username": me.username, "password": me.password}).status == 200


def test_bad_bodies_name_the_field(api, outbox):
    assert "email" in api.post("/auth/password/reset/", {}).body["Fields"]
    assert "email" in api.post("/auth/password/reset/", {"email": "not-an-email"}).body["Fields"]
    r = api.post("/auth/password/reset/confirm/", {"email": "a@b.io"})
    assert r.status == 400 and {"code", "new_password"} <= set(r.body["Fields"])


def test_a_weak_new_password_is_400_and_leaves_the_code_usable(api, people, outbox):
    me = people.make("patient")
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    code = _code(outbox[0][2])
    r = api.post("/auth/password/reset/confirm/", {"email": email, "code": code, "new_password": me.username})
    assert r.status == 400 and "new_password" in r.body["Fields"]
    r = api.post("/auth/password/reset/confirm/", {"email": email, "code": code, "new_password": NEW})
    assert r.status == 200


def test_a_newer_request_voids_the_older_code(api, people, outbox):
    me = people.make("patient")
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    _ask(api, email)
    first, second = _code(outbox[0][2]), _code(outbox[1][2])
    if first != second:
        r = api.post("/auth/password/reset/confirm/", {"email": email, "code": first, "new_password": NEW})
        assert r.status == 400 and "code" in r.body["Fields"]
    assert api.post("/auth/password/reset/confirm/", {"email": email, "code": second,
                                                      "new_password": NEW}).status == 200


def test_a_code_expires_after_30_minutes(api, people, outbox, monkeypatch):
    me = people.make("patient")
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    code = _code(outbox[0][2])
    later = clock.now() + timedelta(minutes=30, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    r = api.post("/auth/password/reset/confirm/", {"email": email, "code": code, "new_password": NEW})
    assert r.status == 400 and "code" in r.body["Fields"]


def test_an_inactive_account_gets_no_code(api, people, outbox):
    me = people.make("patient")
    assert api.patch(f"/users/{me.id}/", {"is_active": False}, token=people.admin().token).status == 200
    _ask(api, f"{me.username}@clinic.test")
    assert outbox == []


def test_requests_per_email_are_limited_known_or_not(api, people, outbox):
    me = people.make("patient")
    for email in (f"{me.username}@clinic.test", "nobody-here@clinic.test"):
        for _ in range(password_reset.REQUESTS_PER_ADDRESS_HOUR):
            _ask(api, email)
        r = api.post("/auth/password/reset/", {"email": email.upper()})
        assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 3600, r
    assert len(outbox) == password_reset.REQUESTS_PER_ADDRESS_HOUR
    _ask(api, "someone-else@clinic.test")  # other addresses are not held back


def test_wrong_codes_are_throttled_as_failed_logins(api, people, outbox):
    me = people.make("patient")
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    code = _code(outbox[0][2])
    wrong = "22222222" if code != "22222222" else "33333333"
    for _ in range(10):
        assert api.post("/auth/password/reset/confirm/", {"email": email, "code": wrong,
                                                          "new_password": NEW}).status == 400
    r = api.post("/auth/password/reset/confirm/", {"email": email, "code": code, "new_password": NEW})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    # the account's logins are counted apart: its owner still logs in
    assert api.post("/auth/login/", {"username": me.username, "password": me.password}).status == 200


def test_a_request_takes_the_floor_known_or_not(api, people, monkeypatch):
    monkeypatch.setattr(messaging, "send_email", lambda *args: time.sleep(0.05))  # a slow provider
    me = people.make("patient")
    for email in (f"{me.username}@clinic.test", "nobody-here@clinic.test"):
        started = time.perf_counter()
        _ask(api, email)
        assert time.perf_counter() - started >= password_reset.ANSWER_FLOOR_SECONDS


def test_a_failing_provider_changes_nothing_in_the_answer(api, people, monkeypatch):
    def fail(*args):
        raise RuntimeError("provider down")
    monkeypatch.setattr(messaging, "send_email", fail)
    monkeypatch.setattr(password_reset, "ANSWER_FLOOR_SECONDS", 0.0)
    me = people.make("patient")
    assert _ask(api, f"{me.username}@clinic.test").body == _ask(api, "nobody-here@clinic.test").body


def test_no_log_line_names_the_address_or_the_code(api, people, monkeypatch, caplog, capsys):
    import logging

    def fail(address, subject, text):
        raise RuntimeError(f"provider refused {address}: {text}")
    monkeypatch.setattr(messaging, "send_email", fail)
    monkeypatch.setattr(password_reset, "ANSWER_FLOOR_SECONDS", 0.0)
    me = people.make("patient")
    caplog.set_level(logging.DEBUG, logger="dqs")  # the app's loggers (botocore's own debug lines aside)
    email = f"{me.username}@clinic.test"
    _ask(api, email)
    _ask(api, "nobody-here@clinic.test")
    api.post("/auth/password/reset/confirm/", {"email": email, "code": "22222222", "new_password": NEW})
    logged = caplog.text + capsys.readouterr().out
    assert "was not sent: RuntimeError" in logged
    for secret in (email, "nobody-here", me.username, "refused"):
        assert secret not in logged, secret
