"""Departments and doctors through the API: who may do what, shapes, validation, filters, pages."""
from __future__ import annotations

import pytest

from tests.api.test_patients import count_calls, walk

SEED_DEPARTMENT = {"name": "Cardiology", "description": "Heart disease treatment"}
SEED_DOCTOR = {"name": "Dr. Smith", "specialty": "Cardiology", "department": 1}
OUTSIDERS = [("anonymous", 401), ("patient", 403), ("doctor", 403), ("staff", 403)]


def token_of(as_role, role):
    person = as_role(role)
    return person.token if person else None


def test_seed_payloads_create_a_department_and_a_doctor(api, as_role):
    admin = as_role("admin").token
    department = api.post("/departments/", SEED_DEPARTMENT, token=admin)
    assert department.status == 201 and department.body == {"id": 1, **SEED_DEPARTMENT, "is_active": True}
    doctor = api.post("/doctors/", SEED_DOCTOR, token=admin)
    assert doctor.status == 201, doctor
    assert doctor.body == {"id": doctor.body["id"], **SEED_DOCTOR, "user_id": None, "is_active": True}
    assert api.get(f"/doctors/{doctor.body['id']}/", token=admin).body == doctor.body
    assert api.get("/departments/1/", token=admin).body == department.body


@pytest.mark.parametrize("role,status", OUTSIDERS)
def test_only_an_admin_creates_departments_and_doctors(api, as_role, role, status):
    admin = as_role("admin").token
    api.post("/departments", SEED_DEPARTMENT, token=admin)
    token = token_of(as_role, role)
    assert api.post("/departments", {"name": "Neurology"}, token=token).status == status
    assert api.post("/doctors", SEED_DOCTOR, token=token).status == status
    # Refused before the body is read.
    assert api.post("/doctors", raw="{oops", token=token).status == status


@pytest.mark.parametrize("role", ["patient", "doctor", "staff", "admin"])
def test_every_logged_in_user_reads_departments_and_doctors(api, as_role, role):
    admin = as_role("admin").token
    dept = api.post("/departments", SEED_DEPARTMENT, token=admin).body["id"]
    doctor = api.post("/doctors", {**SEED_DOCTOR, "department": dept}, token=admin).body
    token = token_of(as_role, role)
    departments = api.get("/departments", token=token)
    assert departments.status == 200
    assert {"id": dept, **SEED_DEPARTMENT, "is_active": True} in departments.body["results"]
    doctors = api.get("/doctors", token=token)
    assert doctors.status == 200 and doctor in doctors.body["results"]
    assert api.get(f"/departments/{dept}", token=token).status == 200
    assert api.get(f"/doctors/{doctor['id']}", token=token).body == doctor
    assert api.get("/departments/999", token=token).status == 404
    assert api.get("/doctors/999", token=token).status == 404
    assert api.get("/doctors/abc", token=token).status == 404
    assert api.get("/departments/0", token=token).status == 404


def test_anonymous_reads_nothing(api, as_role):
    admin = as_role("admin").token
    api.post("/departments", SEED_DEPARTMENT, token=admin)
    api.post("/doctors", SEED_DOCTOR, token=admin)
    for path in ("/departments", "/departments/1", "/doctors", "/doctors/1"):
        assert api.get(path).status == 401, path


def test_department_names_are_unique_without_regard_to_case(api, as_role):
    admin = as_role("admin").token
    assert api.post("/departments", SEED_DEPARTMENT, token=admin).status == 201
    r = api.post("/departments", {"name": "CARDIOLOGY"}, token=admin)
    assert r.status == 409 and r.body["Fields"] == {"name": "A department with that name already exists."}


def test_a_doctor_needs_an_existing_department(api, as_role):
    admin = as_role("admin").token
    r = api.post("/doctors", SEED_DOCTOR, token=admin)
    assert r.status == 400 and r.body["Fields"] == {"department": "No department with id 1."}
    assert api.get("/doctors", token=admin).body["results"] == []


def test_invalid_department_data_is_a_400_naming_the_field(api, as_role):
    admin = as_role("admin").token
    for body,field in [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 7}, "name"),
        ({"name": "Oncology", "description": "x" * 1001}, "description"),
        ({"name": "Oncology", "description": ["a"]}, "description"),
        ({"name": "Oncology", "id": 4}, "id"),
    ]:
        r = api.post("/departments", body, token=admin)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
    assert api.get("/departments", token=admin).body["results"] == []


def test_invalid_doctor_data_is_a_400_naming_the_field(api, as_role):
    admin = as_role("admin").token
    api.post("/departments", SEED_DEPARTMENT, token=admin)
    for body,field in [
        ({"specialty": "Cardiology", "department": 1}, "name"),
        ({"name": "Dr. Who", "department": 1}, "specialty"),
        ({"name": "Dr. Who", "specialty": "Time"}, "department"),
        ({"name": "Dr. Who", "specialty": "Time", "department": "1"}, "department"),
        ({"name": "Dr. Who", "specialty": "Time", "department": 1.5}, "department"),
        ({"name": "Dr. Who", "specialty": "Time", "department": True}, "department"),
        ({"name": "Dr. Who", "specialty": "Time", "department": 0}, "department"),
        ({"name": "x" * 201, "specialty": "Time", "department": 1}, "name"),
        ({"name": "Dr. Who", "specialty": "x" * 201, "department": 1}, "specialty"),
        ({"name": "Dr. Who", "specialty": "Time", "department": 1, "user_id": 1}, "user_id"),
    ]:
        r = api.post("/doctors", body, token=admin)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
    assert api.get("/doctors", token=admin).body["results"] == []


def test_doctors_filtered_by_department(api, as_role):
    admin = as_role("admin").token
    heart = api.post("/departments", {"name": "Cardiology"}, token=admin).body["id"]
    brain = api.post("/departments", {"name": "Neurology"}, token=admin).body["id"]
    in_heart = [api.post("/doctors", {"name": f"H{i}", "specialty": "Heart", "department": heart},
                         token=admin).body["id"] for i in range(3)]
    in_brain = [api.post("/doctors", {"name": f"B{i}", "specialty": "Brain", "department": brain},
                         token=admin).body["id"] for i in range(2)]
    staff = as_role("staff").token
    assert [d["id"] for d in api.get(f"/doctors?department={heart}", token=staff).body["results"]] == in_heart
    assert [d["id"] for d in api.get(f"/doctors/?department={brain}", token=staff).body["results"]] == in_brain
    assert api.get("/doctors?department=999", token=staff).body == {"results": [], "next": None}
    items, pages = walk(api, f"/doctors?department={heart}", staff, 2)
    assert [d["id"] for d in items] == in_heart and pages == 2
    for bad in ("abc", "0", "1.5"):
        r = api.get(f"/doctors?department={bad}", token=staff)
        assert r.status == 400 and "department" in r.body["Fields"]
    # A cursor belongs to the list it came from.
    cursor = api.get(f"/doctors?department={heart}&limit=1", token=staff).body["next"]
    assert api.get(f"/doctors?department={brain}&cursor={cursor}", token=staff).status == 400


def test_a_registered_doctor_is_linked_to_its_record(api, people):
    doctor = people.make("doctor", specialty="Dermatology")
    record = api.get(f"/doctors/{doctor.record['doctor_id']}", token=doctor.token).body
    assert record["user_id"] == doctor.id and record["specialty"] == "Dermatology"
    general = api.get(f"/departments/{record['department']}", token=doctor.token).body
    assert general["name"] == "General Medicine"


def test_pages_walk_to_the_end(api, as_role):
    admin = as_role("admin").token
    made = [api.post("/departments", {"name": f"Dept {i}"}, token=admin).body["id"] for i in range(5)]
    items, pages = walk(api, "/departments", admin, 2)
    assert [d["id"] for d in items] == made and pages == 3
    for i in range(5):
        api.post("/doctors", {"name": f"Dr {i}", "specialty": "Any", "department": made[i]}, token=admin)
    doctors, pages = walk(api, "/doctors", admin, 2)
    assert len({d["id"] for d in doctors}) == len(doctors) == 5 and pages == 3


def test_a_doctors_page_costs_the_same_whatever_the_number_of_doctors(api, as_role):
    admin = as_role("admin").token
    dept = api.post("/departments", SEED_DEPARTMENT, token=admin).body["id"]
    for i in range(3):
        api.post("/doctors", {"name": f"Dr {i}", "specialty": "Heart", "department": dept}, token=admin)
    api.get("/doctors", token=admin)
    few, _ = count_calls(api, f"/doctors?department={dept}", admin)
    for i in range(3, 60):
        api.post("/doctors", {"name": f"Dr {i}", "specialty": "Heart", "department": dept}, token=admin)
    many, r = count_calls(api, f"/doctors?department={dept}", admin)
    assert len(r.body["results"]) == 50 and few == many and many.count("Query") == 1
