"""Patient search cost: the DynamoDB calls of `GET /patients/?search=` (and the other filters) at 100
and at 10,000 patients. A page should cost the same whatever the number of patients.

  .venv/bin/python -m bench.patient_search [--sizes 100 10000]

Patients are batch-written with their search index items (devtools.seed.bulk_people); names are drawn
from a fixed list of first and last names, so a search term matches many records at every size.
"""
from __future__ import annotations

import argparse
import random
import sys
from datetime import date
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import prepare_environment  # noqa: E402

FIRST = ["María", "Mario", "Ana", "José", "Lucía", "Zoë", "Renée", "Pedro", "Marta", "Luis"]
LAST = ["López", "Rossi", "Marín", "García", "Ölund", "Dupont", "Smith", "Nguyen", "Martínez", "Díaz"]
QUERIES = ["search=mar", "search=lopez", "search=mar%20lop", "phone=5550100042", "date_of_birth=1980-01-15",
           "email=patient42@clinic.test", "search=mar&date_of_birth=1980-01-15"]


def people(first_id: int, n: int):
    from chalicelib.domain.entities import Patient

    rng = random.Random(first_id)
    for i in range(first_id, first_id + n):
        yield Patient(id=i, name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", email=f"patient{i}@clinic.test",
                      phone=f"555-010-{i:04d}", date_of_birth=date(1980, 1, 1 + i % 28), user_id=None,
                      created_at="2024-01-01T00:00:00Z")


def measure(transport, sizes: list[int]) -> dict[int, dict[str, tuple[int, int]]]:
    """{size: {query: (calls, results)}} for the first page (limit 50) of each query."""
    from chalicelib.storage.patients import email_key
    from chalicelib.storage.transactions import Transaction
    from chalicelib.storage.uniques import put_unique
    from devtools.seed import bulk_people

    admin = transport.login("admin", "admin-password-1")["token"]
    transport.ok("POST", "/register", {"username": "searchdesk", "email": "searchdesk@clinic.test",
                                       "password": "desk-password-1", "role": "staff"}, token=admin)
    token = transport.login("searchdesk", "desk-password-1")["token"]
    figures: dict[int, dict[str, tuple[int, int]]] = {}
    have = 0
    for size in sorted(sizes):
        batch = list(people(have + 1, size - have))
        bulk_people(batch)
        if have == 0:  # the email claim of the record the email filter looks for
            with Transaction() as tx:
                put_unique(tx, "patient-email", email_key("patient42@clinic.test"), 42)
        have = size
        figures[size] = {}
        for query in QUERIES:
            transport.call("GET", f"/patients/?{query}", token=token)  # warm
            reply = transport.call("GET", f"/patients/?{query}", token=token)
            if reply.status != 200:
                raise RuntimeError(f"{query}: {reply.status} {reply.body!r}")
            figures[size][query] = (len(reply.calls), len(reply.body["results"]))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    args = parser.parse_args(argv)
    prepare_environment()
    import logging

    from bench.harness import ClientTransport

    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)
    transport = ClientTransport()
    try:
        figures = measure(transport, args.sizes)
    finally:
        transport.close()
    sizes = sorted(figures)
    print("## Patient search: DynamoDB calls of one page (limit 50), as the client's request makes them\n")
    print("| query | " + " | ".join(f"{s:,} patients: calls (results)" for s in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for query in QUERIES:
        print(f"| `{query}` | " + " | ".join(f"{figures[s][query][0]} ({figures[s][query][1]})" for s in sizes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
