"""Throttles in sliding windows (issue 23), through the domain with the stores in memory:
no boundary doubles an allowance, Retry-After is when the oldest failure leaves the window,
an owner's known address escapes the username's lock, right link codes are never refused,
registrations are limited per address."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain.accounts import registration, sessions, throttling
from chalicelib.domain.commands import PatientDetails, Registration
from chalicelib.domain.patients import create_patient
from chalicelib.errors import TooManyRequests, Unauthenticated, ValidationFailed

QUARTER = throttling.LOGIN_WINDOW_SECONDS
# A 15-minute boundary (of the old fixed windows), 20 s from the start.
BOUNDARY = datetime.fromtimestamp((int(datetime.now(UTC).timestamp()) // QUARTER + 1) * QUARTER, tz=UTC)


@pytest.fixture
def at(monkeypatch):
    now = [BOUNDARY - timedelta(seconds=20)]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


@pytest.fixture
def cheap_passwords(monkeypatch):
    """The limits, not argon2, are under test: a password check that costs nothing."""
    monkeypatch.setattr(sessions, "verify_password", lambda stored, given: stored is not None and given == "right")


def patient(username: str, **kw) -> Registration:
    return Registration(username=username, email=f"{username}@example.test", password="long-password-1",
                        date_of_birth=date(1990, 1, 1), **kw)


def _try_login(username: str, address: str, password: str = "wrong") -> str:
    try:
        sessions.login(username, password, address)
    except Unauthenticated:
        return "checked"
    except TooManyRequests as exc:
        return f"429:{exc.retry_after}"
    return "ok"


def test_eleven_before_and_eleven_after_a_boundary_never_check_more_than_ten_in_fifteen_minutes(fakes, at,
                                                                                              cheap_passwords):
    checked = []
    for n in range(11):  # just before the boundary
        at[0] = BOUNDARY - timedelta(seconds=11 - n)
        if _try_login("jane", "192.0.2.1") == "checked":
            checked.append(at[0])
    for n in range(11):  # just after it
        at[0] = BOUNDARY + timedelta(seconds=n)
        answer = _try_login("jane", "192.0.2.1")
        if answer == "checked":
            checked.append(at[0])
        else:  # Retry-After: when the oldest failure leaves the window
            assert answer == f"429:{int((checked[0] + timedelta(seconds=QUARTER) - at[0]).total_seconds())}"
    assert len(checked) == 10
    for start in checked:
        assert sum(start <= t < start + timedelta(seconds=QUARTER) for t in checked) <= 10
    # Once the oldest failure has left the window, one more is checked, and only one.
    at[0] = checked[0] + timedelta(seconds=QUARTER)
    assert _try_login("jane", "192.0.2.1") == "checked"
    assert _try_login("jane", "192.0.2.1").startswith("429:")


def test_failures_sent_at_once_from_many_threads_get_ten_answers(fakes, at, cheap_passwords):
    answers: list[str] = []
    start = threading.Barrier(30)

    def guess() -> None:
        start.wait()
        answers.append(_try_login("jane", "192.0.2.1"))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count("checked") == throttling.LOGIN_FAILURES_PER_ADDRESS
    assert len(answers) == 30 and all(a.startswith("429:") for a in answers if a != "checked")


def test_a_stranger_cannot_lock_an_owner_out_of_an_address_they_logged_in_from(fakes, at, cheap_passwords):
    registration.register(None, patient("jane"))
    assert _try_login("jane", "198.51.100.1", "right") == "ok"  # the owner's address
    at[0] += timedelta(days=29)
    per_address = throttling.LOGIN_FAILURES_PER_ADDRESS
    for n in range(throttling.LOGIN_FAILURES_PER_USERNAME // per_address + 1):  # 110 failures, 11 addresses
        for _ in range(per_address):
            _try_login("jane", f"203.0.113.{n}")
    assert _try_login("jane", "192.0.2.200", "right").startswith("429:")  # a fresh address: locked
    assert _try_login("jane", "198.51.100.1", "right") == "ok"  # the owner's: not
    # The exemption lasts 30 days from the last login there.
    at[0] += timedelta(days=30, seconds=1)
    for n in range(throttling.LOGIN_FAILURES_PER_USERNAME // per_address + 1):
        for _ in range(per_address):
            _try_login("jane", f"203.0.113.{n}")
    assert _try_login("jane", "198.51.100.1", "right").startswith("429:")


def test_a_right_link_code_is_never_refused_for_wrong_ones_and_wrong_ones_are_capped_in_all(fakes, at,
                                                                                             monkeypatch):
    admin, _ = registration.ensure_admin("root", "root@example.test", "root-password-1")
    monkeypatch.setattr(throttling, "LINK_CODE_FAILURES_IN_ALL", 25)
    record, link = create_patient(admin, PatientDetails(name="Walk In"))
    outcomes = []
    for n in range(30):  # wrong guesses from many addresses, 3 each
        try:
            registration.register(None, patient(f"guess{n}", link_code="ABCDEFGH"), f"203.0.113.{n // 3}")
            outcomes.append("linked")
        except ValidationFailed:
            outcomes.append("wrong")
        except TooManyRequests:
            outcomes.append("429")
    assert outcomes.count("wrong") == 25 and outcomes.count("429") == 5
    # The same address as a guesser, after everybody's wrong guesses: the right code links.
    user = registration.register(None, patient("walk", link_code=link.code), "203.0.113.9")
    assert user.patient_id == record.id


def test_wrong_link_codes_sent_at_once_from_many_addresses_cannot_pass_the_cap_in_all(fakes, at, monkeypatch):
    """A wrong code names no record: each one is a guess at every record's code, so the cap in all is
    the cap of guesses at each record, whichever addresses they come from. 40 guesses at once from 20
    addresses: exactly the cap are checked, the rest get 429; then a right code from one of those
    addresses still links."""
    admin, _ = registration.ensure_admin("root", "root@example.test", "root-password-1")
    monkeypatch.setattr(throttling, "LINK_CODE_FAILURES_IN_ALL", 25)
    monkeypatch.setattr(registration, "hash_password", lambda password: "not-checked")  # the cap is under test
    record, link = create_patient(admin, PatientDetails(name="Walk In"))
    outcomes: list[str] = []
    start = threading.Barrier(40)

    def guess(n: int) -> None:
        start.wait()
        try:
            registration.register(None, patient(f"guess{n}", link_code="ABCDEFGH"), f"203.0.113.{n % 20}")
            outcomes.append("linked")
        except ValidationFailed:
            outcomes.append("wrong")
        except TooManyRequests:
            outcomes.append("429")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["429"] * 15 + ["wrong"] * 25
    assert registration.register(None, patient("walk", link_code=link.code), "203.0.113.3").patient_id == record.id


def test_registrations_are_limited_per_address_in_a_sliding_hour(fakes, at):
    from chalicelib.settings import get_settings

    limit = get_settings().registrations_per_address_hour
    assert limit == 20
    first = at[0]
    for n in range(limit):
        at[0] = first + timedelta(minutes=n)
        registration.register(None, patient(f"p{n}"), "192.0.2.7")
    at[0] = first + timedelta(minutes=30)
    with pytest.raises(TooManyRequests) as caught:
        registration.register(None, patient("one-more"), "192.0.2.7")
    assert caught.value.retry_after == 30 * 60
    registration.register(None, patient("elsewhere"), "192.0.2.8")  # another address is not limited
    admin, _ = registration.ensure_admin("root", "root@example.test", "root-password-1")
    registration.register(admin, patient("by-admin"), "192.0.2.7")  # nor an admin
    at[0] = first + timedelta(hours=1)  # the first has left the window: one more
    registration.register(None, patient("later"), "192.0.2.7")
    with pytest.raises(TooManyRequests):
        registration.register(None, patient("later2"), "192.0.2.7")


def test_the_registration_limit_is_a_setting(monkeypatch):
    from chalicelib.errors import ConfigurationError
    from chalicelib.settings import get_settings

    monkeypatch.setenv("DQS_REGISTRATIONS_PER_ADDRESS_HOUR", "3")
    assert get_settings().registrations_per_address_hour == 3
    monkeypatch.setenv("DQS_REGISTRATIONS_PER_ADDRESS_HOUR", "many")
    with pytest.raises(ConfigurationError):
        get_settings()


def test_password_reset_requests_are_limited_in_any_hour_across_an_hour_boundary(fakes, at, monkeypatch):
    """5 requests for one email just before an hour's boundary and one just after: the sixth gets 429
    until the first leaves the hour (fixed hourly windows let 10 through in 20 s)."""
    from chalicelib.domain.accounts import password_reset

    monkeypatch.setattr(password_reset, "ANSWER_FLOOR_SECONDS", 0)  # the window, not the timing, is under test
    at[0] = datetime.fromtimestamp((int(BOUNDARY.timestamp()) // 3600 + 1) * 3600 - 10, tz=UTC)
    first = at[0]
    for _ in range(password_reset.REQUESTS_PER_ADDRESS_HOUR):
        password_reset.request_reset("nobody@example.test")
    at[0] = first + timedelta(seconds=20)
    with pytest.raises(TooManyRequests) as caught:
        password_reset.request_reset("NOBODY@example.test")
    assert caught.value.retry_after == 3600 - 20
    password_reset.request_reset("somebody.else@example.test")  # another address is not held back
    at[0] = first + timedelta(seconds=3601)
    password_reset.request_reset("nobody@example.test")
