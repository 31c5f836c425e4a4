"""Doctor records. The model stays here; callers get `Doctor` dataclasses."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.domain.entities import Doctor, Page
from chalicelib.domain.values import optional_int
from chalicelib.storage import departments
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none

KIND = "doctor"


class _DoctorsByDepartment(GlobalSecondaryIndex):
    class Meta:
        index_name = "department-id-index"
        projection = AllProjection()

    department = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@register
class DoctorModel(StoredModel):
    class Meta:
        table_suffix = "doctors"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    specialty = UnicodeAttribute()
    department = NumberAttribute()
    user_id = NumberAttribute(null=True)
    is_active = BooleanAttribute(null=True)  # missing on items written before it existed: active

    by_kind = kind_id_index()
    by_department = _DoctorsByDepartment()


def to_doctor(item: DoctorModel) -> Doctor:
    return Doctor(id=int(item.id), name=item.name, specialty=item.specialty,
                  department=int(item.department),
                  user_id=optional_int(item.user_id),
                  is_active=item.is_active is not False)


def put_new(tx: Transaction, doctor: Doctor) -> None:
    """Put a new doctor record in a transaction, failing ("department") unless its department exists."""
    departments.check_exists(tx, doctor.department)
    tx.put("doctor", DoctorModel(doctor.id, kind=KIND, name=doctor.name, specialty=doctor.specialty,
                                 department=doctor.department, user_id=doctor.user_id,
                                 is_active=doctor.is_active),
           DoctorModel.id.does_not_exist())


def save_changes(before: Doctor, after: Doctor) -> None:
    """Write an edited doctor record if still as read; a new department must exist and be active
    (ConditionFailed(["department"]) otherwise, ["doctor-edit"] if it changed meanwhile)."""
    with Transaction() as tx:
        if after.department != before.department:
            departments.check_exists(tx, after.department)
        stored = (DoctorModel.name == before.name) & (DoctorModel.department == before.department)
        tx.update("doctor-edit", DoctorModel(before.id),
                  [DoctorModel.name.set(after.name), DoctorModel.specialty.set(after.specialty),
                   DoctorModel.department.set(after.department), DoctorModel.is_active.set(after.is_active)],
                  stored)


def add(doctor: Doctor) -> None:
    """Write a new doctor record if its department exists; ConditionFailed(["department"]) if not.

    The department is checked in the same transaction, so it cannot be missing when the doctor lands.
    """
    with Transaction() as tx:
        put_new(tx, doctor)


def unlink_user(tx: Transaction, doctor_id: int) -> None:
    """Remove the link to a deleted account; the doctor record stays."""
    tx.update("doctor-unlink", DoctorModel(doctor_id), [DoctorModel.user_id.remove()],
              DoctorModel.id.exists())


def get(doctor_id: int) -> Doctor | None:
    """The doctor with this id, or None."""
    item = get_or_none(DoctorModel, doctor_id)
    return to_doctor(item) if item else None


def check_exists(tx: Transaction, doctor_id: int) -> None:
    """Make a transaction fail (labelled "doctor") unless the doctor exists."""
    tx.require_exists("doctor", DoctorModel, doctor_id)


def list_page(limit: int, cursor: str | None, department: int | None = None) -> Page:
    """A page of doctors in id order: all (kind index) or one department's (department index).

    Either way one Query, whatever the number of doctors.
    """
    if department is None:
        return query_page(DoctorModel, DoctorModel.by_kind, "doctors", limit, cursor, to_doctor, hash_key=KIND)
    return query_page(DoctorModel, DoctorModel.by_department, f"doctors:department:{department}", limit, cursor,
                      to_doctor, hash_key=department)
