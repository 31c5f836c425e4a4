"""The admin's filters of GET /users/: username and email by prefix without regard to case, role,
is_active; combined; one Query a page however many accounts."""
from __future__ import annotations

import pytest

from tests.support.dynamodb import recording as dynamodb_calls


@pytest.fixture
def accounts(api, people):
    admin = people.admin().token
    made = {}
    for username, role in [("MaryJane", "patient"), ("maria.lopez", "staff"), ("mark", "doctor"), ("zed", "patient")]:
        made[username] = people.make(role, username=username)
    assert api.patch(f"/users/{made['mark'].id}/", {"is_active": False}, token=admin).status == 200
    return admin, made


def _names(api, admin, query):
    names, cursor = [], None
    while True:
        r = api.get(f"/users/?{query}" + (f"&cursor={cursor}" if cursor else ""), token=admin)
        assert r.status == 200, (query, r)
        names += [u["username"] for u in r.body["results"]]
        cursor = r.body["next"]
        if cursor is None:
            return sorted(names)


def test_username_and_email_match_by_prefix_without_case(api, accounts):
    admin, _ = accounts
    assert _names(api, admin, "username=mar") == ["MaryJane", "maria.lopez", "mark"]
    assert _names(api, admin, "username=MARY") == ["MaryJane"]
    assert _names(api, admin, "username=arY") == []
    assert _names(api, admin, "email=MARIA.") == ["maria.lopez"]
    assert _names(api, admin, "email=zed@clinic") == ["zed"]


def test_role_and_is_active_combine_with_the_prefixes(api, accounts):
    admin, _ = accounts
    assert _names(api, admin, "role=patient") == ["MaryJane", "zed"]
    assert _names(api, admin, "is_active=false") == ["mark"]
    assert _names(api, admin, "username=mar&is_active=true") == ["MaryJane", "maria.lopez"]
    assert _names(api, admin, "username=mar&role=staff") == ["maria.lopez"]
    assert _names(api, admin, "username=mar&email=mary") == ["MaryJane"]
    assert _names(api, admin, "role=admin") == ["admin"]


def test_a_renamed_account_is_found_by_its_new_name(api, accounts):
    admin, made = accounts
    assert api.patch(f"/users/{made['zed'].id}/", {"username": "Zelda", "email": "zelda@clinic.test"},
                     token=admin).status == 200
    assert _names(api, admin, "username=zel") == ["Zelda"] and _names(api, admin, "username=zed") == []
    assert _names(api, admin, "email=zelda") == ["Zelda"]


def test_bad_filters_are_400_and_only_admins_filter(api, as_role, accounts):
    admin, made = accounts
    for query, field in [("role=king", "role"), ("is_active=yes", "is_active"), ("username=" + "a" * 151, "username")]:
        r = api.get(f"/users/?{query}", token=admin)
        assert r.status == 400 and field in r.body["Fields"], (query, r)
    assert api.get("/users/?username=mar", token=made["maria.lopez"].token).status == 403
    assert api.get("/users/?username=mar").status == 401


def test_a_filtered_page_is_one_query(api, accounts):
    admin, _ = accounts
    for query in ("username=mar", "email=m", "role=patient&is_active=true"):
        with dynamodb_calls() as calls:
            assert api.get(f"/users/?{query}&limit=2", token=admin).status == 200
        assert calls == ["GetItem", "Query"], (query, calls)
