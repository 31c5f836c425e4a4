"""Doctor records."""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.entities import Doctor, Page


class Doctors(Protocol):
    def get(self, doctor_id: int) -> Doctor | None:
        """The doctor with this id, or None."""

    def list_page(self, limit: int, cursor: str | None, department: int | None = None) -> Page:
        """A page of doctors in id order: all, or one department's."""

    def add(self, doctor: Doctor) -> None:
        """Write a new record if its department exists and is active. Labels: "department", "doctor"."""

    def save_changes(self, before: Doctor, after: Doctor) -> None:
        """Write an edited record if still as read; a new department must exist and be active.
        Labels: "department", "doctor-edit" (changed meanwhile)."""
