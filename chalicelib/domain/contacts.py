"""Verified contacts, and the caps on "your turn" messages.

A phone number or email that a patient sets themself gets messages only once verified: a
one-time code is sent to it (`request_code`, at most CODES_PER_HOUR an hour per record), and
confirmed (`confirm_code`, at most CODE_TRIES_PER_WINDOW wrong tries in 15 minutes). One set by
staff counts as verified. Codes are kept only as keyed hashes (keys.CONTACT_CODES), bound to the
record, the channel and the contact they were sent to; they expire after CODE_SECONDS.

What is verified is kept as a hash of (record, channel, contact): a contact changed afterwards is
no longer verified. It needs no key, so the stream's handler, which holds no secret, can check it
before it sends (the contact itself is stored in clear in the record anyway).

Messages are capped per patient per clinic day (DQS_MESSAGES_PER_PATIENT_DAY) and SMS per clinic
day (DQS_SMS_PER_DAY): a join with `notify` past a cap gets 429, and the sender takes each message
from a conditional counter (`take_message`), so messages racing each other cannot pass a cap.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime, time, timedelta

from chalicelib.domain import clock
from chalicelib.domain.accounts.throttling import take
from chalicelib.domain.entities import Patient, User
from chalicelib.domain.permissions import check_owner
from chalicelib.domain.ports.attempts import Entry, Limits
from chalicelib.domain.stores import stores
from chalicelib.errors import TooManyRequests, ValidationFailed, existing
from chalicelib.keys import CONTACT_CODES, derived_key
from chalicelib.settings import get_settings

SMS, EMAIL = "sms", "email"
CHANNELS = (SMS, EMAIL)
CODE_SECONDS = 10 * 60
CODES_PER_HOUR = 3
CODE_TRIES_PER_WINDOW = 5
CODE_TRY_WINDOW_SECONDS = 15 * 60
KEEP_VERIFIED_SECONDS = 10 * 365 * 24 * 3600
NOT_YOUR_RECORD = "You can only verify the contacts of your own patient record."
WRONG_CODE = "This code is wrong or expired: ask for a new one."


def contact_of(patient: Patient, channel: str) -> str | None:
    return patient.phone if channel == SMS else patient.email


def _marker(patient_id: int, channel: str, contact: str) -> str:
    text = f"dqs verified contact\x00{patient_id}\x00{channel}\x00{contact.lower()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _verified_name(patient_id: int, channel: str) -> str:
    return f"contact-verified#{patient_id}#{channel}"


def mark_verified(patient_id: int, channel: str, contact: str | None) -> None:
    """Remember that this contact of the record is verified (a staff member set it, or its code came back)."""
    if contact:
        entry = Entry(clock.now().timestamp(), _marker(patient_id, channel, contact), "")
        stores().attempts.remember_part(_verified_name(patient_id, channel), entry, KEEP_VERIFIED_SECONDS, 1)


def staff_set(actor: User, patient: Patient, fields) -> None:
    """After staff (not the patient themself) wrote a record's phone or email: those count as verified."""
    if actor.patient_id == patient.id:
        return
    if "phone" in fields:
        mark_verified(patient.id, SMS, patient.phone)
    if "email" in fields:
        mark_verified(patient.id, EMAIL, patient.email)


def is_verified(patient: Patient, channel: str) -> bool:
    contact = contact_of(patient, channel)
    if not contact:
        return False
    return _marker(patient.id, channel, contact) in stores().attempts.parts_since(
        _verified_name(patient.id, channel), 0.0)


def _code_hash(patient_id: int, channel: str, contact: str, code: str) -> str:
    message = f"{patient_id}\x00{channel}\x00{contact.lower()}\x00{code}".encode()
    return hmac.new(derived_key(CONTACT_CODES), message, hashlib.sha256).hexdigest()


def _record(actor: User, patient_id: int, channel: str) -> tuple[Patient, str]:
    check_owner(actor, patient_id, NOT_YOUR_RECORD)
    patient = existing(stores().patients.get(patient_id), "patient", patient_id)
    if channel not in CHANNELS:
        raise ValidationFailed.field("channel", "Must be sms or email.")
    contact = contact_of(patient, channel)
    if not contact:
        raise ValidationFailed.field("channel", "This patient's record has no %s to verify."
                                     % ("phone number" if channel == SMS else "email address"))
    return patient, contact


def request_code(actor: User, patient_id: int, channel: str, address: str | None = None) -> None:
    """Send a one-time code to the record's phone (sms) or email; 429 past CODES_PER_HOUR an hour."""
    from chalicelib import messaging

    patient, contact = _record(actor, patient_id, channel)
    now = clock.now()
    take(f"contact-code-sent#{patient.id}", address, Limits(3600, CODES_PER_HOUR), now,
         "Too many codes asked for: try again in {seconds} seconds.")
    take_message(patient.id, channel, now)
    code = f"{secrets.randbelow(10**6):06d}"
    entry = Entry(now.timestamp(), _code_hash(patient.id, channel, contact, code), "")
    stores().attempts.remember_part(f"contact-code#{patient.id}#{channel}", entry, CODE_SECONDS, 1)
    text = f"Your clinic verification code is {code}. It works for 10 minutes."
    if channel == SMS:
        messaging.send_sms(contact, text)
    else:
        messaging.send_email(contact, "Your verification code", text)


def confirm_code(actor: User, patient_id: int, channel: str, code: str, address: str | None = None) -> None:
    """Verify the contact the code was sent to; 400 on `code` if wrong or expired, 429 past the tries."""
    patient, contact = _record(actor, patient_id, channel)
    now = clock.now()
    attempt = take(f"contact-code-tries#{patient.id}#{channel}", address,
                   Limits(CODE_TRY_WINDOW_SECONDS, CODE_TRIES_PER_WINDOW), now,
                   "Too many wrong codes: try again in {seconds} seconds.")
    name = f"contact-code#{patient.id}#{channel}"
    sent = stores().attempts.parts_since(name, now.timestamp() - CODE_SECONDS)
    given = _code_hash(patient.id, channel, contact, code.strip())
    if not any(hmac.compare_digest(given, one) for one in sent):
        raise ValidationFailed.field("code", WRONG_CODE)
    attempt.give_back()
    # Used once: the code is forgotten.
    stores().attempts.remember_part(name, Entry(0.0, "used", ""), CODE_SECONDS, 1)
    mark_verified(patient.id, channel, contact)


# -- caps -----------------------------------------------------------------------------------

def _day_end(now: datetime) -> datetime:
    tz = get_settings().clinic_timezone
    day = clock.service_day(now, tz)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _caps(patient_id: int, channel: str, now: datetime) -> list[tuple[str, int]]:
    settings = get_settings()
    day = clock.service_day(now, settings.clinic_timezone).isoformat()
    caps = [(f"messages#{patient_id}#{day}", settings.messages_per_patient_day)]
    if channel == SMS:
        caps.append((f"sms#{day}", settings.sms_per_day))
    return caps


def check_caps(patient_id: int, channel: str, now: datetime) -> None:
    """429 with Retry-After (the clinic's next day) when a cap is already reached (at join time)."""
    for name, cap in _caps(patient_id, channel, now):
        if stores().attempts.count(name) >= cap:
            wait = math.ceil((_day_end(now) - now).total_seconds())
            raise TooManyRequests("No more messages can be sent today: try again tomorrow.", retry_after=wait)


def take_message(patient_id: int, channel: str, now: datetime) -> None:
    """Count one message against the caps (conditional ADDs); 429 if one is reached (nothing counted)."""
    taken = []
    expires = _day_end(now) + timedelta(days=1)
    for name, cap in _caps(patient_id, channel, now):
        if not stores().attempts.take(name, cap, expires):
            for done in taken:
                stores().attempts.give_back(done)
            wait = math.ceil((_day_end(now) - now).total_seconds())
            raise TooManyRequests("No more messages can be sent today: try again tomorrow.", retry_after=wait)
        taken.append(name)
