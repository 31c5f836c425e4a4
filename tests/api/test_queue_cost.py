"""Calling the next token, a position, today's list and the reset cost the same number of
DynamoDB calls whether 5 or 2,000 entries were already served that day."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import clock, departments
from chalicelib.domain.entities import SERVED
from tests.support.dynamodb import recording as dynamodb_calls
from tests.support.queue import seed_entries, waiting_entries


def measure(api, staff, admin, department: int, served: int) -> dict:
    seed_entries(served, SERVED, department=department)
    waiting = waiting_entries(3, department=department, first_token=served + 1)
    yesterday = clock.today() - timedelta(days=1)
    seed_entries(served, SERVED, department=department, day=yesterday)
    waiting_entries(2, department=department, day=yesterday)
    costs = {}

    with dynamodb_calls() as calls:
        response = api.get(f"/queues/{waiting[-1].id}/position", token=staff.token)
    assert response.body["people_ahead"] == 2 and response.body["token_number"] == served + 3
    costs["position"] = list(calls)

    with dynamodb_calls() as calls:
        response = api.post("/queues/call_next", {"department": department}, token=staff.token)
    assert response.body["id"] == waiting[0].id
    costs["call_next"] = list(calls)

    with dynamodb_calls() as calls:
        response = api.get(f"/queues?department={department}&limit=10", token=staff.token)
    assert [e["token_number"] for e in response.body["results"]] == list(range(1, min(10, served + 3) + 1))
    costs["list"] = list(calls)

    with dynamodb_calls() as calls:
        response = api.post("/queues/reset_queue", token=admin.token)
    assert response.body["expired"] == 2
    costs["reset"] = list(calls)
    return costs


def test_desk_and_patient_paths_do_not_grow_with_served_entries(api, people, as_role):
    staff, admin = as_role("staff"), people.admin()
    few = measure(api, staff, admin, departments.ensure_department("Few"), served=5)
    many = measure(api, staff, admin, departments.ensure_department("Many"), served=2000)
    assert few == many
    for operations in many.values():
        assert "Scan" not in operations
    # After the caller's GetItem: the entry, one COUNT Query on the waiting index and one
    # Query of the day's latest calls (the estimate); the department (is it active?), the
    # head of the waiting index, one conditional UpdateItem; the department and one page;
    # one Query of open past entries and one write per entry expired.
    assert many["position"] == ["GetItem", "GetItem", "Query", "Query"]
    assert many["call_next"] == ["GetItem", "TransactGetItems", "Query", "UpdateItem"]
    assert many["list"] == ["GetItem", "GetItem", "Query"]
    assert many["reset"] == ["GetItem", "Query", "TransactWriteItems", "TransactWriteItems"]


def test_a_call_at_a_service_point_checks_the_desk_in_its_own_write(api, people, as_role):
    """At a service point, after the caller's GetItem: the head of the queue (one Query) and one
    transaction of the entry's update with the desk's checks: 3 calls. Only an empty queue, or a
    refused check, reads the desk's records to say why."""
    staff, admin = as_role("staff"), people.admin()
    department = departments.ensure_department("Points")
    point, other = (api.post("/service-points", {"name": name, "kind": "desk", "department": department},
                             token=admin.token).body["id"] for name in ("Desk 1", "Desk 2"))
    waiting = waiting_entries(2, department=department)
    with dynamodb_calls() as calls:
        response = api.post("/queues/call_next", {"department": department, "service_point": point},
                            token=staff.token)
    assert response.body["id"] == waiting[0].id and response.body["service_point"] == point
    assert calls == ["GetItem", "Query", "TransactWriteItems"]
    assert api.patch(f"/service-points/{other}", {"is_active": False}, token=admin.token).status == 200
    with dynamodb_calls() as calls:
        response = api.post("/queues/call_next", {"department": department, "service_point": other},
                            token=staff.token)
    assert response.status == 400 and "service_point" in response.body["Fields"]
    assert calls == ["GetItem", "Query", "TransactWriteItems", "TransactGetItems"]
    api.post("/queues/call_next", {"department": department, "service_point": point}, token=staff.token)
    with dynamodb_calls() as calls:
        response = api.post("/queues/call_next", {"department": department, "service_point": point},
                            token=staff.token)
    assert response.status == 200 and "id" not in response.body
    assert calls == ["GetItem", "Query", "TransactGetItems"]
