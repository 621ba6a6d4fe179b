"""Delivery reports as reminder transitions: idempotent and order-safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from reminders import Deadline, ManualClock, ReminderService
from reminders.lifecycle.receipts import DeliveryReport, OutcomeRecorder
from reminders.lifecycle.sending import record_sent, take_lease
from reminders.lifecycle.transitions import Effect, Transitions
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.redis.keys import Keys
from reminders.settings import Settings
from reminders.wiring import Core
from tests.conftest import deadline_data


def registered(service: ReminderService) -> str:
    receipt = service.register(Deadline.model_validate(deadline_data(channels=["sms"])))
    return receipt.reminders[0].id


def put_state(transitions: Transitions, rid: str, state: str, provider_id: str = "") -> None:
    """Move a reminder as the dispatcher would (issue 4 builds the real one)."""

    def change(_: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect:
        reminder.state = state  # type: ignore[assignment]
        reminder.provider_id = provider_id
        return Effect(state, "test")

    assert transitions.apply(rid, change) is not None


def report(rid: str, status: str, clock: ManualClock, code: str = "") -> DeliveryReport:
    return DeliveryReport(rid, "twilio", "SM1", status, clock.now(), code)  # type: ignore[arg-type]


def state_of(service: ReminderService, rid: str) -> str:
    view = service.get("saaq", "permit-2026-00042")
    return next(r.state for r in view.reminders if r.id == rid)


def test_a_delivered_receipt_moves_a_sent_reminder_to_delivered(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")
    clock.advance(timedelta(seconds=30))

    applied = OutcomeRecorder(transitions).record(report(rid, "delivered", clock))

    assert applied is not None
    assert applied.reminder.state == "delivered"
    assert applied.reminder.updated == int(clock.now().timestamp())
    assert state_of(service, rid) == "delivered"


def test_the_same_receipt_twice_changes_nothing_the_second_time(
    core: Core,
    service: ReminderService,
    clock: ManualClock,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    transitions = core.transitions
    recorder = OutcomeRecorder(transitions)
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")
    audit = Keys(settings.key_prefix).audit(0)

    assert recorder.record(report(rid, "delivered", clock)) is not None
    length = redis_client.xlen(audit)
    assert recorder.record(report(rid, "delivered", clock)) is None

    assert redis_client.xlen(audit) == length


def test_a_late_undelivered_cannot_undo_delivered(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    recorder = OutcomeRecorder(transitions)
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")

    recorder.record(report(rid, "delivered", clock))
    assert recorder.record(report(rid, "undelivered", clock, "30005")) is None

    assert state_of(service, rid) == "delivered"


def test_a_receipt_may_overtake_the_record_of_the_send(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    rid = registered(service)
    put_state(transitions, rid, "sending")

    applied = OutcomeRecorder(transitions).record(report(rid, "undelivered", clock, "30005"))

    assert applied is not None
    assert applied.reminder.state == "undelivered"
    assert applied.reminder.reason == "30005"
    assert applied.reminder.provider_id == "SM1"


def test_a_send_recorded_after_its_receipt_keeps_the_delivery_time(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    """The provider answered slowly: its delivery receipt (before the
    deadline) was recorded first, and the worker's record of the send
    lands after the deadline. The reminder was delivered in time, and
    coverage counts it so."""
    transitions = core.transitions
    data = deadline_data(channels=["sms"], offsets=["1h"])
    rid = service.register(Deadline.model_validate(data)).reminders[0].id
    due = datetime.fromisoformat(data["due"]).astimezone(UTC)
    clock.set(due - timedelta(hours=1))
    assert transitions.apply(rid, take_lease(3600, "token")) is not None
    clock.set(due - timedelta(minutes=50))
    delivered_at = int(clock.now().timestamp())
    assert OutcomeRecorder(transitions).record(report(rid, "delivered", clock)) is not None

    clock.set(due + timedelta(seconds=5))
    applied = transitions.apply(rid, record_sent("twilio", "SM1"))

    assert applied is not None
    assert (applied.reminder.state, applied.reminder.lease) == ("delivered", "")
    assert applied.reminder.updated == delivered_at
    assert service.coverage().covered == 1
    assert service.recount() == {}


def test_a_receipt_for_a_reminder_never_sent_or_unknown_is_ignored(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    recorder = core.receipts
    rid = registered(service)

    assert recorder.record(report(rid, "delivered", clock)) is None
    assert recorder.record(report("0" * 20 + "-9", "delivered", clock)) is None
    assert recorder.record(report("not-a-reminder", "delivered", clock)) is None
    assert state_of(service, rid) == "planned"


def test_a_receipt_after_the_no_receipt_timeout_still_counts(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    rid = registered(service)
    put_state(transitions, rid, "no_receipt", "SM1")

    assert OutcomeRecorder(transitions).record(report(rid, "delivered", clock)) is not None
    assert state_of(service, rid) == "delivered"


def sms_then_email(service: ReminderService, ref: str = "permit-2026-00042") -> str:
    data = deadline_data(ref=ref, channels=["sms", "email"], offsets=["7d"])
    return service.register(Deadline.model_validate(data)).reminders[0].id


def channels_of(service: ReminderService, ref: str) -> list[str]:
    return [r.channel for r in service.get("saaq", ref).reminders]


def test_an_undelivered_sms_falls_back_to_email_now(
    core: Core, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    transitions = core.transitions
    rid = sms_then_email(service)
    clock.set(datetime(2026, 12, 8, 15, 0, tzinfo=UTC))  # the 7-day reminder went out
    put_state(transitions, rid, "sent", "SM1")

    applied = OutcomeRecorder(transitions).record(report(rid, "undelivered", clock, "30003"))

    assert applied is not None
    first, added = service.get("saaq", "permit-2026-00042").reminders
    assert (first.channel, first.state, first.reason) == ("sms", "undelivered", "30003")
    assert (added.channel, added.state, added.send_at) == ("email", "planned", clock.now())
    score = redis_client.zscore(core.store.keys.schedule(0), added.id)
    assert score == clock.now().timestamp()


def test_no_fallback_to_an_opted_out_channel(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    rid = sms_then_email(service)
    put_state(transitions, rid, "sent", "SM1")
    service.opt_out("email", "a@example.ca")

    assert OutcomeRecorder(transitions).record(report(rid, "undelivered", clock, "30003"))

    assert channels_of(service, "permit-2026-00042") == ["sms"]


def test_no_fallback_once_the_deadline_passed(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    transitions = core.transitions
    rid = sms_then_email(service)
    put_state(transitions, rid, "sent", "SM1")
    clock.set(datetime(2026, 12, 15, 23, 0, tzinfo=UTC))  # after 17:00 in Montréal

    assert OutcomeRecorder(transitions).record(report(rid, "undelivered", clock, "30003"))

    assert channels_of(service, "permit-2026-00042") == ["sms"]
