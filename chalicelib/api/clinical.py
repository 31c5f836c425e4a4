"""Clinical records: a patient's medical record, diagnoses, treatments, notes, medical
history, and the access log that shows the patient who read or wrote them."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.appointments import APPOINTMENT, appointment_json
from chalicelib.api.http import page_json, parse_id, route
from chalicelib.api.patients import PATIENT as PATIENT_SHAPE
from chalicelib.api.patients import patient_json
from chalicelib.domain import clinical
from chalicelib.domain.permissions import DOCTOR, PATIENT, STAFF
from chalicelib.domain.ports.clinical import (
    APPOINTMENT_VISIT,
    BLOOD_TYPES,
    DIAGNOSIS,
    ENTRY_LISTS,
    MEDICAL_HISTORY,
    MEDICAL_RECORD,
    NOTE,
    NOTE_KINDS,
    QUEUE_VISIT,
    SEVERITIES,
    TREATMENT,
    TREATMENT_KINDS,
    AccessEvent,
    Diagnosis,
    MedicalRecord,
    Note,
    Treatment,
    Visit,
)
from chalicelib.domain.values import iso_date
from chalicelib.errors import ValidationFailed
from chalicelib.schema import PHONE_PATTERN, Choice, Date, Field, FieldError, Int, List, Obj, Schema, Str

bp = Blueprint(__name__)

TAG = "clinical records"
TEXT = 2000
LOGGED = " Read by anyone but the patient, it is written to the patient's access log first."
WRITTEN = " Written to the patient's access log with the change."


class Nested(Obj):
    """A nested object in a request, validated against its own Schema (every field named in the message)."""

    def convert(self, value: Any) -> Any:
        try:
            return self.schema.validate(value)
        except ValidationFailed as exc:
            raise FieldError(exc.message) from None

    def json_schema(self) -> dict:
        if not self.nullable:
            return super().json_schema()
        # Written out rather than referenced, so that a nullable object is one plain schema.
        schema = self.schema.json_schema()
        schema["type"] = ["object", "null"]
        if self.description:
            schema["description"] = self.description
        return schema


class VisitField(Field):
    """`{"appointment": <id>}` or `{"queue_entry": <id>}`: the visit an entry was made at."""
    json_type = "object"
    KINDS = (APPOINTMENT_VISIT, QUEUE_VISIT)
    MESSAGE = 'Give the visit as {"appointment": <id>} or {"queue_entry": <id>}.'

    def convert(self, value: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1:
            raise FieldError(self.MESSAGE)
        (kind, visit_id), = value.items()
        if kind not in self.KINDS:
            raise FieldError(self.MESSAGE)
        return {kind: Int().clean(visit_id)}

    def json_schema(self) -> dict:
        one_of = [{"type": "object", "properties": {kind: Int().json_schema()}, "required": [kind],
                   "additionalProperties": False} for kind in self.KINDS]
        schema: dict[str, Any] = {"type": "object", "oneOf": one_of, "examples": [{self.KINDS[0]: 1}]}
        if self.description:
            schema["description"] = self.description
        return schema


def _text(**kw) -> Str:
    return Str(max_length=TEXT, multiline=True, **kw)


EMERGENCY_CONTACT = Schema("EmergencyContact", {
    "name": Str(max_length=200, nullable=True),
    "phone": Str(max_length=32, pattern=PHONE_PATTERN, nullable=True,
                 pattern_message="Enter a valid phone number: digits, spaces and + ( ) - . only."),
    "relation": Str(max_length=100, nullable=True),
})

MEDICAL_RECORD_WRITE = Schema("MedicalRecordWrite", {
    "blood_type": Choice(BLOOD_TYPES, nullable=True),
    "allergies": _text(nullable=True),
    "chronic_conditions": _text(nullable=True),
    "current_medications": _text(nullable=True),
    "emergency_contact": Nested(EMERGENCY_CONTACT, nullable=True),
    "notes": _text(nullable=True),
}, description="PUT replaces every field the caller may write (a field left out becomes null); PATCH sets "
               "the fields given. Staff may send only `emergency_contact` (another field is a 403).")

MEDICAL_RECORD_SHAPE = Schema("MedicalRecord", {
    "patient": Int(),
    "blood_type": Choice(BLOOD_TYPES, nullable=True),
    "allergies": _text(nullable=True),
    "chronic_conditions": _text(nullable=True),
    "current_medications": _text(nullable=True),
    "emergency_contact": Nested(EMERGENCY_CONTACT, nullable=True),
    "notes": _text(nullable=True),
    "updated_at": Str(max_length=40, nullable=True),
    "updated_by": Int(nullable=True, description="The user id that last wrote it."),
})

VISIT = VisitField(required=True, description="An appointment or a queue entry of this patient.")

DIAGNOSIS_CREATE = Schema("DiagnosisCreate", {
    "visit": VISIT,
    "condition": Str(max_length=TEXT, required=True),
    "description": _text(nullable=True),
    "severity": Choice(SEVERITIES, required=True),
    "diagnosed_on": Date(required=True),
})

DIAGNOSIS_UPDATE = Schema("DiagnosisUpdate", {
    "resolved_on": Date(nullable=True, description="Not before diagnosed_on."),
    "severity": Choice(SEVERITIES),
    "description": _text(nullable=True),
})

# What every diagnosis, treatment and note shows first: itself, its patient and the visit it was made at.
ENTRY_HEAD = {"id": Int(), "patient": Int(), "visit": VISIT}

DIAGNOSIS_SHAPE = Schema("Diagnosis", {
    **ENTRY_HEAD,
    "condition": Str(max_length=TEXT),
    "description": _text(nullable=True),
    "severity": Choice(SEVERITIES),
    "diagnosed_on": Date(),
    "resolved_on": Date(nullable=True),
    "doctor": Int(description="The doctor who wrote it."),
    "created_at": Str(max_length=40),
    "updated_at": Str(max_length=40),
})

TREATMENT_CREATE = Schema("TreatmentCreate", {
    "visit": VISIT,
    "kind": Choice(TREATMENT_KINDS, required=True),
    "name": Str(max_length=TEXT, required=True),
    "description": _text(nullable=True),
    "dosage": Str(max_length=TEXT, nullable=True),
    "started_on": Date(required=True),
    "ended_on": Date(nullable=True, description="Not before started_on."),
    "diagnosis": Int(nullable=True, description="A diagnosis of this patient."),
})

TREATMENT_UPDATE = Schema("TreatmentUpdate", {
    "ended_on": Date(nullable=True, description="Not before started_on."),
    "dosage": Str(max_length=TEXT, nullable=True),
    "description": _text(nullable=True),
})

TREATMENT_SHAPE = Schema("Treatment", {
    **ENTRY_HEAD,
    "kind": Choice(TREATMENT_KINDS),
    "name": Str(max_length=TEXT),
    "description": _text(nullable=True),
    "dosage": Str(max_length=TEXT, nullable=True),
    "started_on": Date(),
    "ended_on": Date(nullable=True),
    "diagnosis": Int(nullable=True),
    "doctor": Int(description="The prescriber."),
    "created_at": Str(max_length=40),
    "updated_at": Str(max_length=40),
})

NOTE_CREATE = Schema("NoteCreate", {
    "visit": VISIT,
    "kind": Choice(NOTE_KINDS, required=True),
    "title": Str(max_length=200, required=True),
    "content": _text(required=True),
    "amends": Int(nullable=True, description="An earlier note of this patient that this one corrects "
                                             "(once: to correct a correction, amend the correction)."),
})

NOTE_SHAPE = Schema("Note", {
    **ENTRY_HEAD,
    "kind": Choice(NOTE_KINDS),
    "title": Str(max_length=200),
    "content": _text(),
    "doctor": Int(),
    "created_at": Str(max_length=40),
    "amends": Int(nullable=True),
    "amended_by": Int(nullable=True, description="The note that corrects this one."),
})

ACCESS_SHAPE = Schema("AccessLogLine", {
    "at": Str(max_length=40),
    "user": Int(),
    "role": Str(max_length=20),
    "action": Choice(("read", "write")),
    "what": Choice((MEDICAL_RECORD, MEDICAL_HISTORY, *ENTRY_LISTS.values())),
})


def _history_page(name: str, item: Schema) -> Obj:
    return Obj(Schema(name, {"results": List(Obj(item)),
                             "next": Str(max_length=2000, nullable=True,
                                         description="Continues in the list's own endpoint.")}))


MEDICAL_HISTORY_SHAPE = Schema("MedicalHistory", {
    "patient": Obj(PATIENT_SHAPE),
    "medical_record": Obj(MEDICAL_RECORD_SHAPE),
    "diagnoses": _history_page("HistoryDiagnoses", DIAGNOSIS_SHAPE),
    "treatments": _history_page("HistoryTreatments", TREATMENT_SHAPE),
    "notes": _history_page("HistoryNotes", NOTE_SHAPE),
    "appointments": _history_page("HistoryAppointments", APPOINTMENT),
})


# -- JSON ----------------------------------------------------------------------------

def record_json(record: MedicalRecord) -> dict:
    contact = record.emergency_contact
    return {"patient": record.patient, "blood_type": record.blood_type, "allergies": record.allergies,
            "chronic_conditions": record.chronic_conditions, "current_medications": record.current_medications,
            "emergency_contact": contact._asdict() if contact else None, "notes": record.notes,
            "updated_at": record.updated_at, "updated_by": record.updated_by}


def _visit_json(visit: Visit) -> dict:
    return {visit.kind: visit.id}


def diagnosis_json(diagnosis: Diagnosis) -> dict:
    return {"id": diagnosis.id, "patient": diagnosis.patient, "visit": _visit_json(diagnosis.visit),
            "condition": diagnosis.condition, "description": diagnosis.description, "severity": diagnosis.severity,
            "diagnosed_on": iso_date(diagnosis.diagnosed_on), "resolved_on": iso_date(diagnosis.resolved_on),
            "doctor": diagnosis.doctor, "created_at": diagnosis.created_at, "updated_at": diagnosis.updated_at}


def treatment_json(treatment: Treatment) -> dict:
    return {"id": treatment.id, "patient": treatment.patient, "visit": _visit_json(treatment.visit),
            "kind": treatment.kind, "name": treatment.name, "description": treatment.description,
            "dosage": treatment.dosage, "started_on": iso_date(treatment.started_on),
            "ended_on": iso_date(treatment.ended_on), "diagnosis": treatment.diagnosis, "doctor": treatment.doctor,
            "created_at": treatment.created_at, "updated_at": treatment.updated_at}


def note_json(note: Note) -> dict:
    return {"id": note.id, "patient": note.patient, "visit": _visit_json(note.visit), "kind": note.kind,
            "title": note.title, "content": note.content, "doctor": note.doctor, "created_at": note.created_at,
            "amends": note.amends, "amended_by": note.amended_by}


def access_json(event: AccessEvent) -> dict:
    return {"at": event.at, "user": event.user, "role": event.role, "action": event.action, "what": event.what}


ENTRY_JSON = {DIAGNOSIS: diagnosis_json, TREATMENT: treatment_json, NOTE: note_json}


# -- the medical record --------------------------------------------------------------

RECORD_PATH = "/patients/{patient_id}/medical-record"


@route(bp, RECORD_PATH, "GET", tag=TAG, roles=(PATIENT, DOCTOR, STAFF), response=MEDICAL_RECORD_SHAPE,
       errors=(503,), summary="A patient's medical record (a patient: their own)." + LOGGED)
def get_medical_record(ctx, patient_id):
    return record_json(clinical.get_medical_record(ctx.user, parse_id(patient_id, "patient")))


@route(bp, RECORD_PATH, "PUT", tag=TAG, roles=(DOCTOR, STAFF), body=MEDICAL_RECORD_WRITE,
       response=MEDICAL_RECORD_SHAPE, errors=(409,),
       summary="Replace a patient's medical record (staff: the emergency contact only)." + WRITTEN)
def put_medical_record(ctx, patient_id):
    record = clinical.write_medical_record(ctx.user, parse_id(patient_id, "patient"), ctx.body, whole=True)
    return record_json(record)


@route(bp, RECORD_PATH, "PATCH", tag=TAG, roles=(DOCTOR, STAFF), body=MEDICAL_RECORD_WRITE,
       response=MEDICAL_RECORD_SHAPE, errors=(409,),
       summary="Change fields of a patient's medical record (staff: the emergency contact only)." + WRITTEN)
def patch_medical_record(ctx, patient_id):
    record = clinical.write_medical_record(ctx.user, parse_id(patient_id, "patient"), ctx.body, whole=False)
    return record_json(record)


# -- diagnoses, treatments, notes ----------------------------------------------------

def _named(name: str):
    """Give a handler made in a loop its own name (Chalice names each view by its function)."""
    def rename(fn):
        fn.__name__ = fn.__qualname__ = name
        return fn
    return rename


def _entry_routes(kind: str, plural: str, create: Schema, shape: Schema, update: Schema | None) -> None:
    """The list, create, read (and, but for notes, change) routes of one kind of entry."""
    path, item_path = f"/patients/{{patient_id}}/{plural}", f"/patients/{{patient_id}}/{plural}/{{{kind}_id}}"
    present = ENTRY_JSON[kind]

    @route(bp, path, "GET", tag=TAG, roles=(PATIENT, DOCTOR), many=True, response=shape, errors=(503,),
           summary=f"A patient's {plural}, latest first (a patient: their own)." + LOGGED)
    @_named(f"list_{plural}")
    def list_entries(ctx, patient_id):
        limit, cursor, _ = ctx.page()
        page = clinical.list_entries(ctx.user, parse_id(patient_id, "patient"), kind, limit, cursor)
        return page_json(page, present)

    @route(bp, path, "POST", tag=TAG, roles=(DOCTOR,), status=201, body=create, response=shape, errors=(409,),
           summary=f"Add a {kind} at a visit of this patient (a doctor, as its author)." + WRITTEN)
    @_named(f"add_{kind}")
    def add_entry(ctx, patient_id):
        return present(clinical.add_entry(ctx.user, parse_id(patient_id, "patient"), kind, ctx.body))

    @route(bp, item_path, "GET", tag=TAG, roles=(PATIENT, DOCTOR), response=shape, errors=(503,),
           summary=f"One {kind} of a patient (a patient: their own)." + LOGGED)
    @_named(f"get_{kind}")
    def get_entry(ctx, patient_id, **ids):
        entry_id = parse_id(ids[f"{kind}_id"], kind)
        return present(clinical.get_entry(ctx.user, parse_id(patient_id, "patient"), kind, entry_id))

    if update is None:
        return

    @route(bp, item_path, "PATCH", tag=TAG, roles=(DOCTOR,), body=update, response=shape, errors=(409,),
           summary=f"Change a {kind} (the doctor who wrote it)." + WRITTEN)
    @_named(f"change_{kind}")
    def change_entry(ctx, patient_id, **ids):
        entry_id = parse_id(ids[f"{kind}_id"], kind)
        return present(clinical.change_entry(ctx.user, parse_id(patient_id, "patient"), kind, entry_id, ctx.body))


_entry_routes(DIAGNOSIS, "diagnoses", DIAGNOSIS_CREATE, DIAGNOSIS_SHAPE, DIAGNOSIS_UPDATE)
_entry_routes(TREATMENT, "treatments", TREATMENT_CREATE, TREATMENT_SHAPE, TREATMENT_UPDATE)
_entry_routes(NOTE, "notes", NOTE_CREATE, NOTE_SHAPE, None)  # notes are never edited: PATCH is a 405


# -- the medical history and the access log ------------------------------------------

@route(bp, "/patients/{patient_id}/medical-history", "GET", tag=TAG, roles=(PATIENT, DOCTOR),
       response=MEDICAL_HISTORY_SHAPE, errors=(503,),
       summary="A patient's record, medical record and latest diagnoses, treatments, notes and appointments "
               "(each a page whose `next` continues in its own list; a doctor sees their own appointments)."
               + LOGGED)
def medical_history(ctx, patient_id):
    history = clinical.medical_history(ctx.user, parse_id(patient_id, "patient"))
    return {"patient": patient_json(history.patient), "medical_record": record_json(history.medical_record),
            "diagnoses": page_json(history.diagnoses, diagnosis_json),
            "treatments": page_json(history.treatments, treatment_json),
            "notes": page_json(history.notes, note_json),
            "appointments": page_json(history.appointments, appointment_json)}


@route(bp, "/patients/{patient_id}/access-log", "GET", tag=TAG, roles=(PATIENT,), many=True,
       response=ACCESS_SHAPE,
       summary="Who read or wrote a patient's clinical records, latest first (the patient; admins).")
def access_log(ctx, patient_id):
    limit, cursor, _ = ctx.page()
    return page_json(clinical.access_log(ctx.user, parse_id(patient_id, "patient"), limit, cursor), access_json)
