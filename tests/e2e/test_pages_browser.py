"""The pages in a real browser: headless Chromium against `make run`'s server."""
from __future__ import annotations

import pytest

from tests.support.browser import chromium, console_errors
from tests.support.local_process import LocalServer, server_env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = LocalServer(server_env(DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving()
    yield served
    served.stop()


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_the_docs_page_renders_every_operation_offline(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server.base}/docs")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ops details"))
    operations = browser.find_elements(By.CSS_SELECTOR, "#ops details")
    assert len(operations) > 25
    assert "Digital Queue System" in browser.find_element(By.ID, "title").text
    text = browser.find_element(By.ID, "ops").text
    for path in ("/queues/join_queue", "/auth/login", "/appointments/{appointment_id}"):
        assert path in text
    # Filtering narrows the list as the reader types.
    box = browser.find_element(By.ID, "filter")
    box.send_keys("join_queue")
    WebDriverWait(browser, 5).until(
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "#ops details") if e.is_displayed()]
        and all("join_queue" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#ops details")
                if e.is_displayed()))
    assert console_errors(browser) == []
