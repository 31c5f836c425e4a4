"""Limits on attempts, each counted in a sliding window (no boundary between windows can double an
allowance: 10 per 15 minutes means at most 10 in any 15 minutes), with Retry-After the time until
the oldest counted attempt leaves the window:

- failed logins (and wrong old passwords) per username and client address; more than 100 for one
  username from all addresses shut it out, except from an address that logged in to it in the
  last 30 days (a stranger cannot lock an owner out);
- wrong link codes per client address, and from all addresses together (a right code is checked
  first and never refused because of anybody's wrong ones). A wrong code names no record (codes
  are looked up by their hash), so each is a guess at every record's code: the count in all is
  the count of guesses at each record, from every address, and its cap is the per-record cap;
- registrations without a login per client address (`DQS_REGISTRATIONS_PER_ADDRESS_HOUR`).
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from chalicelib.domain.ports.attempts import Entry, Limits
from chalicelib.domain.stores import stores
from chalicelib.errors import TooManyRequests
from chalicelib.settings import get_settings

LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_PER_ADDRESS = 10
LOGIN_FAILURES_PER_USERNAME = 100
# An address that logged in to an account within this long stays exempt from the username's lock.
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600
KNOWN_ADDRESSES_PER_ACCOUNT = 20
# Wrong link codes: per client address, and from all addresses together (each wrong code is a guess
# at every record's code, so this is also the cap of guesses at one record), in the same windows.
LINK_CODE_FAILURES_PER_ADDRESS = 10
LINK_CODE_FAILURES_IN_ALL = 200
REGISTRATION_WINDOW_SECONDS = 3600


class Attempt(NamedTuple):
    """One attempt, counted before it is checked (so attempts sent in parallel cannot all get
    past a limit) and given back when it succeeds (so only failures stay counted)."""
    counter: str
    part: str
    token: str

    def give_back(self) -> None:
        stores().attempts.give_back_sliding(self.counter, self.token)


def _address_part(address: str | None) -> str:
    return f"from#{(address or 'unknown')[:64]}"


def take(counter: str, address: str | None, limits: Limits, now: datetime, message: str) -> Attempt:
    """Count an attempt in the sliding window `counter` from a client address; 429 with Retry-After
    (the seconds until the oldest counted attempt leaves the window) when `limits` are reached.
    `message` may hold `{seconds}`. For any throttle: give the attempt back if it was no failure."""
    entry = Entry(now.timestamp(), _address_part(address), secrets.token_hex(8))
    wait = stores().attempts.take_sliding(counter, entry, limits)
    if wait:
        raise TooManyRequests(message.format(seconds=wait), retry_after=wait)
    return Attempt(counter, entry.part, entry.token)


def _known_addresses(username: str) -> str:
    return f"login-addresses#{username.lower()}"


def take_login_attempt(username: str, address: str | None, now: datetime) -> Attempt:
    """Count a login attempt for a username from a client address; 429 if either is shut out.

    Known and unknown usernames are counted alike, so a 429 tells nothing about which exist.
    """
    since = now.timestamp() - KNOWN_ADDRESS_SECONDS
    known = _address_part(address) in stores().attempts.parts_since(_known_addresses(username), since)
    limits = Limits(LOGIN_WINDOW_SECONDS, None if known else LOGIN_FAILURES_PER_USERNAME + 1,
                    LOGIN_FAILURES_PER_ADDRESS)
    return take(f"login-window#{username.lower()}", address, limits, now,
                "Too many failed logins for this username: try again in {seconds} seconds.")


def logged_in(username: str, address: str | None, now: datetime) -> None:
    """Remember the address a login to the account succeeded from (for 30 days)."""
    entry = Entry(now.timestamp(), _address_part(address), "")
    stores().attempts.remember_part(_known_addresses(username), entry, KNOWN_ADDRESS_SECONDS,
                                    KNOWN_ADDRESSES_PER_ACCOUNT)


def count_wrong_link_code(address: str | None, now: datetime) -> None:
    """Count a wrong link code from a client address (and among all addresses); 429 once either
    limit is reached. Called only after the code was checked and found wrong."""
    message = "Too many wrong link codes: try again in {seconds} seconds."
    take(f"link-code-window#{_address_part(address)}", address,
         Limits(LOGIN_WINDOW_SECONDS, LINK_CODE_FAILURES_PER_ADDRESS), now, message)
    take("link-code-window#all", address, Limits(LOGIN_WINDOW_SECONDS, LINK_CODE_FAILURES_IN_ALL), now, message)


def take_registration(address: str | None, now: datetime) -> Attempt:
    """Count a registration without a login from a client address; 429 past the hour's limit."""
    limit = get_settings().registrations_per_address_hour
    return take(f"registration-window#{_address_part(address)}", address,
                Limits(REGISTRATION_WINDOW_SECONDS, limit), now,
                "Too many registrations from this address: try again in {seconds} seconds.")
