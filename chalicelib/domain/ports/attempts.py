"""Attempts counted against a limit (failed logins, wrong link codes, registrations).

Two kinds: counters (take/give_back: one per named period, such as a clinic day's bookings or
messages), and sliding windows (take_sliding/give_back_sliding): one item per subject holding the
instants of its attempts in the last window, so no boundary between windows can double an
allowance. The rule deciding a sliding window's answer is `decide` below, shared by the
DynamoDB store and the in-memory fake.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import NamedTuple, Protocol


class Entry(NamedTuple):
    """One attempt in a sliding window: when (seconds since the epoch), its part (e.g. a client
    address) and a random token naming it (to give it back)."""
    at: float
    part: str
    token: str

    def encode(self) -> str:
        return f"{self.at!r}|{self.token}|{self.part}"

    @classmethod
    def decode(cls, text: str) -> Entry:
        at, token, part = text.split("|", 2)
        return cls(float(at), part, token)


class Limits(NamedTuple):
    """What a sliding window allows: `limit` attempts in any `window_seconds` (None: no limit on
    the total), and `part_limit` of them from one part (None: no limit per part)."""
    window_seconds: float
    limit: int | None
    part_limit: int | None = None


def decide(entries: list[Entry], now: float, limits: Limits, entry: Entry) -> tuple[list[Entry] | None, int]:
    """The entries to store with `entry` added (and those out of the window dropped), and 0;
    or None and the whole seconds until an attempt would be allowed again, when a limit is reached."""
    since = now - limits.window_seconds
    kept = sorted((e for e in entries if e.at > since), key=lambda e: e.at)
    mine = [e for e in kept if e.part == entry.part]
    waits = []
    if limits.limit is not None and len(kept) >= limits.limit:
        waits.append(kept[len(kept) - limits.limit].at + limits.window_seconds - now)
    if limits.part_limit is not None and len(mine) >= limits.part_limit:
        waits.append(mine[len(mine) - limits.part_limit].at + limits.window_seconds - now)
    if waits:
        return None, max(1, math.ceil(max(waits)))
    return [*kept, entry], 0


class Attempts(Protocol):
    def take(self, name: str, limit: int, expires_at: datetime) -> bool:
        """Count one attempt under `name`, or change nothing and answer False when it has reached
        its limit; the check and the count are one step. The count may be forgotten after `expires_at`."""

    def give_back(self, name: str) -> None:
        """Take back an attempt counted by take() (it was not used after all)."""

    def count(self, name: str) -> int:
        """The count take() has made under `name` (0 if none; a strongly consistent read)."""

    def take_sliding(self, name: str, entry: Entry, limits: Limits) -> int:
        """Add `entry` to the sliding window `name` unless `decide` refuses it: 0 when added, else the
        seconds to wait. The decision and the write are one conditional step (of two attempts at
        once, both cannot pass a limit)."""

    def give_back_sliding(self, name: str, token: str) -> None:
        """Take back the entry named `token` (it succeeded, so it was no failure)."""

    def parts_since(self, name: str, since: float) -> set[str]:
        """The parts of the window `name` with an entry after `since` (a strongly consistent read)."""

    def remember_part(self, name: str, entry: Entry, keep_seconds: float, most: int) -> None:
        """Keep `entry` in `name` as its part's latest, with at most `most` parts, those older
        than `keep_seconds` dropped (e.g. the addresses an account logged in from)."""
