"""What the browser walks share: Debian's Chromium, a person logged in at a
width, and a page checked for sideways overflow before its screenshot is taken."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connections

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# Elements wider than the card they sit in, other than inside a scrolling wrapper.
CARD_OVERFLOW = """() => Array.from(document.querySelectorAll('.panel table, .panel pre')).filter(
    el => !el.closest('.table-scroll') && !el.closest('.doc')
      && el.getBoundingClientRect().right > el.closest('.panel').getBoundingClientRect().right + 1
  ).length"""
MENU_OVERFLOW = """() => Array.from(
    document.querySelectorAll('.topbar a, .topbar button, .subnav a')
  ).filter(el => el.getBoundingClientRect().right > window.innerWidth + 1).length"""


@contextmanager
def chromium(playwright: Any) -> Iterator[Any]:
    """Debian's Chromium, launched by Playwright's sync API (``playwright``),
    closed after the block, and with it the database connections the block's
    own queries opened. Django keeps connections per context (asgiref's
    ``Local``), and Playwright's sync API runs the block in a context of its
    own: a connection opened there is not the one the test's teardown closes,
    and it kept the test database from being dropped at the end of the run."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        connections.close_all()


def login(browser, url: str, width: int, username: str, password: str, *, errors=None):
    """A new page at this width, in a context of its own (its own cookies), logged
    in through the real form; with `errors` (a list), the page's script errors
    are collected into it from the start."""
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def checked_shot(page, name: str, width: int) -> None:
    """Nothing wider than the page, a card or the screen's menus; then the whole
    page's screenshot, artifacts/browser/<name>_<width>.png."""
    assert page.evaluate(PAGE_OVERFLOW) <= 0, (name, width)
    assert page.evaluate(CARD_OVERFLOW) == 0, (name, width)
    assert page.evaluate(MENU_OVERFLOW) == 0, (name, width)
    page.screenshot(path=str(SCREENSHOTS / f"{name}_{width}.png"), full_page=True)
