"""Two confirms of one reset code at once, over HTTP with real threads: the code is spent once."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from chalicelib import messaging
from chalicelib.domain.accounts import password_reset

NEW = "brand-new-password-7"


def test_two_confirms_at_once_spend_the_code_once(live_server, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(messaging, "send_email", lambda address, subject, text: sent.append(text))
    monkeypatch.setattr(password_reset, "ANSWER_FLOOR_SECONDS", 0.0)
    r = live_server.call("POST", "/register", {"username": "racer", "email": "racer@clinic.test",
                                               "password": "racer-password-1", "date_of_birth": "1990-01-15"})
    assert r.status == 201
    assert live_server.call("POST", "/auth/password/reset/", {"email": "racer@clinic.test"}).status == 200
    code = re.search(r"is ([2-9A-Z]{8})\.", sent[0]).group(1)

    def confirm(suffix: str):
        return live_server.call("POST", "/auth/password/reset/confirm/",
                                {"email": "racer@clinic.test", "code": code, "new_password": NEW + suffix}).status

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(confirm, "ab"))
    assert statuses == [200, 400], statuses
    logins = [live_server.call("POST", "/auth/login", {"username": "racer", "password": NEW + s}).status for s in "ab"]
    assert sorted(logins) == [200, 401], logins
