"""The staff dashboard in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from itsdangerous import TimestampSigner
from playwright.sync_api import Browser
from pydantic import SecretStr

from reminders import ManualClock
from reminders.lifecycle.receipts import DeliveryReport, OutcomeRecorder
from reminders.lifecycle.sending import record_sent, take_lease
from reminders.wiring import Core

from .conftest import SHOTS, Web, register

TOKEN = "staff-" + "s" * 32


def some_coverage(core: Core, clock: ManualClock) -> None:
    """Deadlines of two agencies, one covered, one without contact details."""
    rid = register(core.service, channels=["sms"])
    register(core.service, ref="b", agency="revenu", citizen={"phone": None, "email": None})
    register(core.service, ref="c", agency="revenu", channels=["email"])
    send_at = core.service.get("saaq", "permit-2026-00042").reminders[0].send_at
    clock.set(send_at)
    moves = core.transitions
    moves.apply(rid, take_lease(3600))
    moves.apply(rid, record_sent("sandbox", "SB1"))
    OutcomeRecorder(moves).record(DeliveryReport(rid, "sandbox", "SB1", "delivered", clock.now()))


@pytest.fixture
def staff_web(make_web: Callable[..., Web], clock: ManualClock) -> Web:
    web = make_web(staff_token=SecretStr(TOKEN))
    some_coverage(web.core, clock)
    return web


def test_staff_sign_in_and_see_the_charts(staff_web: Web, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(staff_web.url) else None,
    )
    page.goto(staff_web.url + "/dashboard")
    assert "Connexion du personnel" in page.inner_text("h1")
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    assert "Jeton invalide" in page.inner_text("body")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-charts=ready]", timeout=15_000)
    assert page.inner_text("h1") == "Couverture des rappels"
    assert spaced(page.inner_text("#coverage")) == "33,3 %"  # French numbers (Babel)
    assert "non atteinte" in page.inner_text("#verdict")
    # French headers, the agencies' names, channels and months in French.
    headers = page.eval_on_selector_all("th", "els => els.map(e => e.textContent)")
    assert "Échéances visées" in headers and "in_scope" not in headers
    cells = page.eval_on_selector_all("td", "els => els.map(e => e.textContent)")
    assert "Revenu Québec" in cells and "revenu" not in cells
    assert "Texto" in cells and "décembre 2026" in cells
    agencies = page.evaluate("() => Chart.getChart('by-agency').data.labels")
    assert agencies == ["Revenu Québec", "SAAQ"]
    # A 0 % agency still gets a visible bar; counts have whole-number ticks.
    bar = page.evaluate("() => Chart.getChart('by-agency').data.datasets[0].minBarLength")
    assert bar > 0
    ticks = page.evaluate("() => Chart.getChart('reasons').scales.x.ticks.map(t => t.value)")
    assert all(float(t).is_integer() for t in ticks)
    assert page.locator("canvas").count() == 5
    # Chart.js drew something on every canvas (not a blank bitmap).
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('canvas')].map(c => Chart.getChart(c) !== undefined"
        " && c.toDataURL().length > 3000)"
    )
    assert drawn == [True] * 5
    months = page.evaluate("() => Chart.getChart('by-month').data.datasets[1].data")
    assert months == [60] * len(months)  # the target line
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-fr.png"), full_page=True)

    page.click("text=English")
    page.wait_for_selector("body[data-charts=ready]")
    assert page.inner_text("h1") == "Reminder coverage"
    assert "not met" in page.inner_text("#verdict")
    page.select_option("select[name=agency]", "revenu")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-charts=ready]")
    assert page.inner_text("#coverage") == "0.0%"
    page.screenshot(path=str(SHOTS / "dashboard-en-revenu.png"), full_page=True)
    assert outside == []  # nothing beyond loopback
    page.close()


def test_a_director_sees_when_what_it_means_contacts_a_grid_and_gets_every_table_as_csv(
    staff_web: Web, browser: Browser
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    page = browser.new_page(extra_http_headers=bearer)
    page.goto(staff_web.url + "/dashboard?lang=fr")
    page.wait_for_selector("body[data-charts=ready]", timeout=15_000)
    as_of = spaced(page.inner_text("#as-of"))
    assert as_of.startswith("Au ") and "2026" in as_of
    assert "livré avant l'échéance" in as_of and "Cible : 60,0 %" in as_of
    # 3 deadlines in scope, one without a phone or an email.
    assert spaced(page.inner_text("#capture")) == "66,7 %"
    grid = page.eval_on_selector_all(
        "#grid tr", "rows => rows.map(r => [...r.children].map(c => c.textContent))"
    )
    assert grid[0][0] == "Organisme" and "décembre 2026" in grid[0]
    assert [row[0] for row in grid[1:]] == ["Revenu Québec", "SAAQ"]
    assert spaced(grid[2][grid[0].index("décembre 2026")]) == "100,0 %"
    links = page.eval_on_selector_all("a[download]", "els => els.map(e => e.href)")
    assert len(links) == 6  # one under each chart's table, one under the grid
    page.close()
    for by, first in (("month", "month,in_scope"), ("agency", "agency,in_scope"),
                      ("channel", "channel,covered_deadlines"), ("reason", "reason,deadlines"),
                      ("grid", "agency,month,in_scope,covered,coverage")):  # fmt: skip
        url = f"{staff_web.url}/dashboard/export.csv?by={by}"
        answer = requests.get(url, headers=bearer, timeout=5)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        lines = answer.text.splitlines()
        assert lines[0].startswith(first) and len(lines) >= 2, by
        assert requests.get(url, timeout=5).status_code == 401
    bad = requests.get(f"{staff_web.url}/dashboard/export.csv?by=colour", headers=bearer, timeout=5)
    assert bad.status_code == 400


def spaced(text: str) -> str:
    """Text with French typography's no-break spaces made plain."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_the_dashboard_needs_the_staff_token(staff_web: Web, make_web: Callable[..., Web]) -> None:
    url = staff_web.url + "/dashboard"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url + "/data.json", timeout=5).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    page = requests.get(url, headers=bearer, timeout=5)
    assert (
        page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    )
    data = requests.get(url + "/data.json", headers=bearer, timeout=5).json()
    assert (data["in_scope"], data["covered"]) == (3, 1)
    wrong = {"Authorization": "Bearer nope"}
    assert requests.get(url, headers=wrong, timeout=5).status_code == 401
    bad = requests.get(url + "/data.json?from=yesterday", headers=bearer, timeout=5)
    assert bad.status_code == 400 and "from" in bad.json()["detail"]
    assert requests.get(staff_web.url + "/static/../app.py", timeout=5).status_code == 404


def test_without_the_break_glass_token_only_staff_accounts_sign_in(web: Web) -> None:
    page = requests.get(web.url + "/dashboard", timeout=5)
    assert page.status_code == 401 and "Connexion du personnel" in page.text
    for token in ("", TOKEN):
        answer = requests.post(web.url + "/dashboard/login", data={"token": token}, timeout=5)
        assert answer.status_code == 401
    _, token = web.core.staff.create("all", "director")
    signed_in = requests.post(
        web.url + "/dashboard/login", data={"token": token}, allow_redirects=False, timeout=5
    )
    assert signed_in.status_code == 303 and "reminders_staff" in signed_in.cookies


def test_staff_of_one_agency_see_only_that_agency(staff_web: Web) -> None:
    _, token = staff_web.core.staff.create("revenu", "analyst")
    session = requests.Session()
    login = session.post(staff_web.url + "/dashboard/login", data={"token": token}, timeout=5)
    assert login.status_code == 200

    data = session.get(staff_web.url + "/dashboard/data.json", timeout=5).json()
    assert [s["key"] for s in data["by_agency"]] == ["revenu"]
    assert (data["in_scope"], data["covered"]) == (2, 0)
    other = session.get(staff_web.url + "/dashboard/data.json?agency=saaq", timeout=5)
    assert other.status_code == 403
    page = session.get(staff_web.url + "/dashboard", timeout=5)
    assert page.status_code == 200 and 'value="saaq"' not in page.text
    bearer = {"Authorization": f"Bearer {token}"}
    by_bearer = requests.get(staff_web.url + "/dashboard/data.json", headers=bearer, timeout=5)
    assert [s["key"] for s in by_bearer.json()["by_agency"]] == ["revenu"]


def test_a_revoked_staff_token_ends_its_sessions_at_once(staff_web: Web) -> None:
    made, token = staff_web.core.staff.create("saaq", "leaving")
    session = requests.Session()
    session.post(staff_web.url + "/dashboard/login", data={"token": token}, timeout=5)
    assert session.get(staff_web.url + "/dashboard/data.json", timeout=5).status_code == 200

    staff_web.core.staff.revoke(made.key_id)

    assert session.get(staff_web.url + "/dashboard/data.json", timeout=5).status_code == 401
    again = requests.post(staff_web.url + "/dashboard/login", data={"token": token}, timeout=5)
    assert again.status_code == 401


def test_a_forged_or_expired_session_cookie_is_refused(staff_web: Web) -> None:
    cookies = {"reminders_staff": "staff:0123456789ab.AAAAAA.forged"}
    answer = requests.get(staff_web.url + "/dashboard/data.json", cookies=cookies, timeout=5)
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "token", ["é" * 40, "st_" + "0" * 12 + "_" + "ü" * 43, "\u0000", "😀", "st_x", "a" * 512]
)
def test_any_credential_text_is_a_401_never_a_500(web: Web, token: str) -> None:
    answer = requests.post(web.url + "/dashboard/login", data={"token": token}, timeout=5)
    assert answer.status_code == 401
    if not token.isprintable():
        return  # a control character in a header is refused by the HTTP server itself
    # Headers travel as latin-1: the UTF-8 bytes of the token, as a client sends them.
    header = {"Authorization": "Bearer " + token.encode("utf-8").decode("latin-1")}
    data = requests.get(web.url + "/dashboard/data.json", headers=header, timeout=5)
    assert data.status_code == 401


def test_sign_in_is_throttled_per_client_and_per_account(make_web: Callable[..., Web]) -> None:
    web = make_web(signin_max_failures=3, signin_window_s=600)
    made, token = web.core.staff.create("saaq")
    wrong_for_account = f"st_{made.key_id}_" + "x" * 43
    codes = [
        requests.post(
            web.url + "/dashboard/login", data={"token": wrong_for_account}, timeout=5
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    refused = requests.post(web.url + "/dashboard/login", data={"token": token}, timeout=5)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_coverage_gauges_on_metrics(staff_web: Web) -> None:
    text = requests.get(staff_web.url + "/metrics", timeout=5).text
    assert 'reminders_coverage_ratio{agency="saaq"} 1.0' in text
    assert 'reminders_coverage_ratio{agency="revenu"} 0.0' in text
    assert "reminders_coverage_target 0.6" in text
    assert 'reminders_deadlines_uncovered{agency="revenu",reason="no_contact"} 1.0' in text
    assert 'reminders_reminders_by_outcome{channel="sms",outcome="delivered"} 1.0' in text
    assert "# TYPE reminders_reminders_by_outcome gauge" in text


def test_the_demo_report_files_work_offline_with_their_filter_and_language_switch(
    browser: Browser, tmp_path: Path, staff_web: Web
) -> None:
    from web.dashboard import report_files

    names = {
        "saaq": {"fr": "SAAQ", "en": "SAAQ"},
        "revenu": {"fr": "Revenu Québec", "en": "Revenu Québec"},
    }
    main = report_files(staff_web.service, tmp_path, "report", names)
    assert main == tmp_path / "report.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.en.html", "report.en.revenu.html", "report.en.saaq.html",
        "report.html", "report.revenu.html", "report.saaq.html",
    ]  # fmt: skip
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(main.as_uri())
    page.wait_for_selector("body[data-charts=ready]", timeout=15_000)
    assert spaced(page.inner_text("#coverage")) == "33,3 %"
    with page.expect_navigation():
        page.click("nav.filter >> text=Revenu Québec")  # the agency filter, offline
    page.wait_for_selector("body[data-charts=ready]")
    assert spaced(page.inner_text("#coverage")) == "0,0 %"
    with page.expect_navigation():
        page.click("header >> text=English")  # the language switch keeps the agency
    page.wait_for_selector("body[data-charts=ready]")
    assert page.inner_text("h1") == "Reminder coverage"
    assert page.inner_text("#coverage") == "0.0%"
    assert page.url.endswith("report.en.revenu.html")
    assert all(url.startswith("file://") for url in requested)  # nothing from a network
    page.close()


def test_a_session_older_than_its_lifetime_is_refused(make_web: Callable[..., Web]) -> None:
    web = make_web(staff_session_s=600)
    made, _ = web.core.staff.create("saaq")
    assert web.settings.signing_key is not None
    key = web.settings.signing_key.get_secret_value()

    class Signed(TimestampSigner):
        age_s = 0

        def get_timestamp(self) -> int:
            return int(time.time()) - self.age_s

    fresh, stale = Signed(key, salt="reminders.dashboard"), Signed(key, salt="reminders.dashboard")
    stale.age_s = 601
    for signer, status in ((fresh, 200), (stale, 401)):
        cookie = signer.sign(f"staff:{made.key_id}").decode()
        answer = requests.get(
            web.url + "/dashboard/data.json", cookies={"reminders_staff": cookie}, timeout=5
        )
        assert answer.status_code == status
