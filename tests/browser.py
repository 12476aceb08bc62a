"""Headless Chromium for the page's tests (Debian's, installed by .ci/ensure-chromium):
a browser per module and a page per test in a fresh context (the `browser` and `page`
fixtures, in conftest.py), and screenshots for docs/.

A page fails its test if a script error escaped or the page broke a rule of its
Content-Security-Policy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright
from support import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 390, "height": 844}
DOCS = ROOT / "docs"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, headless; the `browser` fixture (conftest.py) holds one per module."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def open_page(browser: Browser, **options: object) -> Iterator[Page]:
    """A page in a fresh context; fails the test if any script error escaped, or the page
    broke a rule of its Content-Security-Policy."""
    context = browser.new_context(**{"viewport": DESKTOP, **options})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], "the page broke"


def screenshot(page: Page, name: str) -> None:
    """docs/NAME.png of the page as it is, when CITEQA_SCREENSHOTS is set."""
    if os.environ.get("CITEQA_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=DOCS / f"{name}.png")
