"""How dates, instants and optional numbers are written: the API's text forms of the clinic's values.

A leaf module: it imports nothing of the domain or of storage, so both can use it.
"""
from __future__ import annotations

from datetime import UTC, date, datetime


def iso_instant(value: datetime) -> str:
    """A UTC instant as the API writes it: 2023-12-15T10:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """An instant written as ISO 8601 (a trailing Z for UTC, as iso_instant writes it), time zone aware."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def optional_int(value) -> int | None:
    """A stored number as an int, or None where none is stored."""
    return int(value) if value is not None else None
