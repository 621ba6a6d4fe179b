"""Status callbacks to agencies: relayed by the scheduler from the audit
stream, delivered by a real Dramatiq worker, signed per Standard Webhooks and
checked with the reference ``standardwebhooks`` library."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from reminders import ManualClock, ReminderService
from reminders.wiring import Core
from tests.fakes.providers import Receiver, Recorded, Reply
from tests.workers.conftest import Rig
from workers.callbacks import CallbackFailed, CallbackSender

from .test_dispatch import REF, register


def verified(secret: str, request: Recorded) -> dict[str, Any]:
    """The event, once the reference library accepts its signature."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    payload: dict[str, Any] = Webhook(secret).verify(request.body.decode(), headers)
    return payload


def wait_for(receiver: Receiver, count: int, timeout_s: float = 30.0) -> None:
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        if len(_delivered(receiver)) >= count:
            return
        time.sleep(0.02)
    raise TimeoutError(f"{len(_delivered(receiver))} of {count} callbacks arrived")


def _delivered(receiver: Receiver) -> dict[str, Recorded]:
    """The last request of each webhook id (the one answered 2xx, once up)."""
    return {r.headers["webhook-id"]: r for r in receiver.requests if "webhook-id" in r.headers}


@pytest.fixture
def callback_rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig(
        callback_allow_http_loopback=True,
        callback_min_backoff_ms=20,
        callback_max_backoff_ms=100,
    )


def test_every_outcome_and_close_reaches_the_agency_signed_even_after_an_outage(
    callback_rig: Rig,
    core: Core,
    service: ReminderService,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    secret = core.agencies.set_callback("saaq", receiver.url + "/hooks", allow_http_loopback=True)
    # The agency's server is down for the first 12 tries.
    receiver.script(*[Reply(503)] * 12)
    register(service, channels=["sms", "email"], offsets=["1d"])
    register(
        service,
        ref="bounced",
        channels=["email"],
        offsets=["1d"],
        citizen={"email": "bounce@example.ca"},
    )
    register(service, ref="withdrawn", channels=["sms"], offsets=["1d"])
    service.cancel("saaq", "withdrawn")
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))
    callback_rig.run_due()
    service.complete("saaq", REF)
    callback_rig.run_due()

    expected = {
        ("deadline.cancelled", "withdrawn", None),
        ("reminder.sent", REF, "sms"),
        ("reminder.delivered", REF, "sms"),
        ("deadline.completed", REF, None),
        ("reminder.sent", "bounced", "email"),
        ("reminder.undelivered", "bounced", "email"),
    }
    wait_for(receiver, len(expected))
    time.sleep(0.3)  # anything more would arrive now
    events = {wid: verified(secret, r) for wid, r in _delivered(receiver).items()}
    got = {
        (e["type"], e["data"]["ref"], (e["data"].get("reminder") or {}).get("channel"))
        for e in events.values()
    }
    assert got == expected
    assert len(events) == len(expected)  # one id per event
    for webhook_id, event in events.items():
        assert webhook_id.startswith("evt_")
        tries = [r for r in receiver.requests if r.headers.get("webhook-id") == webhook_id]
        assert len({r.body for r in tries}) == 1  # retries carry the same event
        assert "+1514" not in json.dumps(event) and "@example.ca" not in json.dumps(event)
    # The first 12 tries met the outage and were retried.
    assert len(receiver.requests) >= len(expected) + 12


def test_a_duplicate_message_sends_nothing_and_a_refused_post_raises(
    core: Core, receiver: Receiver, service: ReminderService, clock: ManualClock
) -> None:
    core.agencies.set_callback("saaq", receiver.url + "/x", allow_http_loopback=True)
    stored = {"agency": "saaq", "created": int(clock.now().timestamp()), "body": {"type": "t"}}
    core.client.set(core.keys.callback("evt_1-0"), json.dumps(stored))
    sender = CallbackSender(
        client=core.client,
        keys=core.keys,
        agencies=core.agencies,
        clock=clock,
        give_up_s=3600,
        http=httpx.Client(timeout=5),
    )
    receiver.script(Reply(500))
    with pytest.raises(CallbackFailed):
        sender.deliver("evt_1-0")
    assert sender.deliver("evt_1-0") == "delivered"
    assert sender.deliver("evt_1-0") == "duplicate"
    assert len(receiver.requests) == 2

    core.agencies.set_callback("saaq", "http://127.0.0.1:9/closed", allow_http_loopback=True)
    core.client.set(core.keys.callback("evt_2-0"), json.dumps(stored))
    with pytest.raises(CallbackFailed):
        sender.deliver("evt_2-0")  # connection refused: retried later
    clock.set(datetime(2026, 11, 21, 14, 0, 1, tzinfo=UTC))
    assert sender.deliver("evt_2-0") == "given_up"  # past the give-up time
    sender.close()
