"""A simulated clinic day at the desk, on a fixed clock, through the domain layer on moto.

300 patients arrive over 8 hours and join Triage; 6 service points (2 triage desks, 2
cardiology rooms, 1 pediatrics room, 1 pharmacy counter) call the next token, transfer each
patient on (triage -> a doctor -> pharmacy), and the pharmacy serves them. About 5% do not come
when first called (no-show; half of those are requeued at once) and about 8% are recalled once.
`chalicelib.domain.clock.now` is replaced by the simulation's clock, one tick a minute.

It reports the DynamoDB calls of each operation, how those calls change from 10 to 1,000
entries in a queue, and how far `estimated_wait_minutes` (asked when each entry is made) was
from the entry's actual wait to its first call.
"""
from __future__ import annotations

import random
import statistics
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PATIENTS = 300
DAY_MINUTES = 8 * 60
NO_SHOW = 0.05
RECALL = 0.08
SEED = 20261127


@dataclass
class Point:
    name: str
    department: str
    minutes: tuple[float, float]  # service time, uniform between
    id: int = 0
    entry: int | None = None
    busy_until: float = 0.0


@dataclass
class DayResult:
    calls: dict[str, list[int]] = field(default_factory=dict)
    errors: list[float] = field(default_factory=list)
    estimated: int = 0
    entries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    growth: dict[str, dict[int, str]] = field(default_factory=dict)
    minutes: float = 0.0


@contextmanager
def _fixed_clock(start: datetime):
    from chalicelib.domain import clock

    original = clock.now
    state = {"now": start}
    clock.now = lambda: state["now"]
    try:
        yield state
    finally:
        clock.now = original


def _recorded(result: DayResult, name: str, action):
    from devtools.calls import recording

    with recording() as calls:
        outcome = action()
    result.calls.setdefault(name, []).append(len(calls))
    return outcome


def simulate_day(result: DayResult) -> None:
    from chalicelib.domain import departments, queue, service_points
    from chalicelib.domain.entities import TRANSFERRED
    from chalicelib.storage import queue_entries
    from devtools.seed import add_patients, admin, desk

    rng = random.Random(SEED)
    staff, boss = desk(), admin()
    names = ("Triage", "Cardiology", "Pediatrics", "Pharmacy")
    dept = {name: departments.ensure_department(name) for name in names}
    points = [Point("Triage desk 1", "Triage", (1, 3)), Point("Triage desk 2", "Triage", (1, 3)),
              Point("Cardiology room 1", "Cardiology", (3, 6)), Point("Cardiology room 2", "Cardiology", (3, 6)),
              Point("Pediatrics room", "Pediatrics", (2, 4)), Point("Pharmacy counter", "Pharmacy", (0.5, 1.5))]
    for point in points:
        kind = "room" if "room" in point.name else "desk"
        point.id = service_points.create_service_point(
            boss, service_points.NewServicePoint(point.name, kind, dept[point.department])).id
    patients = add_patients(PATIENTS)
    arrivals = sorted(rng.uniform(0, DAY_MINUTES - 30) for _ in patients)
    estimates: dict[int, float] = {}  # entry id -> minutes estimated when it was made
    made: list[int] = []
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def note_estimate(entry_id: int) -> None:
        made.append(entry_id)
        estimate = _recorded(result, "position", lambda: queue.position(staff, entry_id))["estimated_wait_minutes"]
        if estimate is not None:
            estimates[entry_id] = estimate

    with _fixed_clock(start) as clock_state:
        minute, arrived = 0.0, 0
        while minute < DAY_MINUTES * 2:
            clock_state["now"] = start + timedelta(minutes=minute)
            while arrived < len(arrivals) and arrivals[arrived] <= minute:
                entry = _recorded(result, "join_queue", lambda p=patients[arrived]: queue.join(
                    staff, queue.JoinRequest(patient_id=p, department=dept["Triage"])))
                note_estimate(entry.id)
                arrived += 1
            idle = 0
            for point in points:
                if point.entry is not None and minute >= point.busy_until:
                    entry_id, point.entry = point.entry, None
                    if point.department == "Pharmacy":
                        _recorded(result, "mark_served", lambda e=entry_id: queue.mark_served(staff, e))
                    else:
                        target = ("Cardiology" if rng.random() < 0.6 else "Pediatrics") \
                            if point.department == "Triage" else "Pharmacy"
                        new = _recorded(result, "transfer", lambda e=entry_id, t=target: queue.transfer(
                            staff, e, lambda: queue.TransferRequest(dept[t])))
                        note_estimate(new.id)
                while point.entry is None:
                    called = _recorded(result, "call_next", lambda p=point: queue.call_next(
                        staff, dept[p.department], p.id))
                    if called is None:
                        idle += 1
                        break
                    roll = rng.random()
                    if roll < NO_SHOW:
                        _recorded(result, "no_show", lambda e=called.id: queue.no_show(staff, e))
                        if rng.random() < 0.5:
                            _recorded(result, "requeue", lambda e=called.id: queue.requeue(staff, e))
                        continue  # the desk calls the next one at once
                    if roll < NO_SHOW + RECALL:
                        _recorded(result, "recall", lambda e=called.id, p=point: queue.recall(staff, e, p.id))
                    point.entry = called.id
                    point.busy_until = minute + rng.uniform(*point.minutes)
            if arrived == len(arrivals) and idle == len(points):
                break  # everyone has left: every desk found its queue empty
            minute += 1
        result.minutes = minute
        for name in names:
            _recorded(result, "stats", lambda n=name: queue.stats(staff, None, dept[n]))
        for name in names:
            _recorded(result, "close", lambda n=name: queue.close_queue(staff, dept[n]))

    statuses: dict[str, int] = defaultdict(int)
    for entry_id in made:
        entry = queue_entries.get(entry_id)
        statuses[entry.status] += 1
        if entry_id in estimates and entry.first_called_at:
            actual = (datetime.fromisoformat(entry.first_called_at.replace("Z", "+00:00"))
                      - datetime.fromisoformat(entry.created_at.replace("Z", "+00:00"))).total_seconds() / 60
            result.errors.append(abs(actual - estimates[entry_id]))
    result.statuses = dict(sorted(statuses.items()))
    result.estimated = len(estimates)
    result.entries = len(made)
    assert statuses.get(TRANSFERRED, 0) > 0


def growth(result: DayResult, sizes=(10, 1000)) -> None:
    """Calls per operation on a queue that already holds n waiting and n served entries."""
    for n in sizes:
        _grow(result, n)


def _grow(result: DayResult, n: int) -> None:
    from chalicelib.domain import clock, departments, queue
    from chalicelib.domain.entities import SERVED
    from chalicelib.storage import counters
    from devtools.calls import recording
    from devtools.seed import desk, seed_entries, waiting_entries

    staff = desk()
    department = departments.ensure_department(f"Growth {n}")
    target = departments.ensure_department(f"Growth {n} onward")
    counters.next_value(f"token#department-{department}#{clock.today().isoformat()}", 2 * n)
    seed_entries(n, SERVED, department=department)
    waiting = waiting_entries(n, department=department, first_token=n + 1)
    moves = {
        "position (last)": lambda: queue.position(staff, waiting[-1].id),
        "call_next": lambda: queue.call_next(staff, department),
        "recall": lambda: queue.recall(staff, waiting[0].id),
        "no_show": lambda: queue.no_show(staff, waiting[0].id),
        "requeue": lambda: queue.requeue(staff, waiting[0].id),
        "transfer": lambda: queue.transfer(staff, waiting[1].id, lambda: queue.TransferRequest(target)),
        "mark_served": lambda: queue.mark_served(staff, waiting[2].id),
        "cancel": lambda: queue.cancel(staff, waiting[3].id),
        "stats": lambda: queue.stats(staff, None, department),
        "close": lambda: queue.close_queue(staff, department),
    }
    for name, action in moves.items():
        with recording() as calls:
            action()
        result.growth.setdefault(name, {})[n] = str(len(calls))


def measure(log=print) -> DayResult:
    from moto import mock_aws

    from chalicelib import storage
    from chalicelib.domain import queue

    result = DayResult()
    with mock_aws():
        storage.bind()
        with _entries_without_stream():
            storage.create_tables()
        queue.forget_contention()
        simulate_day(result)
        log(f"  day simulated: {result.entries} entries")
    with mock_aws():
        storage.bind()
        with _entries_without_stream():
            storage.create_tables()
        growth(result)
    return result


@contextmanager
def _entries_without_stream():
    """Tables made inside have no stream on the entries table. The day counts the app's calls, which
    the stream does not change, and keeps moto from holding the day's stream records in memory."""
    from chalicelib.storage.queue_entries import QueueEntryModel

    meta = QueueEntryModel.Meta
    view = meta.stream_view_type
    del meta.stream_view_type
    try:
        yield
    finally:
        meta.stream_view_type = view


def section(result: DayResult) -> list[str]:
    lines = ["## A clinic day at the desk", "",
             f"bench/desk_day.py: {PATIENTS} patients over 8 hours, 4 departments, 6 service points, triage -> "
             "doctor -> pharmacy by transfers, ~5% no-shows (half requeued), ~8% recalls, on a fixed clock "
             f"(one tick a minute; the day's last patient left after {result.minutes:.0f} minutes). Domain layer "
             "on moto in this process; DynamoDB calls per operation (the caller's own GetItem, made by the route, "
             "is not included).", "",
             "| operation | times | calls: median | max |", "|---|---:|---:|---:|"]
    for name, counts in sorted(result.calls.items()):
        lines.append(f"| `{name}` | {len(counts)} | {statistics.median(counts):g} | {max(counts)} |")
    lines += ["", "Entries made (joins and transfers) by final status: "
              + ", ".join(f"{status} {n}" for status, n in result.statuses.items()) + ".", ""]
    if result.errors:
        lines += [f"Wait estimates: {result.estimated} of {result.entries} entries got one when made (the others "
                  "had fewer than 3 calls of their queue before them). Median absolute error against the actual "
                  f"wait to the first call: **{statistics.median(result.errors):.1f} minutes** (90th percentile "
                  f"{sorted(result.errors)[int(0.9 * (len(result.errors) - 1))]:.1f}).", ""]
    sizes = sorted({n for by_size in result.growth.values() for n in by_size})
    lines += ["### The desk's calls as a queue grows", "",
              "A department's queue already holding n waiting and n served entries today.", "",
              "| operation | " + " | ".join(f"calls at {n:,}" for n in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for name, by_size in result.growth.items():
        lines.append(f"| `{name}` | " + " | ".join(by_size[n] for n in sizes) + " |")
    lines += ["", "`stats` reads that one day's entries of that queue (pages of the day index), so it grows "
              "with them; `close` reads and writes each waiting entry it expires. The other operations stay "
              "flat.", ""]
    return lines


if __name__ == "__main__":
    from bench.harness import prepare_environment

    prepare_environment()
    print("\n".join(section(measure())))
