"""Departments."""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.entities import Department, Page


class Departments(Protocol):
    def get(self, department_id: int) -> Department | None:
        """The department with this id, or None."""

    def id_by_name(self, name: str) -> int | None:
        """The id of the department with this name (without regard to case), or None."""

    def list_page(self, limit: int, cursor: str | None) -> Page:
        """A page of all departments in id order."""

    def add(self, department: Department) -> None:
        """Write a new department with its name. Labels: "department-name" (taken), "department"."""

    def save_changes(self, before: Department, after: Department) -> None:
        """Write an edited department if still as read, moving its name.
        Labels: "department-name" (taken), "department-edit" (changed meanwhile)."""
