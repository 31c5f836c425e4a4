"""The waiting room live, as `make run` serves it: the WebSocket fed by the entries table's stream,
and the display page in headless Chromium, first live, then polling while the WebSocket is cut."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.browser import chromium, console_errors, texts, wait_for
from tests.support.local_process import LocalServer, free_port, server_env

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "display.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = LocalServer(server_env(DQS_ADMIN_USERNAME="boss", DQS_ADMIN_PASSWORD="boss-password-1",
                                    DQS_WS_PORT=str(free_port()),
                                    DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving(90)
    served.ws_url = next(line for line in served.lines if "WebSocket at" in line).split("WebSocket at ")[1].split()[0]
    assert "fed by the entries table's stream" in served.output, served.output
    served.token = served.login("boss", "boss-password-1")
    yield served
    served.stop()


def socket_to(server, department=None):
    import websocket

    ws = websocket.create_connection(server.ws_url, timeout=5)
    ws.send(json.dumps({"action": "subscribe", "department": department}))
    return ws


def join(server, name: str, department=None) -> dict:
    status, patient = server.call("POST", "/patients/", {"name": name}, server.token)
    assert status == 201, patient
    status, entry = server.call("POST", "/queues/join_queue/", {"patient_id": patient["id"],
                                                                "department": department}, server.token)
    assert status == 201, entry
    return entry


def department(server, name: str) -> int:
    status, made = server.call("POST", "/departments/", {"name": name}, server.token)
    assert status == 201, made
    return made["id"]


def test_a_subscriber_gets_the_board_at_once_and_each_change_within_a_second(server):
    pharmacy = department(server, "Pharmacy")
    ws = socket_to(server, pharmacy)
    first = json.loads(ws.recv())
    assert first["type"] == "board" and first["board"]["department"] == pharmacy and first["board"]["next"] == []
    other = socket_to(server, None)
    assert json.loads(other.recv())["board"]["department"] is None

    started = time.monotonic()
    join(server, "Grace Hopper", pharmacy)
    pushed = json.loads(ws.recv())
    assert time.monotonic() - started < 1.0
    assert pushed["board"]["next"] == [1] and "Grace" not in json.dumps(pushed)

    started = time.monotonic()
    assert server.call("POST", "/queues/call_next/", {"department": pharmacy}, server.token)[0] == 200
    pushed = json.loads(ws.recv())
    assert time.monotonic() - started < 1.0
    assert [c["token_number"] for c in pushed["board"]["now_calling"]] == [1]

    other.settimeout(0.5)  # the general queue's subscriber heard nothing of the pharmacy's changes
    import websocket

    with pytest.raises(websocket.WebSocketTimeoutException):
        other.recv()
    ws.ping(b"hello")
    ws.send("not json")
    assert json.loads(ws.recv())["type"] == "error"
    ws.close()
    other.close()


def calling_text(driver) -> str:
    return driver.find_element("id", "calling").text


def test_the_display_page_shows_a_call_within_2_seconds_live_and_while_polling(server):
    driver = chromium()
    try:
        cardiology = department(server, "Cardiology")
        status, desk = server.call("POST", "/service-points/", {"name": "Desk 3", "kind": "desk",
                                                                "department": cardiology}, server.token)
        assert status == 201, desk
        status, room = server.call("POST", "/service-points/", {"name": "Room 12", "kind": "room",
                                                                "department": cardiology}, server.token)
        for n in range(8):
            join(server, f"Patient {n}", cardiology)
        driver.get(f"{server.base}/display/?department={cardiology}")
        assert driver.find_element("id", "title").text == "Cardiology"
        wait_for(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-mode") == "live", 10)

        started = time.monotonic()
        call = server.call("POST", "/queues/call_next/", {"department": cardiology, "service_point": desk["id"]},
                           server.token)
        assert call[0] == 200, call
        wait_for(driver, lambda d: "1" in calling_text(d) and "Desk 3" in calling_text(d), 2)
        assert time.monotonic() - started < 2

        # The WebSocket is cut: every client dropped, new connections refused. The page polls.
        server.proc.send_signal(signal.SIGUSR1)
        wait_for(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-mode") == "poll", 5)
        started = time.monotonic()
        assert server.call("POST", "/queues/call_next/", {"department": cardiology, "service_point": room["id"]},
                           server.token)[0] == 200
        wait_for(driver, lambda d: "Room 12" in calling_text(d), 2)
        assert time.monotonic() - started < 2
        assert texts(driver, "#calling li")[0].startswith("2")

        # Back: the page reconnects (backoff) and is live again.
        server.proc.send_signal(signal.SIGUSR2)
        wait_for(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-mode") == "live", 20)
        assert server.call("POST", "/queues/call_next/", {"department": cardiology, "service_point": desk["id"]},
                           server.token)[0] == 200
        wait_for(driver, lambda d: calling_text(d).startswith("3"), 2)
        shown_next = texts(driver, "#next li")
        assert shown_next == ["4", "5", "6", "7", "8"]
        if os.environ.get("DQS_UPDATE_SCREENSHOTS"):  # docs/display.png, on request only
            driver.save_screenshot(str(SCREENSHOT))
        # Only the refused reconnections while the WebSocket was cut.
        assert [e for e in console_errors(driver) if "WebSocket connection" not in e] == []
    finally:
        driver.quit()


def test_make_run_sends_your_turn_messages_to_its_moto_and_logs_them(server):
    dermatology = department(server, "Dermatology")
    status, patient = server.call("POST", "/patients/", {"name": "Ada Byron", "phone": "+15550009999"}, server.token)
    assert status == 201, patient
    status, entry = server.call("POST", "/queues/join_queue/", {"patient_id": patient["id"], "department": dermatology,
                                                                "notify": "sms"}, server.token)
    assert status == 201, entry
    near = "Message: SMS sent to +15550009999: Number 1 (Dermatology): nobody ahead of you. Please be ready."
    called = "Message: SMS sent to +15550009999: Number 1 (Dermatology): it is your turn, please come to the desk."
    wait_for_line(server, near)
    assert server.call("POST", "/queues/call_next/", {"department": dermatology}, server.token)[0] == 200
    wait_for_line(server, called)
    time.sleep(0.5)
    assert server.output.count("Message: SMS sent to +15550009999") == 2
    assert "Ada" not in "".join(line for line in server.lines if line.startswith("Message:"))


def wait_for_line(server, line: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and line not in server.output:
        time.sleep(0.05)
    assert line in server.output, server.output[-2000:]
