"""The docs page in a real browser (headless Chromium against `make run`'s server): the
description's markdown rendered, long patterns shown only on request, an example per operation,
and nothing refused by the page's Content-Security-Policy."""
from __future__ import annotations

import json

import pytest

from tests.support.browser import chromium, console_errors
from tests.support.local_process import LocalServer, server_env


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    server = LocalServer(server_env(DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving()
    driver = chromium()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(f"{server.base}/docs")
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ops details"))
        yield driver
    finally:
        driver.quit()
        server.stop()


def _operation(driver, method: str, path: str):
    from selenium.webdriver.common.by import By

    operation = driver.find_element(By.CSS_SELECTOR, f'details[data-search^="{method} {path} "]')
    if operation.get_attribute("open") is None:
        operation.find_element(By.TAG_NAME, "summary").click()
    return operation


def test_the_descriptions_markdown_is_rendered(page):
    from selenium.webdriver.common.by import By

    intro = page.find_element(By.ID, "intro")
    items = intro.find_elements(By.CSS_SELECTOR, "ul > li")
    assert len(items) >= 5
    codes = [code.text for code in intro.find_elements(By.TAG_NAME, "code")]
    assert "Authorization: Token <token>" in codes and "POST /auth/login" in codes
    text = intro.text
    assert "`" not in text and "\n* " not in text  # no markdown left raw
    assert not intro.find_elements(By.TAG_NAME, "pre")  # the old page showed it all in one <pre>
    # Descriptions of fields render their code spans too.
    operation = _operation(page, "get", "/queues/board")
    assert operation.find_elements(By.CSS_SELECTOR, "li code")
    assert "BoardServicePoint | null" in operation.text  # a called number may have no desk


def test_long_patterns_show_only_on_request(page):
    from selenium.webdriver.common.by import By

    operation = _operation(page, "post", "/register")
    toggles = operation.find_elements(By.CSS_SELECTOR, "details.pattern")
    assert toggles, "the long patterns of the register body are behind a toggle"
    toggle = toggles[0]
    pattern = toggle.find_element(By.TAG_NAME, "code")
    assert not pattern.is_displayed()
    toggle.find_element(By.TAG_NAME, "summary").click()
    assert pattern.is_displayed() and len(pattern.text) > 40
    # A short pattern stays inline.
    assert "pattern [^0-9]" in operation.text  # a new password is not all digits


def test_every_operation_shows_its_examples(page):
    from selenium.webdriver.common.by import By

    operation = _operation(page, "post", "/register")
    examples = operation.find_elements(By.CSS_SELECTOR, ".example")
    labels = [example.find_element(By.CSS_SELECTOR, ".muted").text for example in examples]
    assert labels == ["Example request", "Example answer"]
    request = json.loads(examples[0].find_element(By.TAG_NAME, "pre").text)
    assert request["username"] == "johndoe" and request["role"] == "patient"
    answer = json.loads(examples[1].find_element(By.TAG_NAME, "pre").text)
    assert answer["patient_id"] == 1
    shown = page.execute_script(
        "return [...document.querySelectorAll('#ops > section > details')]"
        ".filter(d => d.querySelector('.example'))"
        ".map(d => d.getAttribute('data-search').split(' ').slice(0, 2).join(' '))")
    described = page.execute_script(
        "return Object.entries(SPEC.paths).flatMap(([path, item]) => Object.entries(item)"
        ".filter(([m, op]) => op.requestBody || Object.values(op.responses).some(r => r.content && "
        "r.content['application/json'].examples)).map(([m]) => m + ' ' + path.toLowerCase()))")
    assert len(described) > 40 and sorted(shown) == sorted(described)
    assert console_errors(page) == []
