"""Clinical records: a patient's medical record, diagnoses, treatments, notes, medical
history, and the access log that shows the patient who read or wrote them."""
from __future__ import annotations

from copy import copy
from typing import Any

from chalice import Blueprint

from chalicelib.api.appointments import APPOINTMENT, appointment_json
from chalicelib.api.http import page_json, parse_id, route
from chalicelib.api.patients import PATIENT as PATIENT_SHAPE
from chalicelib.api.patients import patient_json
from chalicelib.domain import clinical
from chalicelib.domain.commands import (
    DiagnosisChanges,
    DiagnosisDetails,
    MedicalRecordChanges,
    NoteDetails,
    TreatmentChanges,
    TreatmentDetails,
)
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
    EmergencyContact,
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


def _shape(name: str, fields: dict[str, Field], required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
           **kw) -> Schema:
    """A shape made of some of `fields` (every one when none are named), each declared once in `fields`:
    those in `required` required, those in `optional` not."""
    named = set(required + optional)
    chosen = {}
    for field_name, field in fields.items():
        if named and field_name not in named:
            continue
        chosen[field_name] = copy(field)
        chosen[field_name].required = field_name in required
    if not named <= set(chosen):
        raise ValueError(f"{name}: no field {sorted(named - set(chosen))} to make it of.")
    return Schema(name, chosen, **kw)


# The medical record's fields, as written and as answered.
RECORD_FIELDS: dict[str, Field] = {
    "patient": Int(),
    "blood_type": Choice(BLOOD_TYPES, nullable=True),
    "allergies": _text(nullable=True),
    "chronic_conditions": _text(nullable=True),
    "current_medications": _text(nullable=True),
    "emergency_contact": Nested(EMERGENCY_CONTACT, nullable=True),
    "notes": _text(nullable=True),
    "updated_at": Str(max_length=40, nullable=True),
    "updated_by": Int(nullable=True, description="The user id that last wrote it."),
}

MEDICAL_RECORD_WRITE = _shape(
    "MedicalRecordWrite", RECORD_FIELDS, optional=MedicalRecordChanges._fields,
    description="PUT replaces every field the caller may write (a field left out becomes null); PATCH sets "
                "the fields given. Staff may send only `emergency_contact` (another field is a 403).")
MEDICAL_RECORD_SHAPE = _shape("MedicalRecord", RECORD_FIELDS)

# Every field of diagnoses, treatments and notes, each once: what a doctor sends (the commands'
# fields) and what every reader gets back are made of these.
ENTRY_HEAD: dict[str, Field] = {  # what every entry shows first: itself, its patient and its visit
    "id": Int(),
    "patient": Int(),
    "visit": VisitField(description="An appointment or a queue entry of this patient."),
}
ENTRY_TAIL: dict[str, Field] = {
    "doctor": Int(description="The doctor who wrote it (of a treatment: its prescriber)."),
    "created_at": Str(max_length=40),
}
UPDATED_AT = {"updated_at": Str(max_length=40)}
DESCRIPTION = {"description": _text(nullable=True)}

DIAGNOSIS_FIELDS: dict[str, Field] = {
    **ENTRY_HEAD,
    "condition": Str(max_length=TEXT),
    **DESCRIPTION,
    "severity": Choice(SEVERITIES),
    "diagnosed_on": Date(),
    "resolved_on": Date(nullable=True, description="Not before diagnosed_on."),
    **ENTRY_TAIL, **UPDATED_AT,
}
TREATMENT_FIELDS: dict[str, Field] = {
    **ENTRY_HEAD,
    "kind": Choice(TREATMENT_KINDS),
    "name": Str(max_length=TEXT),
    **DESCRIPTION,
    "dosage": Str(max_length=TEXT, nullable=True),
    "started_on": Date(),
    "ended_on": Date(nullable=True, description="Not before started_on."),
    "diagnosis": Int(nullable=True, description="A diagnosis of this patient."),
    **ENTRY_TAIL, **UPDATED_AT,
}
NOTE_FIELDS: dict[str, Field] = {
    **ENTRY_HEAD,
    "kind": Choice(NOTE_KINDS),
    "title": Str(max_length=200),
    "content": _text(),
    **ENTRY_TAIL,
    "amends": Int(nullable=True, description="An earlier note of this patient that this one corrects "
                                             "(once: to correct a correction, amend the correction)."),
    "amended_by": Int(nullable=True, description="The note that corrects this one."),
}


def _required(command: type) -> tuple[str, ...]:
    """A command's fields without a default: what the body must give."""
    return tuple(name for name in command._fields if name not in command._field_defaults)


def _optional(command: type) -> tuple[str, ...]:
    return tuple(name for name in command._fields if name in command._field_defaults)


def _entry_shapes(name: str, fields: dict[str, Field], details: type,
                  changes: type | None) -> tuple[Schema, Schema, Schema | None]:
    """An entry's answer, the body that adds one (the fields of its command `details`), and the body
    that changes one (those of `changes`), all made of its `fields`."""
    update = _shape(f"{name}Update", fields, optional=changes._fields) if changes else None
    return (_shape(name, fields),
            _shape(f"{name}Create", fields, required=_required(details), optional=_optional(details)), update)


DIAGNOSIS_SHAPES = _entry_shapes("Diagnosis", DIAGNOSIS_FIELDS, DiagnosisDetails, DiagnosisChanges)
TREATMENT_SHAPES = _entry_shapes("Treatment", TREATMENT_FIELDS, TreatmentDetails, TreatmentChanges)
NOTE_SHAPES = _entry_shapes("Note", NOTE_FIELDS, NoteDetails, None)
DIAGNOSIS_SHAPE, TREATMENT_SHAPE, NOTE_SHAPE = DIAGNOSIS_SHAPES[0], TREATMENT_SHAPES[0], NOTE_SHAPES[0]

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


# -- commands --------------------------------------------------------------------------

def command(kind: type, body: dict) -> Any:
    """A validated body as the domain's command `kind`: its visit a Visit, its emergency contact an
    EmergencyContact (the fields it left out null)."""
    values = dict(body)
    if "visit" in values:
        (visit_kind, visit_id), = values["visit"].items()
        values["visit"] = Visit(visit_kind, visit_id)
    contact = values.get("emergency_contact")
    if contact is not None:
        values["emergency_contact"] = EmergencyContact(**{name: contact.get(name) for name in EmergencyContact._fields})
    return kind(**values)


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
    record = clinical.write_medical_record(ctx.user, parse_id(patient_id, "patient"),
                                           lambda: command(MedicalRecordChanges, ctx.body()), whole=True)
    return record_json(record)


@route(bp, RECORD_PATH, "PATCH", tag=TAG, roles=(DOCTOR, STAFF), body=MEDICAL_RECORD_WRITE,
       response=MEDICAL_RECORD_SHAPE, errors=(409,),
       summary="Change fields of a patient's medical record (staff: the emergency contact only)." + WRITTEN)
def patch_medical_record(ctx, patient_id):
    record = clinical.write_medical_record(ctx.user, parse_id(patient_id, "patient"),
                                           lambda: command(MedicalRecordChanges, ctx.body()), whole=False)
    return record_json(record)


# -- diagnoses, treatments, notes ----------------------------------------------------

def _named(name: str):
    """Give a handler made in a loop its own name (Chalice names each view by its function)."""
    def rename(fn):
        fn.__name__ = fn.__qualname__ = name
        return fn
    return rename


def _entry_routes(kind: str, plural: str, shapes: tuple[Schema, Schema, Schema | None], details: type,
                  changes: type | None) -> None:
    """The list, create, read (and, but for notes, change) routes of one kind of entry; the bodies
    become the commands `details` and `changes`."""
    shape, create, update = shapes
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
        return present(clinical.add_entry(ctx.user, parse_id(patient_id, "patient"), kind,
                                          lambda: command(details, ctx.body())))

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
        return present(clinical.change_entry(ctx.user, parse_id(patient_id, "patient"), kind, entry_id,
                                             lambda: command(changes, ctx.body())))


_entry_routes(DIAGNOSIS, "diagnoses", DIAGNOSIS_SHAPES, DiagnosisDetails, DiagnosisChanges)
_entry_routes(TREATMENT, "treatments", TREATMENT_SHAPES, TreatmentDetails, TreatmentChanges)
_entry_routes(NOTE, "notes", NOTE_SHAPES, NoteDetails, None)  # notes are never edited: PATCH is a 405


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
