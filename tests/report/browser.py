"""Headless Chromium for the report tests (Debian's chromium + chromium-driver, selenium)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

INSTALL_HINT = (
    "Headless Chromium is needed for the report browser tests: run `make test` "
    "(it installs the chromium and chromium-driver packages), or "
    "`apt-get install -y chromium chromium-driver` and `pip install selenium`."
)

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1200",
)


def _find(names: tuple[str, ...], fallback: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return fallback if Path(fallback).exists() else None


def chromium_paths() -> tuple[str, str]:
    """(browser, chromedriver); fails the test (never skips) when either is missing."""
    browser = _find(("chromium", "chromium-browser"), "/usr/bin/chromium")
    driver = _find(("chromedriver",), "/usr/bin/chromedriver")
    missing = [n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None]
    if browser is None or driver is None:
        pytest.fail(f"{', '.join(missing)} not found. {INSTALL_HINT}", pytrace=False)
    return browser, driver


def launch(profile: Path, javascript: bool = True) -> Chrome:
    """A started Chrome driver; selenium is imported here so that a missing one fails the
    browser tests with the install hint instead of breaking collection."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed. {INSTALL_HINT}", pytrace=False)
    browser, driver_path = chromium_paths()
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
