"""A real headless browser for tests: Debian's Chromium driven through chromedriver by Selenium.

`browser` (a fixture; import it into a test module) starts a fresh Chromium per test with its
own profile folder (a module that wants one browser for all its tests calls `start_chromium`
itself); `set_viewport` lays pages out at an exact width; `screenshot` saves a full-page PNG at a given width into the artifacts
folder (DIGESTBOT_TEST_ARTIFACTS, default <tmp>/digestbot-artifacts). Selenium is pointed at
/usr/bin/chromium and /usr/bin/chromedriver, so Selenium Manager never downloads anything.
A browser that cannot start fails the test with the reason and the fix: it is never skipped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DIGESTBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DIGESTBOT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root (CI)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,900",
    "--hide-scrollbars",  # a scroll bar would take width from the page being measured
)
INSTALL_HINT = "install it with: apt-get install -y chromium chromium-driver (.ci/run does this when missing)"


def artifacts_dir() -> Path:
    """Where screenshots go: DIGESTBOT_TEST_ARTIFACTS, else a folder in the temporary directory."""
    folder = Path(
        os.environ.get("DIGESTBOT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "digestbot-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_chromium(profile: Path, javascript: bool = True, timezone: str | None = None):
    """A headless Chromium with a fresh profile in `profile`; fails the test (with the fix) when
    the browser or its driver is missing or does not start."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("Selenium is not installed: pip install -e '.[test]'")
    for path, what in ((CHROMIUM, "Chromium"), (CHROMEDRIVER, "chromedriver")):
        if not Path(path).is_file():
            pytest.fail(f"the browser tests need {what} at {path}: {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    env = {**os.environ, **({"TZ": timezone} if timezone else {})}
    service = Service(executable_path=CHROMEDRIVER, env=env)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as e:
        pytest.fail(f"headless Chromium ({CHROMIUM}) did not start: {e.msg or e}; {INSTALL_HINT}")
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browser(tmp_path) -> Iterator[Callable[..., object]]:
    """`browser(javascript=True, timezone=None)` starts a Chromium; all are closed afterwards."""
    started = []

    def start(javascript: bool = True, timezone: str | None = None):
        driver = start_chromium(tmp_path / f"chromium-profile-{len(started)}", javascript, timezone)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def set_viewport(driver, width: int, height: int = 800) -> None:
    """Lay pages out exactly `width` x `height` CSS pixels (a phone below 600)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(driver, name: str, width: int) -> Path:
    """A full-page PNG of what `driver` shows, laid out `width` CSS pixels wide (375: a phone)."""
    set_viewport(driver, width)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    set_viewport(driver, width, max(height, 200))
    path = artifacts_dir() / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    return path


def fits_width(driver, width: int) -> bool:
    """Whether the page, laid out `width` pixels wide, needs no sideways scrolling."""
    set_viewport(driver, width)
    return driver.execute_script("return document.documentElement.scrollWidth") <= width
