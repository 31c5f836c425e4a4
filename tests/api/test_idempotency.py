"""Idempotency-Key on the writes that matter: done once, replayed, refused with another body."""
from __future__ import annotations

import pytest

from chalicelib.domain import clock, departments, idempotency
from chalicelib.domain.stores import stores
from tests.support.dynamodb import recording as dynamodb_calls


def join(api, person, body=None, key=None):
    headers = {"Idempotency-Key": key} if key is not None else None
    return api.post("/queues/join_queue", body or {}, token=person.token, headers=headers)


def test_a_retried_join_gets_the_first_answer_again_and_changes_nothing(api, people, as_role):
    patient, staff = people.make("patient"), as_role("staff")
    first = join(api, patient, key="retry-1")
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers
    again = join(api, patient, key="retry-1")
    assert again.status == 201 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = api.get("/queues", token=staff.token).body["results"]
    assert [e["id"] for e in listed] == [first.body["id"]]
    # Spacing and key order do not make another request.
    same = api.call("POST", "/queues/join_queue", raw=b' {  } ', token=patient.token,
                    headers={"Idempotency-Key": "retry-1"})
    assert same.status == 201 and same.body == first.body


def test_without_a_key_a_second_join_is_refused_as_before(api, people):
    patient = people.make("patient")
    assert join(api, patient).status == 201
    assert join(api, patient).status in (400, 409)


def test_the_same_key_with_another_body_or_path_is_422_naming_the_header(api, people, as_role):
    patient = people.make("patient")
    department = departments.ensure_department("Cardiology")
    assert join(api, patient, key="k").status == 201
    other = join(api, patient, {"department": department}, key="k")
    assert other.status == 422 and "Idempotency-Key" in other.body["Fields"]
    staff = as_role("staff")
    assert join(api, staff, {"patient_id": patient.record["patient_id"]}, key="k").status != 422  # per caller


def test_an_answered_error_is_replayed_too(api, people, as_role):
    staff = as_role("staff")
    missing = join(api, staff, {"patient_id": 999}, key="missing")
    assert missing.status == 404
    again = join(api, staff, {"patient_id": 999}, key="missing")
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (404, missing.body, "true")


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "new\nline"])
def test_a_bad_key_is_400_naming_the_header(api, people, key):
    patient = people.make("patient")
    response = api.call("POST", "/queues/join_queue", raw=b"{}", token=patient.token,
                        headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert response.status == 400 and "Idempotency-Key" in response.body["Fields"]


def test_a_key_still_running_is_409_and_a_stale_claim_is_taken_over(api, people, monkeypatch):
    patient = people.make("patient")
    fingerprint = idempotency.fingerprint("POST", '/queues/join_queue {}', b"{}")
    now = clock.now().timestamp()
    scope = f"user#{patient.id}#running"
    assert stores().idempotency_keys.claim(scope, fingerprint, "other", now, now - 15, now + 86400) is None
    running = join(api, patient, key="running")
    assert running.status == 409 and "Idempotency-Key" in running.body["Fields"]
    assert api.get("/queues", token=patient.token).body["results"] == []
    # 16 s later the first request is past the API's timeout: it died; the retry runs.
    later = clock.now().timestamp() + 16
    monkeypatch.setattr(clock, "now", lambda: clock.datetime.fromtimestamp(later, clock.UTC))
    taken = join(api, patient, key="running")
    assert taken.status == 201 and "Idempotent-Replayed" not in taken.headers
    assert join(api, patient, key="running").headers["Idempotent-Replayed"] == "true"


def test_every_write_the_contract_names_takes_a_key(api, people, as_role):
    staff, patient = as_role("staff"), people.make("patient")
    created = api.post("/patients", {"name": "Ada Byron"},
                       token=staff.token, headers={"Idempotency-Key": "p1"})
    assert created.status == 201, created
    again = api.post("/patients", {"name": "Ada Byron"},
                     token=staff.token, headers={"Idempotency-Key": "p1"})
    assert again.body["id"] == created.body["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert join(api, patient).status == 201
    called = api.post("/queues/call_next", {}, token=staff.token, headers={"Idempotency-Key": "c1"})
    assert called.status == 200 and called.body["patient"] == patient.record["patient_id"]
    recalled = api.post("/queues/call_next", {}, token=staff.token, headers={"Idempotency-Key": "c1"})
    assert recalled.body == called.body and recalled.headers["Idempotent-Replayed"] == "true"
    assert api.post("/queues/call_next", {}, token=staff.token).body == {"message": "The queue is empty."}


def test_the_join_costs_two_more_calls_with_a_key_and_a_replay_changes_nothing(api, people):
    patients = [people.make("patient") for _ in range(3)]
    assert join(api, patients[2]).status == 201  # the day's first join reserves ids: not measured
    with dynamodb_calls() as plain:
        assert join(api, patients[0]).status == 201
    with dynamodb_calls() as keyed:
        assert join(api, patients[1], key="cost").status == 201
    with dynamodb_calls() as replayed:
        assert join(api, patients[1], key="cost").status == 201
    assert keyed == [*plain[:1], "PutItem", *plain[1:], "UpdateItem"]
    assert replayed == [plain[0], "PutItem", "GetItem"]
    print("join calls without a key:", plain, "with a key:", keyed, "replayed:", replayed)
