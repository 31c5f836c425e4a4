"""How patients are found at the desk: the words of a name without case or accents, and phones as digits.

Pure functions, used by the domain to read a search and by storage to write the index it is read from.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import NamedTuple

from chalicelib.domain.entities import Patient

MAX_WORDS = 8  # the words of a name that are indexed (the first ones)
MAX_WORD = 40  # characters of a word kept in the index


def fold(text: str) -> str:
    """Text without accents and case: NFKD, combining marks dropped, casefolded ("María" -> "maria")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_words(name: str) -> list[str]:
    """The distinct folded words of a name, in order, as the index holds them."""
    words: list[str] = []
    for word in re.findall(r"\w+", fold(name)):
        word = word[:MAX_WORD]
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def phone_digits(phone: str | None) -> str | None:
    """A phone number's digits only ("+1 (555) 010-0200" -> "15550100200"), or None without any."""
    digits = re.sub(r"\D", "", phone or "")
    return digits or None


def name_matches(name: str, search: str) -> bool:
    """Whether every word of `search` starts a word of `name` (case and accents aside)."""
    words = name_words(name)
    return all(any(word.startswith(term) for word in words) for term in name_words(search))


class PatientQuery(NamedTuple):
    """What the desk looks for; any subset, combined. `search` is a name's word prefixes, `phone` any
    writing of the number (compared on digits), `email` exact without regard to case."""
    search: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None

    def any(self) -> bool:
        return any(value is not None for value in self)

    def matches(self, patient: Patient) -> bool:
        """Whether a record meets every filter given."""
        if self.search is not None and not name_matches(patient.name, self.search):
            return False
        if self.email is not None and (patient.email or "").casefold() != self.email.casefold():
            return False
        if self.phone is not None and phone_digits(patient.phone) != phone_digits(self.phone):
            return False
        return self.date_of_birth is None or patient.date_of_birth == self.date_of_birth
