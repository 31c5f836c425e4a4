"""Time, and the clinic's day. Tests replace `now` to fix the clock."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def service_day(instant: datetime, clinic_tz: ZoneInfo) -> date:
    """The clinic's local date at an instant: the day a queue entry belongs to."""
    return instant.astimezone(clinic_tz).date()
