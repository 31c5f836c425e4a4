"""How dates and instants are written: the API's text forms of the clinic's values."""
from __future__ import annotations

from datetime import UTC, date, datetime


def iso_instant(value: datetime) -> str:
    """A UTC instant as the API writes it: 2023-12-15T10:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
