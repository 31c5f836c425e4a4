"""Accounts through the domain with the stores in memory: registration (and its races),
throttling, sessions and revocation, user management."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain.accounts import identity, management, registration, sessions, throttling
from chalicelib.domain.commands import PatientChanges, PatientDetails, ProfileChanges, Registration
from chalicelib.domain.entities import User
from chalicelib.domain.patients import EMAIL_IN_USE, create_patient, update_patient
from chalicelib.domain.stores import stores
from chalicelib.errors import Conflict, Forbidden, TooManyRequests, Unauthenticated, ValidationFailed

NOW = datetime.now(UTC).replace(microsecond=0)  # tokens are checked against the real time
BORN = date(1990, 5, 17)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    at = [NOW]
    monkeypatch.setattr(clock, "now", lambda: at[0])
    return at


def patient(username: str = "jane", email: str | None = None, **kw) -> Registration:
    return Registration(username=username, email=email or f"{username}@example.test", password="long-password-1",
                        **{"date_of_birth": BORN, **kw})


def admin() -> User:
    made, _ = registration.ensure_admin("root", "root@example.test", "root-password-1")
    return made


def test_a_patient_registers_with_a_record_of_their_own(fakes):
    user = registration.register(None, patient(first_name="Jane", last_name="Roe"))
    record = stores().patients.get(user.patient_id)
    assert (record.name, record.user_id, record.email, record.date_of_birth) == ("Jane Roe", user.id,
                                                                                 "jane@example.test", BORN)
    assert stores().users.get_by_username("JANE").id == user.id


def test_only_an_admin_registers_other_roles(fakes):
    with pytest.raises(Forbidden):
        registration.register(None, Registration("nurse", "nurse@example.test", "long-password-1", role="staff"))
    staff = registration.register(admin(), Registration("nurse", "nurse@example.test", "long-password-1",
                                                        role="staff"))
    assert (staff.role, staff.patient_id, staff.doctor_id) == ("staff", None, None)


def test_the_same_username_at_once_has_one_winner(fakes):
    outcomes: list = []
    start = threading.Barrier(6)

    def register(n: int) -> None:
        start.wait()
        try:
            outcomes.append(registration.register(None, patient("Racer", email=f"racer{n}@example.test")))
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if isinstance(o, User)]
    assert len(winners) == 1 and len(outcomes) == 6
    assert all(o.fields == {"username": "A user with that username already exists."}
               for o in outcomes if isinstance(o, Conflict))
    # The losers left nothing behind: no patient record, no email held.
    assert [p.user_id for p in stores().patients.list_page(50, None).items] == [winners[0].id]
    assert stores().patients.id_by_email("racer0@example.test") in (None, winners[0].patient_id)


def test_an_email_taken_gets_one_answer_whoever_holds_it(fakes):
    """An account's email and a walk-in record's email: the same conflict, the same message (which
    asks a patient for the link code), so registration never tells who is a patient."""
    create_patient(admin(), PatientDetails(name="Walk In", email="walk@example.test"))
    registration.register(None, patient("holder", email="held@example.test"))
    answers = []
    for email in ("walk@example.test", "HELD@example.test"):
        with pytest.raises(Conflict) as caught:
            registration.register(None, patient("newcomer", email=email))
        answers.append((type(caught.value), str(caught.value), caught.value.fields))
    assert answers[0] == answers[1]
    assert answers[0][2] == {"email": registration.EMAIL_TAKEN[1]} and "link code" in answers[0][2]["email"]


def test_an_own_edit_onto_an_email_in_use_never_says_who_is_a_patient(fakes):
    """A patient moving their own record, or their own account, onto an email somebody else holds
    finds it in use whoever holds it (an account or a walk-in's record), as registration does, and
    gets one status and one message (asking them to see the desk), never "a patient ... exists".
    Staff at the desk are still told plainly."""
    root = admin()
    walk_in, _ = create_patient(root, PatientDetails(name="Walk In", email="walk@example.test"))
    registration.register(None, patient("holder", email="held@example.test"))  # an account and its record
    registration.register(root, Registration("nurse", "nurse@example.test", "long-password-1", role="staff"))
    me = registration.register(None, patient("me"))
    edits = {
        "record": lambda email: update_patient(me, me.patient_id, lambda: PatientChanges(email=email)),
        "account": lambda email: management.update_user(me, me.id, lambda: ProfileChanges(email=email)),
    }
    answers = set()
    for where, change in edits.items():
        for email in ("WALK@example.test", "nurse@example.test", "held@example.test"):
            with pytest.raises(Conflict) as caught:
                change(email)
            answers.add((where, type(caught.value), str(caught.value), tuple(caught.value.fields.items())))
    assert {answer[1:] for answer in answers} == {(Conflict, EMAIL_IN_USE, (("email", EMAIL_IN_USE),))}
    assert "patient" not in EMAIL_IN_USE.lower() and "desk" in EMAIL_IN_USE
    assert stores().patients.get(me.patient_id).email == "me@example.test"  # nothing changed
    assert stores().users.get(me.id).email == "me@example.test"
    # One's own other email is one's own: the record may take the account's, and back.
    management.update_user(me, me.id, lambda: ProfileChanges(email="me.too@example.test"))
    assert update_patient(me, me.patient_id, lambda: PatientChanges(email="ME.TOO@example.test")).email

    with pytest.raises(Conflict) as plainly:
        update_patient(root, me.patient_id, lambda: PatientChanges(email="walk@example.test"))
    assert plainly.value.fields == {"email": "A patient with that email already exists."}
    with pytest.raises(Conflict) as plainly:
        management.update_user(root, me.id, lambda: ProfileChanges(email="held@example.test"))
    assert plainly.value.fields == {"email": "A user with that email already exists."}
    # The desk may put on a record an email an account holds (records and accounts are apart).
    assert update_patient(root, walk_in.id, lambda: PatientChanges(email="nurse@example.test")).email


def test_a_link_code_links_once_and_wrong_ones_are_throttled(fakes):
    record, link = create_patient(admin(), PatientDetails(name="Walk In"))
    user = registration.register(None, patient("walk", link_code=link.code.lower()), "192.0.2.1")
    assert user.patient_id == record.id and stores().patients.get(record.id).user_id == user.id
    with pytest.raises(ValidationFailed) as used:
        registration.register(None, patient("again", link_code=link.code), "192.0.2.1")
    assert "link_code" in used.value.fields
    for n in range(throttling.LINK_CODE_FAILURES_PER_ADDRESS - 1):  # the used code above was one
        with pytest.raises(ValidationFailed):
            registration.register(None, patient(f"guess{n}", link_code="ABCDEFGH"), "192.0.2.1")
    with pytest.raises(TooManyRequests):
        registration.register(None, patient("guess", link_code="ABCDEFGH"), "192.0.2.1")
    with pytest.raises(ValidationFailed):  # another address is not shut out
        registration.register(None, patient("guess", link_code="ABCDEFGH"), "192.0.2.2")


def test_a_link_code_only_links_a_patient_account():
    """A rule of the registration's shape (one place: the schema), before any domain work."""
    from chalicelib.api.users import REGISTER

    body = {"username": "nurse", "email": "n@example.test", "password": "long-password-1", "link_code": "ABCD2345"}
    for role in ("staff", "doctor", "admin"):
        with pytest.raises(ValidationFailed) as caught:
            REGISTER.validate({**body, "role": role})
        assert "link_code" in caught.value.fields
    assert REGISTER.validate({**body, "date_of_birth": "1990-01-01"})["link_code"] == "ABCD2345"
    assert REGISTER.validate({**body, "role": "patient", "date_of_birth": "1990-01-01"})


def test_a_doctor_gets_a_record_in_an_existing_active_department(fakes):
    root = admin()
    doctor = registration.register(root, Registration("house", "house@example.test", "long-password-1",
                                                      role="doctor", specialty="Diagnostics"))
    record = stores().doctors.get(doctor.doctor_id)
    assert stores().departments.get(record.department).name == registration.DEFAULT_DEPARTMENT
    with pytest.raises(ValidationFailed) as caught:
        registration.register(root, Registration("who", "who@example.test", "long-password-1", role="doctor",
                                                 department=999))
    assert caught.value.fields == {"department": "No department with id 999."}
    assert stores().users.get_by_username("who") is None


def test_a_birth_date_in_the_future_is_refused(fakes):
    with pytest.raises(ValidationFailed) as caught:
        registration.register(None, patient(date_of_birth=NOW.date() + timedelta(days=1)))
    assert "date_of_birth" in caught.value.fields


def test_login_logout_and_revocation(fakes):
    user = registration.register(None, patient())
    session = sessions.login("JANE", "long-password-1", "192.0.2.1")
    assert identity.authenticate(session.token).id == user.id
    sessions.logout(user)
    with pytest.raises(Unauthenticated):
        identity.authenticate(session.token)
    assert identity.authenticate(sessions.login("jane", "long-password-1").token).id == user.id


def test_failed_logins_are_limited_per_address_and_successes_are_given_back(fakes):
    registration.register(None, patient())
    for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS - 1):
        with pytest.raises(Unauthenticated):
            sessions.login("jane", "wrong-password", "192.0.2.1")
    for _ in range(3):  # successes do not count
        sessions.login("jane", "long-password-1", "192.0.2.1")
    with pytest.raises(Unauthenticated):
        sessions.login("jane", "wrong-password", "192.0.2.1")
    with pytest.raises(TooManyRequests) as caught:
        sessions.login("jane", "long-password-1", "192.0.2.1")
    assert 1 <= caught.value.retry_after <= throttling.LOGIN_WINDOW_SECONDS
    sessions.login("jane", "long-password-1", "192.0.2.2")  # another address is not shut out


def test_more_than_a_hundred_failures_from_all_addresses_lock_the_username_everywhere(fakes, monkeypatch):
    registration.register(None, patient())
    # The limits, not argon2, are under test here: a password check that costs nothing.
    monkeypatch.setattr(sessions, "verify_password", lambda stored, given: stored is not None and given == "right")
    per_address = throttling.LOGIN_FAILURES_PER_ADDRESS
    addresses = [f"192.0.2.{n}" for n in range(1, throttling.LOGIN_FAILURES_PER_USERNAME // per_address + 1)]
    for address in addresses:
        for _ in range(per_address):
            with pytest.raises(Unauthenticated):
                sessions.login("jane", "wrong", address)
        with pytest.raises(TooManyRequests):  # shut out; not counted again
            sessions.login("jane", "wrong", address)
    with pytest.raises(Unauthenticated):  # 100 so far: a new address still gets its answer...
        sessions.login("jane", "wrong", "198.51.100.1")
    for address in ("198.51.100.1", "198.51.100.2"):  # ...and with 101 the username is locked everywhere
        with pytest.raises(TooManyRequests):
            sessions.login("jane", "right", address)
    registration.register(None, patient("other"))
    with pytest.raises(Unauthenticated):  # only that username
        sessions.login("other", "wrong", "198.51.100.1")


def test_the_limit_ends_with_its_window(fakes, fixed_clock):
    for _ in range(throttling.LOGIN_FAILURES_PER_ADDRESS):
        with pytest.raises(Unauthenticated):
            sessions.login("nobody", "wrong-password", "192.0.2.1")
    with pytest.raises(TooManyRequests):
        sessions.login("nobody", "wrong-password", "192.0.2.1")
    fixed_clock[0] = NOW + timedelta(seconds=throttling.LOGIN_WINDOW_SECONDS)
    with pytest.raises(Unauthenticated):
        sessions.login("nobody", "wrong-password", "192.0.2.1")


def test_a_password_change_ends_older_tokens_and_a_wrong_old_one_counts(fakes):
    user = registration.register(None, patient())
    old = sessions.login("jane", "long-password-1").token
    with pytest.raises(ValidationFailed) as wrong:
        sessions.change_password(user, "not-it", "another-password-2")
    assert "old_password" in wrong.value.fields
    new = sessions.change_password(user, "long-password-1", "another-password-2").token
    with pytest.raises(Unauthenticated):
        identity.authenticate(old)
    assert identity.authenticate(new).id == user.id
    # What the caller knew of the password is gone: a conflict, not bad input.
    with pytest.raises(Conflict):
        sessions.change_password(user, "long-password-1", "third-password-3")


def test_a_token_signed_with_the_bare_secret_is_refused(fakes):
    import jwt

    from chalicelib.settings import jwt_secret

    user = registration.register(None, patient())
    claims = {"sub": str(user.id), "key": user.token_key, "ver": 0, "iat": int(NOW.timestamp()),
              "exp": int(NOW.timestamp()) + 60}
    with pytest.raises(Unauthenticated):
        identity.authenticate(jwt.encode(claims, jwt_secret(), algorithm="HS256"))


def test_profile_rules(fakes):
    root = admin()
    user = registration.register(None, patient())
    with pytest.raises(Forbidden):
        management.update_user(user, user.id, lambda: ProfileChanges(role="admin"))
    with pytest.raises(Forbidden):
        management.update_user(user, root.id, lambda: pytest.fail("the body is not read for a stranger"))
    assert management.update_user(user, user.id, lambda: ProfileChanges(first_name="J")).first_name == "J"
    with pytest.raises(ValidationFailed):  # a patient keeps a date of birth
        management.update_user(user, user.id, lambda: ProfileChanges(date_of_birth=None))
    token = sessions.login("jane", "long-password-1").token
    management.update_user(root, user.id, lambda: ProfileChanges(is_active=False))
    with pytest.raises(Unauthenticated):
        identity.authenticate(token)


def test_the_last_active_admin_stays(fakes):
    root = admin()
    with pytest.raises(Conflict) as demoted:
        management.update_user(root, root.id, lambda: ProfileChanges(role="staff"))
    assert "role" in demoted.value.fields
    with pytest.raises(Conflict):
        management.delete_user(root, root.id)
    second = registration.register(root, Registration("second", "second@example.test", "long-password-1",
                                                      role="admin"))
    management.delete_user(second, root.id)
    assert stores().users.get(root.id) is None


def test_deleting_a_user_unlinks_their_record(fakes):
    user = registration.register(None, patient())
    management.delete_user(admin(), user.id)
    assert stores().users.get(user.id) is None
    assert stores().patients.get(user.patient_id).user_id is None
    again = registration.register(None, patient(email="jane2@example.test"))  # the username is free again
    assert again.username == "jane"
