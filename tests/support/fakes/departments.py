"""Departments in memory, with the conditions of storage.departments."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities import Department, Page
from tests.support.fakes.memory import MemoryDb, page, unique_key


def name_key(name: str) -> str:
    return unique_key("department-name", name)


class MemoryDepartments:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, Department] = db.table("departments")

    def get(self, department_id: int) -> Department | None:
        stored = self.rows.get(department_id)
        return replace(stored) if stored else None

    def id_by_name(self, name: str) -> int | None:
        return self.db.uniques.get(name_key(name))

    def list_page(self, limit: int, cursor: str | None) -> Page:
        return page([replace(self.rows[key]) for key in sorted(self.rows)], "departments", limit, cursor)

    def add(self, department: Department) -> None:
        with self.db.transaction() as tx:
            tx.put_unique("department-name", name_key(department.name), department.id)
            tx.put("department", lambda: department.id not in self.rows,
                   lambda: self.rows.__setitem__(department.id, replace(department)))

    def save_changes(self, before: Department, after: Department) -> None:
        with self.db.transaction() as tx:
            tx.move_unique("department-name", name_key(before.name), name_key(after.name), before.id)
            tx.update("department-edit",
                      lambda: before.id in self.rows and self.rows[before.id].name == before.name,
                      lambda: self.rows.__setitem__(before.id, replace(
                          self.rows[before.id], name=after.name, description=after.description,
                          is_active=after.is_active)))
