"""The operator's backfill (devtools/backfill.py) against moto: records written before the patient
search's index, the users' prefix indexes and the service points' department mark existed become
findable (and refuse calls), and running it again writes nothing."""
from __future__ import annotations

from datetime import date

import boto3
import pytest
from moto import mock_aws

from chalicelib import storage
from chalicelib.domain.entities import Department, Patient, ServicePoint, User, UserFilters
from chalicelib.domain.ports.queue import DESK_POINT, DeskCheck
from chalicelib.domain.search import PatientQuery
from chalicelib.errors import ConditionFailed
from chalicelib.storage import departments, patients, service_points, users
from chalicelib.storage.departments import DepartmentModel
from chalicelib.storage.transactions import Transaction
from chalicelib.storage.users import UserModel
from devtools import backfill

PREFIX = "dqs-prod-"
NOW = "2024-01-02T03:04:05Z"
NAMES = ["María López", "Mario Rossi", "Ana Marín", "Zoë Kwan", "Jon Smith"]


@pytest.fixture
def prod(monkeypatch):
    """The prod stage's tables, bound as the command binds them."""
    with mock_aws():
        settings = backfill.stage_settings("prod", "us-east-1")
        storage.bind(settings)
        storage.create_tables()
        yield settings
    storage.bind()


def _old_patients() -> None:
    """Patient records as they were written before the search index: the record alone."""
    for n, name in enumerate(NAMES, start=1):
        patients.to_model(Patient(id=n, name=name, email=None, phone=f"+1 (555) 010-02{n:02d}",
                                  date_of_birth=date(1980, 1, n), user_id=None, created_at=NOW)).save()


def _old_users() -> None:
    """Accounts as they were written before the prefix indexes: no lowercased values."""
    for n, username in enumerate(["Chief", "chloe", "Desk1"], start=1):
        users.register(User(id=n, username=username, email=f"{username}@Clinic.example", role="staff",
                            password_hash="x", date_of_birth=None, first_name="", last_name="",
                            is_active=True, date_joined=NOW))
        UserModel(n).update(actions=[UserModel.username_lower.remove(), UserModel.email_lower.remove()])


def _old_inactive_department() -> None:
    """A department deactivated before its points carried it (only its own item says so)."""
    departments.add(Department(id=1, name="Cardiology", description=""))
    service_points.add(ServicePoint(id=1, name="Room 1", kind="room", department=1))
    service_points.add(ServicePoint(id=2, name="Room 2", kind="room", department=1))
    departments.add(Department(id=2, name="Radiology", description=""))
    service_points.add(ServicePoint(id=3, name="Room 3", kind="room", department=2))
    DepartmentModel(1).update(actions=[DepartmentModel.is_active.set(False)])


def _names(query: PatientQuery) -> list[str]:
    return [p.name for p in patients.search_page(query, 50, None).items]


def _usernames(filters: UserFilters) -> list[str]:
    return [u.username for u in users.filtered_page(filters, 50, None).items]


def _desk_refused(department: int, point: int) -> bool:
    try:
        with Transaction() as tx:
            service_points.stage_desk_check(tx, DeskCheck(department, point))
    except ConditionFailed as failed:
        assert failed.labels == [DESK_POINT]
        return True
    return False


def _items() -> dict[str, list]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return {model.Meta.table_suffix: sorted(map(str, client.scan(TableName=PREFIX + model.Meta.table_suffix)["Items"]))
            for model in storage.MODELS}


def test_old_records_become_findable_and_a_rerun_writes_nothing(prod):
    _old_patients()
    _old_users()
    _old_inactive_department()
    assert _names(PatientQuery(search="mar")) == []
    assert _usernames(UserFilters(username="ch")) == []
    assert not _desk_refused(1, 1)

    lines: list[str] = []
    written = backfill.backfill(prod, "prod", batch=2, say=lines.append)

    assert written == {"patients": 5, "users": 3, "service points": 2}
    assert sorted(_names(PatientQuery(search="MAR"))) == sorted(["Ana Marín", "María López", "Mario Rossi"])
    assert _names(PatientQuery(search="zoe")) == ["Zoë Kwan"]
    assert _names(PatientQuery(phone="15550100204")) == ["Zoë Kwan"]
    assert _names(PatientQuery(date_of_birth=date(1980, 1, 5))) == ["Jon Smith"]
    assert sorted(_usernames(UserFilters(username="CH"))) == ["Chief", "chloe"]
    assert _usernames(UserFilters(email="desk1@clinic")) == ["Desk1"]
    assert _desk_refused(1, 1) and _desk_refused(1, 2)
    assert not _desk_refused(2, 3)  # an active department's point is left as it is
    assert "patients: 2 read, 2 written (up to id 2)" in lines  # in batches of 2

    before = _items()
    again: list[str] = []
    assert backfill.backfill(prod, "prod", batch=2, say=again.append) == {
        "patients": 0, "users": 0, "service points": 0}
    assert _items() == before


def test_a_stopped_run_is_finished_by_running_it_again(prod):
    _old_patients()
    assert patients.index_batch(None, 2) == (2, 2, 2)  # stopped after its first batch
    assert [p.id for p in patients.search_page(PatientQuery(search="m"), 50, None).items] == [1, 2]

    assert backfill.backfill(prod, "prod", batch=2, say=lambda line: None)["patients"] == 3
    assert sorted(_names(PatientQuery(search="m"))) == sorted(["Ana Marín", "María López", "Mario Rossi"])


def test_records_the_api_wrote_are_left_as_they_are(prod):
    patients.add(Patient(id=1, name="Eva Novak", email=None, phone="555", date_of_birth=None,
                         user_id=None, created_at=NOW))
    users.register(User(id=1, username="Eva", email="eva@clinic.example", role="staff", password_hash="x",
                        date_of_birth=None, first_name="", last_name="", is_active=True, date_joined=NOW))
    departments.add(Department(id=1, name="Cardiology", description=""))
    service_points.add(ServicePoint(id=1, name="Room 1", kind="room", department=1))
    departments.save_changes(departments.get(1), Department(id=1, name="Cardiology", description="",
                                                            is_active=False))  # marks its points itself
    assert _desk_refused(1, 1)
    before = _items()
    assert backfill.backfill(prod, "prod", say=lambda line: None) == {
        "patients": 0, "users": 0, "service points": 0}
    assert _items() == before


def test_a_record_edited_since_it_was_read_is_indexed_as_it_is_now(prod, monkeypatch):
    _old_patients()
    read = patients.get(1)
    edited = Patient(**{**read.__dict__, "name": "María Pérez"})
    real_missing = patients._missing_tokens
    calls = []

    def edit_between(records):
        found = real_missing(records)
        if not calls:  # the desk edits the record after the backfill read it
            patients.save_changes(read, edited)
        calls.append(records)
        return found

    monkeypatch.setattr(patients, "_missing_tokens", edit_between)
    assert patients.index_batch(None, 1) == (1, 1, 1)
    assert _names(PatientQuery(search="perez")) == ["María Pérez"]
    assert _names(PatientQuery(search="maria")) == ["María Pérez"]  # the word the edit kept, never indexed
    assert _names(PatientQuery(search="lopez")) == []


def test_a_department_reactivated_meanwhile_keeps_its_points_unmarked(prod, monkeypatch):
    _old_inactive_department()
    real_mark = service_points._mark
    reactivated = []

    def reactivate_first(tx, label, point_id, department_id, *, inactive):
        if label == "point" and not reactivated:  # the admin reactivates it as the pass marks its points
            reactivated.append(department_id)
            inactive_now = departments.get(department_id)
            departments.save_changes(inactive_now, Department(**{**inactive_now.__dict__, "is_active": True}))
        real_mark(tx, label, point_id, department_id, inactive=inactive)

    monkeypatch.setattr(service_points, "_mark", reactivate_first)
    assert service_points.mark_inactive_departments() == (1, 0)
    assert reactivated == [1] and not _desk_refused(1, 1) and not _desk_refused(1, 2)


def test_the_command_runs_on_a_stage(prod, capsys):
    _old_patients()
    assert backfill.main(["--stage", "prod", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert "Done on stage 'prod'" in out and "5 patients" in out
    assert _names(PatientQuery(search="jon")) == ["Jon Smith"]


def test_a_stage_without_tables_is_refused_clearly(capsys):
    with mock_aws():
        code = backfill.main(["--stage", "prod", "--region", "us-east-1"])
    storage.bind()
    err = capsys.readouterr().err
    assert code == 1 and "do not exist" in err and "Traceback" not in err


def test_unknown_stage_is_refused(capsys):
    assert backfill.main(["--stage", "staging", "--region", "us-east-1"]) == 1
    assert "No stage 'staging'" in capsys.readouterr().err


def test_a_record_that_keeps_changing_stops_the_run_with_advice(prod, monkeypatch, capsys):
    _old_patients()

    def busy(after_id, limit):
        raise ConditionFailed([ConditionFailed.CONFLICT])

    monkeypatch.setattr(patients, "index_batch", busy)
    assert backfill.main(["--stage", "prod", "--region", "us-east-1"]) == 1
    err = capsys.readouterr().err
    assert "run it again" in err and "Traceback" not in err
