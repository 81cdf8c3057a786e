"""Render a run's HTML report in headless Chromium and save a screenshot (for the docs).

Usage: python scripts/screenshot_report.py RUN_DIR OUT.png [--samples-per-model N]

Builds ``RUN_DIR/report.html`` (see ``safety_eval.report.html.build_report``), opens it
from ``file://`` in headless Chromium (Debian's ``chromium`` and ``chromium-driver``
packages, driven by ``selenium``) at a 1400x2400 window, and saves a PNG.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from safety_eval.report.html import build_report

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1400, 2400)


def find_binary(names: tuple[str, ...], fallback: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return fallback if Path(fallback).exists() else None


def make_driver(profile: Path, width: int, height: int) -> webdriver.Chrome:
    browser = find_binary(CHROMIUM_CANDIDATES, "/usr/bin/chromium")
    driver_path = find_binary(("chromedriver",), "/usr/bin/chromedriver")
    if browser is None or driver_path is None:
        raise SystemExit(
            "chromium and chromedriver are needed: apt-get install -y chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples-per-model", type=int, default=200)
    args = parser.parse_args(argv)
    report = build_report(args.run_dir, samples_per_model=args.samples_per_model)
    with tempfile.TemporaryDirectory(prefix="safety-eval-shot-") as profile:
        driver = make_driver(Path(profile), *WINDOW)
        try:
            driver.set_window_size(*WINDOW)
            driver.get(report.resolve().as_uri())
            time.sleep(0.3)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if not driver.save_screenshot(str(args.out)):
                print("screenshot failed", file=sys.stderr)
                return 1
        finally:
            driver.quit()
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
