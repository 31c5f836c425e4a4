"""Time, and the clinic's day. Tests replace `now` to fix the clock."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def service_day(instant: datetime, clinic_tz: ZoneInfo) -> date:
    """The clinic's local date at an instant: the day a queue entry belongs to."""
    return instant.astimezone(clinic_tz).date()


def day_of(instant: datetime) -> date:
    """The clinic's day at an instant, in its configured time zone."""
    return service_day(instant, get_settings().clinic_timezone)


def today() -> date:
    """The clinic's current day, in its own time zone."""
    return day_of(now())
