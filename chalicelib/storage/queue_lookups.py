"""The records of other aggregates the queue reads: a department (does it exist, is it active,
its name) and a patient (their contact for messages). One GetItem each."""
from __future__ import annotations

from chalicelib.storage.departments import get as department  # noqa: F401 (the store's functions)
from chalicelib.storage.patients import get as patient  # noqa: F401
