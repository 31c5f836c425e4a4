"""The embedded DynamoDB under a clinic's data: joins racing on a table that already holds
thousands of entries are answered as they were stored (devtools/moto_transactions.py)."""
from __future__ import annotations

import datetime
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3

from chalicelib.domain import clock
from chalicelib.storage.queue_entries import QueueEntryModel
from tests.conftest import ADMIN_CREDENTIALS
from tests.support.queue import add_patients, seed_entries


def _stored_today(endpoint: str) -> dict[int, list[dict]]:
    """Today's stored entries by patient, read straight from the table."""
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    today = clock.today().isoformat()
    by_patient: dict[int, list[dict]] = {}
    for page in client.get_paginator("scan").paginate(TableName=QueueEntryModel.Meta.table_name):
        for item in page["Items"]:
            if item.get("queue_date", {}).get("S") == today:
                by_patient.setdefault(int(item["patient"]["N"]), []).append(item)
    return by_patient


def test_200_joins_from_16_threads_on_5000_stored_entries_are_answered_as_stored(live_server, dynamodb_server):
    day = clock.today() - datetime.timedelta(days=1)
    for offset in range(10):  # ten earlier days of 500 entries each
        seed_entries(500, "served", day=day - datetime.timedelta(days=offset))
    patient_ids = add_patients(200)
    admin = live_server.login(*ADMIN_CREDENTIALS)
    made = live_server.call("POST", "/register", {"username": "desk", "email": "desk@clinic.test",
                                                  "password": "desk-password-1", "role": "staff"}, token=admin)
    assert made.status == 201, made
    staff = live_server.login("desk", "desk-password-1")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(
            lambda pid: live_server.call("POST", "/queues/join_queue", {"patient_id": pid}, token=staff),
            patient_ids))
    seconds = time.monotonic() - started

    stored = _stored_today(dynamodb_server)
    answers = Counter(reply.status for reply in replies)
    wrong = []
    for patient_id, reply in zip(patient_ids, replies, strict=True):
        entries = stored.get(patient_id, [])
        if reply.status == 201:
            if [int(e["id"]["N"]) for e in entries] != [reply.body["id"]]:
                wrong.append((patient_id, reply.status, "answered 201 but stored", len(entries)))
        elif entries:
            wrong.append((patient_id, reply.status, "stored but answered", reply.body))
    assert not wrong, (answers, f"{len(wrong)} answers differ from what is stored", wrong[:5])
    assert set(stored) <= set(patient_ids)
    # Nothing made the joins fail: every one of them was stored, with its own token number.
    assert answers == {201: 200}, answers
    assert sorted(reply.body["token_number"] for reply in replies) == list(range(1, 201))
    print(f"200 joins: {seconds:.1f} s; answers {dict(answers)}")
    assert seconds < 120, seconds
