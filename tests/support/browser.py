"""Headless Chromium (Debian's chromium and chromium-driver) driven by selenium, for the
tests of the pages as a person sees them. Where either is missing the test is skipped and
says why; `.ci/run` installs both, so CI always runs these tests."""
from __future__ import annotations

import shutil
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium(*flags: str, size: str = "1280,800"):
    """A headless Chromium with its console log readable, and any more `flags`; skips the test
    where there is none."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # This machine has no network but loopback: nothing in the background may try to reach out.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={size}", *flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='dqs-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, condition, timeout: float):
    """`condition(driver)` once it is truthy, polled every 50 ms for up to `timeout` seconds. The
    pages re-render their lists whole, so an element found in one poll may be gone when it is read:
    that poll counts as "not yet", like any other."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def texts(driver, selector: str) -> list[str]:
    """The shown text of every element `selector` matches, read in one script: no element found
    here can be replaced by a re-render before it is read."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim())", selector)


def console_errors(driver) -> list[str]:
    """What the page logged as errors (a refused script or style, a failed request, an exception)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# The page's clock and timers, run `factor` times faster: Date, Date.now() and performance.now() read
# the sped-up time, setTimeout and setInterval wait a `factor`th as long. A page's rule such as "out
# of date after 30 s without a fresh board" is then seen in a tenth of the time, and still checked
# against the page's own clock.
_FAST_CLOCK = """
(function (factor) {
  var RealDate = Date, realNow = RealDate.now.bind(RealDate), start = realNow();
  var perf = performance.now.bind(performance), perfStart = perf();
  function now() { return start + (realNow() - start) * factor; }
  function FastDate() {
    var args = Array.prototype.slice.call(arguments);
    if (!(this instanceof FastDate)) { return new RealDate(now()).toString(); }
    return args.length ? new (Function.prototype.bind.apply(RealDate, [null].concat(args)))() : new RealDate(now());
  }
  FastDate.prototype = RealDate.prototype;
  FastDate.now = now;
  FastDate.UTC = RealDate.UTC;
  FastDate.parse = RealDate.parse;
  window.Date = FastDate;
  performance.now = function () { return perfStart + (perf() - perfStart) * factor; };
  var setT = window.setTimeout, setI = window.setInterval;
  window.setTimeout = function (f, delay) {
    var rest = Array.prototype.slice.call(arguments, 2);
    return setT.apply(window, [f, (delay || 0) / factor].concat(rest));
  };
  window.setInterval = function (f, delay) {
    var rest = Array.prototype.slice.call(arguments, 2);
    return setI.apply(window, [f, (delay || 0) / factor].concat(rest));
  };
})(%d);
"""


def fast_clock(driver, factor: int) -> None:
    """Run the clock of every page `driver` opens from now on `factor` times faster (Chromium's
    DevTools protocol adds the script before any of the page's own)."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _FAST_CLOCK % factor})


def page_seconds(driver) -> float:
    """The page's own clock, in seconds (sped up where fast_clock() is)."""
    return driver.execute_script("return Date.now()") / 1000
