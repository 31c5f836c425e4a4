"""The app passes Chalice's own checks, the ones `chalice local`, `deploy` and `package` run."""
from __future__ import annotations

from pathlib import Path

import pytest
from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_configuration

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_chalice_validates_routes_and_configuration(stage):
    config = CLIFactory(str(PROJECT_DIR)).create_config_obj(chalice_stage_name=stage)
    validate_configuration(config)
    routes = config.chalice_app.routes
    assert "/register" in routes and "/auth/login" in routes
    assert all(path == "/" or not path.endswith("/") for path in routes)


def test_app_import_makes_no_aws_call(monkeypatch):
    """Importing the app (a Lambda cold start) must not touch AWS or read settings."""
    import importlib
    import sys

    import botocore.endpoint

    calls = []
    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request",
                        lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError("AWS call")))
    for name in [m for m in sys.modules if m == "app" or m.startswith("chalicelib")]:
        monkeypatch.delitem(sys.modules, name)
    importlib.import_module("app")
    assert calls == []


def test_every_path_answers_every_method_so_api_gateway_can_say_405():
    """API Gateway treats a method a path lacks like an unknown path; each path defines them all."""
    from app import app
    from chalicelib.api.http import METHODS

    for path, entries in app.routes.items():
        assert set(METHODS) <= set(entries), path


def test_a_wrong_method_is_a_json_405_with_allow(api):
    r = api.call("DELETE", "/auth/login", {})
    assert r.status == 405 and r.body == {"Code": "MethodNotAllowedError", "Message": "Unsupported method: DELETE"}
    assert r.headers["Allow"] == "POST"
    r = api.call("POST", "/users/5", {})
    assert r.status == 405 and r.headers["Allow"] == "DELETE, GET, PATCH, PUT"
