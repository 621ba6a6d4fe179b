"""Snooze and stop links from messages: pages over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import requests

from reminders import ManualClock
from reminders.links import Links

from .conftest import Web, register


def link(web: Web, action: str, rid: str, *, ttl: timedelta = timedelta(days=30)) -> str:
    links = Links(web.settings.public_url, web.settings.signing_key.get_secret_value())  # type: ignore[union-attr]
    return links.url(action, rid, web.core.clock.now() + ttl)  # type: ignore[arg-type]


def test_get_shows_a_bilingual_page_and_changes_nothing(web: Web) -> None:
    rid = register(web.service, channels=["email"])
    before = web.service.get("saaq", "permit-2026-00042")
    audit = web.core.store.client.xlen(web.core.store.keys.audit(0))
    page = requests.get(link(web, "snooze", rid), timeout=5)
    assert page.status_code == 200
    assert "Me le rappeler plus tard" in page.text and "Remind me later" in page.text
    assert "Renouveler votre permis" in page.text and "Renew your licence" in page.text
    assert 'value="3"' in page.text and page.headers["cache-control"] == "no-store"
    assert web.service.get("saaq", "permit-2026-00042") == before
    assert web.core.store.client.xlen(web.core.store.keys.audit(0)) == audit


def test_post_snoozes_once_and_shows_the_new_date(web: Web) -> None:
    rid = register(web.service, channels=["email"])
    first = web.service.get("saaq", "permit-2026-00042").reminders[0]
    url = link(web, "snooze", rid)
    done = requests.post(url, data={"days": "2"}, timeout=5)
    assert done.status_code == 200 and "Nouvel envoi" in done.text and "New reminder:" in done.text
    moved = web.service.get("saaq", "permit-2026-00042").reminders[0]
    assert moved.send_at == first.send_at + timedelta(days=2)
    again = requests.post(url, data={"days": "2"}, timeout=5)
    assert again.status_code == 409 and "already been used" in again.text
    assert requests.get(url, timeout=5).status_code == 409
    assert web.service.get("saaq", "permit-2026-00042").reminders[0] == moved


def test_a_snooze_that_would_pass_the_deadline_is_explained(web: Web, clock: ManualClock) -> None:
    rid = register(web.service, channels=["email"], offsets=["3d"])
    clock.set(web.service.get("saaq", "permit-2026-00042").reminders[0].send_at)
    url = link(web, "snooze", rid)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and 'value="7"' not in page.text and 'value="2"' in page.text
    refused = requests.post(url, data={"days": "7"}, timeout=5)
    assert refused.status_code == 409 and "Too late" in refused.text
    # Refused, the link still works for a shorter delay.
    assert requests.post(url, data={"days": "1"}, timeout=5).status_code == 200


def test_bad_links_get_a_clear_page_never_a_500(web: Web, clock: ManualClock) -> None:
    rid = register(web.service, channels=["email"])
    before = web.service.get("saaq", "permit-2026-00042")
    expired = link(web, "snooze", rid, ttl=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    assert requests.get(expired, timeout=5).status_code == 410
    assert requests.post(expired, data={"days": "1"}, timeout=5).status_code == 410
    good = link(web, "snooze", rid)
    tampered = good.replace(rid, rid[:-1] + "2")
    wrong_action = link(web, "stop", rid).replace("/stop/", "/snooze/")
    unknown = link(web, "snooze", "0123456789abcdef0123-1")
    for url, status in ((tampered, 400), (wrong_action, 400), (unknown, 404)):
        page = requests.post(url, data={"days": "1"}, timeout=5)
        assert page.status_code == status
        assert "This link cannot be used" in page.text
    for junk in ("x", "a.b.c.d", "." * 300, "%ff%fe"):
        assert requests.get(f"{web.url}/snooze/{junk}", timeout=5).status_code in (400, 404)
    assert requests.post(good, data={"days": "abc"}, timeout=5).status_code == 400
    assert requests.post(good, data={"days": "0"}, timeout=5).status_code == 400
    assert requests.post(good, data=b"days=\xff", timeout=5).status_code == 400
    assert web.service.get("saaq", "permit-2026-00042") == before


def test_a_closed_deadline_says_there_is_nothing_left_to_do(web: Web) -> None:
    rid = register(web.service, channels=["email"])
    web.service.complete("saaq", "permit-2026-00042")
    url = link(web, "snooze", rid)
    assert requests.get(url, timeout=5).status_code == 410
    page = requests.post(url, data={"days": "1"}, timeout=5)
    assert page.status_code == 410 and "Nothing left to do" in page.text


def test_stop_links_confirm_then_opt_out_and_tolerate_reuse(web: Web) -> None:
    rid = register(web.service, channels=["email"])
    url = link(web, "stop", rid)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Unsubscribe me" in page.text
    assert not web.service.is_opted_out("email", "a@example.ca")
    done = requests.post(url, timeout=5)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert web.service.is_opted_out("email", "a@example.ca")
    again = requests.post(url, timeout=5)
    assert again.status_code == 200 and "Already unsubscribed" in again.text
    # The page never shows the address.
    assert "a@example.ca" not in page.text + done.text + again.text


def test_one_click_unsubscribe_from_the_mail_client(web: Web) -> None:
    """RFC 8058: the client POSTs List-Unsubscribe=One-Click to the header's URL."""
    rid = register(web.service, channels=["sms"])
    done = requests.post(link(web, "stop", rid), data={"List-Unsubscribe": "One-Click"}, timeout=5)
    assert done.status_code == 200
    assert web.service.is_opted_out("sms", "+15145550123")
    assert not web.service.is_opted_out("email", "a@example.ca")


def test_one_click_unsubscribe_as_multipart_form_data_is_accepted(web: Web) -> None:
    """RFC 8058 says the POST SHOULD be accepted as multipart/form-data too."""
    rid = register(web.service, channels=["email"])
    done = requests.post(
        link(web, "stop", rid), files={"List-Unsubscribe": (None, "One-Click")}, timeout=5
    )
    assert str(done.request.headers["content-type"]).startswith("multipart/form-data; boundary=")
    assert done.status_code == 200
    assert web.service.is_opted_out("email", "a@example.ca")


def test_pages_name_the_agency_and_the_service_in_both_languages(web: Web) -> None:
    rid = register(web.service, channels=["email"])
    for action in ("snooze", "stop"):
        page = requests.get(link(web, action, rid), timeout=5).text
        assert page.count("SAAQ · Rappels Québec") == 2, action  # fr and en sections
    forged = requests.get(web.url + "/snooze/not-a-token", timeout=5)
    assert forged.status_code == 400 and forged.text.count("Rappels Québec") == 2


def test_the_stop_page_says_how_far_a_stop_goes_and_offers_to_undo_it(web: Web) -> None:
    rid = register(web.service, channels=["sms"])
    page = requests.get(link(web, "stop", rid), timeout=5).text
    assert "de tous les organismes" in page and "from any agency" in page
    assert "Les rappels par courriel continuent." in page
    done = requests.post(link(web, "stop", rid), data={}, timeout=5)
    assert done.status_code == 200 and web.service.is_opted_out("sms", "+15145550123")
    assert f'action="/stop/{link(web, "stop", rid).rsplit("/", 1)[1]}/undo"' in done.text
    undone = requests.post(link(web, "stop", rid) + "/undo", data={}, timeout=5)
    assert undone.status_code == 200 and "Rappels rétablis" in undone.text
    assert not web.service.is_opted_out("sms", "+15145550123")


def test_health_and_metrics(web: Web, make_web: Callable[..., Web]) -> None:
    health = requests.get(web.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "redis": "ok"}
    metrics = requests.get(web.url + "/metrics", timeout=5)
    assert metrics.status_code == 200 and "reminders_webhook_events_total" in metrics.text
    assert requests.get(web.url + "/nothing-here", timeout=5).status_code == 404


def test_healthz_says_so_when_redis_is_unreachable(
    make_web: Callable[..., Web], unused_port: int
) -> None:
    web = make_web(redis_url=f"redis://127.0.0.1:{unused_port}/0")
    health = requests.get(web.url + "/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["redis"] == "unreachable"
