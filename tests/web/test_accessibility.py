"""Citizen pages and the staff dashboard against WCAG 2.1 AA (Québec's
SGQRI 008 3.0), in Debian's chromium: axe-core finds no violation, nothing
scrolls sideways at 320 px, every button is reached with the keyboard, and
each language's text says which language it is. Screenshots of every page
(desktop and phone) land in ``artifacts/``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page
from pydantic import SecretStr

from reminders import ManualClock

from .conftest import SHOTS, Web, register
from .test_dashboard import TOKEN, some_coverage
from .test_links import link

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"desktop": (1280, 900), "phone": (320, 640)}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it stands."""
    source = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")
    page.evaluate(source)
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate("(options) => axe.run(document, options)", options)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in results["violations"]
    ]


def check(page: Page, name: str) -> None:
    """No violation, no sideways scrolling, a screenshot per size."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        assert axe_violations(page) == [], (name, size)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, (name, size, overflow)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)


def tab_to_every_button(page: Page) -> list[str]:
    """Press Tab until focus leaves the buttons; the ones focused, in order."""
    reached: list[str] = []
    for _ in range(20):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement && document.activeElement.tagName === 'BUTTON'"
            " ? document.activeElement.textContent.trim() : null"
        )
        if focused is not None and focused not in reached:
            reached.append(focused)
    return reached


@pytest.fixture
def page(browser: Browser) -> Page:
    return browser.new_page()


def test_the_snooze_page(web: Web, page: Page) -> None:
    rid = register(web.service, channels=["email"])
    page.goto(link(web, "snooze", rid))
    check(page, "citizen-snooze")
    buttons = page.locator("button").all_inner_texts()
    assert tab_to_every_button(page) == buttons and len(buttons) >= 2
    langs = page.eval_on_selector_all("section", "els => els.map(e => e.lang)")
    assert langs == ["fr", "en"]  # French first, each section says its language
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the focused (last) choice, by keyboard alone
    assert "C'est noté" in page.content()
    check(page, "citizen-snoozed")


def test_the_stop_page_its_confirmation_and_its_undo(web: Web, page: Page) -> None:
    rid = register(web.service, channels=["sms"])
    page.goto(link(web, "stop", rid))
    check(page, "citizen-stop")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert web.service.is_opted_out("sms", "+15145550123")
    check(page, "citizen-stopped")


def test_an_expired_link_names_the_agency_that_sent_it(web: Web, page: Page) -> None:
    rid = register(web.service, channels=["email"])
    answer = page.goto(link(web, "snooze", rid, ttl=-timedelta(minutes=1)))
    assert answer is not None and answer.status == 410
    assert page.content().count("SAAQ · Rappels Québec") == 2
    check(page, "citizen-expired-link")


@pytest.mark.parametrize(
    ("name", "path"),
    [("citizen-forged-link", "/snooze/not-a-token"), ("citizen-bad-stop", "/stop/x.y")],
)
def test_refusals(web: Web, page: Page, name: str, path: str) -> None:
    answer = page.goto(web.url + path)
    assert answer is not None and answer.status == 400
    check(page, name)


def test_the_dashboard_sign_in_and_the_dashboard_in_both_languages(
    make_web: Callable[..., Web], clock: ManualClock, page: Page
) -> None:
    web = make_web(staff_token=SecretStr(TOKEN))
    some_coverage(web.core, clock)
    for lang in ("fr", "en"):
        page.goto(f"{web.url}/dashboard?lang={lang}")
        check(page, f"dashboard-sign-in-{lang}")
    page.fill("input[name=token]", TOKEN)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    for lang in ("fr", "en"):
        page.goto(f"{web.url}/dashboard?lang={lang}")
        assert page.evaluate("document.documentElement.lang") == lang
        # With every table opened: nothing overlaps or scrolls the page sideways.
        page.eval_on_selector_all("details", "els => els.forEach(e => { e.open = true; })")
        check(page, f"dashboard-{lang}")
    assert requests.get(web.url + "/healthz", timeout=5).status_code == 200
