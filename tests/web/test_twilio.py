"""Twilio status callbacks and citizens' replies, over real HTTP."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from channels.sms_text import measure
from reminders import ManualClock
from tests.workers.conftest import Rig, state

from .conftest import Web, register, send_first

STATUS = "/webhooks/twilio/status"


def sms_sid(web: Web) -> str:
    [sid] = list(web.twilio.messages)
    return sid


def test_receipts_from_the_fake_twilio_land_while_workers_send(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    rig = make_rig(**live)
    send_first(rig, web.service, clock, channels=["sms"])
    assert state(web.service)[0] == ("sms", "sent", "")
    sid = sms_sid(web)
    assert web.twilio.messages[sid]["StatusCallback"].startswith(web.url + STATUS + "?r=")

    assert web.twilio.callback(sid, "sent").status_code == 204
    assert web.twilio.callback(sid, "delivered").status_code == 204
    assert state(web.service)[0] == ("sms", "delivered", "")
    # Duplicates and late, out-of-order callbacks never move it backwards.
    for status in ("delivered", "sent", "queued", "undelivered", "failed"):
        assert web.twilio.callback(sid, status, error_code=30003).status_code == 204
    assert state(web.service)[0] == ("sms", "delivered", "")
    metrics = __import__("requests").get(web.url + "/metrics", timeout=5).text
    assert 'reminders_webhook_events_total{result="delivered",source="twilio"} 1.0' in metrics
    assert 'reminders_webhook_events_total{result="ignored",source="twilio"} 6.0' in metrics


def test_undelivered_keeps_the_error_code(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    rig = make_rig(**live)
    send_first(rig, web.service, clock, channels=["sms"])
    assert web.twilio.callback(sms_sid(web), "undelivered", error_code=30003).status_code == 204
    assert state(web.service)[0] == ("sms", "undelivered", "30003")


def test_a_sent_callback_records_a_send_the_worker_did_not(web: Web, clock: ManualClock) -> None:
    """A worker that died after Twilio took the message leaves it ``sending``."""
    from reminders.lifecycle.sending import take_lease

    rid = register(web.service, channels=["sms"])
    clock.set(web.service.get("saaq", "permit-2026-00042").reminders[0].send_at)

    assert web.core.transitions.apply(rid, take_lease(3600))
    sid = "SM" + "a" * 32
    params = {"MessageSid": sid, "MessageStatus": "sent", "AccountSid": web.twilio.account_sid}
    assert web.twilio_post(f"{STATUS}?r={rid}", params).status_code == 204
    assert state(web.service)[0] == ("sms", "sent", "")
    params["MessageStatus"] = "delivered"
    assert web.twilio_post(f"{STATUS}?r={rid}", params).status_code == 204
    assert state(web.service)[0] == ("sms", "delivered", "")
    # A callback about another message (an earlier attempt) is not this one's.
    params["MessageSid"] = "SM" + "b" * 32
    params["MessageStatus"] = "undelivered"
    assert web.twilio_post(f"{STATUS}?r={rid}", params).status_code == 204
    assert state(web.service)[0] == ("sms", "delivered", "")


@pytest.mark.parametrize("query", ["", "?r=", "?r=nothing-here", "?r=0123456789abcdef0123-9"])
def test_an_unknown_message_is_acknowledged_and_changes_nothing(web: Web, query: str) -> None:
    register(web.service, channels=["sms"])
    before = web.service.get("saaq", "permit-2026-00042")
    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"}
    assert web.twilio_post(STATUS + query, params).status_code == 204
    assert web.service.get("saaq", "permit-2026-00042") == before


def test_forged_or_missing_signatures_are_refused(web: Web) -> None:
    import requests

    rid = register(web.service, channels=["sms"])
    before = web.service.get("saaq", "permit-2026-00042")
    params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"}
    url = f"{web.url}{STATUS}?r={rid}"
    assert requests.post(url, data=params, timeout=5).status_code == 403
    forged = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert requests.post(url, data=params, headers=forged, timeout=5).status_code == 403
    # Signed, then changed in flight.
    signed = web.twilio_post(f"{STATUS}?r={rid}", params)
    assert signed.status_code == 204
    other = web.twilio_post(
        f"{STATUS}?r={rid}x", params, signed_for=web.settings.public_url + STATUS + f"?r={rid}"
    )
    assert other.status_code == 403
    assert web.service.get("saaq", "permit-2026-00042") == before


def test_signatures_are_checked_against_the_public_url(make_web: Callable[..., Web]) -> None:
    """Behind a proxy, Twilio signs the address it called, not ours."""
    web = make_web(public_url="https://rappels.example.ca")
    params = {"From": "+15145550123", "Body": "AIDE"}
    good = web.twilio_post("/webhooks/twilio/inbound", params)
    assert good.status_code == 200 and "RAPPEL 2" in good.text
    local = web.twilio_post(
        "/webhooks/twilio/inbound", params, signed_for=web.url + "/webhooks/twilio/inbound"
    )
    assert local.status_code == 403


def test_webhooks_refuse_everything_when_no_auth_token_is_set(
    make_web: Callable[..., Web],
) -> None:
    web = make_web(twilio_auth_token=None)
    assert web.reply("+15145550123", "STOP").status_code == 403
    assert not web.service.is_opted_out("sms", "+15145550123")


# -- citizens' replies -------------------------------------------------


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Arrêt ", "ARRET", "arret", "Unsubscribe", "END", "quit"]
)
def test_stop_words_opt_the_number_out(web: Web, word: str) -> None:
    answer = web.reply("+15145550123", word)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>" in answer.text
    assert web.service.is_opted_out("sms", "+15145550123")
    assert ("REPRISE" in answer.text) or ("START" in answer.text)


@pytest.mark.parametrize("word", ["START", "reprise", "Unstop"])
def test_start_words_opt_back_in(web: Web, word: str) -> None:
    web.service.opt_out("sms", "+15145550123")
    assert web.reply("+15145550123", word).status_code == 200
    assert not web.service.is_opted_out("sms", "+15145550123")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("HELP", "SNOOZE 2"),
        ("aide", "RAPPEL 2"),
        ("Info", "RAPPEL 2"),
        ("what is this?", "RAPPEL 2"),
    ],
)
def test_help_and_anything_else_get_the_help_text(web: Web, word: str, expected: str) -> None:
    answer = web.reply("+15145550123", word)
    assert answer.status_code == 200 and expected in answer.text
    assert not web.service.is_opted_out("sms", "+15145550123")


@pytest.mark.parametrize(
    ("locale", "word", "expected"),
    [
        ("fr", "STOP", "you will no longer get any reminder by text, from any agency"),
        ("en", "ARRET", "vous ne recevrez plus aucun rappel par texto, de tous les organismes"),
        ("en", "aide", "Aide :"),
        ("fr", "HELP", "Help:"),
        ("en", "INFO", "Help:"),
        ("fr", "what?", "Aide :"),
    ],
)
def test_keywords_are_answered_in_their_own_language_others_in_the_citizens(
    web: Web,
    make_rig: Callable[..., Rig],
    live: dict[str, Any],
    clock: ManualClock,
    locale: str,
    word: str,
    expected: str,
) -> None:
    rig = make_rig(**live)
    send_first(rig, web.service, clock, channels=["sms"], citizen={"locale": locale})
    answer = web.reply("+15145550123", word)
    assert expected in html.unescape(answer.text)


def test_keyword_answers_name_the_service_and_a_contact_in_one_gsm_segment(web: Web) -> None:
    for word in ("HELP", "AIDE", "INFO", "STOP", "ARRET", "START", "REPRISE"):
        text = html.unescape(web.reply("+15145550123", word).text)
        message = text.split("<Message>", 1)[1].split("</Message>", 1)[0]
        assert web.settings.sms_service_name in message
        if word in ("HELP", "AIDE", "INFO"):
            assert web.settings.public_url in message
        length = measure(message)
        assert (length.encoding, length.segments) == ("GSM-7", 1), (word, message, length)


@pytest.mark.parametrize(
    ("body", "days"),
    [("SNOOZE 2", 2), ("rappel 3", 3), ("Plus tard", 1), ("snooze", 1), ("RAPPEL 2 jours", 2)],
)
def test_snooze_replies_put_off_the_latest_reminder(
    web: Web,
    make_rig: Callable[..., Rig],
    live: dict[str, Any],
    clock: ManualClock,
    body: str,
    days: int,
) -> None:
    rig = make_rig(**live)
    send_first(rig, web.service, clock, channels=["sms"], offsets=["9d", "1d"])
    answer = web.reply("+15145550123", body)
    assert answer.status_code == 200 and "nouveau rappel le" in answer.text
    view = web.service.get("saaq", "permit-2026-00042")
    snoozed = [r for r in view.reminders if r.kind == "snooze"]
    assert len(snoozed) == 1 and snoozed[0].state == "planned"
    later = snoozed[0].send_at - clock.now()
    # SMS quiet hours may move it to the next morning.
    assert timedelta(days=days) <= later < timedelta(days=days, hours=16)


def test_a_snooze_past_the_deadline_is_refused_and_says_so(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    rig = make_rig(**live)
    send_first(rig, web.service, clock, channels=["sms"], offsets=["3d"])
    before = web.service.get("saaq", "permit-2026-00042")
    answer = web.reply("+15145550123", "RAPPEL 5")
    assert (
        "Impossible de reporter de 5 jour(s)" in answer.text and "2 jour(s) au plus" in answer.text
    )
    assert web.service.get("saaq", "permit-2026-00042") == before
    for body in ("SNOOZE 0", "SNOOZE 99"):
        assert "entre 1 et 60" in web.reply("+15145550123", body).text


def test_a_reply_from_an_unknown_number_changes_nothing(web: Web) -> None:
    register(web.service, channels=["sms"])
    before = web.service.get("saaq", "permit-2026-00042")
    answer = web.reply("+15145559999", "RAPPEL 2")
    assert answer.status_code == 200 and "Aucun rappel récent" in answer.text
    for sender in ("", "12345", "not a number"):
        assert web.reply(sender, "STOP").status_code == 200
    assert web.service.get("saaq", "permit-2026-00042") == before


def test_bad_bodies_get_4xx(web: Web) -> None:
    import requests

    url = web.url + "/webhooks/twilio/inbound"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert requests.post(url, data=b"Body=%ff%fe", headers=form, timeout=5).status_code == 400
    assert requests.post(url, data=b"\xff\xfe=1", headers=form, timeout=5).status_code == 400
    many = "&".join(f"f{i}=1" for i in range(500)).encode()
    assert requests.post(url, data=many, headers=form, timeout=5).status_code == 400
    huge = b"Body=" + b"a" * (10 * 1024 * 1024)
    assert requests.post(url, data=huge, headers=form, timeout=30).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * (512 * 1024)

    assert requests.post(url, data=chunks(), headers=form, timeout=30).status_code == 413
