"""A real headless Chromium for tests (Debian's `chromium` and `chromium-driver` packages),
driven by Selenium. Shared by the test modules that look at pages as a reader would.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver (or DIGESTBOT_CHROMIUM and
DIGESTBOT_CHROMEDRIVER), so Selenium Manager never downloads anything. No browser is a failure
that says how to install it, never a skip: `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("DIGESTBOT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DIGESTBOT_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",  # a scroll bar would take width from the page
)


class BrowserMissing(RuntimeError):
    pass


def start_chromium(width: int = 600, height: int = 900):
    """A headless Chromium with a fresh profile and the given viewport; call `.quit()` after.
    Raises BrowserMissing, saying what to install, when the browser or its driver is absent."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() and os.access(p, os.X_OK))]
    if missing:
        raise BrowserMissing(
            f"headless Chromium is needed for this test and {', '.join(missing)} is missing: "
            "apt-get install -y chromium chromium-driver (or set DIGESTBOT_CHROMIUM / DIGESTBOT_CHROMEDRIVER)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="digestbot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    quit_driver = driver.quit

    def quit() -> None:
        try:
            quit_driver()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width: int, height: int = 900) -> None:
    """Make the page's viewport exactly `width` x `height` CSS pixels (not the window's outer size)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
    )
