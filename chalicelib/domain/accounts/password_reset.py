"""Password reset by email: a one-time code of 8 characters, valid 30 minutes, stored only as a
keyed hash; spending it sets a new password and ends every older token.

A request for an address no account has does the same work as one for an address an account
has (the same reads, a code drawn and hashed, the same write) and answers the same, no sooner
than ANSWER_FLOOR_SECONDS after it began, so that sending the email does not show in the timing.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import datetime, timedelta

from chalicelib import messaging
from chalicelib.domain import clock
from chalicelib.domain.accounts.rules import check_password_rules
from chalicelib.domain.accounts.throttling import take, take_login_attempt
from chalicelib.domain.entities import Session, User
from chalicelib.domain.ports.attempts import Limits
from chalicelib.domain.security import (
    hash_password,
    issue_token,
    new_link_code,
    new_token_key,
    normalize_link_code,
    same_secret,
)
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, TooManyRequests, ValidationFailed
from chalicelib.keys import RESET_CODES, derived_key
from chalicelib.settings import get_settings

log = logging.getLogger("dqs.password_reset")

CODE_MINUTES = 30
REQUESTS_PER_ADDRESS_HOUR = 5  # per email address, known or not, in any hour: no mail bombing
REQUEST_WINDOW_SECONDS = 3600
ANSWER_FLOOR_SECONDS = 0.3  # a request answers no sooner than this after it began
REQUEST_ANSWER = "If an account has this email, a code to reset its password has been sent to it."
WRONG_CODE = "The code is not valid: it is wrong, used, replaced by a newer one or expired."


def address_key(email: str) -> str:
    """What identifies an address in storage: a keyed hash of it (lowercased), never the address."""
    return hmac.new(derived_key(RESET_CODES, get_settings()), b"address:" + email.strip().lower().encode(),
                    hashlib.sha256).hexdigest()


def code_hash(code: str) -> str:
    """What is stored of a code: an HMAC-SHA256 keyed with the reset codes' own key."""
    return hmac.new(derived_key(RESET_CODES, get_settings()), b"code:" + code.encode(), hashlib.sha256).hexdigest()


def _take_request(key: str, now: datetime) -> None:
    """Count a reset request for an address (known or not); 429 beyond REQUESTS_PER_ADDRESS_HOUR in
    any hour (a sliding window), with Retry-After until the oldest request leaves it."""
    take(f"password-reset-window#{key}", None, Limits(REQUEST_WINDOW_SECONDS, REQUESTS_PER_ADDRESS_HOUR), now,
         "Too many reset requests for this email: try again in {seconds} seconds.")


def request_reset(email: str) -> str:
    """Issue a code for the address and email it to the account that has it (if one has); the answer's
    message is the same either way. A newer request voids the older code."""
    started = time.perf_counter()
    now = clock.now()
    key = address_key(email)
    _take_request(key, now)
    resets = stores().password_resets
    user = resets.account_for_email(email)
    if user is not None and not user.is_active:
        user = None
    code = new_link_code()
    expires_at = now + timedelta(minutes=CODE_MINUTES)
    resets.issue(key, user.id if user else None, code_hash(code), expires_at)
    if user is not None:
        try:
            messaging.send_email(user.email, "Your password reset code",
                                 f"Your code to reset your password is {code}. It is valid for {CODE_MINUTES} "
                                 "minutes and can be used once. If you did not ask for it, ignore this email.")
        except Exception as exc:  # the answer must not differ; the provider's message may name the address,
            log.error("a password reset email was not sent: %s", type(exc).__name__)  # so only its kind is logged
    left = ANSWER_FLOOR_SECONDS - (time.perf_counter() - started)
    if left > 0:
        time.sleep(left)
    return REQUEST_ANSWER


def _session(user: User, now: datetime) -> Session:
    key = stores().users.ensure_token_key(user, new_token_key())
    token, expires = issue_token(user.id, user.token_version, key, now, get_settings())
    return Session(token=token, user=user, expires_at=iso_instant(expires))


def confirm_reset(email: str, code: str, new_password: str, address: str | None = None) -> Session:
    """Spend the address's code and set the new password: every older token stops working, and the
    answer carries a new one. Wrong codes are throttled as failed logins are (per address and client)."""
    now = clock.now()
    key = address_key(email)
    try:  # "password-reset:" cannot begin a username, so these counts are their own
        attempt = take_login_attempt(f"password-reset:{key[:32]}", address, now)
    except TooManyRequests as exc:
        raise TooManyRequests(f"Too many wrong codes: try again in {exc.retry_after} seconds.",
                              retry_after=exc.retry_after) from None
    resets = stores().password_resets
    given = normalize_link_code(code)
    stored = resets.get(key)
    wrong = ValidationFailed.field("code", WRONG_CODE)
    if (given is None or stored is None or stored.user_id is None or stored.expires_at <= now
            or not same_secret(stored.code_hash, code_hash(given))):
        raise wrong
    user = stores().users.get(stored.user_id)
    if user is None or not user.is_active:
        raise wrong
    attempt.give_back()  # the code was right: no failure, whatever the new password
    check_password_rules(new_password, user.username, "new_password")
    new_hash = hash_password(new_password)
    for _ in range(3):
        try:
            resets.spend(key, stored.code_hash, user, new_hash, now)
            break
        except ConditionFailed as exc:
            if "code" in exc.labels:
                raise wrong from None
            user = stores().users.get(stored.user_id)  # changed meanwhile (a logout, an edit): read again
            if user is None or not user.is_active:
                raise wrong from None
    else:
        raise Conflict.field("code", "The account was changed meanwhile; try again.")
    user = stores().users.get(user.id) or user
    return _session(user, now)
