"""Attempts counted against a limit (failed logins, wrong link codes), per window."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Attempts(Protocol):
    def take(self, name: str, limit: int, expires_at: datetime, part: str | None = None,
             part_limit: int | None = None) -> bool:
        """Count one attempt under `name` (and its `part`, e.g. one client address among all), or change
        nothing and answer False when either has reached its limit; the check and the count are one step.
        The count may be forgotten after `expires_at`."""

    def give_back(self, name: str, part: str | None = None) -> None:
        """Take back an attempt counted by take() (it succeeded, so it was no failure)."""
