"""Helpers for the queue's tests: callers and patients made directly in storage (no HTTP, no hashing).
They live in devtools/seed.py, which the benchmark uses too."""
from devtools.seed import (
    add_patients,
    admin,
    bulk_patients,
    bulk_put,
    caller,
    desk,
    seed_entries,
    waiting_entries,
    walk_in,
)

__all__ = ["add_patients", "admin", "bulk_patients", "bulk_put", "caller", "desk", "seed_entries",
           "waiting_entries", "walk_in"]
