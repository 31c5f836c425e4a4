"""The clinical records' rules, through the in-memory stores: who reads and writes what, the
access log written before a read is answered, visits, amendments, and dates in order."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from chalicelib.domain import clinical
from chalicelib.domain.commands import (
    AppointmentQuery,
    DiagnosisChanges,
    DiagnosisDetails,
    MedicalRecordChanges,
    NoteDetails,
    TreatmentChanges,
    TreatmentDetails,
)
from chalicelib.domain.entities import Page, Patient, User
from chalicelib.domain.ports.clinical import (
    DIAGNOSIS,
    NOTE,
    TREATMENT,
    AccessEvent,
    EmergencyContact,
    MedicalRecord,
    Visit,
)
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, NotFound, ValidationFailed

PID, OTHER_PID = 1, 2
APPOINTMENT = Visit("appointment", 10)
OTHER_VISIT = Visit("queue_entry", 20)


def user(user_id: int, role: str, *, patient_id: int | None = None, doctor_id: int | None = None) -> User:
    return User(id=user_id, username=f"u{user_id}", email=f"u{user_id}@clinic.test", role=role, password_hash="",
                date_of_birth=None, first_name="", last_name="", is_active=True, date_joined="2030-01-01T00:00:00Z",
                patient_id=patient_id, doctor_id=doctor_id)


PATIENT = user(1, "patient", patient_id=PID)
OTHER = user(2, "patient", patient_id=OTHER_PID)
DOCTOR = user(3, "doctor", doctor_id=7)
OTHER_DOCTOR = user(4, "doctor", doctor_id=8)
STAFF = user(5, "staff")
ADMIN = user(6, "admin")
NO_RECORD_DOCTOR = user(9, "doctor")


@pytest.fixture
def store(fakes):
    made = fakes.clinical
    made.add_patient(PID)
    made.add_patient(OTHER_PID)
    made.add_visit(APPOINTMENT, PID)
    made.add_visit(OTHER_VISIT, OTHER_PID)
    return made


def record_changes(**data):
    return lambda: MedicalRecordChanges(**data)


def diagnosis_changes(**data):
    return lambda: DiagnosisChanges(**data)


def treatment_changes(**data):
    return lambda: TreatmentChanges(**data)


def diagnose(actor=DOCTOR, patient=PID, **extra):
    data = {"visit": APPOINTMENT, "condition": "Asthma", "severity": "mild", "diagnosed_on": date(2030, 5, 1), **extra}
    return clinical.add_entry(actor, patient, DIAGNOSIS, lambda: DiagnosisDetails(**data))


def note(actor=DOCTOR, **extra):
    data = {"visit": APPOINTMENT, "kind": "progress", "title": "t", "content": "c", **extra}
    return clinical.add_entry(actor, PID, NOTE, lambda: NoteDetails(**data))


def logged(store) -> list[tuple[int, str, str]]:
    return [(event.user, event.action, event.what) for event in store.log]


# -- reading, and the access log -----------------------------------------------------

def test_reads_by_others_are_logged_and_the_patients_own_are_not(store):
    assert clinical.get_medical_record(PATIENT, PID) == MedicalRecord(patient=PID)
    clinical.list_entries(PATIENT, PID, NOTE, 10, None)
    assert store.log == []
    clinical.get_medical_record(STAFF, PID)
    clinical.list_entries(DOCTOR, PID, DIAGNOSIS, 10, None)
    clinical.list_entries(ADMIN, PID, TREATMENT, 10, None)
    assert logged(store) == [(STAFF.id, "read", "medical_record"), (DOCTOR.id, "read", "diagnoses"),
                             (ADMIN.id, "read", "treatments")]
    assert {event.patient for event in store.log} == {PID}
    page = clinical.access_log(PATIENT, PID, 2, None)
    assert [event.user for event in page.items] == [ADMIN.id, DOCTOR.id] and page.next is not None
    assert [event.user for event in clinical.access_log(ADMIN, PID, 2, page.next).items] == [STAFF.id]


@pytest.mark.parametrize(("actor", "what"), [
    (OTHER, "medical_record"), (OTHER, "notes"), (STAFF, "notes"), (STAFF, "diagnoses"), (STAFF, "treatments")])
def test_who_may_not_read(store, actor, what):
    with pytest.raises(Forbidden):
        if what == "medical_record":
            clinical.get_medical_record(actor, PID)
        else:
            clinical.list_entries(actor, PID, {"notes": NOTE, "diagnoses": DIAGNOSIS, "treatments": TREATMENT}[what],
                                  10, None)
    assert store.log == []


@pytest.mark.parametrize("actor", [DOCTOR, STAFF, OTHER])
def test_only_the_patient_and_admins_see_the_access_log(store, actor):
    with pytest.raises(Forbidden):
        clinical.access_log(actor, PID, 10, None)


def test_a_read_that_cannot_be_logged_is_refused(store):
    store.refuse_log_writes = True
    with pytest.raises(clinical.AccessNotLogged):
        clinical.get_medical_record(DOCTOR, PID)
    with pytest.raises(clinical.AccessNotLogged):
        clinical.list_entries(ADMIN, PID, NOTE, 10, None)
    assert clinical.get_medical_record(PATIENT, PID).patient == PID  # the patient's own: nothing to log


def test_no_such_patient_is_a_404_and_logs_nothing(store):
    for read in (lambda: clinical.get_medical_record(DOCTOR, 99), lambda: clinical.list_entries(DOCTOR, 99, NOTE, 5,
                                                                                                  None)):
        with pytest.raises(NotFound):
            read()
    assert store.log == []


# -- the medical record --------------------------------------------------------------

def test_doctors_write_the_record_staff_only_the_emergency_contact(store):
    contact = EmergencyContact("Ana", "555", None)
    record = clinical.write_medical_record(DOCTOR, PID, record_changes(blood_type="A+", allergies="Latex"), whole=True)
    assert (record.blood_type, record.allergies, record.version, record.updated_by) == ("A+", "Latex", 1, DOCTOR.id)
    record = clinical.write_medical_record(STAFF, PID, record_changes(emergency_contact=contact), whole=True)
    assert record.emergency_contact == EmergencyContact("Ana", "555", None) and record.blood_type == "A+"
    with pytest.raises(Forbidden):
        clinical.write_medical_record(STAFF, PID, record_changes(emergency_contact=None, blood_type="B+"), whole=False)
    for actor in (PATIENT, OTHER):
        with pytest.raises(Forbidden):
            clinical.write_medical_record(actor, PID, record_changes(blood_type="B+"), whole=False)
    record = clinical.write_medical_record(ADMIN, PID, record_changes(notes="n"), whole=True)
    assert record.notes == "n" and record.blood_type is None and record.emergency_contact is None
    assert logged(store) == [(DOCTOR.id, "write", "medical_record"), (STAFF.id, "write", "medical_record"),
                             (ADMIN.id, "write", "medical_record")]
    unchanged = clinical.write_medical_record(DOCTOR, PID, record_changes(notes="n"), whole=False)
    assert unchanged.version == 3 and len(store.log) == 3  # nothing written, nothing logged


def test_a_record_write_is_conditional_on_the_version_read(store):
    clinical.write_medical_record(DOCTOR, PID, record_changes(blood_type="A+"), whole=False)
    stale = MedicalRecord(patient=PID)
    event = AccessEvent(PID, "2030-01-01T00:00:00Z", DOCTOR.id, "doctor", "write", "medical_record")
    with pytest.raises(ConditionFailed):
        store.save_medical_record(stale, MedicalRecord(patient=PID, blood_type="O-", version=1), event)
    assert store.records[PID].blood_type == "A+"


def test_concurrent_record_writes_each_land_once(store):
    errors = []

    def write(n):
        try:
            clinical.write_medical_record(DOCTOR, PID, record_changes(notes=f"n{n}"), whole=False)
        except Conflict as exc:  # gave up after its retries: allowed, but nothing half-written
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.records[PID].version == 8 - len(errors) == len(store.log)


# -- diagnoses, treatments, notes ----------------------------------------------------

def test_only_a_doctor_writes_entries_as_their_author(store):
    diagnosis = diagnose()
    assert diagnosis.doctor == 7 and diagnosis.visit == APPOINTMENT and diagnosis.resolved_on is None
    for actor in (ADMIN, STAFF, PATIENT, NO_RECORD_DOCTOR):
        with pytest.raises(Forbidden):
            diagnose(actor)
    assert logged(store) == [(DOCTOR.id, "write", "diagnoses")]
    with pytest.raises(Forbidden):
        clinical.change_entry(OTHER_DOCTOR, PID, DIAGNOSIS, diagnosis.id, diagnosis_changes(severity="severe"))
    with pytest.raises(Forbidden):
        clinical.change_entry(ADMIN, PID, DIAGNOSIS, diagnosis.id, diagnosis_changes(severity="severe"))
    changed = clinical.change_entry(DOCTOR, PID, DIAGNOSIS, diagnosis.id, diagnosis_changes(severity="severe"))
    assert changed.severity == "severe" and changed.version == 2 and changed.doctor == 7
    assert clinical.get_entry(PATIENT, PID, DIAGNOSIS, diagnosis.id) == changed
    with pytest.raises(Forbidden):
        clinical.change_entry(DOCTOR, PID, NOTE, note().id, diagnosis_changes(description="edited"))


def test_the_visit_must_be_this_patients(store):
    with pytest.raises(ValidationFailed) as caught:
        diagnose(visit=OTHER_VISIT)
    assert set(caught.value.fields) == {"visit"}
    with pytest.raises(ValidationFailed):
        diagnose(visit=Visit("appointment", 999))
    with pytest.raises(NotFound):
        diagnose(patient=99)
    assert store.entries == {} and store.log == []


def test_dates_stay_in_order(store):
    diagnosis = diagnose()
    with pytest.raises(ValidationFailed):
        clinical.change_entry(DOCTOR, PID, DIAGNOSIS, diagnosis.id, diagnosis_changes(resolved_on=date(2030, 4, 30)))
    assert clinical.change_entry(DOCTOR, PID, DIAGNOSIS, diagnosis.id,
                                 diagnosis_changes(resolved_on=date(2030, 5, 1))).resolved_on == date(2030, 5, 1)
    data = {"visit": APPOINTMENT, "kind": "medication", "name": "x", "started_on": date(2030, 5, 1)}
    with pytest.raises(ValidationFailed) as caught:
        clinical.add_entry(DOCTOR, PID, TREATMENT, lambda: TreatmentDetails(**data, ended_on=date(2030, 4, 1)))
    assert set(caught.value.fields) == {"ended_on"}
    with pytest.raises(ValidationFailed) as caught:
        clinical.add_entry(DOCTOR, PID, TREATMENT, lambda: TreatmentDetails(**data, diagnosis=999))
    assert set(caught.value.fields) == {"diagnosis"}
    treatment = clinical.add_entry(DOCTOR, PID, TREATMENT, lambda: TreatmentDetails(**data, diagnosis=diagnosis.id))
    with pytest.raises(ValidationFailed):
        clinical.change_entry(DOCTOR, PID, TREATMENT, treatment.id, treatment_changes(ended_on=date(2030, 4, 1)))


def test_a_note_is_amended_once_by_a_note_of_the_same_patient(store):
    first = note()
    fix = note(OTHER_DOCTOR, amends=first.id)
    assert store.entry(PID, NOTE, first.id).amended_by == fix.id
    with pytest.raises(Conflict) as caught:
        note(amends=first.id)
    assert caught.value.fields.keys() == {"amends"} and caught.value.extra == {"amended_by": fix.id}
    store.add_visit(Visit("appointment", 11), OTHER_PID)
    theirs = clinical.add_entry(DOCTOR, OTHER_PID, NOTE, lambda: NoteDetails(
        visit=Visit("appointment", 11), kind="progress", title="t", content="c"))
    for amends in (theirs.id + 1, theirs.id, 999):  # the first: the id the new note gets
        with pytest.raises(ValidationFailed) as caught:
            note(amends=amends)
        assert caught.value.fields.keys() == {"amends"}


def test_two_doctors_amending_one_note_at_once_make_one_amendment(store):
    first = note()
    results: list = []

    def amend(actor):
        try:
            results.append(note(actor, amends=first.id).id)
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=amend, args=(actor,)) for actor in (DOCTOR, OTHER_DOCTOR) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [r for r in results if r != "conflict"]
    assert len(made) == 1 and store.entry(PID, NOTE, first.id).amended_by == made[0]


def test_lists_are_latest_first_in_pages(store):
    ids = [diagnose().id for _ in range(5)]
    page = clinical.list_entries(PATIENT, PID, DIAGNOSIS, 3, None)
    rest = clinical.list_entries(PATIENT, PID, DIAGNOSIS, 3, page.next)
    assert [d.id for d in page.items + rest.items] == ids[::-1] and rest.next is None
    assert clinical.list_entries(PATIENT, PID, NOTE, 3, None).items == []


# -- the medical history -------------------------------------------------------------

def test_the_history_is_logged_before_it_is_answered(store, monkeypatch):
    patient = Patient(id=PID, name="n", email=None, phone=None, date_of_birth=None, user_id=PATIENT.id,
                      created_at="2030-01-01T00:00:00Z")
    asked = []
    monkeypatch.setattr(clinical.patients, "get_patient", lambda actor, pid: patient)

    def appointments(actor, limit, cursor, query):
        asked.append((actor.id, limit, query))
        return Page(items=[], next=None)

    monkeypatch.setattr(clinical.appointments, "list_appointments", appointments)
    diagnosis = diagnose()
    history = clinical.medical_history(DOCTOR, PID)
    assert history.patient is patient and history.diagnoses.items == [diagnosis]
    assert history.medical_record == MedicalRecord(patient=PID) and history.notes.items == []
    assert asked == [(DOCTOR.id, 50, AppointmentQuery(patient=PID))]
    assert logged(store)[-1] == (DOCTOR.id, "read", "medical_history")
    with pytest.raises(Forbidden):
        clinical.medical_history(STAFF, PID)
    store.refuse_log_writes = True
    with pytest.raises(clinical.AccessNotLogged):
        clinical.medical_history(ADMIN, PID)
    assert len(asked) == 2  # read, but not answered


def test_an_entry_takes_its_own_kind_of_command(store):
    with pytest.raises(TypeError):
        clinical.add_entry(DOCTOR, PID, NOTE, lambda: DiagnosisDetails(APPOINTMENT, "Asthma", "mild", date(2030, 5, 1)))
    diagnosis = diagnose()
    with pytest.raises(TypeError):
        clinical.change_entry(DOCTOR, PID, DIAGNOSIS, diagnosis.id, treatment_changes(dosage="1 mg"))
    assert store.entry(PID, DIAGNOSIS, diagnosis.id) == diagnosis
