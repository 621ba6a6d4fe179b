"""Delivery reports as reminder transitions: idempotent and order-safe."""

from __future__ import annotations

from datetime import timedelta

import redis

from config.settings import Settings
from reminders import Deadline, ManualClock, ReminderService
from reminders.outcomes import DeliveryReport, OutcomeRecorder
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.transitions import Effect, Transitions
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
    service: ReminderService, clock: ManualClock
) -> None:
    transitions = Transitions(service.store, clock)
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")
    clock.advance(timedelta(seconds=30))

    applied = OutcomeRecorder(transitions).record(report(rid, "delivered", clock))

    assert applied is not None
    assert applied.reminder.state == "delivered"
    assert applied.reminder.updated == int(clock.now().timestamp())
    assert state_of(service, rid) == "delivered"


def test_the_same_receipt_twice_changes_nothing_the_second_time(
    service: ReminderService, clock: ManualClock, redis_client: redis.Redis, settings: Settings
) -> None:
    transitions = Transitions(service.store, clock)
    recorder = OutcomeRecorder(transitions)
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")
    audit = f"{settings.key_prefix}audit"

    assert recorder.record(report(rid, "delivered", clock)) is not None
    length = redis_client.xlen(audit)
    assert recorder.record(report(rid, "delivered", clock)) is None

    assert redis_client.xlen(audit) == length


def test_a_late_undelivered_cannot_undo_delivered(
    service: ReminderService, clock: ManualClock
) -> None:
    transitions = Transitions(service.store, clock)
    recorder = OutcomeRecorder(transitions)
    rid = registered(service)
    put_state(transitions, rid, "sent", "SM1")

    recorder.record(report(rid, "delivered", clock))
    assert recorder.record(report(rid, "undelivered", clock, "30005")) is None

    assert state_of(service, rid) == "delivered"


def test_a_receipt_may_overtake_the_record_of_the_send(
    service: ReminderService, clock: ManualClock
) -> None:
    transitions = Transitions(service.store, clock)
    rid = registered(service)
    put_state(transitions, rid, "sending")

    applied = OutcomeRecorder(transitions).record(report(rid, "undelivered", clock, "30005"))

    assert applied is not None
    assert applied.reminder.state == "undelivered"
    assert applied.reminder.reason == "30005"
    assert applied.reminder.provider_id == "SM1"


def test_a_receipt_for_a_reminder_never_sent_or_unknown_is_ignored(
    service: ReminderService, clock: ManualClock
) -> None:
    recorder = OutcomeRecorder(Transitions(service.store, clock))
    rid = registered(service)

    assert recorder.record(report(rid, "delivered", clock)) is None
    assert recorder.record(report("0" * 20 + "-9", "delivered", clock)) is None
    assert recorder.record(report("not-a-reminder", "delivered", clock)) is None
    assert state_of(service, rid) == "planned"


def test_a_receipt_after_the_no_receipt_timeout_still_counts(
    service: ReminderService, clock: ManualClock
) -> None:
    transitions = Transitions(service.store, clock)
    rid = registered(service)
    put_state(transitions, rid, "no_receipt", "SM1")

    assert OutcomeRecorder(transitions).record(report(rid, "delivered", clock)) is not None
    assert state_of(service, rid) == "delivered"
