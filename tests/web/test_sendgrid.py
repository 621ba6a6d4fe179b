"""SendGrid's signed event webhook, over real HTTP."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reminders import ManualClock
from tests.workers.conftest import Rig, state

from .conftest import Web, register, send_first

EVENTS = "/webhooks/sendgrid/events"


def sent_email(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> str:
    send_first(make_rig(**live), web.service, clock, channels=["email"])
    [message_id] = list(web.sendgrid.sent)
    assert state(web.service)[0] == ("email", "sent", "")
    return message_id


def test_events_from_the_fake_sendgrid_land_while_workers_send(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    batch = [web.sendgrid.event(mid, "processed"), web.sendgrid.event(mid, "delivered")]
    assert web.sendgrid.events(web.url + EVENTS, batch).status_code == 204
    assert state(web.service)[0] == ("email", "delivered", "")


def test_copies_and_replays_within_the_window_are_acted_on_once(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    delivered = web.sendgrid.event(mid, "delivered")
    assert web.sendgrid.events(web.url + EVENTS, [delivered, delivered]).status_code == 204
    assert web.sendgrid.events(web.url + EVENTS, [delivered]).status_code == 204
    metrics = requests.get(web.url + "/metrics", timeout=5).text
    assert 'reminders_webhook_events_total{result="delivered",source="sendgrid"} 1.0' in metrics
    assert 'reminders_webhook_events_total{result="duplicate",source="sendgrid"} 2.0' in metrics
    assert state(web.service)[0] == ("email", "delivered", "")


def test_a_batch_signed_long_ago_is_refused(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    old = time.time() - web.settings.sendgrid_webhook_tolerance_s - 60
    batch = [web.sendgrid.event(mid, "delivered")]
    assert web.sendgrid.events(web.url + EVENTS, batch, signed_at=old).status_code == 403
    future = time.time() + web.settings.sendgrid_webhook_tolerance_s + 60
    assert web.sendgrid.events(web.url + EVENTS, batch, signed_at=future).status_code == 403
    assert state(web.service)[0] == ("email", "sent", "")


def test_forged_and_missing_signatures_are_refused(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    payload = json.dumps([web.sendgrid.event(mid, "delivered")]).encode()
    url = web.url + EVENTS
    assert requests.post(url, data=payload, timeout=5).status_code == 403
    assert (
        requests.post(
            url, data=payload, headers=signed_by_other_key(payload), timeout=5
        ).status_code
        == 403
    )
    headers = web.sendgrid.sign(payload)
    tampered = payload.replace(b"delivered", b"bounce")
    assert requests.post(url, data=tampered, headers=headers, timeout=5).status_code == 403
    garbage = {**headers, "X-Twilio-Email-Event-Webhook-Signature": "%%%not base64"}
    assert requests.post(url, data=payload, headers=garbage, timeout=5).status_code == 403
    assert state(web.service)[0] == ("email", "sent", "")


def test_bounces_keep_the_smtp_status(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    bounce = web.sendgrid.event(mid, "bounce", status="5.1.1", reason="no such user")
    assert web.sendgrid.events(web.url + EVENTS, [bounce]).status_code == 204
    assert state(web.service)[0] == ("email", "undelivered", "bounce 5.1.1")


def test_unsubscribes_and_spam_reports_opt_the_address_out(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    assert not web.service.is_opted_out("email", "a@example.ca")
    events = [web.sendgrid.event(mid, "delivered"), web.sendgrid.event(mid, "unsubscribe")]
    assert web.sendgrid.events(web.url + EVENTS, events).status_code == 204
    assert web.service.is_opted_out("email", "a@example.ca")
    web.service.opt_in("email", "a@example.ca")
    assert (
        web.sendgrid.events(web.url + EVENTS, [web.sendgrid.event(mid, "spamreport")]).status_code
        == 204
    )
    assert web.service.is_opted_out("email", "a@example.ca")
    assert state(web.service)[0] == ("email", "delivered", "")


def test_unknown_events_and_fields_are_acknowledged_and_change_nothing(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    mid = sent_email(web, make_rig, live, clock)
    before = web.service.get("saaq", "permit-2026-00042")
    batch = [
        web.sendgrid.event(mid, "open", useragent="x", brand_new_field={"a": 1}),
        web.sendgrid.event(mid, "something_new"),
        web.sendgrid.event(mid, "delivered", reminder_id="0123456789abcdef0123-9"),
        web.sendgrid.event(mid, "delivered", sg_message_id="another.filter"),
        {"event": "delivered"},  # no sg_event_id
        {"sg_event_id": "abc", "event": 42},
        web.sendgrid.event(mid, "unsubscribe", email="not an address"),
    ]
    assert web.sendgrid.events(web.url + EVENTS, batch).status_code == 204
    assert web.service.get("saaq", "permit-2026-00042") == before


def test_malformed_bodies_get_400(web: Web) -> None:
    url = web.url + EVENTS
    for body in (b"not json", b'{"event": "delivered"}', b"[1, 2]", b"\xff\xfe[]"):
        headers = web.sendgrid.sign(body)
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 400
    huge = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    assert (
        requests.post(url, data=huge, headers=web.sendgrid.sign(b"[]"), timeout=30).status_code
        == 413
    )


def test_no_public_key_means_every_batch_is_refused(make_web: Callable[..., Web]) -> None:
    web = make_web(sendgrid_webhook_public_key=None)
    body = b"[]"
    assert (
        requests.post(
            web.url + EVENTS, data=body, headers=web.sendgrid.sign(body), timeout=5
        ).status_code
        == 403
    )


def signed_by_other_key(
    body: bytes, key: ec.EllipticCurvePrivateKey | None = None
) -> dict[str, str]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    stamp = str(int(time.time()))
    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256())))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": signature.decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def test_ecdsa_key_made_here_verifies(make_web: Callable[..., Web]) -> None:
    """A key pair made in the test (not the fake's) is what the app trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    web = make_web(sendgrid_webhook_public_key=public)
    body = json.dumps([{"event": "open", "sg_event_id": "e1"}]).encode()
    headers = signed_by_other_key(body, key)
    assert requests.post(web.url + EVENTS, data=body, headers=headers, timeout=5).status_code == 204
    # ... and the fake's own key no longer does.
    assert (
        requests.post(
            web.url + EVENTS, data=body, headers=web.sendgrid.sign(body), timeout=5
        ).status_code
        == 403
    )


def test_reminders_due_together_each_make_their_own_sendgrid_call(
    web: Web, make_rig: Callable[..., Rig], live: dict[str, Any], clock: ManualClock
) -> None:
    # One worker message carries all five: the live email channel takes no
    # batch, so each is its own request, made concurrently.
    rig = make_rig(**live)
    refs = [f"r-{i}" for i in range(5)]
    for ref in refs:
        register(web.service, ref=ref, channels=["email"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert len(web.sendgrid.sent) == 5
    assert [state(web.service, ref) for ref in refs] == [[("email", "sent", "")]] * 5
