"""Two reminder runs at once (real threads, moto's DynamoDB server): each reminder goes once."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from chalicelib import messaging
from chalicelib.domain import clock, reminders


def test_two_runs_at_once_send_each_reminder_once(live_server, monkeypatch):
    now = datetime.now(UTC).replace(microsecond=0)
    admin = live_server.login("admin", "admin-password-1")
    department = live_server.call("POST", "/departments", {"name": "General"}, token=admin).body["id"]
    doctor = live_server.call("POST", "/doctors", {"name": "Dr. Race", "specialty": "GP", "department": department},
                              token=admin).body["id"]
    booked = []
    for i in range(12):
        patient = live_server.call("POST", "/patients", {"name": f"Racer {i}", "email": f"racer{i}@clinic.test"},
                                   token=admin).body["id"]
        r = live_server.call("POST", "/appointments", {"patient": patient, "doctor": doctor, "date": (
            now + timedelta(hours=2, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}, token=admin)
        assert r.status == 201, r
        booked.append(r.body["id"])
    sent: list[str] = []
    lock = threading.Lock()

    def send(address, subject, text):
        with lock:
            sent.append(address)

    monkeypatch.setattr(messaging, "send_email", send)
    monkeypatch.setattr(clock, "now", lambda: now)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run():
        barrier.wait()
        counts.append(reminders.send_due())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"racer{i}@clinic.test" for i in range(12)), sent
    assert sum(counts) == 12
    assert reminders.send_due() == 0 and len(sent) == 12  # a retried run sends nothing again
