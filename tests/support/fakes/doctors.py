"""Doctor records in memory, with the conditions of storage.doctors."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities import Doctor, Page
from tests.support.fakes.memory import MemoryDb, MemoryTransaction, page


def check_department(db: MemoryDb, tx: MemoryTransaction, department_id: int) -> None:
    """As storage.departments.check_exists: the department exists and is active."""
    departments = db.table("departments")
    tx.check("department", lambda: department_id in departments and departments[department_id].is_active)


def put_new(db: MemoryDb, tx: MemoryTransaction, doctor: Doctor) -> None:
    rows = db.table("doctors")
    check_department(db, tx, doctor.department)
    tx.put("doctor", lambda: doctor.id not in rows, lambda: rows.__setitem__(doctor.id, replace(doctor)))


class MemoryDoctors:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, Doctor] = db.table("doctors")

    def get(self, doctor_id: int) -> Doctor | None:
        stored = self.rows.get(doctor_id)
        return replace(stored) if stored else None

    def list_page(self, limit: int, cursor: str | None, department: int | None = None) -> Page:
        chosen = [replace(self.rows[key]) for key in sorted(self.rows)
                  if department is None or self.rows[key].department == department]
        scope = "doctors" if department is None else f"doctors:department:{department}"
        return page(chosen, scope, limit, cursor)

    def add(self, doctor: Doctor) -> None:
        with self.db.transaction() as tx:
            put_new(self.db, tx, doctor)

    def save_changes(self, before: Doctor, after: Doctor) -> None:
        with self.db.transaction() as tx:
            if after.department != before.department:
                check_department(self.db, tx, after.department)

            def condition() -> bool:
                stored = self.rows.get(before.id)
                return stored is not None and (stored.name, stored.department) == (before.name, before.department)

            tx.update("doctor-edit", condition, lambda: self.rows.__setitem__(before.id, replace(
                self.rows[before.id], name=after.name, specialty=after.specialty, department=after.department,
                is_active=after.is_active)))
