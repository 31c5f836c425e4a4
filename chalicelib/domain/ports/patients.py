"""Patient records."""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.entities import Page, Patient
from chalicelib.domain.search import PatientQuery


class Patients(Protocol):
    def get(self, patient_id: int) -> Patient | None:
        """The patient with this id, or None."""

    def id_by_email(self, email: str) -> int | None:
        """The id of the record holding this email (without regard to case), or None."""

    def id_by_link_code(self, code_hash: str) -> int | None:
        """The id of the record a link code (by its hash) was made for, or None."""

    def list_page(self, limit: int, cursor: str | None) -> Page:
        """A page of all patients in id order."""

    def add(self, patient: Patient) -> None:
        """Write a new record with its email and link code. Labels: "patient-email", "link-code", "patient"."""

    def save_changes(self, before: Patient, after: Patient, exclusive: bool = False) -> None:
        """Write an edited record if its email is still as read, moving the email; when `exclusive`,
        a new email must also be held by no account but the record's own.
        Labels: "patient-email" (taken), "email" (an account's, when exclusive), "patient" (changed meanwhile)."""

    def replace_link_code(self, before: Patient, code_hash: str, expires_at: str) -> None:
        """Give an unlinked record a new link code; its old one stops working in the same write.
        Labels: "link-code" (the new hash is held), "patient" (linked, gone or given another code meanwhile)."""

    def search_page(self, query: PatientQuery, limit: int, cursor: str | None) -> Page:
        """A page of the records meeting every filter given (at least one), at a cost that does not grow
        with the number of patients."""
