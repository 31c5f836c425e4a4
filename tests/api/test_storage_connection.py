"""Every table and every transaction goes through one botocore client: a new Lambda instance
loads the DynamoDB API description once and opens one pool of connections, however many
tables its first requests touch."""
from __future__ import annotations

import botocore.session
import pytest

from chalicelib import storage
from chalicelib.storage import binding


@pytest.fixture
def clients_created(aws, monkeypatch):
    """A fresh binding and no table connection yet (as a new instance has; the tables exist),
    and the DynamoDB clients created from here on."""
    created = []
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    monkeypatch.setattr(binding, "_bound", None)
    monkeypatch.setattr(binding, "_connection", None)
    monkeypatch.setattr(binding, "_connection_made_with", None)
    for model in storage.MODELS:
        monkeypatch.setattr(model, "_connection", None)
    storage.bind()
    return created


def test_a_day_at_the_desk_creates_one_client(api, people, clients_created):
    admin = people.admin()
    staff = people.make("staff")  # users, claims, counters, patients: registering and logging in
    patient = people.make("patient")
    department = api.post("/departments", {"name": "Cardiology"}, token=admin.token).body["id"]
    point = api.post("/service-points", {"name": "Desk 1", "kind": "desk", "department": department},
                     token=admin.token)
    assert point.status == 201, point
    joined = api.post("/queues/join_queue", {"department": department}, token=patient.token)  # a transaction
    assert joined.status == 201, joined
    called = api.post("/queues/call_next", {"department": department, "service_point": point.body["id"]},
                      token=staff.token)
    assert called.status == 200, called
    assert api.get(f"/queues/board?department={department}").status == 200
    assert api.get("/appointments", token=staff.token).status == 200
    assert clients_created == ["dynamodb"]


def test_every_model_and_the_transactions_share_the_connection(aws):
    shared = binding.connection()
    assert {id(model._get_connection().connection) for model in storage.MODELS} == {id(shared)}


def test_settings_that_do_not_make_the_client_keep_it(aws, monkeypatch):
    """Other table names (another stage) bind the models anew but keep the client; another read
    timeout makes a new one."""
    storage.bind()
    shared = binding.connection()
    monkeypatch.setenv("DQS_TABLE_PREFIX", "dqs-elsewhere-")
    storage.bind()
    assert binding.connection() is shared
    assert storage.MODELS[0].Meta.table_name.startswith("dqs-elsewhere-")
    monkeypatch.setenv("DQS_DYNAMODB_READ_TIMEOUT", "7")
    storage.bind()
    assert binding.connection() is not shared
