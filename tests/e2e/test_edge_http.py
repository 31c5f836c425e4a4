"""The edge's traps over real HTTP, through the local server as `make run` starts it: a base URL
ending in a slash joined to a path starting with one, and a form-encoded body."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support.local_process import LocalServer, server_env
from tests.support.local_process import request as call


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = LocalServer(server_env(DQS_ADMIN_PASSWORD="edge-password-1",
                                    DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving()
    yield served
    served.stop()


def test_a_doubled_slash_after_the_base_url_routes_as_one(server):
    token = server.login("admin", "edge-password-1")
    status, listed, _ = call("GET", f"{server.base}//patients/", token=token)
    assert status == 200 and set(listed) == {"results", "next"}, listed  # not the API's index
    status, user, _ = call("POST", f"{server.base}//register/", {
        "username": "doubled", "email": "doubled@clinic.test", "password": "a-long-password",
        "date_of_birth": "1990-01-15"})
    assert status == 201 and user["username"] == "doubled", user
    status, index, _ = call("GET", f"{server.base}/")
    assert status == 200 and index["name"] == "Digital Queue System API"


def _patient(server, username: str) -> int:
    status, user, _ = call("POST", f"{server.base}/register/", {
        "username": username, "email": f"{username}@clinic.test", "password": "a-long-password",
        "date_of_birth": "1990-01-15"})
    assert status == 201, user
    return user["patient_id"]


def test_repeated_slashes_inside_a_path_are_never_the_index(server):
    token = server.login("admin", "edge-password-1")
    patient = _patient(server, "inside1")
    status, body, _ = call("GET", f"{server.base}/patients//{patient}/", token=token)
    # The record the path names once collapsed, or (until the local server collapses paths
    # before matching) the JSON 404 of a path that names no route.
    assert (status, body.get("id")) == (200, patient) or (status, body["Code"]) == (404, "NotFoundError"), body


def test_repeated_slashes_inside_a_path_route_as_one(server):
    token = server.login("admin", "edge-password-1")
    patient = _patient(server, "inside2")
    status, body, _ = call("GET", f"{server.base}/patients//{patient}/", token=token)
    assert status == 200 and body["id"] == patient, body


def test_a_form_encoded_body_is_told_to_send_json(server):
    sent = urllib.request.Request(f"{server.base}/auth/login/", data=b"username=admin&password=x", method="POST",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(sent, timeout=30)
    assert answer.value.code == 415
    body = json.loads(answer.value.read())
    assert "Send the body as JSON, with the header Content-Type: application/json." in body["Message"], body
