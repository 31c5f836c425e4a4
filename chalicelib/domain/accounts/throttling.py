"""Limits on failed attempts: logins (and wrong old passwords) per username and client address,
wrong link codes per client address, counted in windows of 15 minutes."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from chalicelib.domain.stores import stores
from chalicelib.errors import TooManyRequests

# 10 failed logins from one client address shut that address out for the username until the
# window ends; more than 100 from all addresses together shut the username out everywhere.
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_PER_ADDRESS = 10
LOGIN_FAILURES_PER_USERNAME = 100
# Wrong link codes are counted per client address, in the same windows.
LINK_CODE_FAILURES_PER_ADDRESS = 10


class Attempt(NamedTuple):
    """One attempt, counted before it is checked (so attempts sent in parallel cannot all get
    past a limit) and given back when it succeeds (so only failures stay counted)."""
    counter: str
    part: str | None

    def give_back(self) -> None:
        stores().attempts.give_back(self.counter, self.part)


def _window(now: datetime) -> tuple[int, int, datetime]:
    """The current window: its number, the whole seconds left in it, and when its counters may go."""
    number = int(now.timestamp()) // LOGIN_WINDOW_SECONDS
    end = (number + 1) * LOGIN_WINDOW_SECONDS
    return number, max(1, math.ceil(end - now.timestamp())), datetime.fromtimestamp(end, tz=UTC) + timedelta(days=1)


def _address_part(address: str | None) -> str:
    return f"from#{(address or 'unknown')[:64]}"


def take_login_attempt(username: str, address: str | None, now: datetime) -> Attempt:
    """Count a login attempt for a username from a client address; 429 if either is shut out.

    Known and unknown usernames are counted alike, so a 429 tells nothing about which exist.
    """
    number, retry_after, forget_after = _window(now)
    attempt = Attempt(f"login-failures#{username.lower()}#{number}", _address_part(address))
    if not stores().attempts.take(attempt.counter, LOGIN_FAILURES_PER_USERNAME + 1, forget_after,
                                  part=attempt.part, part_limit=LOGIN_FAILURES_PER_ADDRESS):
        raise TooManyRequests(f"Too many failed logins for this username: try again in {retry_after} seconds.",
                              retry_after=retry_after)
    return attempt


def take_link_code_attempt(address: str | None, now: datetime) -> Attempt:
    """Count a try of a link code from a client address; 429 after too many wrong ones."""
    number, retry_after, forget_after = _window(now)
    attempt = Attempt(f"link-code-failures#{_address_part(address)}#{number}", None)
    if not stores().attempts.take(attempt.counter, LINK_CODE_FAILURES_PER_ADDRESS, forget_after):
        raise TooManyRequests(f"Too many wrong link codes: try again in {retry_after} seconds.",
                              retry_after=retry_after)
    return attempt
