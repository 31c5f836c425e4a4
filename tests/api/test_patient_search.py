"""Finding a patient at the desk: name word prefixes without case or accents, exact email, phone on digits,
date of birth; filters combine; a patient sees only their own record; the index follows every write."""
from __future__ import annotations

import pytest


def _names(r):
    assert r.status == 200, r
    return {p["name"] for p in r.body["results"]}


@pytest.fixture
def desk(api, people):
    staff = people.make("staff")
    made = {}
    for name, email, phone, born in [("María López", "maria@clinic.test", "+1 (555) 010-0200", "1980-03-04"),
                                     ("Mario Rossi", None, "555-0101", "1975-01-01"),
                                     ("Ana Marín", "ana@clinic.test", None, "1980-03-04"),
                                     ("Zoë Ölund", None, "+44 20 7946 0000", None)]:
        r = api.post("/patients/", {"name": name, "email": email, "phone": phone, "date_of_birth": born},
                     token=staff.token)
        assert r.status == 201, r
        made[name] = r.body["id"]
    return staff, made


def test_search_matches_word_prefixes_without_case_or_accents(api, desk):
    staff, _ = desk
    get = lambda q: _names(api.get(f"/patients/?{q}", token=staff.token))  # noqa: E731
    assert get("search=mar") == {"Ana Marín", "María López", "Mario Rossi"}
    assert get("search=MARIA") == {"María López"}
    assert get("search=lop") == {"María López"}
    assert get("search=l%C3%B3pez") == {"María López"}  # "lópez"
    assert get("search=zoe") == get("search=olund") == {"Zoë Ölund"}
    assert get("search=ar") == set()  # the start of a word only
    assert get("search=mar%20ana") == {"Ana Marín"}  # every word must match
    assert get("search=x") == set()


def test_email_exact_phone_digits_and_date_of_birth(api, desk):
    staff, _ = desk
    get = lambda q: _names(api.get(f"/patients/?{q}", token=staff.token))  # noqa: E731
    assert get("email=MARIA@Clinic.Test") == {"María López"}
    assert get("email=mari@clinic.test") == set()
    assert get("phone=15550100200") == {"María López"}
    assert get("phone=%2B1%20555%20010%200200") == {"María López"}
    assert get("phone=5550100") == set()  # the whole number
    assert get("date_of_birth=1980-03-04") == {"Ana Marín", "María López"}
    assert get("search=mar&date_of_birth=1980-03-04") == {"Ana Marín", "María López"}
    assert get("search=mar&date_of_birth=1975-01-01") == {"Mario Rossi"}
    assert get("email=ana@clinic.test&search=mar") == {"Ana Marín"}
    assert get("email=ana@clinic.test&search=lop") == set()
    assert get("phone=5550101&search=mario") == {"Mario Rossi"}


def test_bad_filters_are_400_naming_them(api, desk):
    staff, _ = desk
    for query, field in [("email=nope", "email"), ("phone=abc", "phone"), ("date_of_birth=1980-13-01", "date_of_birth"),
                         ("search=" + "a" * 201, "search"), ("colour=red", "colour")]:
        r = api.get(f"/patients/?{query}", token=staff.token)
        assert r.status == 400 and field in r.body["Fields"], (query, r)


@pytest.mark.parametrize("role, status", [("anonymous", 401), ("doctor", 200), ("staff", 200), ("admin", 200)])
def test_who_may_search(api, as_role, desk, role, status):
    person = as_role(role)
    r = api.get("/patients/?search=mar", token=person.token if person else None)
    assert r.status == status
    if status == 200:
        assert len(r.body["results"]) == 3


def test_a_patient_finds_only_their_own_record(api, people, desk):
    me = people.make("patient", first_name="Marta", last_name="Díaz")
    assert _names(api.get("/patients/?search=mar", token=me.token)) == {"Marta Díaz"}
    assert _names(api.get("/patients/?search=diaz", token=me.token)) == {"Marta Díaz"}
    assert _names(api.get("/patients/?search=lop", token=me.token)) == set()
    assert _names(api.get("/patients/?email=maria@clinic.test", token=me.token)) == set()


def test_the_index_follows_registration_and_edits(api, people, desk):
    staff, made = desk
    people.make("patient", first_name="Renée", last_name="Dupont")
    assert _names(api.get("/patients/?search=renee", token=staff.token)) == {"Renée Dupont"}
    pid = made["Mario Rossi"]
    r = api.patch(f"/patients/{pid}/", {"name": "Luigi Verdi", "phone": "555 0202", "date_of_birth": None},
                  token=staff.token)
    assert r.status == 200
    get = lambda q: _names(api.get(f"/patients/?{q}", token=staff.token))  # noqa: E731
    assert get("search=mario") == set() and get("search=rossi") == set() and get("phone=5550101") == set()
    assert get("date_of_birth=1975-01-01") == set()
    assert get("search=luig") == get("phone=5550202") == {"Luigi Verdi"}
    assert get("search=mar") == {"Ana Marín", "María López"}


def test_search_pages_to_the_end(api, people):
    staff = people.make("staff")
    for i in range(5):
        assert api.post("/patients/", {"name": f"Paula Number{i}"}, token=staff.token).status == 201
    seen, cursor = [], None
    while True:
        r = api.get("/patients/?search=paul&limit=2" + (f"&cursor={cursor}" if cursor else ""), token=staff.token)
        assert r.status == 200 and len(r.body["results"]) <= 2
        seen += [p["name"] for p in r.body["results"]]
        cursor = r.body["next"]
        if cursor is None:
            break
    assert sorted(seen) == [f"Paula Number{i}" for i in range(5)]


def test_a_search_page_costs_the_same_at_100_and_2000_patients(api, people):
    from datetime import date

    from chalicelib.domain.entities import Patient
    from devtools.seed import bulk_people
    from tests.support.dynamodb import recording as dynamodb_calls

    staff = people.make("staff")

    def batch(first: int, n: int) -> list[Patient]:
        names = ["María López", "Mario Rossi", "Ana Marín", "Luis Díaz"]
        return [Patient(id=i, name=names[i % 4], email=None, phone=f"555-{i:05d}", date_of_birth=date(1980, 1, 1),
                        user_id=None, created_at="2024-01-01T00:00:00Z") for i in range(first, first + n)]

    def costs() -> dict:
        found = {}
        for query in ("search=mar", "search=mar%20lop", "phone=55500042", "date_of_birth=1980-01-01&search=ana",
                      "email=nobody@clinic.test"):
            with dynamodb_calls() as calls:
                r = api.get(f"/patients/?{query}&limit=20", token=staff.token)
            assert r.status == 200 and "Scan" not in calls
            found[query] = list(calls)
        return found

    bulk_people(batch(1, 100))
    few = costs()
    bulk_people(batch(101, 1900))
    many = costs()
    assert few == many
    # the caller's GetItem, then one Query of the index and one TransactGetItems of the page's records
    assert many["search=mar"] == ["GetItem", "Query", "TransactGetItems"]
    # an email: its claim and the record, when there is one (here none)
    assert many["email=nobody@clinic.test"].count("Query") == 0
