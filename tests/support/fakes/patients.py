"""Patient records in memory, with the conditions of storage.patients."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities import Page, Patient, PatientLink
from chalicelib.domain.search import PatientQuery
from tests.support.fakes.memory import MemoryDb, MemoryTransaction, page, unique_key


def email_key(email: str | None) -> str | None:
    return unique_key("patient-email", email) if email else None


def link_code_key(code_hash: str) -> str:
    return unique_key("link-code", code_hash)


def put_new(db: MemoryDb, tx: MemoryTransaction, patient: Patient) -> None:
    rows = db.table("patients")
    if patient.email:
        tx.put_unique("patient-email", email_key(patient.email), patient.id)
    if patient.link_code_hash:
        tx.put_unique("link-code", link_code_key(patient.link_code_hash), patient.id)
    tx.put("patient", lambda: patient.id not in rows, lambda: rows.__setitem__(patient.id, replace(patient)))


def link_user(db: MemoryDb, tx: MemoryTransaction, link: PatientLink, user_id: int) -> None:
    rows = db.table("patients")
    patient_id, code_hash, now = link

    def condition() -> bool:
        stored = rows.get(patient_id)
        return (stored is not None and stored.user_id is None and stored.link_code_hash == code_hash
                and stored.link_code_expires_at is not None and stored.link_code_expires_at > now)

    tx.update("patient-link", condition, lambda: rows.__setitem__(patient_id, replace(
        rows[patient_id], user_id=user_id, link_code_hash=None, link_code_expires_at=None)))
    tx.release_unique("link-code", link_code_key(code_hash), patient_id)


def unlink_user(db: MemoryDb, tx: MemoryTransaction, patient_id: int) -> None:
    rows = db.table("patients")
    tx.update("patient-unlink", lambda: patient_id in rows,
              lambda: rows.__setitem__(patient_id, replace(rows[patient_id], user_id=None)))


class MemoryPatients:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, Patient] = db.table("patients")

    def get(self, patient_id: int) -> Patient | None:
        stored = self.rows.get(patient_id)
        return replace(stored) if stored else None

    def id_by_email(self, email: str) -> int | None:
        return self.db.uniques.get(email_key(email))

    def id_by_link_code(self, code_hash: str) -> int | None:
        return self.db.uniques.get(link_code_key(code_hash))

    def list_page(self, limit: int, cursor: str | None) -> Page:
        return page([replace(self.rows[key]) for key in sorted(self.rows)], "patients", limit, cursor)

    def search_page(self, query: PatientQuery, limit: int, cursor: str | None) -> Page:
        found = [replace(self.rows[key]) for key in sorted(self.rows) if query.matches(self.rows[key])]
        return page(found, "patient-search", limit, cursor)

    def add(self, patient: Patient) -> None:
        with self.db.transaction() as tx:
            put_new(self.db, tx, patient)

    def save_changes(self, before: Patient, after: Patient, exclusive: bool = False) -> None:
        with self.db.transaction() as tx:
            tx.move_unique("patient-email", email_key(before.email), email_key(after.email), after.id)
            if exclusive and after.email and email_key(before.email) != email_key(after.email):
                tx.check_unheld("email", unique_key("user-email", after.email), after.user_id)
            tx.update("patient", lambda: after.id in self.rows and self.rows[after.id].email == before.email,
                      lambda: self.rows.__setitem__(after.id, replace(
                          self.rows[after.id], name=after.name, email=after.email, phone=after.phone,
                          date_of_birth=after.date_of_birth)))

    def replace_link_code(self, before: Patient, code_hash: str, expires_at: str) -> None:
        with self.db.transaction() as tx:
            if before.link_code_hash:
                tx.release_unique("old-link-code", link_code_key(before.link_code_hash), before.id)
            tx.put_unique("link-code", link_code_key(code_hash), before.id)

            def condition() -> bool:
                stored = self.rows.get(before.id)
                return (stored is not None and stored.user_id is None
                        and stored.link_code_hash == before.link_code_hash)

            tx.update("patient", condition, lambda: self.rows.__setitem__(before.id, replace(
                self.rows[before.id], link_code_hash=code_hash, link_code_expires_at=expires_at)))
