"""The one-off command that creates a deployed stage's first admin, against moto."""
from __future__ import annotations

import io
import os

import boto3
import pytest
from moto import mock_aws

from chalicelib import storage
from chalicelib.domain.security import verify_password
from devtools import create_admin

PASSWORD = "first-admin-Pa55word"
PROD_PREFIX = "dqs-prod-"


def _items(prefix: str) -> dict[str, list]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return {model.Meta.table_suffix: client.scan(TableName=prefix + model.Meta.table_suffix)["Items"]
            for model in storage.MODELS}


@pytest.fixture
def prod_tables(monkeypatch):
    """The prod stage's tables, as the deployed stack has them, and the dev stage's."""
    with mock_aws():
        with monkeypatch.context() as m:
            m.setenv("DQS_TABLE_PREFIX", PROD_PREFIX)
            storage.bind()
            storage.create_tables()
        storage.bind()
        storage.create_tables()  # dev tables: must stay untouched
        yield boto3.client("dynamodb", region_name="us-east-1")
    storage.bind()


def run(monkeypatch, *args, stdin=PASSWORD + "\n"):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return create_admin.main(["--region", "us-east-1", "--password-stdin", *args])


def test_creates_the_admin_in_the_stage_tables_and_nothing_else(prod_tables, monkeypatch, capsys):
    tables_before = prod_tables.list_tables()["TableNames"]
    code = run(monkeypatch, "--stage", "prod", "--username", "chief", "--email", "Chief@Clinic.example")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Created admin 'chief'" in out and "dqs-prod-" in out
    assert PASSWORD not in out + err
    assert prod_tables.list_tables()["TableNames"] == tables_before

    items = _items(PROD_PREFIX)
    assert len(items["users"]) == 1
    user = items["users"][0]
    assert user["username"]["S"] == "chief" and user["role"]["S"] == "admin"
    assert user["email"]["S"] == "Chief@clinic.example"
    assert verify_password(user["password_hash"]["S"], PASSWORD)
    assert PASSWORD not in str(items)
    assert sorted(i["key"]["S"] for i in items["uniques"]) == ["user-email#chief@clinic.example",
                                                              "user-username#chief"]
    assert sorted(i["name"]["S"] for i in items["counters"]) == ["active-admins", "id#user"]
    assert all(not rows for suffix, rows in items.items() if suffix not in ("users", "uniques", "counters"))
    assert all(not rows for rows in _items("dqs-dev-").values())
    # The test process's own settings are back as they were.
    assert os.environ["DQS_TABLE_PREFIX"] == "dqs-dev-"


def test_the_created_admin_can_log_in_to_the_stage(prod_tables, monkeypatch):
    assert run(monkeypatch, "--stage", "prod", "--username", "chief", "--email", "chief@clinic.example") == 0
    from chalicelib.domain import accounts

    # The command's explicit binding sticks: nothing re-binds to the dev tables behind it,
    # and the process's environment was never changed for it.
    assert os.environ["DQS_TABLE_PREFIX"] == "dqs-dev-"
    login = accounts.login("chief", PASSWORD)
    assert login.user.role == "admin"


def test_running_it_again_changes_nothing(prod_tables, monkeypatch, capsys):
    assert run(monkeypatch, "--stage", "prod", "--username", "chief", "--email", "chief@clinic.example") == 0
    before = _items(PROD_PREFIX)
    capsys.readouterr()
    code = run(monkeypatch, "--stage", "prod", "--username", "Chief", "--email", "other@clinic.example",
               stdin="another-password-1\n")
    out, _ = capsys.readouterr()
    assert code == 0 and "already exists" in out
    assert _items(PROD_PREFIX) == before


def test_prompts_twice_and_refuses_different_passwords(prod_tables, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code = create_admin.main(["--stage", "prod", "--region", "us-east-1", "--username", "chief",
                              "--email", "chief@clinic.example"])
    out, err = capsys.readouterr()
    assert code == 1 and "differ" in err
    assert PASSWORD not in out + err
    assert not _items(PROD_PREFIX)["users"]


@pytest.mark.parametrize("username,email,password,field", [
    ("chief", "chief@clinic.example", "sh0rt", "password"),
    ("chief", "chief@clinic.example", "12345678901", "password"),
    ("chief", "not-an-email", PASSWORD, "email"),
    ("chief admin", "chief@clinic.example", PASSWORD, "username"),
    ("chief-admin", "chief@clinic.example", "chief-admin", "password"),
])
def test_refuses_bad_input_before_touching_dynamodb(monkeypatch, capsys, username, email, password, field):
    with mock_aws():  # no tables: reaching DynamoDB would fail with another message
        code = run(monkeypatch, "--stage", "prod", "--username", username, "--email", email, stdin=password + "\n")
    out, err = capsys.readouterr()
    assert code == 1 and f"{field}:" in err and "do not exist" not in err
    assert password not in out + err or password == username


def test_a_stage_without_tables_is_refused_clearly(monkeypatch, capsys):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        code = run(monkeypatch, "--stage", "prod", "--username", "chief", "--email", "chief@clinic.example")
        out, err = capsys.readouterr()
        assert code == 1
        assert "do not exist" in err and "Traceback" not in err
        assert client.list_tables()["TableNames"] == []
    storage.bind()


def test_the_stage_settings_name_its_tables_region_and_endpoint():
    settings = create_admin.stage_settings("prod", "eu-west-1", "http://127.0.0.1:4566")
    assert (settings.table_prefix, settings.region, settings.dynamodb_endpoint) == (
        PROD_PREFIX, "eu-west-1", "http://127.0.0.1:4566")
    assert settings.table_name("users") == "dqs-prod-users"
    assert create_admin.stage_settings("dev", "us-east-1").table_prefix == "dqs-dev-"


def test_unknown_stage_is_refused(monkeypatch, capsys):
    code = run(monkeypatch, "--stage", "staging", "--username", "chief", "--email", "chief@clinic.example")
    assert code == 1 and "No stage 'staging'" in capsys.readouterr().err
