"""A queue's day in numbers: entries per status, waits and service times, per service point."""
from __future__ import annotations

from datetime import date

from chalicelib.domain import clock
from chalicelib.domain.entities import ENTRY_STATUSES, SERVED, User, queue_name
from chalicelib.domain.queue.rules import department_of
from chalicelib.domain.stores import stores
from chalicelib.domain.values import parse_instant


def stats(actor: User, day: date | None, department_id: int | None) -> dict:
    """A queue's day in numbers: entries per status, waits and service times, per service point.

    Reads that day's entries of that queue only (the day index), never other days'.
    """
    department_of(department_id)
    day = day or clock.today()
    counts = dict.fromkeys(ENTRY_STATUSES, 0)
    waits, services, points = [], [], {}
    for entry in stores().queue_entries.day_entries(queue_name(department_id), day):
        counts[entry.status] += 1
        if entry.first_called_at:
            waits.append(_minutes(entry.created_at, entry.first_called_at))
        service = _minutes(entry.called_at, entry.served_at) if entry.served_at and entry.called_at else None
        if service is not None:
            services.append(service)
        if entry.service_point is not None and entry.first_called_at:
            point = points.setdefault(entry.service_point, {"called": 0, "served": 0, "minutes": []})
            point["called"] += 1
            if entry.status == SERVED:
                point["served"] += 1
                if service is not None:
                    point["minutes"].append(service)
    return {
        "queue_date": day, "department": department_id, "joined": sum(counts.values()), **counts,
        "wait_minutes": spread(waits), "service_minutes": spread(services),
        "by_service_point": [{"service_point": point_id, "called": p["called"], "served": p["served"],
                              "service_minutes": spread(p["minutes"])} for point_id, p in sorted(points.items())],
    }


def _minutes(start: str, end: str) -> float:
    return (parse_instant(end) - parse_instant(start)).total_seconds() / 60


def spread(values: list[float]) -> dict | None:
    """Median and 90th percentile (nearest rank), in minutes rounded to a tenth; None without data."""
    import statistics  # only the stats read it: a cold start skips it (and fractions, which it imports)

    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return {"median": round(statistics.median(ordered), 1), "p90": round(p90, 1)}
