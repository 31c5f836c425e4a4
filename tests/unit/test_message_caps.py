"""The day's message caps, taken by senders racing each other (real threads): never past a cap."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

from chalicelib.domain import contacts
from chalicelib.domain.entities import Patient
from chalicelib.errors import TooManyRequests


def test_senders_at_once_never_pass_the_patients_cap(fakes, monkeypatch):
    monkeypatch.setenv("DQS_MESSAGES_PER_PATIENT_DAY", "6")
    now, start, results = datetime.now(UTC), threading.Barrier(20), []

    def send() -> None:
        start.wait()
        try:
            contacts.take_message(1, "email", now)
            results.append("sent")
        except TooManyRequests:
            results.append("capped")

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("sent") == 6 and results.count("capped") == 14


def test_a_refused_sms_takes_nothing_from_the_patients_cap(fakes, monkeypatch):
    monkeypatch.setenv("DQS_MESSAGES_PER_PATIENT_DAY", "6")
    monkeypatch.setenv("DQS_SMS_PER_DAY", "1")
    now = datetime.now(UTC)
    contacts.take_message(1, "sms", now)
    for _ in range(3):
        try:
            contacts.take_message(2, "sms", now)
        except TooManyRequests:
            pass
    for _ in range(6):  # patient 2's own cap is untouched: six emails
        contacts.take_message(2, "email", now)


def test_a_changed_contact_is_unverified_again_and_the_sender_checks_it(fakes):
    from chalicelib.domain import notifications

    made = Patient(id=7, name="Ada", email=None, phone="+15550001111", date_of_birth=None, user_id=None,
                   created_at="2024-01-01T00:00:00Z")
    contacts.mark_verified(7, "sms", made.phone)
    assert contacts.is_verified(made, "sms") and notifications._allowed(made, "sms")
    changed = Patient(**{**made.__dict__, "phone": "+15550002222"})
    assert not contacts.is_verified(changed, "sms") and not notifications._allowed(changed, "sms")
