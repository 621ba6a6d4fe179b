"""The sandbox provider: magic recipients, receipts through the outcome code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from channels.base import Message
from channels.errors import PermanentChannelError, TransientChannelError
from channels.providers import ChannelSet, build_channels
from channels.sandbox import DelayedReceipts, SandboxChannel, accepted_sends
from reminders import Deadline, ManualClock, ReminderService
from reminders.lifecycle.transitions import Effect
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.redis.keys import Keys
from reminders.settings import Settings
from reminders.wiring import Core
from tests.conftest import deadline_data
from tests.fakes.lossy_proxy import LossyProxy


@pytest.fixture
def sandbox(
    core: Core,
    settings: Settings,
    service: ReminderService,
    clock: ManualClock,
    redis_client: redis.Redis,
) -> Iterator[ChannelSet]:
    recorder = core.receipts
    fast = settings.model_copy(update={"sandbox_receipt_delay_s": 0.05})
    channels = build_channels(fast, clock=clock, client=redis_client, outcomes=recorder.record)
    yield channels
    channels.close()


def sent_reminder(core: Core, clock: ManualClock, channel: str, **citizen: str) -> str:
    """Register, then mark the first reminder of ``channel`` as being sent."""
    data = deadline_data(channels=[channel], citizen=citizen)
    receipt = core.service.register(Deadline.model_validate(data))
    rid = next(r.id for r in receipt.reminders if r.channel == channel)

    def sending(_: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect:
        reminder.state = "sending"
        return Effect("sending", "test")

    assert core.transitions.apply(rid, sending) is not None
    return rid


def state_of(service: ReminderService, rid: str) -> tuple[str, str]:
    view = service.get("saaq", "permit-2026-00042")
    found = next(r for r in view.reminders if r.id == rid)
    return found.state, found.reason


def message(rid: str, channel: str, to: str) -> Message:
    return Message(reminder_id=rid, channel=channel, to=to, locale="fr", text="t")  # type: ignore[arg-type]


def test_sandbox_is_the_default_provider(settings: Settings) -> None:
    assert Settings(_env_file=None).provider == "sandbox"
    assert settings.provider == "sandbox"


@pytest.mark.parametrize(
    ("channel", "citizen", "to"),
    [
        ("sms", {"phone": "+15145550199"}, "+15145550199"),
        ("email", {"email": "marie@example.ca"}, "marie@example.ca"),
        ("calendar", {"email": "marie@example.ca"}, "marie@example.ca"),
    ],
)
def test_ordinary_recipients_are_accepted_then_reported_delivered(
    core: Core,
    sandbox: ChannelSet,
    service: ReminderService,
    clock: ManualClock,
    channel: str,
    citizen: dict[str, str],
    to: str,
) -> None:
    rid = sent_reminder(core, clock, channel, **citizen)

    receipt = sandbox[channel].send(message(rid, channel, to))

    assert receipt.provider == "sandbox"
    assert state_of(service, rid)[0] == "sending"  # the receipt comes later
    assert sandbox.receipts is not None and sandbox.receipts.flush()
    assert state_of(service, rid) == ("delivered", "")


@pytest.mark.parametrize(("channel", "to"), [("sms", "+15145550002"), ("email", "fail@example.ca")])
def test_0002_and_fail_are_refused_permanently(sandbox: ChannelSet, channel: str, to: str) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        sandbox[channel].send(message("0" * 20 + "-1", channel, to))
    assert caught.value.provider == "sandbox"


@pytest.mark.parametrize(
    ("channel", "citizen", "to"),
    [
        ("sms", {"phone": "+15145550003"}, "+15145550003"),
        ("email", {"email": "temp+2@example.ca"}, "temp+2@example.ca"),
    ],
)
def test_0003_and_temp_fail_twice_then_are_delivered(
    core: Core,
    sandbox: ChannelSet,
    service: ReminderService,
    clock: ManualClock,
    channel: str,
    citizen: dict[str, str],
    to: str,
) -> None:
    rid = sent_reminder(core, clock, channel, **citizen)

    for _ in range(2):
        with pytest.raises(TransientChannelError):
            sandbox[channel].send(message(rid, channel, to))
    sandbox[channel].send(message(rid, channel, to))

    assert sandbox.receipts is not None and sandbox.receipts.flush()
    assert state_of(service, rid) == ("delivered", "")


@pytest.mark.parametrize(
    ("channel", "citizen", "to", "code"),
    [
        ("sms", {"phone": "+15145550004"}, "+15145550004", "30005"),
        ("email", {"email": "bounce@example.ca"}, "bounce@example.ca", "bounce"),
    ],
)
def test_0004_and_bounce_are_accepted_then_reported_undelivered(
    core: Core,
    sandbox: ChannelSet,
    service: ReminderService,
    clock: ManualClock,
    channel: str,
    citizen: dict[str, str],
    to: str,
    code: str,
) -> None:
    rid = sent_reminder(core, clock, channel, **citizen)

    sandbox[channel].send(message(rid, channel, to))

    assert sandbox.receipts is not None and sandbox.receipts.flush()
    assert state_of(service, rid) == ("undelivered", code)


def test_a_batch_is_booked_in_one_step_and_each_message_has_its_own_outcome(
    core: Core,
    sandbox: ChannelSet,
    service: ReminderService,
    clock: ManualClock,
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    ordinary = sent_reminder(core, clock, "email", email="marie@example.ca")
    batch = [
        message(ordinary, "email", "marie@example.ca"),
        message("0" * 20 + "-1", "email", "fail@example.ca"),
        message("1" * 20 + "-1", "email", "temp@example.ca"),
        message("2" * 20 + "-1", "email", "bounce@example.ca"),
    ]
    inner = sandbox["email"].inner  # type: ignore[attr-defined]
    booking, calls = inner._accept_script, []

    def counted(client: redis.Redis, keys: list[str], args: list[str | int]) -> Any:
        calls.append(len(args))
        return booking(client, keys, args)

    inner._accept_script = counted

    results = sandbox["email"].send_many(batch)  # type: ignore[attr-defined]

    assert calls == [2 + 2 * 4]  # the two accepted messages, booked in one call
    assert [type(r).__name__ for r in results] == [
        "ProviderReceipt", "PermanentChannelError", "TransientChannelError", "ProviderReceipt",
    ]  # fmt: skip
    sends = accepted_sends(redis_client, Keys(settings.key_prefix))
    assert {rid: len(times) for rid, times in sends.items()} == {ordinary: 1, "2" * 20 + "-1": 1}
    assert sandbox.receipts is not None and sandbox.receipts.flush()
    assert state_of(service, ordinary) == ("delivered", "")


def test_a_batch_during_an_outage_is_refused_transiently_and_booked_nowhere(
    sandbox: ChannelSet, clock: ManualClock, settings: Settings, redis_client: redis.Redis
) -> None:
    sandbox.outage_until(clock.now() + timedelta(minutes=5))
    send_many = sandbox["sms"].send_many  # type: ignore[attr-defined]

    results = send_many([message(f"{i:020d}-1", "sms", "+15145550199") for i in range(3)])

    assert all(isinstance(r, TransientChannelError) and r.code == "503" for r in results)
    assert accepted_sends(redis_client, Keys(settings.key_prefix)) == {}


def test_closing_records_receipts_still_waiting(
    core: Core,
    settings: Settings,
    service: ReminderService,
    clock: ManualClock,
    redis_client: redis.Redis,
) -> None:
    recorder = core.receipts
    slow = settings.model_copy(update={"sandbox_receipt_delay_s": 3600})
    channels = build_channels(slow, clock=clock, client=redis_client, outcomes=recorder.record)
    rid = sent_reminder(core, clock, "sms", phone="+15145550199")

    channels["sms"].send(message(rid, "sms", "+15145550199"))
    channels.close()

    assert state_of(service, rid)[0] == "delivered"


def test_a_send_whose_booking_reply_is_lost_is_booked_once(
    settings: Settings, clock: ManualClock, redis_url: str, redis_client: redis.Redis
) -> None:
    # Redis restarting between running the booking and answering it: the
    # client retries, and the message must still count once, not twice.
    upstream = urlsplit(redis_url)
    with LossyProxy(upstream.hostname or "127.0.0.1", upstream.port or 6379) as proxy:
        lossy = redis.Redis.from_url(proxy.url)
        receipts = DelayedReceipts(
            lambda _: None, clock, delay_s=0.0, client=redis_client, keys=Keys(settings.key_prefix)
        )
        channel = SandboxChannel(
            "email", client=lossy, keys=Keys(settings.key_prefix), receipts=receipts, clock=clock
        )
        try:
            lossy.ping()  # the pooled connection is open; the next request is the booking
            proxy.lose_next_reply()
            receipt = channel.send(message("r1", "email", "ana@example.ca"))
        finally:
            receipts.close()
            lossy.close()
    assert proxy.lost == 1
    assert receipt.provider_id.startswith("SB")
    sends = accepted_sends(redis_client, Keys(settings.key_prefix))
    assert {rid: len(times) for rid, times in sends.items()} == {"r1": 1}


def test_receipts_of_a_worker_that_died_are_delivered_by_whoever_runs_next(
    settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    keys = Keys(settings.key_prefix)
    seen: list[str] = []
    dying = DelayedReceipts(
        lambda r: seen.append(f"first {r.reminder_id}"),
        clock,
        delay_s=0.3,
        client=redis_client,
        keys=keys,
    )
    dying.later("r-1", "SB1", "delivered")
    dying.later("r-2", "SB2", "undelivered", "30005")
    dying.halt()  # killed before the receipts were due: nothing recorded
    assert seen == [] and dying.pending() == 2

    nextone = DelayedReceipts(
        lambda r: seen.append(f"{r.reminder_id} {r.status} {r.code}".strip()),
        clock,
        delay_s=0.3,
        client=redis_client,
        keys=keys,
    )
    try:
        assert nextone.flush(timeout_s=10)
    finally:
        nextone.close()
    assert sorted(seen) == ["r-1 delivered", "r-2 undelivered 30005"]
