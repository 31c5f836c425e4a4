"""Appointments through the API: booking, visibility, changes, slots, validation, filters, pages, cost."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.api.test_patients import count_calls, walk

SEED_APPOINTMENT = {"patient": 1, "doctor": 1, "date": "2023-12-15T10:00:00Z", "status": "scheduled"}


class Clinic:
    """Two doctors and two patients with accounts, staff, admin."""

    def __init__(self, api, people):
        self.api = api
        self.admin = people.admin()
        self.staff = people.make("staff")
        self.doc_a, self.doc_b = people.make("doctor"), people.make("doctor")
        self.pat_a, self.pat_b = people.make("patient"), people.make("patient")
        self.doctor_a, self.doctor_b = self.doc_a.record["doctor_id"], self.doc_b.record["doctor_id"]
        self.patient_a, self.patient_b = self.pat_a.record["patient_id"], self.pat_b.record["patient_id"]

    def book(self, patient, doctor, when, token=None, **extra):
        r = self.api.post("/appointments", {"patient": patient, "doctor": doctor, "date": when, **extra},
                          token=token or self.staff.token)
        assert r.status == 201, r
        return r.body


@pytest.fixture
def clinic(api, people):
    return Clinic(api, people)


@pytest.fixture
def clock_at(monkeypatch):
    """Set the clinic's clock to an instant (ISO 8601 with Z)."""
    from chalicelib.domain import clock

    def set_to(instant: str) -> None:
        at = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        monkeypatch.setattr(clock, "now", lambda: at)

    return set_to


def test_seed_payload_books_an_appointment(api, as_role, clock_at):
    admin = as_role("admin").token
    staff = as_role("staff").token
    clock_at("2023-12-01T08:30:12Z")  # the seed's appointment is in the future then
    api.post("/departments", {"name": "Cardiology"}, token=admin)
    assert api.post("/doctors", {"name": "Dr. Smith", "specialty": "Cardiology", "department": 1},
                    token=admin).body["id"] == 1
    assert api.post("/patients", {"name": "John Doe"}, token=staff).body["id"] == 1
    r = api.post("/appointments/", SEED_APPOINTMENT, token=staff)
    assert r.status == 201, r
    created_at = r.body.pop("created_at")
    # a record without email or phone: no way to remind (records2: remind and reminded_at)
    assert r.body == {"id": r.body["id"], **SEED_APPOINTMENT, "remind": None, "reminded_at": None,
                      "checked_in_entry": None}
    assert datetime.fromisoformat(created_at.replace("Z", "+00:00")).tzinfo is not None
    assert api.get(f"/appointments/{r.body['id']}/", token=staff).body["status"] == "scheduled"


def test_who_may_book(api, clinic):
    c = clinic
    body = {"patient": c.patient_a, "doctor": c.doctor_a, "date": "2030-01-01T09:00:00Z"}
    assert api.post("/appointments", body).status == 401
    assert api.post("/appointments", body, token=c.doc_a.token).status == 403
    assert api.post("/appointments", raw="{", token=c.doc_a.token).status == 403
    assert api.post("/appointments", body, token=c.staff.token).status == 201
    assert api.post("/appointments", {**body, "date": "2030-01-01T09:15:00Z"}, token=c.admin.token).status == 201

    # A patient books for themself: `patient` may be left out, or must be their own.
    own = api.post("/appointments", {"doctor": c.doctor_a, "date": "2030-01-01T10:00:00Z"}, token=c.pat_a.token)
    assert own.status == 201 and own.body["patient"] == c.patient_a and own.body["status"] == "scheduled"
    assert api.post("/appointments", {**body, "date": "2030-01-01T11:00:00Z"}, token=c.pat_a.token).status == 201
    other = api.post("/appointments", {**body, "patient": c.patient_b, "date": "2030-01-01T12:00:00Z"},
                     token=c.pat_a.token)
    assert other.status == 403
    done = api.post("/appointments", {**body, "date": "2030-01-01T13:00:00Z", "status": "completed"},
                    token=c.pat_a.token)
    assert done.status == 400 and "status" in done.body["Fields"]
    # Staff must say for whom.
    r = api.post("/appointments", {"doctor": c.doctor_a, "date": "2030-01-01T14:00:00Z"}, token=c.staff.token)
    assert r.status == 400 and r.body["Fields"] == {"patient": "This field is required."}


def test_who_sees_which_appointments(api, clinic):
    c = clinic
    a_a = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")
    a_b = c.book(c.patient_a, c.doctor_b, "2030-01-01T10:00:00Z")
    b_a = c.book(c.patient_b, c.doctor_a, "2030-01-01T11:00:00Z")
    b_b = c.book(c.patient_b, c.doctor_b, "2030-01-01T12:00:00Z")

    def ids(token, query=""):
        r = api.get(f"/appointments{query}", token=token)
        assert r.status == 200, r
        return [a["id"] for a in r.body["results"]]

    assert api.get("/appointments").status == 401
    for token in (c.staff.token, c.admin.token):
        assert ids(token) == [a_a["id"], a_b["id"], b_a["id"], b_b["id"]]
    assert ids(c.doc_a.token) == [a_a["id"], b_a["id"]]
    assert ids(c.pat_a.token) == [a_a["id"], a_b["id"]]
    assert ids(c.pat_b.token, f"?doctor={c.doctor_a}") == [b_a["id"]]
    assert ids(c.doc_b.token, f"?patient={c.patient_a}") == [a_b["id"]]
    assert api.get(f"/appointments?patient={c.patient_b}", token=c.pat_a.token).status == 403
    assert api.get(f"/appointments?doctor={c.doctor_b}", token=c.doc_a.token).status == 403

    assert api.get(f"/appointments/{a_a['id']}", token=c.pat_a.token).body == a_a
    assert api.get(f"/appointments/{b_a['id']}", token=c.pat_a.token).status == 403
    assert api.get(f"/appointments/{b_a['id']}", token=c.doc_a.token).body == b_a
    assert api.get(f"/appointments/{b_b['id']}", token=c.doc_a.token).status == 403
    assert api.get(f"/appointments/{b_b['id']}", token=c.staff.token).body == b_b
    assert api.get(f"/appointments/{b_b['id']}").status == 401
    assert api.get("/appointments/9999", token=c.staff.token).status == 404
    for bad in ("abc", "0", "-3", "1.0"):
        assert api.get(f"/appointments/{bad}", token=c.staff.token).status == 404
        assert api.patch(f"/appointments/{bad}", {"status": "canceled"}, token=c.staff.token).status == 404


def test_a_doctor_has_one_scheduled_appointment_per_instant(api, clinic):
    c = clinic
    first = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")
    # The same instant written in another zone is the same slot.
    r = api.post("/appointments", {"patient": c.patient_b, "doctor": c.doctor_a,
                                   "date": "2030-01-01T10:00:00+01:00"}, token=c.staff.token)
    assert r.status == 409
    assert r.body["Fields"] == {"date": "This doctor already has a scheduled appointment at that time."}
    # Another doctor at that instant is fine; so is a canceled record at that instant.
    c.book(c.patient_b, c.doctor_b, "2030-01-01T09:00:00Z")
    c.book(c.patient_b, c.doctor_a, "2030-01-01T09:00:00Z", status="canceled")

    # Cancelling releases the slot; reopening then needs it free again.
    assert api.patch(f"/appointments/{first['id']}", {"status": "canceled"}, token=c.staff.token).status == 200
    second = c.book(c.patient_b, c.doctor_a, "2030-01-01T09:00:00Z")
    r = api.patch(f"/appointments/{first['id']}", {"status": "scheduled"}, token=c.staff.token)
    assert r.status == 409 and "date" in r.body["Fields"]

    # Completing releases it too.
    assert api.patch(f"/appointments/{second['id']}", {"status": "completed"}, token=c.doc_a.token).status == 200
    third = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")

    # Moving the date moves the claim: the old time frees up, the new one is taken.
    moved = api.patch(f"/appointments/{third['id']}", {"date": "2030-01-01T15:30:00Z"}, token=c.staff.token)
    assert moved.status == 200 and moved.body["date"] == "2030-01-01T15:30:00Z"
    c.book(c.patient_b, c.doctor_a, "2030-01-01T09:00:00Z")
    r = api.post("/appointments", {"patient": c.patient_b, "doctor": c.doctor_a, "date": "2030-01-01T15:30:00Z"},
                 token=c.staff.token)
    assert r.status == 409 and "date" in r.body["Fields"]
    clash = api.patch(f"/appointments/{third['id']}", {"date": "2030-01-01T09:00:00Z"}, token=c.staff.token)
    assert clash.status == 409 and "date" in clash.body["Fields"]
    assert api.get(f"/appointments/{third['id']}", token=c.staff.token).body["date"] == "2030-01-01T15:30:00Z"


def test_who_may_change_an_appointment(api, clinic):
    c = clinic
    mine = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")["id"]
    theirs = c.book(c.patient_b, c.doctor_b, "2030-01-01T09:00:00Z")["id"]

    assert api.patch(f"/appointments/{mine}", {"status": "canceled"}).status == 401
    # Its patient may only cancel it.
    assert api.patch(f"/appointments/{mine}", {"status": "completed"}, token=c.pat_a.token).status == 403
    assert api.patch(f"/appointments/{mine}", {"date": "2030-01-02T09:00:00Z"}, token=c.pat_a.token).status == 403
    assert api.patch(f"/appointments/{theirs}", {"status": "canceled"}, token=c.pat_a.token).status == 403
    # Another doctor may not touch it.
    assert api.patch(f"/appointments/{mine}", {"status": "completed"}, token=c.doc_b.token).status == 403
    # Its doctor may move it, staff and admin too.
    r = api.patch(f"/appointments/{mine}", {"date": "2030-01-01T10:00:00Z"}, token=c.doc_a.token)
    assert r.status == 200 and r.body["date"] == "2030-01-01T10:00:00Z"
    assert api.patch(f"/appointments/{theirs}", {"date": "2030-01-01T11:00:00Z", "status": "scheduled"},
                     token=c.admin.token).status == 200
    r = api.patch(f"/appointments/{mine}", {"status": "canceled"}, token=c.pat_a.token)
    assert r.status == 200 and r.body["status"] == "canceled"
    assert api.patch(f"/appointments/{mine}", {"status": "canceled"}, token=c.pat_a.token).status == 200
    # A patient cannot cancel what already happened.
    assert api.patch(f"/appointments/{theirs}", {"status": "completed"}, token=c.staff.token).status == 200
    r = api.patch(f"/appointments/{theirs}", {"status": "canceled"}, token=c.pat_b.token)
    assert r.status == 409 and "status" in r.body["Fields"]
    # PATCH is the only way to change one.
    assert api.put(f"/appointments/{mine}", {"status": "canceled"}, token=c.staff.token).status == 405


BAD_BOOKINGS = [
    ({"patient": 999}, "patient"),
    ({"doctor": 999}, "doctor"),
    ({"status": "done"}, "status"),
    ({"status": "SCHEDULED"}, "status"),
    ({"date": "2030-01-01T09:00:00"}, "date"),
    ({"date": "2030-01-01"}, "date"),
    ({"date": "tomorrow"}, "date"),
    ({"date": "2030-02-30T09:00:00Z"}, "date"),
    ({"date": 1893488400}, "date"),
    ({"patient": "1"}, "patient"),
    ({"doctor": 1.5}, "doctor"),
    ({"doctor": None}, "doctor"),
    ({"patient": True}, "patient"),
    ({"created_at": "2030-01-01T09:00:00Z"}, "created_at"),
    ({"id": 5}, "id"),
]


def test_invalid_bookings_are_a_400_naming_the_field(api, clinic):
    c = clinic
    valid = {"patient": c.patient_a, "doctor": c.doctor_a, "date": "2030-01-01T09:00:00Z"}
    for body, field in BAD_BOOKINGS:
        r = api.post("/appointments", {**valid, **body}, token=c.staff.token)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
        assert r.body["Code"] == "BadRequestError"
    for raw in ("[1]", "7", "{nope"):
        assert api.post("/appointments", raw=raw, token=c.staff.token).status == 400
    assert api.get("/appointments", token=c.staff.token).body["results"] == []


def test_unknown_patient_and_doctor_are_both_named(api, clinic):
    r = api.post("/appointments", {"patient": 998, "doctor": 999, "date": "2030-01-01T09:00:00Z"},
                 token=clinic.staff.token)
    assert r.status == 400
    assert r.body["Fields"] == {"patient": "No patient with id 998.", "doctor": "No doctor with id 999."}
    assert api.get("/appointments", token=clinic.staff.token).body["results"] == []


def test_invalid_changes_are_a_400_naming_the_field(api, clinic):
    appointment = clinic.book(clinic.patient_a, clinic.doctor_a, "2030-01-01T09:00:00Z")
    for body, field in (({"status": "gone"}, "status"), ({"date": "2030-01-01T09:00"}, "date"),
                        ({"doctor": 2}, "doctor"), ({"patient": 1}, "patient"), ({"status": None}, "status")):
        r = api.patch(f"/appointments/{appointment['id']}", body, token=clinic.staff.token)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
    assert api.get(f"/appointments/{appointment['id']}", token=clinic.staff.token).body == appointment


def test_filters_alone_and_combined(api, clinic):
    c = clinic
    made = {
        "a1": c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z"),
        "a2": c.book(c.patient_b, c.doctor_a, "2030-01-01T23:59:59Z"),
        "a3": c.book(c.patient_a, c.doctor_a, "2030-01-02T00:00:00Z"),
        "b1": c.book(c.patient_a, c.doctor_b, "2030-01-01T00:00:00Z", status="completed"),
        "b2": c.book(c.patient_b, c.doctor_b, "2030-01-02T10:00:00Z", status="canceled"),
    }
    names = {a["id"]: name for name, a in made.items()}

    def names_for(query, token=c.staff.token):
        r = api.get(f"/appointments?{query}", token=token)
        assert r.status == 200, r
        return [names[a["id"]] for a in r.body["results"]]

    assert names_for("date=2030-01-01") == ["b1", "a1", "a2"]
    assert names_for("date=2030-01-02") == ["a3", "b2"]
    assert names_for("date=2030-01-03") == []
    assert names_for(f"doctor={c.doctor_a}") == ["a1", "a2", "a3"]
    assert names_for(f"patient={c.patient_a}") == ["b1", "a1", "a3"]
    assert names_for("status=scheduled") == ["a1", "a2", "a3"]
    assert names_for(f"doctor={c.doctor_b}&status=canceled") == ["b2"]
    assert names_for(f"patient={c.patient_a}&doctor={c.doctor_a}") == ["a1", "a3"]
    assert names_for(f"patient={c.patient_a}&date=2030-01-01") == ["b1", "a1"]
    assert names_for(f"doctor={c.doctor_a}&date=2030-01-01&status=scheduled") == ["a1", "a2"]
    assert names_for("date=2030-01-01&status=completed") == ["b1"]
    assert names_for("date=2030-01-01", token=c.doc_a.token) == ["a1", "a2"]
    assert names_for("status=canceled", token=c.pat_b.token) == ["b2"]
    for query, field in (("date=01/01/2030", "date"), ("date=2030-13-01", "date"), ("status=open", "status"),
                         ("doctor=x", "doctor"), ("patient=0", "patient"), ("limit=101", "limit")):
        r = api.get(f"/appointments?{query}", token=c.staff.token)
        assert r.status == 400 and field in r.body["Fields"], (query, r)


def test_a_day_is_the_clinic_s_day(api, clinic, monkeypatch, clock_at):
    """?date= means the clinic's local date (here New York, across a DST change)."""
    from chalicelib.domain import appointments as rules
    from chalicelib.domain.commands import AppointmentQuery
    from chalicelib.storage import users

    c = clinic
    clock_at("2024-03-01T00:00:00Z")
    times = ["2024-03-10T04:59:59Z",  # 9 March, 23:59:59 EST
             "2024-03-10T05:00:00Z",  # 10 March, 00:00 EST
             "2024-03-11T03:59:59Z",  # 10 March, 23:59:59 EDT (the day has 23 hours)
             "2024-03-11T04:00:00Z"]  # 11 March, 00:00 EDT
    ids = [c.book(c.patient_a, c.doctor_a, when)["id"] for when in times]
    monkeypatch.setenv("DQS_CLINIC_TIMEZONE", "America/New_York")
    assert rules.clinic_day_bounds(date(2024, 3, 10)) == (
        datetime(2024, 3, 10, 5, tzinfo=UTC), datetime(2024, 3, 11, 3, 59, 59, tzinfo=UTC))
    staff = users.get(c.staff.id)
    page = rules.list_appointments(staff, 50, None, AppointmentQuery(date=date(2024, 3, 10)))
    assert [a.id for a in page.items] == ids[1:3]
    # In UTC (the stage's setting, which the test client applies) the day splits differently.
    r = api.get("/appointments?date=2024-03-10", token=c.staff.token)
    assert [a["id"] for a in r.body["results"]] == ids[:2]


def test_pages_walk_to_the_end_without_duplicates_or_gaps(api, clinic):
    c = clinic
    made = [c.book(c.patient_a, c.doctor_a, f"2030-01-0{day}T09:00:00Z")["id"] for day in (5, 1, 4, 2, 3)]
    in_date_order = [made[1], made[3], made[4], made[2], made[0]]
    for path in ("/appointments", f"/appointments?doctor={c.doctor_a}", f"/appointments?patient={c.patient_a}"):
        items, pages = walk(api, path, c.staff.token, 2)
        assert [a["id"] for a in items] == in_date_order and pages == 3, path
    items, _ = walk(api, "/appointments", c.pat_a.token, 2)
    assert [a["id"] for a in items] == in_date_order


def test_filtered_pages_may_be_short_but_next_leads_to_every_match(api, clinic):
    c = clinic
    canceled = []
    for hour in range(10, 16):
        a = c.book(c.patient_a, c.doctor_a, f"2030-01-01T{hour}:00:00Z")
        if hour % 2:
            api.patch(f"/appointments/{a['id']}", {"status": "canceled"}, token=c.staff.token)
            canceled.append(a["id"])
    items, pages = walk(api, "/appointments?status=canceled", c.staff.token, 2)
    assert [a["id"] for a in items] == canceled and all(a["status"] == "canceled" for a in items)
    assert pages >= 3
    # A cursor is good only for the list it came from.
    cursor = api.get("/appointments?status=canceled&limit=1", token=c.staff.token).body["next"]
    r = api.get(f"/appointments?status=scheduled&cursor={cursor}", token=c.staff.token)
    assert r.status == 400 and "cursor" in r.body["Fields"]


def test_a_page_costs_the_same_whatever_the_number_of_appointments(api, clinic):
    c = clinic
    queries = ["/appointments", "/appointments?status=canceled", f"/appointments?doctor={c.doctor_a}",
               "/appointments?date=2030-01-01&status=scheduled", f"/appointments?patient={c.patient_a}"]

    def book_many(start, end):
        for i in range(start, end):
            c.book(c.patient_a, c.doctor_a, f"2030-01-01T{i // 60:02d}:{i % 60:02d}:00Z")

    book_many(0, 3)
    for q in queries:
        api.get(q, token=c.staff.token)
    few = [count_calls(api, q, c.staff.token)[0] for q in queries]
    book_many(3, 60)
    many = [count_calls(api, q, c.staff.token)[0] for q in queries]
    assert few == many
    for calls in many:
        assert calls.count("Query") == 1 and "Scan" not in calls, calls
    # The filter matched none of the 60: still one Query, an empty page, and a way on.
    r = api.get("/appointments?status=canceled", token=c.staff.token)
    assert r.body["results"] == [] and r.body["next"] is not None


def test_a_change_reads_the_caller_and_the_appointment_once_each(api, clinic):
    from tests.support.dynamodb import listening

    c = clinic
    booked = c.book(c.patient_a, c.doctor_a, "2030-03-01T09:00:00Z")["id"]
    reads = []
    with listening(lambda name, kwargs: reads.append(kwargs["TableName"]) if name == "GetItem" else None):
        r = api.patch(f"/appointments/{booked}", {"date": "2030-03-01T10:00:00Z"}, token=c.doc_a.token)
    assert r.status == 200, r
    assert sorted(name.rsplit("-", 1)[-1] for name in reads) == ["appointments", "users"]


# -- a scheduled appointment is in the future ---------------------------------------------------

# Every identity's bookings meet the same rule in the domain (tests/unit/test_appointments_units.py);
# here the edge's answer, for a patient booking for themself.
@pytest.mark.parametrize("when", ["1901-01-01T09:00:00Z", "yesterday", "now"])
@pytest.mark.parametrize("who", ["patient"])
def test_a_scheduled_booking_in_the_past_is_a_400_on_date(api, clinic, who, when):
    from datetime import timedelta

    from chalicelib.domain.values import iso_instant

    c = clinic
    now = datetime.now(UTC)
    when = {"yesterday": iso_instant(now - timedelta(days=1)), "now": iso_instant(now)}.get(when, when)
    token = {"patient": c.pat_a.token, "staff": c.staff.token, "admin": c.admin.token}[who]
    for status in ({}, {"status": "scheduled"}):
        r = api.post("/appointments", {"patient": c.patient_a, "doctor": c.doctor_a, "date": when, **status},
                     token=token)
        assert r.status == 400 and r.body["Fields"] == {"date": "A scheduled appointment must be in the future."}, r
    assert api.get("/appointments", token=c.staff.token).body["results"] == []


def test_past_visits_may_still_be_recorded_by_the_desk(api, clinic):
    c = clinic
    done = c.book(c.patient_a, c.doctor_a, "2020-05-05T09:00:00Z", status="completed")
    c.book(c.patient_a, c.doctor_a, "2020-05-05T09:00:00Z", status="canceled")
    # It cannot be scheduled again at that time...
    r = api.patch(f"/appointments/{done['id']}", {"status": "scheduled"}, token=c.staff.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"date"}
    # ...but it can be, moved to the future.
    r = api.patch(f"/appointments/{done['id']}", {"status": "scheduled", "date": "2030-05-05T09:00:00Z"},
                  token=c.staff.token)
    assert r.status == 200 and r.body["status"] == "scheduled"


@pytest.mark.parametrize("who", ["doctor"])
def test_a_scheduled_appointment_cannot_be_moved_into_the_past(api, clinic, who):
    c = clinic
    booked = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")
    token = {"doctor": c.doc_a.token, "staff": c.staff.token, "admin": c.admin.token}[who]
    for when in ("2020-01-01T09:00:00Z", "1901-01-01T00:00:00Z"):
        r = api.patch(f"/appointments/{booked['id']}", {"date": when}, token=token)
        assert r.status == 400 and set(r.body["Fields"]) == {"date"}, r
    assert api.get(f"/appointments/{booked['id']}", token=c.staff.token).body == booked
    # A completed one may be dated in the past (when it really happened).
    r = api.patch(f"/appointments/{booked['id']}", {"status": "completed", "date": "2020-01-01T09:00:00Z"},
                  token=token)
    assert r.status == 200


def test_a_scheduled_appointment_whose_time_has_passed_can_still_be_completed(api, clinic, clock_at):
    c = clinic
    booked = c.book(c.patient_a, c.doctor_a, "2030-01-01T09:00:00Z")
    clock_at("2030-01-01T09:30:00Z")
    unchanged = api.patch(f"/appointments/{booked['id']}", {"status": "scheduled"}, token=c.staff.token)
    assert unchanged.status == 200 and unchanged.body == booked
    r = api.patch(f"/appointments/{booked['id']}", {"status": "completed"}, token=c.doc_a.token)
    assert r.status == 200 and r.body["status"] == "completed"


# -- a patient booking for themself holds at most five upcoming appointments ---------------------

def _own_booking(api, c, hour, token=None, doctor=None):
    return api.post("/appointments", {"doctor": doctor or c.doctor_a, "date": f"2030-02-01T{hour:02d}:00:00Z"},
                    token=token or c.pat_a.token)


def test_a_patient_books_at_most_five_upcoming_appointments_for_themself(api, clinic):
    from chalicelib.domain.appointments import MAX_OWN_BOOKINGS

    c = clinic
    booked = [_own_booking(api, c, 8 + i) for i in range(MAX_OWN_BOOKINGS)]
    assert [r.status for r in booked] == [201] * MAX_OWN_BOOKINGS
    r = _own_booking(api, c, 20)
    assert r.status == 400 and set(r.body["Fields"]) == {"patient"}, r
    assert "5 upcoming appointments" in r.body["Fields"]["patient"]
    r = _own_booking(api, c, 21, doctor=c.doctor_b)
    assert r.status == 400
    mine = api.get(f"/appointments?patient={c.patient_a}", token=c.staff.token).body["results"]
    assert len(mine) == MAX_OWN_BOOKINGS
    # Another patient is not affected; the desk may still book for this one.
    assert _own_booking(api, c, 20, token=c.pat_b.token).status == 201
    c.book(c.patient_a, c.doctor_b, "2030-02-01T20:00:00Z")
    # Cancelling one frees a place; so does completing one.
    first, second = booked[0].body["id"], booked[1].body["id"]
    assert api.patch(f"/appointments/{first}", {"status": "canceled"}, token=c.pat_a.token).status == 200
    assert _own_booking(api, c, 21).status == 201
    assert _own_booking(api, c, 22).status == 400
    assert api.patch(f"/appointments/{second}", {"status": "completed"}, token=c.doc_a.token).status == 200
    assert _own_booking(api, c, 22).status == 201
    assert _own_booking(api, c, 23).status == 400


def test_canceled_bookings_count_toward_a_patients_daily_limit(api, clinic, clock_at):
    """30 book-and-cancel cycles left 30 stored appointments: now the day's own bookings are capped."""
    from chalicelib.settings import get_settings

    c = clinic
    clock_at("2030-01-15T10:00:00Z")
    limit = get_settings().bookings_per_day
    assert limit == 10
    for i in range(limit):
        booked = _own_booking(api, c, 8 + i)
        assert booked.status == 201, booked
        assert api.patch(f"/appointments/{booked.body['id']}", {"status": "canceled"},
                         token=c.pat_a.token).status == 200
    r = _own_booking(api, c, 20)
    assert r.status == 429 and r.body["Code"] == "TooManyRequestsError", r
    assert int(r.headers["Retry-After"]) == 14 * 3600  # until the clinic's next day (UTC here)
    assert len(api.get(f"/appointments?patient={c.patient_a}", token=c.staff.token).body["results"]) == limit
    # Another patient, and the desk booking for this one, are not limited.
    assert _own_booking(api, c, 20, token=c.pat_b.token).status == 201
    c.book(c.patient_a, c.doctor_b, "2030-02-01T20:00:00Z")
    clock_at("2030-01-16T00:00:01Z")
    assert _own_booking(api, c, 21).status == 201
