"""The app passes Chalice's own checks, the ones `chalice local`, `deploy` and `package` run."""
from __future__ import annotations

from pathlib import Path

import pytest
from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_configuration

PROJECT_DIR = Path(__file__).resolve().parent.parent


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
