"""Per endpoint: DynamoDB calls per request and latency, through chalice.test.Client
on moto and through the local HTTP server on moto's server.

Each endpoint has a sample request that succeeds (the setup it needs, such as a
fresh patient to join the queue, is done first and not timed). Routes in the
registry without a sample request are listed as not measured, so a new route
shows up here until it gets one.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import ADMIN, Transport, median, p95


@dataclass
class Sample:
    method: str
    path: str
    body: object = None
    token: str | None = None
    expect: int = 200


class World:
    """Users of each role and one record of each kind, made through the API."""

    def __init__(self, t: Transport):
        self.t = t
        self._n = itertools.count(1)
        self.admin = t.login(*ADMIN)["token"]
        self.staff_user = self.register("staff")
        self.staff = t.login(self.staff_user["username"], "bench-password-1")["token"]
        self.logout_user = self.register("patient")
        self.department = t.ok("POST", "/departments", {"name": "Cardiology"}, self.admin)["id"]
        self.doctor = t.ok("POST", "/doctors", {"name": "Dr. Bench", "specialty": "Cardiology",
                                                "department": self.department}, self.admin)["id"]
        self.patient = self.new_patient()
        self.appointment = t.ok("POST", "/appointments", {"patient": self.patient, "doctor": self.doctor,
                                                          "date": self.instant()}, self.staff)["id"]
        self.entry = self.join()["id"]

    def n(self) -> int:
        return next(self._n)

    def instant(self) -> str:
        n = self.n()
        return f"2031-{1 + n // 40000 % 12:02d}-{1 + n // 1440 % 28:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z"

    def register(self, role: str) -> dict:
        n = self.n()
        body = {"username": f"bench-{role}-{n}", "email": f"bench-{role}-{n}@clinic.test",
                "password": "bench-password-1", "role": role}
        if role == "patient":
            body["date_of_birth"] = "1990-01-15"
        return self.t.ok("POST", "/register", body, None if role == "patient" else self.admin)

    def new_patient(self) -> int:
        n = self.n()
        return self.t.ok("POST", "/patients", {"name": f"Bench Patient {n}", "email": f"bench-p{n}@clinic.test",
                                               "phone": "123-456-7890", "date_of_birth": "1980-01-01"},
                         self.staff)["id"]

    def join(self) -> dict:
        return self.t.ok("POST", "/queues/join_queue", {"patient_id": self.new_patient()}, self.staff)


def _logout(w: World) -> Sample:
    token = w.t.login(w.logout_user["username"], "bench-password-1")["token"]
    return Sample("POST", "/auth/logout", token=token)


def _change_password(w: World) -> Sample:
    user = w.register("patient")
    token = w.t.login(user["username"], "bench-password-1")["token"]
    return Sample("POST", "/auth/password", {"old_password": "bench-password-1", "new_password": "bench-password-2"},
                  token)


def _delete_user(w: World) -> Sample:
    user = w.register("patient")
    return Sample("DELETE", f"/users/{user['id']}", token=w.admin, expect=204)


def _register(w: World) -> Sample:
    n = w.n()
    return Sample("POST", "/register", {"username": f"bench-new-{n}", "email": f"bench-new-{n}@clinic.test",
                                        "password": "bench-password-1", "date_of_birth": "1990-01-15"},
                  expect=201)


def _call_next(w: World) -> Sample:
    w.join()  # the queue always has someone waiting
    return Sample("POST", "/queues/call_next", {}, w.staff)


SAMPLES: dict[tuple[str, str], Callable[[World], Sample]] = {
    ("POST", "/register"): _register,
    ("POST", "/auth/login"): lambda w: Sample("POST", "/auth/login",
                                              {"username": w.staff_user["username"], "password": "bench-password-1"}),
    ("POST", "/auth/logout"): _logout,
    ("POST", "/auth/password"): _change_password,
    ("GET", "/users"): lambda w: Sample("GET", "/users", token=w.admin),
    ("GET", "/users/{user_id}"): lambda w: Sample("GET", f"/users/{w.staff_user['id']}", token=w.admin),
    ("PUT", "/users/{user_id}"): lambda w: Sample(
        "PUT", f"/users/{w.staff_user['id']}", {"username": w.staff_user["username"], "email": w.staff_user["email"],
                                                "first_name": f"Name{w.n()}"}, w.admin),
    ("PATCH", "/users/{user_id}"): lambda w: Sample("PATCH", f"/users/{w.staff_user['id']}",
                                                    {"last_name": f"Name{w.n()}"}, w.admin),
    ("DELETE", "/users/{user_id}"): _delete_user,
    ("GET", "/patients"): lambda w: Sample("GET", "/patients", token=w.staff),
    ("POST", "/patients"): lambda w: Sample("POST", "/patients", {"name": "Walk In", "email": f"walkin{w.n()}@x.test"},
                                            w.staff, expect=201),
    ("GET", "/patients/{patient_id}"): lambda w: Sample("GET", f"/patients/{w.patient}", token=w.staff),
    ("POST", "/patients/{patient_id}/link_code"): lambda w: Sample("POST", f"/patients/{w.new_patient()}/link_code",
                                                                   token=w.staff, expect=201),
    ("PUT", "/patients/{patient_id}"): lambda w: Sample("PUT", f"/patients/{w.patient}",
                                                        {"name": f"Renamed {w.n()}"}, w.staff),
    ("PATCH", "/patients/{patient_id}"): lambda w: Sample("PATCH", f"/patients/{w.patient}",
                                                          {"phone": f"555-{w.n():04d}"}, w.staff),
    ("GET", "/doctors"): lambda w: Sample("GET", "/doctors", token=w.staff),
    ("POST", "/doctors"): lambda w: Sample("POST", "/doctors", {"name": f"Dr. {w.n()}", "specialty": "Neurology",
                                                                "department": w.department}, w.admin, expect=201),
    ("GET", "/doctors/{doctor_id}"): lambda w: Sample("GET", f"/doctors/{w.doctor}", token=w.staff),
    ("GET", "/departments"): lambda w: Sample("GET", "/departments", token=w.staff),
    ("POST", "/departments"): lambda w: Sample("POST", "/departments", {"name": f"Department {w.n()}"}, w.admin,
                                               expect=201),
    ("GET", "/departments/{department_id}"): lambda w: Sample("GET", f"/departments/{w.department}", token=w.staff),
    ("GET", "/appointments"): lambda w: Sample("GET", "/appointments", token=w.staff),
    ("POST", "/appointments"): lambda w: Sample("POST", "/appointments", {"patient": w.patient, "doctor": w.doctor,
                                                                          "date": w.instant()}, w.staff, expect=201),
    ("GET", "/appointments/{appointment_id}"): lambda w: Sample("GET", f"/appointments/{w.appointment}",
                                                                token=w.staff),
    ("PATCH", "/appointments/{appointment_id}"): lambda w: Sample("PATCH", f"/appointments/{w.appointment}",
                                                                  {"date": w.instant()}, w.staff),
    ("GET", "/queues"): lambda w: Sample("GET", "/queues", token=w.staff),
    ("POST", "/queues/join_queue"): lambda w: Sample("POST", "/queues/join_queue", {"patient_id": w.new_patient()},
                                                     w.staff, expect=201),
    ("POST", "/queues/call_next"): _call_next,
    ("POST", "/queues/{entry_id}/mark_served"): lambda w: Sample("POST", f"/queues/{w.join()['id']}/mark_served",
                                                                 token=w.staff),
    ("GET", "/queues/{entry_id}"): lambda w: Sample("GET", f"/queues/{w.entry}", token=w.staff),
    ("GET", "/queues/{entry_id}/position"): lambda w: Sample("GET", f"/queues/{w.join()['id']}/position",
                                                             token=w.staff),
    ("POST", "/queues/reset_queue"): lambda w: Sample("POST", "/queues/reset_queue", token=w.admin),
    ("GET", "/openapi.json"): lambda w: Sample("GET", "/openapi.json"),
    ("GET", "/docs"): lambda w: Sample("GET", "/docs"),
}


def _answers_other_methods(view) -> bool:
    """The handler the API gives each path for the methods it lacks (a 405 with Allow, and OPTIONS):
    not an endpoint. Told by its name, which chalice's route table keeps."""
    return view.__qualname__.startswith("answer_other_methods.")


def endpoints() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(endpoints with a sample request, routes of the app without one), in the app's route order."""
    from app import app

    routes = [(method, path) for path, entries in app.routes.items() for method, entry in entries.items()
              if not _answers_other_methods(entry.view_function)]
    return [r for r in routes if r in SAMPLES], [r for r in routes if r not in SAMPLES]


def calls_text(calls: list[str]) -> str:
    counted = Counter(calls)
    return ", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(counted.items())) or "none"


@dataclass
class EndpointResult:
    method: str
    path: str
    calls: int
    call_names: str
    median_s: float
    p95_s: float


def measure(t: Transport, runs: int) -> dict[tuple[str, str], EndpointResult]:
    world = World(t)
    measured, _ = endpoints()
    results = {}
    for method, path in measured:
        make = SAMPLES[(method, path)]
        times, counts, names = [], [], []
        for run in range(runs + 1):
            sample = make(world)
            reply = t.call(sample.method, sample.path, sample.body, sample.token)
            if reply.status != sample.expect:
                raise RuntimeError(f"{sample.method} {sample.path}: expected {sample.expect}, "
                                   f"got {reply.status} {reply.body!r}")
            if run == 0:
                continue  # a warm-up: the first request of a route pays for lazy imports and caches
            times.append(reply.seconds)
            counts.append(len(reply.calls))
            names.append(calls_text(reply.calls))
        typical = Counter(names).most_common(1)[0][0]
        results[(method, path)] = EndpointResult(method, path, int(median(counts)), typical,
                                                 median(times), p95(times))
    return results
