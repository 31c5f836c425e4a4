"""The index the desk finds patients by: one item per word of a patient's name (folded: no case, no
accents), one for the phone's digits and one for the date of birth, written in the same transaction
as the patient record. A word is found by its prefix with one Query: the item's key is the word's
first character, its sort key the word then the patient's id, so `begins_with` on the sort key reads
only the words that start so. Emails are found by the patients' own email claims (storage.uniques)."""
from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.domain.entities import Patient
from chalicelib.domain.search import name_words, phone_digits
from chalicelib.domain.values import iso_date
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import Transaction

ID_WIDTH = 12


@register
class PatientSearchModel(StoredModel):
    class Meta:
        table_suffix = "patient-search"

    key = UnicodeAttribute(hash_key=True)  # "name#<first character>", "phone#<digits>", "dob#<date>"
    sort = UnicodeAttribute(range_key=True)  # "<word>#<id>" for names, "<id>" otherwise


def _id(patient_id: int) -> str:
    return f"{patient_id:0{ID_WIDTH}d}"


def id_of(sort: str) -> int:
    return int(sort.rsplit("#", 1)[-1])


def name_key(word: str) -> str:
    return f"name#{word[0]}"


def name_sort(word: str, patient_id: int | None = None) -> str:
    return f"{word}#" + (_id(patient_id) if patient_id is not None else "")


def phone_key(digits: str) -> str:
    return f"phone#{digits}"


def dob_key(born: str) -> str:
    return f"dob#{born}"


def tokens(patient: Patient) -> set[tuple[str, str]]:
    """The (key, sort) items that find this record."""
    items = {(name_key(word), name_sort(word, patient.id)) for word in name_words(patient.name)}
    digits = phone_digits(patient.phone)
    if digits:
        items.add((phone_key(digits), _id(patient.id)))
    if patient.date_of_birth is not None:
        items.add((dob_key(iso_date(patient.date_of_birth)), _id(patient.id)))
    return items


def put_tokens(tx: Transaction, patient: Patient, only: set[tuple[str, str]] | None = None) -> None:
    """Index a new record, in the transaction that writes it (`only`: those of its items alone, the
    ones a record written before the index existed still lacks: storage.patients.index_batch)."""
    for n, (key, sort) in enumerate(sorted(tokens(patient) if only is None else tokens(patient) & only)):
        tx.put(f"search-{n}", PatientSearchModel(key, sort))


def move_tokens(tx: Transaction, before: Patient, after: Patient) -> None:
    """Keep the index in step with an edit, in the transaction that writes it: the items only the old
    record had go, the ones only the new one has come."""
    old, new = tokens(before), tokens(after)
    for n, (key, sort) in enumerate(sorted(old - new)):
        tx.delete(f"search-old-{n}", PatientSearchModel(key, sort))
    for n, (key, sort) in enumerate(sorted(new - old)):
        tx.put(f"search-{n}", PatientSearchModel(key, sort))
