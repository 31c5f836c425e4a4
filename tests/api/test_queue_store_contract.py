"""The in-memory queue stores keep DynamoDB's rules: one scenario, run through the domain and the
stores against the fakes and against moto (chalicelib.storage), gives the same answers: the same
entries, the same errors and the same condition labels."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import clock, queue
from chalicelib.domain import stores as installed
from chalicelib.domain.entities import URGENT, Department, Event, Patient
from chalicelib.domain.queue import JoinRequest, TransferRequest
from chalicelib.domain.stores import stores
from chalicelib.errors import ConditionFailed, DomainError
from tests.support.fakes import memory_stores
from tests.support.queue import caller, desk, walk_in


def recorder(seen: list, view):
    """`note(action)`: runs the action and records its outcome in `seen` (an entry as `view` shows it,
    a domain error's kind and fields, or a failed condition's labels); returns its result, or None."""
    def note(action):
        try:
            result = action()
        except DomainError as exc:
            seen.append((type(exc).__name__, sorted(exc.fields)))
        except ConditionFailed as exc:
            seen.append(("ConditionFailed", sorted(exc.labels)))
        else:
            seen.append(view(result) if hasattr(result, "history") else result)
            return result
        return None
    return note


def scenario() -> list:
    """Joins, calls, moves, a transfer, a close and a reopen, and store writes that must lose,
    with departments 1 (Cardiology) and 2 (Pharmacy) and patients 1-3 in place."""
    seen, ids = [], {}

    def entry_view(entry):
        return (ids.setdefault(entry.id, len(ids)), entry.status, entry.token_number, entry.priority,
                entry.department, entry.patient_id, [e.status for e in entry.history])

    note = recorder(seen, entry_view)

    staff = desk()
    first = note(lambda: queue.join(staff, JoinRequest(patient_id=1, department=1)))
    note(lambda: queue.join(staff, JoinRequest(patient_id=2, department=1, priority=URGENT)))
    note(lambda: queue.join(staff, JoinRequest(patient_id=1, department=1)))  # holds a place
    note(lambda: queue.join(caller("patient", patient_id=3), JoinRequest(department=1)))
    note(lambda: queue.position(staff, first.id))
    called = note(lambda: queue.call_next(staff, 1))  # the urgent one
    note(lambda: queue.recall(staff, called.id))
    note(lambda: queue.no_show(staff, called.id))
    note(lambda: queue.no_show(staff, called.id))  # not called any more
    note(lambda: queue.requeue(staff, called.id))
    note(lambda: queue.transfer(staff, first.id, lambda: TransferRequest(2)))
    note(lambda: queue.join(staff, JoinRequest(patient_id=1, department=2)))  # holds the transferred place
    note(lambda: queue.close_queue(staff, 1))
    note(lambda: queue.join(staff, JoinRequest(patient_id=1, department=1)))  # closed
    note(lambda: queue.requeue(staff, called.id))  # expired by the close
    note(lambda: queue.open_queue(staff, 1))
    later = note(lambda: queue.join(staff, JoinRequest(patient_id=2, department=1)))
    entries = stores().queue_entries
    # Store writes that lose, and their labels.
    stale = entries.get(later.id)
    note(lambda: entries.change(stale, stale))  # unchanged: still as read
    at = "2030-01-01T00:00:00Z"
    moved = type(stale)(**{**stale.__dict__, "status": "canceled", "closed_at": at,
                           "history": [*stale.history, Event("canceled", at)]})
    note(lambda: entries.change(stale, moved))
    note(lambda: entries.change(stale, moved))  # no longer as read
    note(lambda: entries.add(stale, clock.now() + timedelta(days=1)))  # the id is taken
    note(lambda: stores().queue_days.close("department-1", clock.today(), at, clock.now() + timedelta(days=1)))
    note(lambda: stores().queue_days.next_token("department-1", clock.today(), clock.now() + timedelta(days=1)))
    note(lambda: sorted(queue.list_today(staff, 1, 10, None).items, key=lambda e: e.token_number)[-1].status)
    note(lambda: queue.stats(staff, None, 1)["joined"])
    return seen


def test_the_fakes_answer_as_dynamodb_does(aws, monkeypatch):
    from chalicelib.domain import departments

    for name in ("Cardiology", "Pharmacy"):
        departments.ensure_department(name)
    for name in ("Ada", "Grace", "Alan"):
        walk_in(name)
    on_dynamodb = scenario()

    fakes = memory_stores()
    state = fakes.queue_entries.s
    state.departments.update({1: Department(1, "Cardiology", ""), 2: Department(2, "Pharmacy", "")})
    for patient_id, name in enumerate(("Ada", "Grace", "Alan"), start=1):
        state.patients[patient_id] = Patient(patient_id, name, None, None, None, None, "2024-01-01T00:00:00Z")
    before = installed._current
    installed.use(fakes)
    try:
        in_memory = scenario()
    finally:
        installed.use(before)
    assert in_memory == on_dynamodb
    assert ("Conflict", ["status"]) in on_dynamodb and ("ConditionFailed", ["entry"]) in on_dynamodb


def desk_scenario(set_department_active) -> list:
    """Calls at service points, whose desk checks go with the call's write: department 1's active
    point 1 and inactive point 2, department 2's point 3; doctor 1 (department 1) and inactive
    doctor 2; patients 1-3 waiting in department 1."""
    from dataclasses import replace

    from chalicelib.domain.ports.queue import DeskCheck

    seen = []
    note = recorder(seen, lambda e: (e.status, e.token_number, e.service_point, len(e.history)))

    staff = desk()
    for patient_id in (1, 2, 3):
        queue.join(staff, JoinRequest(patient_id=patient_id, department=1))
    entries = stores().queue_entries
    head = entries.head_entries("department-1", clock.today(), 32)
    seen.append([(e.token_number, e.status) for e in head])
    event = Event("called", "2030-01-01T00:00:00Z", staff.id, 1)
    note(lambda: entries.mark_called(head[0], event, DeskCheck(1, 1)))
    note(lambda: entries.mark_called(head[0], event, DeskCheck(1, 1)))  # already called: lost, None
    for check in (DeskCheck(1, 2), DeskCheck(2, 1), DeskCheck(None, 1), DeskCheck(1, 3), DeskCheck(1, 1, 2),
                  DeskCheck(1, 2, 2), DeskCheck(1, 99), DeskCheck(1, 1, 99)):
        note(lambda check=check: entries.mark_called(head[1], event, check))
    note(lambda: entries.mark_called(head[1], event, DeskCheck(1, 1, 1)))
    set_department_active(False)
    note(lambda: entries.mark_called(head[2], event, DeskCheck(1, 1)))
    note(lambda: queue.call_next(staff, 1, 1))  # says why: the department is inactive
    set_department_active(True)
    note(lambda: queue.call_next(staff, 1, 2))  # the inactive point
    note(lambda: queue.call_next(replace(caller("doctor"), doctor_id=2), 1, 1))  # the inactive doctor
    note(lambda: queue.call_next(replace(caller("doctor"), doctor_id=1), 1, 1))
    note(lambda: queue.call_next(staff, 1, 1))  # empty now
    return seen


def test_desk_checks_answer_as_dynamodb_does(aws):
    from chalicelib.domain import departments
    from chalicelib.domain.commands import DepartmentChanges
    from chalicelib.domain.entities import Doctor, ServicePoint
    from tests.support.queue import admin

    for name in ("Cardiology", "Pharmacy"):
        departments.ensure_department(name)
    for name in ("Ada", "Grace", "Alan"):
        walk_in(name)
    points = [ServicePoint(1, "Desk 1", "desk", 1), ServicePoint(2, "Desk 2", "desk", 1, is_active=False),
              ServicePoint(3, "Desk 3", "desk", 2)]
    doctors = [Doctor(1, "Dr One", "GP", 1, None), Doctor(2, "Dr Two", "GP", 1, None, is_active=False)]
    for point in points:
        stores().service_points.add(point)
    for doctor in doctors:
        stores().doctors.add(doctor)
    on_dynamodb = desk_scenario(
        lambda active: departments.update_department(admin(), 1, DepartmentChanges(is_active=active)))

    fakes = memory_stores()
    state = fakes.queue_entries.s
    state.departments.update({1: Department(1, "Cardiology", ""), 2: Department(2, "Pharmacy", "")})
    for patient_id, name in enumerate(("Ada", "Grace", "Alan"), start=1):
        state.patients[patient_id] = Patient(patient_id, name, None, None, None, None, "2024-01-01T00:00:00Z")
    state.points.update({point.id: point for point in points})
    state.doctors.update({doctor.id: doctor for doctor in doctors})

    def set_active(active: bool) -> None:
        state.departments[1] = Department(1, "Cardiology", "", is_active=active)

    before = installed._current
    installed.use(fakes)
    try:
        in_memory = desk_scenario(set_active)
    finally:
        installed.use(before)
    assert in_memory == on_dynamodb
    assert ("ConditionFailed", ["desk-doctor", "desk-point"]) in on_dynamodb
    assert on_dynamodb[-1] is None and on_dynamodb[-2][0] == "called"
