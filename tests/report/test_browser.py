"""The report in a real headless Chromium: hostile text stays text, the script runs under
the CSP without errors, tabs/filters/drill-down work, and the page works without JS."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from safety_eval.report.html import build_report
from tests.report.browser import launch
from tests.report.helpers import HOSTILE, HOSTILE_ID

if TYPE_CHECKING:
    from selenium.webdriver import Chrome
    from selenium.webdriver.remote.webelement import WebElement

PWNED = "return typeof window.__pwned"


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[Chrome]:
    driver = launch(tmp_path / "profile")
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def _severe(driver: Chrome) -> list[dict[str, object]]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def _click(driver: Chrome, element: WebElement) -> None:
    """Click like a user, with the element scrolled clear of the sticky navigation bar."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600, (width, height)
    assert len(data) > 20_000, f"suspiciously small screenshot ({len(data)} bytes)"
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50, "the screenshot is (nearly) blank"


def test_hostile_report_in_chromium(
    hostile_report_run: Path, chrome: Chrome, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    started = time.monotonic()
    report = build_report(hostile_report_run)
    chrome.get(report.resolve().as_uri())
    assert chrome.execute_script("return document.readyState") == "complete"
    # the inline script ran: its hash matches the CSP
    assert chrome.execute_script("return document.documentElement.classList.contains('js')")
    assert chrome.execute_script(PWNED) == "undefined"

    # summary first, visible
    summary = chrome.find_element(By.CSS_SELECTOR, "#summary table.summary")
    assert summary.is_displayed()
    assert summary.location["y"] < chrome.find_element(By.ID, "samples").location["y"]

    # every tab, and every <details> in it, opened by clicking like a user
    buttons = chrome.find_elements(By.CSS_SELECTOR, ".tabbar [data-tab]")
    assert buttons, "the tab bars are shown when JS runs"
    opened = 0
    for button in buttons:
        _click(chrome, button)
        key = button.get_attribute("data-tab")
        panel = chrome.find_element(By.CSS_SELECTOR, f'.tabpanel[data-panel="{key}"]')
        assert panel.is_displayed()
        siblings = panel.find_elements(By.XPATH, "../div[contains(@class,'tabpanel')]")
        assert sum(p.is_displayed() for p in siblings) == 1
        for item in panel.find_elements(By.CSS_SELECTOR, "details"):
            if item.is_displayed() and item.get_attribute("open") is None:
                _click(chrome, item.find_element(By.TAG_NAME, "summary"))
                opened += 1
        assert chrome.execute_script(PWNED) == "undefined"
    assert opened >= 20
    for raw in chrome.find_elements(By.CSS_SELECTOR, "header details"):
        _click(chrome, raw.find_element(By.TAG_NAME, "summary"))
    chrome.execute_script(
        "document.querySelectorAll('details').forEach((d) => { d.open = true; });"
    )
    assert chrome.execute_script(PWNED) == "undefined"

    # the hostile strings are on the page as text, readable in the opened sample
    text = chrome.execute_script("return document.body.textContent")
    for needle in HOSTILE:
        assert needle in text, needle
    assert HOSTILE_ID in text
    _click(chrome, buttons[0])
    first = chrome.find_element(By.ID, "s-0-0")
    assert HOSTILE_ID in first.text and HOSTILE[0] in first.text and HOSTILE[1] in first.text
    assert chrome.find_elements(By.CSS_SELECTOR, "pre.code .line.hit")

    # filters only hide items: "critical" keeps exactly the samples with a critical
    # finding, the hostile one (ranked worst) first
    items = chrome.find_elements(By.CSS_SELECTOR, "#samples-tabs details.item")
    critical = [
        str(i.get_attribute("id")) for i in items
        if "sev4" in (i.get_attribute("data-flags") or "").split()
    ]
    filters = chrome.find_element(By.CSS_SELECTOR, '.filters[data-scope="samples-tabs"]')
    Select(filters.find_element(By.TAG_NAME, "select")).select_by_value("sev4")
    visible = [i for i in chrome.find_elements(By.CSS_SELECTOR, "#samples details.item")
               if i.is_displayed()]  # fmt: skip
    shown = [str(i.get_attribute("id")) for i in visible]
    assert shown and shown[0] == "s-0-0" and len(shown) < len(items)
    assert set(shown) == {i for i in critical if i.startswith("s-0-")}
    assert filters.find_element(By.CLASS_NAME, "count").text.startswith(f"{len(shown)} of ")
    Select(filters.find_element(By.TAG_NAME, "select")).select_by_value("")
    filters.find_element(By.TAG_NAME, "input").send_keys("no-such-prompt")
    assert not any(
        i.is_displayed() for i in chrome.find_elements(By.CSS_SELECTOR, "#samples details.item")
    )
    assert chrome.execute_script(PWNED) == "undefined"

    # a link to a sample in a hidden tab switches to that tab and opens the sample
    search = filters.find_element(By.TAG_NAME, "input")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.DELETE)
    assert all(i.is_displayed() for i in chrome.find_elements(By.CSS_SELECTOR, "#s-0-0, #s-0-1"))
    _click(chrome, chrome.find_element(By.CSS_SELECTOR, '[data-tab="samples-tabs-1"]'))
    chrome.execute_script("document.getElementById('s-0-3').open = false;")
    target = chrome.find_element(By.ID, "s-0-3")
    assert not target.is_displayed()
    chrome.execute_script("location.hash = '#s-0-3'")
    assert target.is_displayed() and target.get_attribute("open") is not None

    # a malformed fragment is ignored quietly
    chrome.execute_script("location.hash = '#%E0%A4%A'")

    severe = _severe(chrome)
    assert not severe, severe
    shot = tmp_path / "report.png"
    assert chrome.save_screenshot(str(shot))
    _assert_png(shot)
    assert chrome.execute_script(PWNED) == "undefined"
    assert time.monotonic() - started < 60


def test_report_works_without_javascript(report_run: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    report = build_report(report_run)
    driver = launch(tmp_path / "profile", javascript=False)
    try:
        driver.set_page_load_timeout(20)
        driver.get(report.resolve().as_uri())
        assert "js" not in (driver.find_element(By.TAG_NAME, "html").get_attribute("class") or "")
        assert driver.find_element(By.CSS_SELECTOR, "#summary table.summary").is_displayed()
        assert driver.find_element(By.CSS_SELECTOR, "#summary svg").is_displayed()
        # no tab bar or filters without JS: every panel is simply shown
        assert not any(e.is_displayed() for e in driver.find_elements(By.CSS_SELECTOR, ".tabbar"))
        assert not any(e.is_displayed() for e in driver.find_elements(By.CSS_SELECTOR, ".filters"))
        panels = driver.find_elements(By.CSS_SELECTOR, ".tabpanel")
        assert panels and all(p.is_displayed() for p in panels)
        items = driver.find_elements(By.CSS_SELECTOR, "details.item")
        assert len(items) == 20
        # drill-down is native <details>
        _click(driver, items[0].find_element(By.TAG_NAME, "summary"))
        assert items[0].find_element(By.CSS_SELECTOR, "pre.code").is_displayed()
        assert "no autonomous-agent results" in driver.find_element(By.ID, "agent").text
        severe = _severe(driver)
        assert not severe, severe
        shot = tmp_path / "nojs.png"
        assert driver.save_screenshot(str(shot))
        _assert_png(shot)
    finally:
        driver.quit()
    assert time.monotonic() - started < 60
