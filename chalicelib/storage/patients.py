"""Patient records. The model stays here; callers get `Patient` dataclasses.

A record made at the desk carries the hash of its link code and the code's
expiry; a claim `link-code#<hash>` in the uniques table points from the hash to
the record, so a code finds its record in one read. Linking an account uses the
code up, in the same transaction as the new account.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.domain.entities import Page, Patient, PatientLink
from chalicelib.domain.search import PatientQuery, name_words, phone_digits
from chalicelib.domain.values import iso_date, optional_int, parse_date, parse_instant
from chalicelib.errors import ConditionFailed
from chalicelib.storage import patient_search
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import decode_cursor, encode_cursor, query_page
from chalicelib.storage.patient_search import PatientSearchModel
from chalicelib.storage.transactions import Transaction, get_or_none, read_items
from chalicelib.storage.uniques import (
    account_email_key,
    check_unheld,
    move_unique,
    owner_of,
    put_unique,
    release_unique,
    unique_key,
)

KIND = "patient"


@register
class PatientModel(StoredModel):
    class Meta:
        table_suffix = "patients"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    date_of_birth = UnicodeAttribute(null=True)
    user_id = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    link_code_hash = UnicodeAttribute(null=True)
    # An instant as iso_instant writes it: compares as text in time order.
    link_code_expires_at = UnicodeAttribute(null=True)

    by_kind = kind_id_index()


def email_key(email: str | None) -> str | None:
    return unique_key("patient-email", email) if email else None


def link_code_key(code_hash: str) -> str:
    return unique_key("link-code", code_hash)


def _to_patient(item: PatientModel) -> Patient:
    return Patient(
        id=int(item.id), name=item.name, email=item.email, phone=item.phone,
        date_of_birth=parse_date(item.date_of_birth),
        user_id=optional_int(item.user_id),
        created_at=item.created_at, link_code_hash=item.link_code_hash,
        link_code_expires_at=item.link_code_expires_at,
    )


def to_model(patient: Patient) -> PatientModel:
    """A patient's stored item (public for devtools' batch writes, as queue_entries.to_model)."""
    return PatientModel(
        patient.id, kind=KIND, name=patient.name, email=patient.email, phone=patient.phone,
        date_of_birth=iso_date(patient.date_of_birth), user_id=patient.user_id,
        created_at=patient.created_at, link_code_hash=patient.link_code_hash,
        link_code_expires_at=patient.link_code_expires_at,
    )


def put_new(tx: Transaction, patient: Patient) -> None:
    """Put a new patient record, its email and its link code in a transaction."""
    if patient.email:
        put_unique(tx, "patient-email", email_key(patient.email), patient.id)
    if patient.link_code_hash:
        put_unique(tx, "link-code", link_code_key(patient.link_code_hash), patient.id,
                   expires_at=parse_instant(patient.link_code_expires_at))
    tx.put("patient", to_model(patient), PatientModel.id.does_not_exist())
    patient_search.put_tokens(tx, patient)


def add(patient: Patient) -> None:
    """Write a new patient record with its email claim, in one transaction.

    Raises ConditionFailed(["patient-email"]) when another patient has the email.
    """
    with Transaction() as tx:
        put_new(tx, patient)


def link_user(tx: Transaction, link: PatientLink, user_id: int) -> None:
    """Link an unlinked record to a new account with its current link code, and use the code up.

    Fails (labelled "patient-link") unless the record is still unlinked and the code is still
    its own and unexpired when it was checked: of two accounts racing for one code, one wins.
    """
    patient_id, code_hash, now = link
    tx.update("patient-link", PatientModel(patient_id),
              [PatientModel.user_id.set(user_id), PatientModel.link_code_hash.remove(),
               PatientModel.link_code_expires_at.remove()],
              PatientModel.id.exists() & PatientModel.user_id.does_not_exist()
              & (PatientModel.link_code_hash == code_hash) & (PatientModel.link_code_expires_at > now))
    release_unique(tx, "link-code", link_code_key(code_hash), patient_id)


def replace_link_code(before: Patient, code_hash: str, expires_at: str) -> None:
    """Give an unlinked record a new link code; the one it had stops working in the same transaction.

    Raises ConditionFailed labelled "patient" when the record was linked, removed or
    given another code meanwhile (read it again).
    """
    with Transaction() as tx:
        if before.link_code_hash:
            release_unique(tx, "old-link-code", link_code_key(before.link_code_hash), before.id)
        put_unique(tx, "link-code", link_code_key(code_hash), before.id, expires_at=parse_instant(expires_at))
        same_code = (PatientModel.link_code_hash == before.link_code_hash if before.link_code_hash
                     else PatientModel.link_code_hash.does_not_exist())
        tx.update("patient", PatientModel(before.id),
                  [PatientModel.link_code_hash.set(code_hash), PatientModel.link_code_expires_at.set(expires_at)],
                  PatientModel.id.exists() & PatientModel.user_id.does_not_exist() & same_code)


def id_by_link_code(code_hash: str) -> int | None:
    """The id of the record a link code (by its hash) was made for, or None."""
    return owner_of(link_code_key(code_hash))


def unlink_user(tx: Transaction, patient_id: int) -> None:
    """Remove the link to a deleted account; the record stays."""
    tx.update("patient-unlink", PatientModel(patient_id), [PatientModel.user_id.remove()],
              PatientModel.id.exists())


def get(patient_id: int) -> Patient | None:
    """The patient with this id, or None."""
    item = get_or_none(PatientModel, patient_id)
    return _to_patient(item) if item else None


def id_by_email(email: str) -> int | None:
    """The id of the patient record holding this email (without regard to case), or None."""
    return owner_of(email_key(email))


def check_exists(tx: Transaction, patient_id: int) -> None:
    """Make a transaction fail (labelled "patient") unless the patient exists."""
    tx.require_exists("patient", PatientModel, patient_id)


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all patients in id order (one Query on the kind index)."""
    return query_page(PatientModel, PatientModel.by_kind, "patients", limit, cursor, _to_patient, hash_key=KIND)


def save_changes(before: Patient, after: Patient, exclusive: bool = False) -> None:
    """Write an edited patient, moving the email claim when the email changes; when `exclusive`
    (the patient's own edit), a new email must also be no account's but the record's own
    (ConditionFailed labelled "email").

    The write is conditional on the stored email being the one the caller read,
    so two edits racing to change it cannot leave a claim behind. Raises
    ConditionFailed labelled "patient-email" (taken) or "patient" (changed meanwhile).
    """
    with Transaction() as tx:
        move_unique(tx, "patient-email", email_key(before.email), email_key(after.email), after.id)
        if exclusive and after.email and email_key(before.email) != email_key(after.email):
            check_unheld(tx, "email", account_email_key(after.email), after.user_id)
        condition = PatientModel.id.exists() & (
            PatientModel.email == before.email if before.email else PatientModel.email.does_not_exist())
        actions = [PatientModel.name.set(after.name)]
        for attribute, value in ((PatientModel.email, after.email), (PatientModel.phone, after.phone),
                                 (PatientModel.date_of_birth, iso_date(after.date_of_birth))):
            actions.append(attribute.remove() if value is None else attribute.set(value))
        tx.update("patient", PatientModel(after.id), actions, condition)
        patient_search.move_tokens(tx, before, after)


READ_CHUNK = 25  # records per TransactGetItems (moto's limit; DynamoDB's is 100)


def _read_records(ids: list[int]) -> list:
    """The records of a page, READ_CHUNK per TransactGetItems (a page of `limit` costs ceil(limit / 25)
    reads at most, whatever the number of patients); again if a write held one of them."""
    return _read_chunked([(PatientModel, patient_id) for patient_id in ids])


def _read_chunked(all_keys: list[tuple]) -> list:
    """Items by key, READ_CHUNK per TransactGetItems; again if a write held one of them."""
    items: list = []
    for first in range(0, len(all_keys), READ_CHUNK):
        keys = all_keys[first:first + READ_CHUNK]
        for attempt in range(3):
            try:
                items += read_items(keys)
                break
            except ConditionFailed:
                if attempt == 2:
                    raise
    return items


def search_page(query: PatientQuery, limit: int, cursor: str | None) -> Page:
    """A page of the records that meet every filter of `query`, whatever the number of patients.

    An email reads its claim and that record (2 calls, one page). Otherwise one Query on the index
    item of the most selective filter (the phone's digits, else the longest word of `search`, else the
    date of birth), then the records it names (one TransactGetItems per 25); the other filters are checked on
    those records, so a page may hold fewer than `limit` while `next` leads on (as filtered lists do).
    """
    if query.email is not None:
        patient_id = owner_of(email_key(query.email))
        found = get(patient_id) if patient_id is not None else None
        return Page(items=[found] if found is not None and query.matches(found) else [], next=None)
    digits = phone_digits(query.phone)
    words = sorted(name_words(query.search or ""), key=len, reverse=True)
    if query.phone is not None:
        if digits is None:
            return Page(items=[], next=None)
        key, condition = patient_search.phone_key(digits), None
    elif query.search is not None:
        if not words:
            return Page(items=[], next=None)
        key = patient_search.name_key(words[0])
        condition = PatientSearchModel.sort.startswith(words[0])
    else:
        key, condition = patient_search.dob_key(iso_date(query.date_of_birth)), None
    results = PatientSearchModel.query(key, condition, limit=limit, page_size=limit,
                                       last_evaluated_key=decode_cursor("patient-search", cursor))
    raw = next(results.page_iter)
    ids: list[int] = []
    for item in raw.get("Items", []):
        patient_id = patient_search.id_of(item["sort"]["S"])
        if patient_id not in ids:  # two words of one name may start alike
            ids.append(patient_id)
    found = {int(item.id): _to_patient(item) for item in _read_records(ids) if item is not None}
    items = [found[i] for i in ids if i in found and query.matches(found[i])]
    return Page(items=items, next=encode_cursor("patient-search", results.page_iter.last_evaluated_key))


def _still_as_read(patient: Patient):
    """The condition that a record's indexed fields (name, phone, date of birth) are as read."""
    def same(attribute, value):
        return attribute.does_not_exist() if value is None else attribute == value

    return (PatientModel.id.exists() & (PatientModel.name == patient.name) & same(PatientModel.phone, patient.phone)
            & same(PatientModel.date_of_birth, iso_date(patient.date_of_birth)))


def _missing_tokens(records: list[Patient]) -> dict[int, set[tuple[str, str]]]:
    """The index items each record should have and has not (READ_CHUNK per TransactGetItems)."""
    wanted = [(record.id, token) for record in records for token in sorted(patient_search.tokens(record))]
    found = _read_chunked([(PatientSearchModel, key, sort) for _, (key, sort) in wanted])
    missing: dict[int, set[tuple[str, str]]] = {}
    for (patient_id, token), item in zip(wanted, found, strict=True):
        if item is None:
            missing.setdefault(patient_id, set()).add(token)
    return missing


def index_batch(after_id: int | None, limit: int) -> tuple[int, int, int | None]:
    """One batch of the search index's backfill, for records written before the index existed.

    Reads up to `limit` records after `after_id` in id order (one Query of the kind index) and their
    index items (patient_search.tokens, the rule the writes use), then writes each record's missing
    items in one transaction that checks the record is still as read (an edit in between: read
    again and redone). Records already indexed are only read, so running it again writes nothing.
    Returns (records read, records given index items, the last id read or None when none was left).
    """
    condition = PatientModel.id > after_id if after_id is not None else None
    records = [_to_patient(item) for item in PatientModel.by_kind.query(KIND, condition, limit=limit)]
    missing = _missing_tokens(records)
    indexed = 0
    for record in records:
        tokens = missing.get(record.id)
        for attempt in range(3):
            if not tokens:
                break
            try:
                with Transaction() as tx:
                    tx.check("patient", PatientModel, record.id, _still_as_read(record))
                    patient_search.put_tokens(tx, record, only=tokens)
                indexed += 1
                break
            except ConditionFailed:
                if attempt == 2:
                    raise
                current = get(record.id)  # edited (or removed) meanwhile: as it is now
                tokens = _missing_tokens([current]).get(current.id) if current is not None else None
                record = current or record
    return len(records), indexed, records[-1].id if records else None
