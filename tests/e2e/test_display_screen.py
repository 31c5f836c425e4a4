"""The waiting-room screen as a clinic sees it, in headless Chromium against `make run`: a call
chimes and flashes, the numbers read from across the room, a short wait says so, and a screen
that hears nothing from the server says it is out of date."""
from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.test_waiting_room_live import department, join
from tests.support.browser import chromium, console_errors, fast_clock, page_seconds, texts, wait_for
from tests.support.local_process import LocalServer, free_port, server_env

KIOSK = "--autoplay-policy=no-user-gesture-required"  # the README's kiosk flag: sound without a click


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = LocalServer(server_env(DQS_ADMIN_USERNAME="boss", DQS_ADMIN_PASSWORD="boss-password-1",
                                    DQS_WS_PORT=str(free_port()),
                                    DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving(90)
    served.token = served.login("boss", "boss-password-1")
    yield served
    served.stop()


def body(driver, attribute: str) -> str | None:
    return driver.find_element("tag name", "body").get_attribute(attribute)


def test_a_call_chimes_and_flashes_and_the_numbers_read_from_6_metres(server):
    driver = chromium(KIOSK, size="1920,1080")
    try:
        radiology = department(server, "Radiology")
        for n in range(6):
            join(server, f"Patient {n}", radiology)
        driver.get(f"{server.base}/display/?department={radiology}")
        wait_for(driver, lambda d: body(d, "data-mode") == "live", 10)
        assert body(driver, "data-chimes") is None  # the board as it was when the page opened: no chime
        assert server.call("POST", "/queues/call_next/", {"department": radiology}, server.token)[0] == 200
        wait_for(driver, lambda d: body(d, "data-chimes") == "1", 10)
        assert body(driver, "data-called") == "1" and body(driver, "data-sound") == "on"
        first = driver.find_element("css selector", "#calling li")
        assert "flash" in first.get_attribute("class")
        # 55-inch 1080p screen, 6 m away: a number needs about 6 cm, i.e. 110 of the screen's 1080 px.
        height = driver.execute_script("return window.innerHeight")
        sizes = [float(li.value_of_css_property("font-size").removesuffix("px"))
                 for li in driver.find_elements("css selector", "#next li")]
        assert sizes and min(sizes) >= 110 * height / 1080, (sizes, height)
        # Three calls within seconds: the estimate is 0 minutes, which the screen says in words.
        for _ in range(2):
            assert server.call("POST", "/queues/call_next/", {"department": radiology}, server.token)[0] == 200
        # A board is read while desks write: one may count 3 waiting before it lists the third call, which
        # the next board then brings (and chimes for). Wait for the board that shows all three calls.
        wait_for(driver, lambda d: "3 people waiting - under a minute" == d.find_element("id", "waiting").text
                 and len(d.find_elements("css selector", "#calling li")) == 3, 10)
        chimes = int(body(driver, "data-chimes"))  # 2 or 3: two calls may reach the screen in one board
        assert chimes in (2, 3)
        # A recall chimes again.
        entry = server.call("GET", f"/queues/?department={radiology}", None, server.token)[1]["results"][0]
        assert server.call("POST", f"/queues/{entry['id']}/recall/", {}, server.token)[0] == 200
        wait_for(driver, lambda d: body(d, "data-chimes") == str(chimes + 1), 10)
        assert "1" in body(driver, "data-called").split(",")
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_without_the_kiosk_flag_the_screen_asks_for_a_click_to_enable_sound(server):
    driver = chromium()
    try:
        general = None
        join(server, "Walk In", general)
        driver.get(f"{server.base}/display/")
        wait_for(driver, lambda d: body(d, "data-mode") == "live", 10)
        assert not driver.find_element("id", "sound").is_displayed()
        assert server.call("POST", "/queues/call_next/", {}, server.token)[0] == 200
        wait_for(driver, lambda d: body(d, "data-chimes") == "1", 10)
        assert body(driver, "data-sound") == "blocked"
        button = driver.find_element("id", "sound")
        assert button.is_displayed() and "enable sound" in button.text.lower()
        button.click()
        wait_for(driver, lambda d: body(d, "data-sound") == "on", 3)
        assert not button.is_displayed()
    finally:
        driver.quit()


def test_a_screen_that_hears_nothing_for_30_seconds_says_it_is_out_of_date(server):
    """On the page's clock, run 10 times faster: 30 s of it pass in 3."""
    driver = chromium()
    try:
        fast_clock(driver, 10)
        driver.get(f"{server.base}/display/")
        wait_for(driver, lambda d: body(d, "data-mode") == "live", 10)
        assert body(driver, "data-stale") is None
        server.proc.send_signal(signal.SIGSTOP)  # the server freezes: the socket stays open, silent
        try:
            started = page_seconds(driver)
            wait_for(driver, lambda d: body(d, "data-stale") == "unreachable", 10)
            assert 29 <= page_seconds(driver) - started <= 35
            banner = driver.find_element("id", "stale")
            assert banner.is_displayed() and "out of date" in banner.text
            # Readable from across the room: at least a 20th of the screen's height (54 px at 1080p).
            height = driver.execute_script("return window.innerHeight")
            assert float(banner.value_of_css_property("font-size").removesuffix("px")) >= height / 20
        finally:
            server.proc.send_signal(signal.SIGCONT)
        wait_for(driver, lambda d: body(d, "data-stale") is None, 15)
    finally:
        driver.quit()


def test_a_screen_whose_socket_stays_open_but_silent_says_so_and_still_follows_the_board(server):
    """The feed stopped by its test hook (SIGURG), the socket left open: a call reaches the screen by
    its revalidation, which also tells it the socket missed it (data-stale="silent") within 35 s
    of the page's clock, run 10 times faster."""
    oncology = department(server, "Oncology")
    for n in range(2):
        join(server, f"Waiting {n}", oncology)
    driver = chromium(KIOSK)
    try:
        fast_clock(driver, 10)
        driver.get(f"{server.base}/display/?department={oncology}")
        wait_for(driver, lambda d: body(d, "data-mode") == "live", 10)
        server.proc.send_signal(signal.SIGURG)  # the stream feed stops; the WebSocket stays open
        try:
            time.sleep(1.5)  # the feed's current read ends
            started = page_seconds(driver)
            assert server.call("POST", "/queues/call_next/", {"department": oncology}, server.token)[0] == 200
            wait_for(driver, lambda d: body(d, "data-stale") == "silent", 10)
            assert page_seconds(driver) - started <= 35
            assert texts(driver, "#calling li")[0].startswith("1")
            assert driver.find_element("id", "stale").is_displayed()
        finally:
            server.proc.send_signal(signal.SIGWINCH)  # the feed again
        assert server.call("POST", "/queues/call_next/", {"department": oncology}, server.token)[0] == 200
        wait_for(driver, lambda d: any(t.startswith("2") for t in texts(d, "#calling li")[:1]), 10)
    finally:
        driver.quit()


def test_a_page_loaded_from_127_0_0_2_opens_its_websocket_there(tmp_path):
    """The server bound to 127.0.0.2 (HOST): the page opens its WebSocket to 127.0.0.2, and is live."""
    served = LocalServer(server_env(HOST="127.0.0.2", DQS_WS_PORT=str(free_port()),
                                    DQS_DATA_DIR=str(tmp_path / "data")))
    served.base = served.base.replace("127.0.0.1", "127.0.0.2")
    served.wait_serving(90)
    driver = chromium()
    try:
        driver.get(f"{served.base}/display/")
        wait_for(driver, lambda d: body(d, "data-mode") == "live", 10)
        assert body(driver, "data-websocket").startswith("ws://127.0.0.2:")
        assert driver.execute_script("return location.hostname") == "127.0.0.2"
    finally:
        driver.quit()
        served.stop()
