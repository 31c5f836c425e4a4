"""Clinical records through the API (chalice.test.Client on moto), for every identity the
roles table names: the medical record, diagnoses, treatments, notes and their amendments,
the medical history, and the access log that shows the patient every read by someone else."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from pynamodb.exceptions import PutError

from tests.support.dynamodb import recording as dynamodb_calls


@pytest.fixture
def clinic(api, people):
    """A patient with an appointment and a queue visit, another patient, two doctors, staff, an admin."""
    patient, other = people.make("patient"), people.make("patient")
    doctor, other_doctor = people.make("doctor"), people.make("doctor")
    staff, admin = people.make("staff"), people.admin()
    pid, other_pid = patient.record["patient_id"], other.record["patient_id"]
    booked = api.post("/appointments", {"patient": pid, "doctor": doctor.record["doctor_id"],
                                        "date": "2031-01-02T10:00:00Z"}, token=staff.token)
    assert booked.status == 201, booked
    other_booked = api.post("/appointments", {"patient": other_pid, "doctor": doctor.record["doctor_id"],
                                              "date": "2031-01-02T11:00:00Z"}, token=staff.token)
    joined = api.post("/queues/join_queue", {"patient_id": pid}, token=staff.token)
    assert joined.status == 201, joined
    return SimpleNamespace(patient=patient, other=other, doctor=doctor, other_doctor=other_doctor, staff=staff,
                           admin=admin, pid=pid, other_pid=other_pid, appointment=booked.body["id"],
                           other_appointment=other_booked.body["id"], entry=joined.body["id"])


def diagnosis_body(c, **extra):
    return {"visit": {"appointment": c.appointment}, "condition": "Seasonal asthma",
            "description": "Wheezing after exercise", "severity": "moderate", "diagnosed_on": "2030-05-01", **extra}


def treatment_body(c, **extra):
    return {"visit": {"queue_entry": c.entry}, "kind": "medication", "name": "Salbutamol inhaler",
            "dosage": "2 puffs as needed", "started_on": "2030-05-01", **extra}


def note_body(c, **extra):
    return {"visit": {"appointment": c.appointment}, "kind": "consultation", "title": "First visit",
            "content": "Patient reports shortness of breath.", **extra}


def log_of(api, c):
    response = api.get(f"/patients/{c.pid}/access-log", token=c.patient.token)
    assert response.status == 200, response
    return response.body["results"]


def clinical_paths(pid: int) -> list[str]:
    return [f"/patients/{pid}/{what}" for what in ("medical-record", "medical-history", "diagnoses", "treatments",
                                                   "notes")]


# -- every identity ------------------------------------------------------------------

def test_anonymous_gets_401_everywhere(api, clinic):
    c = clinic
    for path in [*clinical_paths(c.pid), f"/patients/{c.pid}/access-log", f"/patients/{c.pid}/diagnoses/1"]:
        assert api.get(path).status == 401, path
    assert api.put(f"/patients/{c.pid}/medical-record", {}).status == 401
    assert api.patch(f"/patients/{c.pid}/medical-record", {}).status == 401
    assert api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c)).status == 401
    assert api.patch(f"/patients/{c.pid}/diagnoses/1", {}).status == 401


def test_a_patient_reads_their_own_records_only_and_writes_none(api, clinic):
    c = clinic
    for path in clinical_paths(c.pid):
        assert api.get(path, token=c.patient.token).status == 200, path
        assert api.get(path.replace(f"/{c.pid}/", f"/{c.other_pid}/"), token=c.patient.token).status == 403, path
    assert api.get(f"/patients/{c.other_pid}/access-log", token=c.patient.token).status == 403
    for method, path, body in (("PUT", "medical-record", {"blood_type": "A+"}),
                               ("PATCH", "medical-record", {"blood_type": "A+"}),
                               ("POST", "diagnoses", diagnosis_body(c)), ("POST", "treatments", treatment_body(c)),
                               ("POST", "notes", note_body(c))):
        response = api.call(method, f"/patients/{c.pid}/{path}", body, token=c.patient.token)
        assert response.status == 403, (method, path, response)


def test_the_medical_record_starts_empty_and_a_doctor_writes_it(api, clinic):
    c = clinic
    empty = api.get(f"/patients/{c.pid}/medical-record", token=c.patient.token)
    assert empty.body == {"patient": c.pid, "blood_type": None, "allergies": None, "chronic_conditions": None,
                          "current_medications": None, "emergency_contact": None, "notes": None,
                          "updated_at": None, "updated_by": None}
    put = api.put(f"/patients/{c.pid}/medical-record",
                  {"blood_type": "O-", "allergies": "Penicillin", "notes": "Line one\nline two",
                   "emergency_contact": {"name": "Ana Ruiz", "phone": "+1 555 0101", "relation": "sister"}},
                  token=c.doctor.token)
    assert put.status == 200, put
    assert put.body["blood_type"] == "O-" and put.body["notes"] == "Line one\nline two"
    assert put.body["emergency_contact"] == {"name": "Ana Ruiz", "phone": "+1 555 0101", "relation": "sister"}
    assert put.body["updated_by"] == c.doctor.id and put.body["updated_at"].endswith("Z")
    patched = api.patch(f"/patients/{c.pid}/medical-record", {"current_medications": "Salbutamol"},
                        token=c.doctor.token)
    assert patched.body["blood_type"] == "O-" and patched.body["current_medications"] == "Salbutamol"
    # PUT replaces: what it leaves out becomes null.
    replaced = api.put(f"/patients/{c.pid}/medical-record", {"blood_type": "A+"}, token=c.doctor.token)
    assert replaced.body["blood_type"] == "A+" and replaced.body["allergies"] is None
    assert replaced.body["emergency_contact"] is None
    assert api.get(f"/patients/{c.pid}/medical-record", token=c.patient.token).body == replaced.body
    assert api.get("/patients/99999/medical-record", token=c.doctor.token).status == 404
    assert api.put("/patients/99999/medical-record", {"blood_type": "A+"}, token=c.doctor.token).status == 404


def test_staff_read_the_record_and_write_only_the_emergency_contact(api, clinic):
    c = clinic
    api.put(f"/patients/{c.pid}/medical-record", {"blood_type": "B+", "allergies": "Latex"}, token=c.doctor.token)
    assert api.get(f"/patients/{c.pid}/medical-record", token=c.staff.token).body["allergies"] == "Latex"
    contact = {"name": "Luis Ruiz", "phone": "555-0102", "relation": "father"}
    patched = api.patch(f"/patients/{c.pid}/medical-record", {"emergency_contact": contact}, token=c.staff.token)
    assert patched.status == 200 and patched.body["emergency_contact"] == contact
    assert patched.body["updated_by"] == c.staff.id
    # A staff PUT leaves the fields staff may not write as they are.
    put = api.put(f"/patients/{c.pid}/medical-record", {"emergency_contact": None}, token=c.staff.token)
    assert put.status == 200 and put.body["emergency_contact"] is None and put.body["blood_type"] == "B+"
    for body in ({"blood_type": "A+"}, {"emergency_contact": contact, "notes": "x"}, {"allergies": None}):
        for method in ("PUT", "PATCH"):
            response = api.call(method, f"/patients/{c.pid}/medical-record", body, token=c.staff.token)
            assert response.status == 403, (method, body, response)
    assert api.get(f"/patients/{c.pid}/medical-record", token=c.staff.token).body["allergies"] == "Latex"
    for path in clinical_paths(c.pid)[1:] + [f"/patients/{c.pid}/access-log"]:
        assert api.get(path, token=c.staff.token).status == 403, path
    assert api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c), token=c.staff.token).status == 403


def test_admins_read_everything_logged_but_write_no_diagnosis_treatment_or_note(api, clinic):
    c = clinic
    for path in clinical_paths(c.pid):
        assert api.get(path, token=c.admin.token).status == 200, path
    assert api.get(f"/patients/{c.pid}/access-log", token=c.admin.token).status == 200
    for path, body in (("diagnoses", diagnosis_body(c)), ("treatments", treatment_body(c)),
                       ("notes", note_body(c))):
        assert api.post(f"/patients/{c.pid}/{path}", body, token=c.admin.token).status == 403, path
    # The route lets admins in, so their body is checked first, as anyone's the route lets in.
    bad = diagnosis_body(c, severity="grave")
    assert api.post(f"/patients/{c.pid}/diagnoses", bad, token=c.admin.token).status == 400
    assert api.post(f"/patients/{c.pid}/diagnoses", bad, token=c.staff.token).status == 403
    assert api.patch(f"/patients/{c.pid}/medical-record", {"blood_type": "AB-"}, token=c.admin.token).status == 200
    logged = log_of(api, c)
    assert [(line["action"], line["what"]) for line in logged] == [
        ("write", "medical_record"), ("read", "notes"), ("read", "treatments"), ("read", "diagnoses"),
        ("read", "medical_history"), ("read", "medical_record")]
    assert {(line["user"], line["role"]) for line in logged} == {(c.admin.id, "admin")}


# -- diagnoses, treatments, notes ----------------------------------------------------

def test_a_doctor_writes_diagnoses_treatments_and_notes_as_their_author(api, clinic):
    c = clinic
    diagnosis = api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c), token=c.doctor.token)
    assert diagnosis.status == 201, diagnosis
    assert diagnosis.body == {**diagnosis.body, "patient": c.pid, "visit": {"appointment": c.appointment},
                              "condition": "Seasonal asthma", "severity": "moderate", "diagnosed_on": "2030-05-01",
                              "resolved_on": None, "doctor": c.doctor.record["doctor_id"]}
    treatment = api.post(f"/patients/{c.pid}/treatments", treatment_body(c, diagnosis=diagnosis.body["id"]),
                         token=c.doctor.token)
    assert treatment.status == 201, treatment
    assert treatment.body["visit"] == {"queue_entry": c.entry} and treatment.body["diagnosis"] == diagnosis.body["id"]
    assert treatment.body["doctor"] == c.doctor.record["doctor_id"] and treatment.body["ended_on"] is None
    second = api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c, condition="Rhinitis", severity="mild"),
                      token=c.doctor.token)
    listed = api.get(f"/patients/{c.pid}/diagnoses", token=c.patient.token).body
    assert [d["id"] for d in listed["results"]] == [second.body["id"], diagnosis.body["id"]]  # latest first
    page = api.get(f"/patients/{c.pid}/diagnoses?limit=1", token=c.doctor.token).body
    assert [d["id"] for d in page["results"]] == [second.body["id"]] and page["next"]
    rest = api.get(f"/patients/{c.pid}/diagnoses?limit=1&cursor={page['next']}", token=c.doctor.token).body
    assert [d["id"] for d in rest["results"]] == [diagnosis.body["id"]]
    logged = len(log_of(api, c))
    assert api.get(f"/patients/{c.pid}/treatments?cursor={page['next']}", token=c.doctor.token).status == 400
    assert len(log_of(api, c)) == logged  # a read refused for a bad cursor is no read
    one = api.get(f"/patients/{c.pid}/diagnoses/{diagnosis.body['id']}", token=c.patient.token)
    assert one.body == diagnosis.body
    assert api.get(f"/patients/{c.other_pid}/diagnoses/{diagnosis.body['id']}", token=c.doctor.token).status == 404

    resolved = api.patch(f"/patients/{c.pid}/diagnoses/{diagnosis.body['id']}",
                         {"resolved_on": "2030-06-01", "severity": "mild"}, token=c.doctor.token)
    assert resolved.status == 200 and resolved.body["resolved_on"] == "2030-06-01"
    assert resolved.body["severity"] == "mild" and resolved.body["condition"] == "Seasonal asthma"
    ended = api.patch(f"/patients/{c.pid}/treatments/{treatment.body['id']}", {"ended_on": "2030-07-01",
                                                                               "dosage": "1 puff"},
                      token=c.doctor.token)
    assert ended.status == 200 and ended.body["ended_on"] == "2030-07-01" and ended.body["dosage"] == "1 puff"
    # Only the doctor who wrote it changes it; an admin never does.
    for person in (c.other_doctor, c.admin, c.staff, c.patient):
        response = api.patch(f"/patients/{c.pid}/diagnoses/{diagnosis.body['id']}", {"severity": "severe"},
                             token=person.token)
        assert response.status == 403, response
    assert api.patch(f"/patients/{c.pid}/diagnoses/99999", {"severity": "severe"}, token=c.doctor.token).status == 404


def test_notes_are_amended_never_edited(api, clinic):
    c = clinic
    first = api.post(f"/patients/{c.pid}/notes", note_body(c), token=c.doctor.token)
    assert first.status == 201 and first.body["amends"] is None and first.body["amended_by"] is None
    assert api.patch(f"/patients/{c.pid}/notes/{first.body['id']}", {"content": "x"},
                     token=c.doctor.token).status == 405
    fix = api.post(f"/patients/{c.pid}/notes", note_body(c, content="Corrected: short of breath at night.",
                                                         amends=first.body["id"]), token=c.other_doctor.token)
    assert fix.status == 201 and fix.body["amends"] == first.body["id"]
    earlier = api.get(f"/patients/{c.pid}/notes/{first.body['id']}", token=c.patient.token).body
    assert earlier["amended_by"] == fix.body["id"] and earlier["content"] == first.body["content"]
    again = api.post(f"/patients/{c.pid}/notes", note_body(c, amends=first.body["id"]), token=c.doctor.token)
    assert again.status == 409 and again.body["Fields"] == {"amends": again.body["Message"]}
    assert again.body["amended_by"] == fix.body["id"]
    # A correction of the correction amends the correction.
    assert api.post(f"/patients/{c.pid}/notes", note_body(c, amends=fix.body["id"]),
                    token=c.doctor.token).status == 201
    other_note = api.post(f"/patients/{c.other_pid}/notes",
                          note_body(c, visit={"appointment": c.other_appointment}), token=c.doctor.token)
    assert other_note.status == 201
    for amends in (other_note.body["id"] + 1, other_note.body["id"], 99999):  # the first: the id it gets
        response = api.post(f"/patients/{c.pid}/notes", note_body(c, amends=amends), token=c.doctor.token)
        assert response.status == 400 and set(response.body["Fields"]) == {"amends"}, response
    notes = api.get(f"/patients/{c.pid}/notes", token=c.patient.token).body["results"]
    assert len(notes) == 3 and [n["id"] for n in notes] == sorted((n["id"] for n in notes), reverse=True)
    assert api.call("DELETE", f"/patients/{c.pid}/notes/{first.body['id']}", token=c.admin.token).status == 405


@pytest.mark.parametrize(("path", "make", "field"), [
    ("diagnoses", lambda c: diagnosis_body(c, visit={"appointment": c.other_appointment}), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, visit={"queue_entry": 99999}), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, visit={"appointment": c.appointment, "queue_entry": c.entry}), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, visit={"room": 1}), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, visit=5), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, visit={"appointment": "1"}), "visit"),
    ("diagnoses", lambda c: diagnosis_body(c, severity="grave"), "severity"),
    ("diagnoses", lambda c: diagnosis_body(c, diagnosed_on="2030-02-30"), "diagnosed_on"),
    ("diagnoses", lambda c: diagnosis_body(c, description="x" * 2001), "description"),
    ("diagnoses", lambda c: {k: v for k, v in diagnosis_body(c).items() if k != "condition"}, "condition"),
    ("diagnoses", lambda c: diagnosis_body(c, condition="  "), "condition"),
    ("diagnoses", lambda c: diagnosis_body(c, resolved_on="2030-06-01"), "resolved_on"),  # set by PATCH only
    ("treatments", lambda c: treatment_body(c, ended_on="2030-04-30"), "ended_on"),
    ("treatments", lambda c: treatment_body(c, kind="magic"), "kind"),
    ("treatments", lambda c: treatment_body(c, diagnosis=99999), "diagnosis"),
    ("notes", lambda c: note_body(c, content=""), "content"),
    ("notes", lambda c: note_body(c, content="y" * 2001), "content"),
    ("notes", lambda c: note_body(c, kind="gossip"), "kind"),
])
def test_bad_entries_are_a_400_naming_the_field(api, clinic, path, make, field):
    c = clinic
    response = api.post(f"/patients/{c.pid}/{path}", make(c), token=c.doctor.token)
    assert response.status == 400, response
    assert field in response.body["Fields"], response
    assert api.get(f"/patients/{c.pid}/{path}", token=c.patient.token).body["results"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"blood_type": "C+"}, "blood_type"),
    ({"allergies": "a" * 2001}, "allergies"),
    ({"notes": 5}, "notes"),
    ({"emergency_contact": {"phone": "call me"}}, "emergency_contact"),
    ({"emergency_contact": {"nickname": "x"}}, "emergency_contact"),
    ({"emergency_contact": "Ana"}, "emergency_contact"),
    ({"weight": 70}, "weight"),
])
def test_bad_medical_records_are_a_400_naming_the_field(api, clinic, body, field):
    c = clinic
    for method in ("PUT", "PATCH"):
        response = api.call(method, f"/patients/{clinic.pid}/medical-record", body, token=c.doctor.token)
        assert response.status == 400 and field in response.body["Fields"], (method, response)


def test_patches_keep_dates_in_order(api, clinic):
    c = clinic
    diagnosis = api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c), token=c.doctor.token).body
    treatment = api.post(f"/patients/{c.pid}/treatments", treatment_body(c), token=c.doctor.token).body
    early = api.patch(f"/patients/{c.pid}/diagnoses/{diagnosis['id']}", {"resolved_on": "2030-04-30"},
                      token=c.doctor.token)
    assert early.status == 400 and set(early.body["Fields"]) == {"resolved_on"}
    early = api.patch(f"/patients/{c.pid}/treatments/{treatment['id']}", {"ended_on": "2030-04-30"},
                      token=c.doctor.token)
    assert early.status == 400 and set(early.body["Fields"]) == {"ended_on"}
    unknown = api.patch(f"/patients/{c.pid}/treatments/{treatment['id']}", {"name": "x"}, token=c.doctor.token)
    assert unknown.status == 400 and set(unknown.body["Fields"]) == {"name"}
    assert api.post("/patients/99999/diagnoses", diagnosis_body(c), token=c.doctor.token).status == 404


# -- the access log ------------------------------------------------------------------

def test_a_doctors_read_is_in_the_patients_access_log_and_the_patients_own_is_not(api, clinic):
    c = clinic
    assert log_of(api, c) == []
    for path in clinical_paths(c.pid):
        assert api.get(path, token=c.patient.token).status == 200
    assert log_of(api, c) == []
    assert api.get(f"/patients/{c.pid}/notes", token=c.doctor.token).status == 200
    logged = log_of(api, c)
    assert len(logged) == 1
    line = logged[0]
    assert line == {"at": line["at"], "user": c.doctor.id, "role": "doctor", "action": "read", "what": "notes"}
    assert line["at"].endswith("Z")
    api.get(f"/patients/{c.pid}/medical-record", token=c.staff.token)
    api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c), token=c.doctor.token)
    logged = log_of(api, c)
    assert [(line["role"], line["action"], line["what"]) for line in logged] == [
        ("doctor", "write", "diagnoses"), ("staff", "read", "medical_record"), ("doctor", "read", "notes")]
    # A refused read is no read; another patient's records log nothing here.
    api.get(f"/patients/{c.pid}/notes", token=c.other.token)
    api.get(f"/patients/{c.other_pid}/notes", token=c.doctor.token)
    assert len(log_of(api, c)) == 3
    # Pages, latest first.
    first = api.get(f"/patients/{c.pid}/access-log?limit=2", token=c.patient.token).body
    rest = api.get(f"/patients/{c.pid}/access-log?limit=2&cursor={first['next']}", token=c.admin.token).body
    assert first["results"] + rest["results"] == logged and rest["next"] is None
    for person in (c.doctor, c.staff, c.other):
        assert api.get(f"/patients/{c.pid}/access-log", token=person.token).status == 403


def test_a_read_that_cannot_be_logged_is_not_answered(api, clinic, monkeypatch):
    c = clinic
    api.put(f"/patients/{c.pid}/medical-record", {"allergies": "Peanuts"}, token=c.doctor.token)
    api.post(f"/patients/{c.pid}/notes", note_body(c), token=c.doctor.token)
    from chalicelib.storage.clinical import AccessLogModel

    def unavailable(self, *args, **kwargs):
        raise PutError("DynamoDB is unavailable")

    monkeypatch.setattr(AccessLogModel, "save", unavailable)
    for path in clinical_paths(c.pid):
        response = api.get(path, token=c.doctor.token)
        assert response.status == 503, (path, response)
        assert "Peanuts" not in str(response.body) and "shortness" not in str(response.body)
        assert "access log" in response.body["Message"]
    # The patient's own reads need no log line.
    assert api.get(f"/patients/{c.pid}/medical-record", token=c.patient.token).body["allergies"] == "Peanuts"


# -- the medical history -------------------------------------------------------------

def test_the_medical_history_gathers_everything_and_its_pages_continue_in_their_lists(api, clinic):
    c = clinic
    api.put(f"/patients/{c.pid}/medical-record", {"blood_type": "O+"}, token=c.doctor.token)
    diagnoses = [api.post(f"/patients/{c.pid}/diagnoses", diagnosis_body(c), token=c.doctor.token).body["id"]
                 for _ in range(52)]
    api.post(f"/patients/{c.pid}/treatments", treatment_body(c), token=c.doctor.token)
    api.post(f"/patients/{c.pid}/notes", note_body(c), token=c.doctor.token)
    history = api.get(f"/patients/{c.pid}/medical-history", token=c.doctor.token)
    assert history.status == 200, history
    body = history.body
    assert body["patient"]["id"] == c.pid and body["medical_record"]["blood_type"] == "O+"
    assert [d["id"] for d in body["diagnoses"]["results"]] == diagnoses[::-1][:50]
    rest = api.get(f"/patients/{c.pid}/diagnoses?cursor={body['diagnoses']['next']}", token=c.doctor.token).body
    assert [d["id"] for d in rest["results"]] == diagnoses[1::-1] and rest["next"] is None
    assert len(body["treatments"]["results"]) == 1 and body["treatments"]["next"] is None
    assert len(body["notes"]["results"]) == 1
    assert [a["id"] for a in body["appointments"]["results"]] == [c.appointment]
    # The other doctor sees no appointments of theirs with this patient.
    theirs = api.get(f"/patients/{c.pid}/medical-history", token=c.other_doctor.token).body
    assert theirs["appointments"]["results"] == [] and len(theirs["diagnoses"]["results"]) == 50
    assert api.get("/patients/99999/medical-history", token=c.doctor.token).status == 404
    assert log_of(api, c)[0]["what"] == "medical_history"


def test_reading_a_medical_history_costs_a_fixed_number_of_calls(api, clinic):
    c = clinic

    def cost():
        with dynamodb_calls() as calls:
            response = api.get(f"/patients/{c.pid}/medical-history", token=c.doctor.token)
        assert response.status == 200
        return list(calls)

    few = cost()
    for _ in range(60):
        api.post(f"/patients/{c.pid}/notes", note_body(c), token=c.doctor.token)
    api.put(f"/patients/{c.pid}/medical-record", {"blood_type": "O+"}, token=c.doctor.token)
    many = cost()
    assert few == many
    # The caller's account (GetItem), the patient (GetItem), the patient and medical record
    # together (TransactGetItems), one Query for each of diagnoses, treatments and notes, one for
    # the appointments, then the access-log line (PutItem) before the answer.
    assert many == ["GetItem", "GetItem", "TransactGetItems", "Query", "Query", "Query", "Query", "PutItem"]
    with dynamodb_calls() as calls:
        api.get(f"/patients/{c.pid}/medical-history", token=c.patient.token)
    assert list(calls) == many[:-1]  # the patient's own read is not logged


# -- no clinical text, name, phone or email in any log line --------------------------

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record):
        self.lines.append((record.name, record.levelno, record.getMessage()))


def test_no_log_line_holds_clinical_text_names_phones_or_emails(api, people, caplog):
    c_patient = people.make("patient", first_name="Zelda", last_name="Quixote", username="zq-patient")
    doctor, staff = people.make("doctor"), people.make("staff")
    pid = c_patient.record["patient_id"]
    api.patch(f"/patients/{pid}", {"phone": "+1 (555) 010-7788"}, token=staff.token)
    booked = api.post("/appointments", {"patient": pid, "doctor": doctor.record["doctor_id"],
                                        "date": "2031-03-04T09:00:00Z"}, token=staff.token).body["id"]
    secrets = ["Zelda", "Quixote", "zq-patient@clinic.test", "+1 (555) 010-7788", "15550107788",
               "Xenophobic dermatitis", "Itchy violet spots", "Quuxamycin", "Ozymandias Brown",
               "+44 20 7946 0958", "Lupine allergy", "Feels much better today"]
    capture = _Capture()
    requests_log = logging.getLogger("dqs.invocations")  # the request log line, which does not propagate
    requests_log.addHandler(capture)
    caplog.set_level(logging.DEBUG)
    try:
        visit = {"appointment": booked}
        api.put(f"/patients/{pid}/medical-record",
                {"allergies": "Lupine allergy", "emergency_contact": {"name": "Ozymandias Brown",
                                                                      "phone": "+44 20 7946 0958"}},
                token=doctor.token)
        diagnosis = api.post(f"/patients/{pid}/diagnoses",
                             {"visit": visit, "condition": "Xenophobic dermatitis", "severity": "mild",
                              "description": "Itchy violet spots", "diagnosed_on": "2031-01-01"}, token=doctor.token)
        assert diagnosis.status == 201
        api.post(f"/patients/{pid}/treatments", {"visit": visit, "kind": "medication", "name": "Quuxamycin",
                                                 "started_on": "2031-01-01"}, token=doctor.token)
        note = api.post(f"/patients/{pid}/notes", {"visit": visit, "kind": "progress", "title": "Zelda",
                                                   "content": "Feels much better today"}, token=doctor.token)
        api.post(f"/patients/{pid}/notes", {"visit": visit, "kind": "progress", "title": "Zelda",
                                            "content": "Feels much better today", "amends": note.body["id"]},
                 token=doctor.token)
        api.post(f"/patients/{pid}/notes", {"visit": visit, "kind": "progress", "title": "Zelda",
                                            "content": "Feels much better today", "amends": note.body["id"]},
                 token=doctor.token)  # a 409
        api.post(f"/patients/{pid}/diagnoses", {"visit": visit, "condition": "Xenophobic dermatitis" * 200},
                 token=doctor.token)  # a 400
        for path in clinical_paths(pid):
            assert api.get(path, token=doctor.token).status == 200
            assert api.get(path, token=c_patient.token).status == 200
        assert api.get(f"/patients/{pid}/access-log", token=c_patient.token).status == 200
    finally:
        requests_log.removeHandler(capture)
    lines = [(record.name, record.levelno, record.getMessage()) for record in caplog.records] + capture.lines
    assert any(name == "dqs.invocations" for name, _, _ in lines), "the request log was not captured"
    # What the app writes at any level, and what any library writes at INFO and above (a deployed
    # function's level), holds none of them. (botocore and PynamoDB echo each request's parameters
    # at DEBUG, for every table alike: their debug mode is never on in a deployed stage.)
    shown = [message for name, level, message in lines
             if level >= logging.INFO or name.split(".")[0] in ("dqs", "chalicelib", "app")]
    assert shown
    for message in shown:
        for secret in secrets:
            assert secret not in message, (secret, message)


def test_the_other_clinical_requests_cost_a_fixed_number_of_calls(api, clinic):
    c = clinic

    def cost(method, path, body=None):
        with dynamodb_calls() as calls:
            response = api.call(method, f"/patients/{c.pid}/{path}", body, token=c.doctor.token)
        assert response.status in (200, 201), response
        return list(calls)

    # After the caller's account: the patient and record in one read, then the access-log line.
    assert cost("GET", "medical-record") == ["GetItem", "TransactGetItems", "PutItem"]
    # The same read, then the record and its access-log line in one conditional transaction.
    assert cost("PUT", "medical-record", {"blood_type": "A+"}) == ["GetItem", "TransactGetItems",
                                                                    "TransactWriteItems"]
    # A new id, then one transaction: the checks (patient, visit), the entry and its log line.
    assert cost("POST", "diagnoses", diagnosis_body(c)) == ["GetItem", "UpdateItem", "TransactWriteItems"]
    # The patient exists, one Query, the access-log line.
    assert cost("GET", "diagnoses") == ["GetItem", "GetItem", "Query", "PutItem"]
