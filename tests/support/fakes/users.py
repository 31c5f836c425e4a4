"""User accounts in memory, with the conditions of storage.users."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities import Doctor, Page, Patient, PatientLink, User, UserFilters
from chalicelib.errors import ConditionFailed
from tests.support.fakes import doctors as doctor_rules
from tests.support.fakes import patients as patient_rules
from tests.support.fakes.memory import MemoryDb, MemoryTransaction, page, unique_key

ACTIVE_ADMINS = "active-admins"
STAND_IN_ID = 1


def _is_active_admin(user: User) -> bool:
    return user.role == "admin" and user.is_active


class MemoryUsers:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, User] = db.table("users")

    def _count_admins(self, tx: MemoryTransaction, delta: int) -> None:
        counters = self.db.counters

        def add() -> None:
            counters.setdefault(ACTIVE_ADMINS, {"value": 0})["value"] += delta

        if delta > 0:
            tx.update("admin-count", None, add)
        elif delta < 0:
            tx.update("last-admin", lambda: counters.get(ACTIVE_ADMINS, {}).get("value", -delta) > -delta, add)

    def _unchanged_state(self, user: User):
        def check() -> bool:
            stored = self.rows.get(user.id)
            return stored is not None and (stored.role, stored.is_active) == (user.role, user.is_active)
        return check

    def register(self, user: User, *, patient: Patient | None = None, doctor: Doctor | None = None,
                 link: PatientLink | None = None) -> None:
        with self.db.transaction() as tx:
            tx.put_unique("username", unique_key("user-username", user.username), user.id)
            tx.put_unique("email", unique_key("user-email", user.email), user.id)
            tx.put("user", lambda: user.id not in self.rows, lambda: self.rows.__setitem__(user.id, replace(user)))
            self._count_admins(tx, 1 if _is_active_admin(user) else 0)
            if patient is not None:
                patient_rules.put_new(self.db, tx, patient)
            if doctor is not None:
                doctor_rules.put_new(self.db, tx, doctor)
            if link is not None:
                patient_rules.link_user(self.db, tx, link, user.id)

    def get(self, user_id: int) -> User | None:
        stored = self.rows.get(user_id)
        return replace(stored) if stored else None

    def get_by_username(self, username: str) -> User | None:
        owner = self.db.uniques.get(unique_key("user-username", username))
        user = self.get(owner if owner is not None else STAND_IN_ID)
        return user if owner is not None else None

    def filtered_page(self, filters: UserFilters, limit: int, cursor: str | None) -> Page:
        def keep(user: User) -> bool:
            return ((filters.username is None or user.username.lower().startswith(filters.username.lower()))
                    and (filters.email is None or user.email.lower().startswith(filters.email.lower()))
                    and (filters.role is None or user.role == filters.role)
                    and (filters.is_active is None or user.is_active == filters.is_active))
        key = (lambda u: u.username.lower()) if filters.username else (lambda u: u.email.lower()) if filters.email \
            else (lambda u: u.id)
        chosen = sorted((replace(u) for u in self.rows.values()), key=key)
        return page(chosen, "users:" + ":".join(str(part) for part in filters), limit, cursor, keep)

    def list_page(self, limit: int, cursor: str | None) -> Page:
        return page([replace(self.rows[key]) for key in sorted(self.rows)], "users", limit, cursor)

    def save_changes(self, before: User, after: User, exclusive: bool = False) -> None:
        with self.db.transaction() as tx:
            tx.move_unique("username", unique_key("user-username", before.username),
                           unique_key("user-username", after.username), after.id)
            tx.move_unique("email", unique_key("user-email", before.email), unique_key("user-email", after.email),
                           after.id)
            if exclusive and unique_key("user-email", before.email) != unique_key("user-email", after.email):
                tx.check_unheld("patient-email", unique_key("patient-email", after.email), after.patient_id)
            unchanged = self._unchanged_state(before)

            def condition() -> bool:
                stored = self.rows.get(after.id)
                return (unchanged()
                        and (after.password_hash == before.password_hash
                             or stored.password_hash == before.password_hash)
                        and (after.token_version == before.token_version
                             or stored.token_version == before.token_version))

            def write() -> None:
                stored = self.rows[after.id]
                self.rows[after.id] = replace(
                    stored, username=after.username, email=after.email, role=after.role,
                    first_name=after.first_name, last_name=after.last_name, is_active=after.is_active,
                    date_of_birth=after.date_of_birth,
                    password_hash=after.password_hash if after.password_hash != before.password_hash
                    else stored.password_hash,
                    token_version=stored.token_version + (after.token_version != before.token_version))

            tx.update("user", condition, write)
            self._count_admins(tx, int(_is_active_admin(after)) - int(_is_active_admin(before)))

    def delete(self, user: User) -> None:
        patients, doctors = self.db.table("patients"), self.db.table("doctors")
        linked_patient = user.patient_id is not None and user.patient_id in patients
        linked_doctor = user.doctor_id is not None and user.doctor_id in doctors
        with self.db.transaction() as tx:
            tx.delete("user", self._unchanged_state(user), lambda: self.rows.pop(user.id))
            tx.release_unique("username", unique_key("user-username", user.username))
            tx.release_unique("email", unique_key("user-email", user.email))
            self._count_admins(tx, -1 if _is_active_admin(user) else 0)
            if linked_patient:
                patient_rules.unlink_user(self.db, tx, user.patient_id)
            if linked_doctor:
                tx.update("doctor-unlink", lambda: user.doctor_id in doctors,
                          lambda: doctors.__setitem__(user.doctor_id, replace(doctors[user.doctor_id], user_id=None)))

    def revoke_tokens(self, user_id: int) -> None:
        with self.db.lock:
            stored = self.rows.get(user_id)
            if stored is not None:
                self.rows[user_id] = replace(stored, token_version=stored.token_version + 1)

    def ensure_token_key(self, user: User, key: str) -> str:
        if user.token_key:
            return user.token_key
        with self.db.lock:
            stored = self.rows.get(user.id)
            if stored is None:
                raise ConditionFailed([ConditionFailed.CONFLICT])
            if not stored.token_key:
                self.rows[user.id] = replace(stored, token_key=key)
                return key
            return stored.token_key
