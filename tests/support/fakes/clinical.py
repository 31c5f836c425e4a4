"""Clinical records in memory, with the conditions and labels of chalicelib.storage.clinical.

The patients and visits it checks against are what a test gives it (`add_patient`,
`add_visit`); `refuse_log_writes` makes every access-log write fail, as a DynamoDB outage would.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from chalicelib.domain.entities import Page
from chalicelib.domain.ports.clinical import (
    DIAGNOSIS,
    NOTE,
    AccessEvent,
    Diagnosis,
    Entry,
    MedicalRecord,
    Note,
    Treatment,
    Visit,
    entry_kind,
)
from chalicelib.errors import ConditionFailed, ValidationFailed


class MemoryClinical:
    def __init__(self):
        self._lock = threading.Lock()
        self.patients: set[int] = set()
        self.visits: dict[Visit, int] = {}
        self.records: dict[int, MedicalRecord] = {}
        self.entries: dict[tuple[int, str, int], Entry] = {}
        self.log: list[AccessEvent] = []  # in the order written
        self.refuse_log_writes = False

    # -- what tests set up
    def add_patient(self, patient_id: int) -> None:
        with self._lock:
            self.patients.add(patient_id)

    def add_visit(self, visit: Visit, patient_id: int) -> None:
        with self._lock:
            self.visits[visit] = patient_id

    # -- the protocol
    def patient_exists(self, patient_id: int) -> bool:
        with self._lock:
            return patient_id in self.patients

    def medical_record(self, patient_id: int) -> MedicalRecord | None:
        with self._lock:
            if patient_id not in self.patients:
                return None
            return self.records.get(patient_id, MedicalRecord(patient=patient_id))

    def save_medical_record(self, before: MedicalRecord, after: MedicalRecord, logged: AccessEvent) -> None:
        with self._lock:
            stored = self.records.get(after.patient)
            if (stored.version if stored else 0) != before.version:
                raise ConditionFailed(["medical-record"])
            self._check_log_writable()
            self.records[after.patient] = after
            self.log.append(logged)

    def add_entry(self, entry: Entry, logged: AccessEvent) -> None:
        with self._lock:
            failed = []
            if entry.patient not in self.patients:
                failed.append("patient")
            if self.visits.get(entry.visit) != entry.patient:
                failed.append("visit")
            if isinstance(entry, Treatment) and entry.diagnosis is not None and (
                    (entry.patient, DIAGNOSIS, entry.diagnosis) not in self.entries):
                failed.append("diagnosis")
            earlier = None
            if isinstance(entry, Note) and entry.amends is not None:
                earlier = self.entries.get((entry.patient, NOTE, entry.amends))
                if earlier is None or earlier.amended_by is not None:
                    failed.append("amends")
            key = (entry.patient, entry_kind(entry), entry.id)
            if key in self.entries:
                failed.append("entry")
            if failed:
                raise ConditionFailed(failed)
            self._check_log_writable()
            if earlier is not None:
                self.entries[(entry.patient, NOTE, earlier.id)] = replace(earlier, amended_by=entry.id)
            self.entries[key] = entry
            self.log.append(logged)

    def entry(self, patient_id: int, kind: str, entry_id: int) -> Entry | None:
        with self._lock:
            return self.entries.get((patient_id, kind, entry_id))

    def save_entry(self, before: Diagnosis | Treatment, after: Diagnosis | Treatment, logged: AccessEvent) -> None:
        with self._lock:
            key = (after.patient, entry_kind(after), after.id)
            stored = self.entries.get(key)
            if stored is None or stored.version != before.version:
                raise ConditionFailed(["entry"])
            self._check_log_writable()
            self.entries[key] = after
            self.log.append(logged)

    def entries_page(self, patient_id: int, kind: str, limit: int, cursor: str | None) -> Page:
        with self._lock:
            items = sorted((entry for (patient, of_kind, _), entry in self.entries.items()
                            if patient == patient_id and of_kind == kind), key=lambda entry: -entry.id)
        return _page(items, limit, cursor)

    def log_access(self, event: AccessEvent) -> bool:
        with self._lock:
            if self.refuse_log_writes:
                return False
            self.log.append(event)
            return True

    def access_page(self, patient_id: int, limit: int, cursor: str | None) -> Page:
        with self._lock:
            items = [event for event in reversed(self.log) if event.patient == patient_id]
        return _page(items, limit, cursor)

    def _check_log_writable(self) -> None:
        # A transaction whose access-log put fails writes nothing (DynamoDB raises, not a condition).
        if self.refuse_log_writes:
            raise RuntimeError("the access log is unavailable")


def _page(items: list, limit: int, cursor: str | None) -> Page:
    """`limit` items from the position `cursor` names (an offset, in memory)."""
    if cursor is not None and not cursor.isdigit():
        raise ValidationFailed.field("cursor", "Invalid or expired cursor.")
    start = int(cursor or 0)
    end = start + limit
    return Page(items=items[start:end], next=str(end) if end < len(items) else None)
