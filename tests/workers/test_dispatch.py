"""Scheduler and real Dramatiq worker in one process, sandbox channels, the
test's clock fast-forwarded through weeks of schedule."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from reminders import Deadline, ManualClock, ReminderService
from reminders.ids import deadline_tag
from reminders.lifecycle.transitions import Change, Transitions
from reminders.record import DeadlineRecord
from reminders.retention import Retention, SweepResult
from reminders.wiring import Core
from tests.conftest import deadline_data
from tests.workers.conftest import Rig, state

REF = "permit-2026-00042"


def register(service: ReminderService, **overrides: object) -> list[str]:
    receipt = service.register(Deadline.model_validate(deadline_data(**overrides)))
    return [r.id for r in receipt.reminders]


def test_weeks_of_schedule_run_in_seconds_each_reminder_sent_once_and_delivered(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    ids = register(service)
    rig.run_due()  # the invite goes out at registration
    assert state(service)[0] == ("calendar", "delivered", "")
    assert [s for _, s, _ in state(service)[1:]] == ["planned", "planned"]

    clock.set(datetime(2026, 12, 8, 22, 0, 30, tzinfo=UTC))  # 7 days before, 17:00 local
    rig.run_due()
    assert [s for _, s, _ in state(service)] == ["delivered", "delivered", "planned"]

    clock.set(datetime(2026, 12, 14, 22, 0, 30, tzinfo=UTC))
    rig.run_due()
    rig.run_due()  # nothing is sent twice however often the scheduler runs

    assert [s for _, s, _ in state(service)] == ["delivered"] * 3
    assert rig.sends() == dict.fromkeys(ids, 1)


def test_only_each_deadline_s_next_reminder_waits_in_the_schedule(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """The schedule holds a deadline's next planned reminder; the write that
    takes it puts the following one there."""
    first, second = register(service, channels=["sms"])
    keys = rig.scheduler.schedule.keys

    def waiting() -> list[str]:
        members: Any = redis_client.zrange(keys.schedule(0), 0, -1)
        return [m.decode() for m in members]

    assert waiting() == [first]
    clock.set(datetime(2026, 12, 8, 22, 0, 30, tzinfo=UTC))
    rig.run_due()
    assert waiting() == [second]  # the first's receipt check is gone with its receipt
    clock.set(datetime(2026, 12, 14, 22, 0, 30, tzinfo=UTC))
    rig.run_due()
    assert waiting() == []
    assert rig.sends() == {first: 1, second: 1}


def test_a_completed_deadline_gets_no_more_reminders(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    register(service, channels=["sms"])
    service.complete("saaq", REF)
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert rig.sends() == {}
    assert {s for _, s, _ in state(service)} == {"skipped"}


def test_an_opt_out_after_planning_is_honoured_and_falls_back_to_email(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    register(service, channels=["sms", "email"], offsets=["1d"])
    service.opt_out("sms", "+15145550123")
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert state(service) == [("sms", "skipped", "opted_out"), ("email", "delivered", "")]


def test_a_final_receipt_drops_its_receipt_check_from_the_schedule_in_the_same_step(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    [rid] = register(service, channels=["email"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert state(service) == [("email", "delivered", "")]
    keys = rig.scheduler.schedule.keys
    assert redis_client.zscore(keys.schedule(0), rid + ":r") is None
    assert redis_client.zcard(keys.schedule(0)) == 0  # nothing is left to release later


def test_members_of_one_deadline_in_one_message_are_each_sent_once(
    make_rig: Callable[..., Rig], service: ReminderService, clock: ManualClock
) -> None:
    rig = make_rig(members_per_message=16)
    ids = register(service, channels=["sms", "email"], offsets=["1d", "2d", "3d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))  # all three days are due now

    rig.run_due()

    # Three reminders of one document, leased and recorded in the same
    # batched writes: each lost race is applied again on a fresh read.
    assert rig.sends() == dict.fromkeys(ids, 1)
    assert state(service) == [("sms", "delivered", "")] * 3


class BrokenSms:
    """An SMS channel whose SDK raises what no one expected (a bug): whether
    the provider took the message is unknown."""

    name = "sms"

    def send(self, message: Any) -> Any:
        raise RuntimeError("the SDK broke")

    def send_many(self, messages: Sequence[Any]) -> Any:
        raise RuntimeError("the SDK broke")


@pytest.mark.parametrize("per_message", [1, 16])
def test_a_send_that_raised_unexpectedly_is_never_tried_again_and_ends_no_receipt(
    make_rig: Callable[..., Rig], service: ReminderService, clock: ManualClock, per_message: int
) -> None:
    rig = make_rig(members_per_message=per_message)
    dispatcher = rig.worker.dispatcher
    dispatcher.channels = {**dispatcher.channels, "sms": BrokenSms()}
    refs = [f"r-{i}" for i in range(3)]
    for ref in refs:
        register(service, ref=ref, channels=["sms", "email"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()
    rig.run_due()  # nothing is tried again: the provider may have it

    assert [state(service, ref) for ref in refs] == [[("sms", "sending", "")]] * 3
    clock.set(datetime(2026, 12, 18, 0, 0, tzinfo=UTC))  # past the receipt wait
    rig.run_due()
    assert [state(service, ref) for ref in refs] == [[("sms", "no_receipt", "")]] * 3
    assert rig.sends() == {}


def test_a_permanent_failure_falls_back_to_the_next_channel(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    register(service, channels=["sms", "email"], offsets=["1d"], citizen={"phone": "+15145550002"})
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert state(service) == [("sms", "failed", "21211"), ("email", "delivered", "")]


def test_a_bounced_email_falls_back_to_sms_once_the_receipt_comes(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    ids = register(
        service, channels=["email", "sms"], offsets=["1d"], citizen={"email": "bounce@example.ca"}
    )
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()  # the email goes out; its bounce plans the SMS, released at once

    assert state(service) == [("email", "undelivered", "bounce"), ("sms", "delivered", "")]
    assert rig.sends() == {ids[0]: 1, service.get("saaq", REF).reminders[1].id: 1}


def test_transient_failures_are_retried_with_backoff_then_delivered(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    [rid] = register(service, channels=["sms"], offsets=["1d"], citizen={"phone": "+15145550003"})
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()
    first = service.get("saaq", REF).reminders[0]
    assert (first.state, first.reason, first.attempts) == ("planned", "503", 1)
    assert timedelta(seconds=30) <= first.send_at - clock.now() <= timedelta(seconds=60)

    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        rig.run_due()

    final = service.get("saaq", REF).reminders[0]
    assert (final.state, final.attempts) == ("delivered", 3)
    assert rig.sends() == {rid: 1}


def test_a_retry_that_would_land_after_the_deadline_fails_instead(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    register(service, channels=["sms"], offsets=["90m"], citizen={"phone": "+15145550003"})
    due = datetime(2026, 12, 15, 22, 0, tzinfo=UTC)
    clock.set(due - timedelta(seconds=90))  # released late: 90 s left

    rig.run_due()

    assert state(service) == [("sms", "failed", "503 retries")]
    assert rig.sends() == {}


def test_sms_in_quiet_hours_waits_for_the_morning(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    # Planned at 20:30 local, outside quiet hours; released late (as after an
    # outage) at 22:00 local, inside them: it is deferred to 08:00.
    register(service, channels=["sms"], offsets=["3d"], due="2026-12-15T20:30:00-05:00")
    [planned] = service.get("saaq", REF).reminders
    assert planned.send_at == datetime(2026, 12, 13, 1, 30, tzinfo=UTC)
    clock.set(datetime(2026, 12, 13, 3, 0, tzinfo=UTC))

    rig.run_due()

    [reminder] = service.get("saaq", REF).reminders
    assert reminder.state == "planned"
    assert reminder.send_at == datetime(2026, 12, 13, 13, 0, tzinfo=UTC)  # 08:00 local
    clock.set(reminder.send_at + timedelta(seconds=1))
    rig.run_due()
    assert state(service) == [("sms", "delivered", "")]


def test_a_snooze_between_planning_and_sending_moves_the_send(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    [rid] = register(service, channels=["email"], offsets=["7d"])
    service.snooze(rid, by=timedelta(days=2))
    clock.set(datetime(2026, 12, 8, 22, 1, tzinfo=UTC))  # the original time

    rig.run_due()
    assert state(service) == [("email", "planned", "")]

    clock.set(datetime(2026, 12, 10, 22, 1, tzinfo=UTC))
    rig.run_due()
    assert state(service) == [("email", "delivered", "")]


def test_a_duplicate_message_sends_nothing_more(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    [rid] = register(service, channels=["email"], offsets=["7d"])
    clock.set(datetime(2026, 12, 8, 22, 1, tzinfo=UTC))

    outcomes = [rig.worker.dispatcher.dispatch(rid) for _ in range(3)]

    assert outcomes == ["sent", "ignored", "ignored"]
    assert rig.sends() == {rid: 1}


def test_a_sent_reminder_without_a_receipt_ends_no_receipt(
    make_rig: Callable[..., Rig], service: ReminderService, clock: ManualClock
) -> None:
    rig = make_rig(sandbox_receipt_delay_s=3600.0, no_receipt_after_s=3600)
    register(service, channels=["email"], offsets=["7d"])
    clock.set(datetime(2026, 12, 8, 22, 1, tzinfo=UTC))
    rig.scheduler.step()
    rig.worker.broker.join("reminders", timeout=30_000)
    rig.runner.join()
    assert state(service) == [("email", "sent", "")]

    clock.advance(timedelta(hours=1, seconds=1))
    rig.scheduler.step()
    rig.worker.broker.join("reminders", timeout=30_000)
    rig.runner.join()

    assert state(service) == [("email", "no_receipt", "")]


def test_a_crashed_scheduler_lease_is_returned_by_the_reaper(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    [rid] = register(service, channels=["email"], offsets=["7d"])
    clock.set(datetime(2026, 12, 8, 22, 1, tzinfo=UTC))
    assert rig.scheduler.claim().members == [rid]  # ...and the scheduler dies here
    assert redis_client.zcard(rig.scheduler.schedule.keys.schedule(0)) == 0

    clock.advance(timedelta(seconds=rig.settings.lease_s + 1))
    assert rig.scheduler.reap() == 1
    rig.run_due()

    assert state(service) == [("email", "delivered", "")]
    assert redis_client.zcard(rig.scheduler.schedule.keys.lease(0)) == 0


def test_stale_schedule_entries_of_replanned_reminders_send_nothing(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    [rid] = register(service, channels=["email"], offsets=["7d"])
    key = rig.scheduler.schedule.keys.schedule(0)
    planned_at = redis_client.zscore(key, rid)
    stale = f"{deadline_tag('saaq', REF)}-99"  # a superseded reminder's leftover
    redis_client.zadd(key, {stale: int(clock.now().timestamp())})

    rig.run_due()

    assert rig.sends() == {}
    assert state(service) == [("email", "planned", "")]
    assert redis_client.zscore(key, stale) is None
    assert redis_client.zscore(key, rid) == planned_at


def test_a_lost_dramatiq_message_is_released_again_after_the_redelivery_lease(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    [rid] = register(service, channels=["email"], offsets=["7d"])
    clock.set(datetime(2026, 12, 8, 22, 1, tzinfo=UTC))
    rig.runner.pause()
    members = rig.scheduler.claim().members
    rig.scheduler.enqueue(members)
    rig.scheduler.clear(members)
    rig.worker.broker.flush_all()  # the message is lost on the way
    rig.runner.resume()
    assert redis_client.zscore(rig.scheduler.schedule.keys.lease(0), rid) is not None

    clock.advance(timedelta(seconds=rig.settings.redelivery_s + 1))
    assert rig.scheduler.reap() == 1
    rig.run_due()

    assert state(service) == [("email", "delivered", "")]
    assert rig.sends() == {rid: 1}
    assert redis_client.zcard(rig.scheduler.schedule.keys.lease(0)) == 0


def test_an_idle_scheduler_sweeps_for_retention(
    make_rig: Callable[..., Rig], service: ReminderService, clock: ManualClock
) -> None:
    rig = make_rig(retention_sweep_s=0.01)
    register(service, channels=["sms"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))
    rig.run_due()
    service.complete("saaq", REF)
    clock.advance(timedelta(days=91))

    # A step reads a few keys of the whole (shared) keyspace: step until a
    # pass is complete.
    for _ in range(10_000):
        time.sleep(0.011)
        result = rig.scheduler.sweep()
        if result is not None and result.complete:
            break

    view = service.get("saaq", REF)
    assert view.purged_at == clock.now()
    assert [r.state for r in view.reminders] == ["delivered"]


class BrokenRetention(Retention):
    def step(self) -> SweepResult:
        raise ValueError("a bug in the sweep")


def test_a_failing_retention_step_does_not_stop_the_releasing(
    core: Core, make_rig: Callable[..., Rig], service: ReminderService, clock: ManualClock
) -> None:
    rig = make_rig(retention_sweep_s=0.01)
    rig.scheduler.retention = BrokenRetention(core.store, core.policies, clock)
    register(service, channels=["sms"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    time.sleep(0.02)
    assert rig.scheduler.sweep() is None
    rig.run_due()

    assert [s for _, s, _ in state(service)] == ["delivered"]


def test_a_six_hour_provider_outage_delays_reminders_but_fails_only_those_out_of_time(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    start = clock.now()
    outage_ends = start + timedelta(hours=6)
    rig.worker.channels.outage_until(outage_ends)
    # Due in two days; its reminder falls due an hour into the outage.
    [patient] = register(
        service, ref="two-days", channels=["sms"], offsets=["47h"], due="2026-11-23T13:00:00+00:00"
    )
    # Due three hours into the outage: its margin passes before the provider is back.
    [hopeless] = register(
        service,
        ref="three-hours",
        channels=["sms"],
        offsets=["2h"],
        due="2026-11-21T15:00:00+00:00",
    )

    rig.forward.run_until(start + timedelta(hours=8))

    done = {ref: service.get("saaq", ref).reminders[0] for ref in ("two-days", "three-hours")}
    assert done["two-days"].state == "delivered"
    assert done["two-days"].attempts > 8  # more tries than the old cap, about one per 30 min
    sent_at = service.get("saaq", "two-days").updated_at
    assert outage_ends <= sent_at <= outage_ends + timedelta(minutes=31)
    assert (done["three-hours"].state, done["three-hours"].reason) == ("failed", "503 retries")
    assert rig.sends() == {patient: 1}
    assert hopeless not in rig.sends()


class LostFirstReply(Transitions):
    """Applies the first step, then loses its reply as a Redis restart does:
    the write landed, the caller hears a connection error."""

    lost = 0

    def apply(
        self,
        rid: str,
        change: Change,
        *,
        loaded: DeadlineRecord | None = None,
        handled: Sequence[str] = (),
    ) -> Any:
        applied = super().apply(rid, change, loaded=loaded, handled=handled)
        self._lose_once()
        return applied

    def apply_many(self, steps: Sequence[tuple[str, Change, DeadlineRecord, Sequence[str]]]) -> Any:
        applied = super().apply_many(steps)
        self._lose_once()
        return applied

    def _lose_once(self) -> None:
        if not self.lost:
            self.lost += 1
            raise redis.ConnectionError("Connection closed by server.")


def test_a_lease_whose_reply_was_lost_is_recognised_and_the_reminder_sent_once(
    rig: Rig, core: Core, service: ReminderService, clock: ManualClock
) -> None:
    lossy = LostFirstReply(core.store, clock)
    rig.worker.dispatcher.transitions = lossy
    [rid] = register(service, channels=["sms"], offsets=["1d"])
    clock.set(datetime(2026, 12, 14, 22, 1, tzinfo=UTC))

    rig.run_due()

    assert lossy.lost == 1
    assert state(service) == [("sms", "delivered", "")]
    assert rig.sends() == {rid: 1}


def test_an_address_reported_invalid_is_not_tried_again_and_falls_back(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    # 0002: the sandbox refuses the number permanently (Twilio 21211).
    register(
        service,
        channels=["sms", "email"],
        offsets=["7d", "1d"],
        citizen={"phone": "+15145550002"},
    )
    clock.set(datetime(2026, 12, 8, 22, 0, 30, tzinfo=UTC))  # 7 days before
    rig.run_due()
    clock.set(datetime(2026, 12, 14, 22, 0, 30, tzinfo=UTC))  # 1 day before
    rig.run_due()

    rows = state(service)
    assert rows[0] == ("sms", "failed", "21211")  # the first offset found out
    assert ("sms", "skipped", "address_failed") in rows  # the second did not try it again
    assert [r for r in rows if r[0] == "email"] == [("email", "delivered", "")] * 2
    # Another deadline for the same number does not plan on it either.
    service.register(Deadline.model_validate(deadline_data(
        ref="other", channels=["sms", "email"], offsets=["1d"], citizen={"phone": "+15145550002"},
        due="2026-12-20T17:00:00-05:00",
    )))  # fmt: skip
    assert [r.channel for r in service.get("saaq", "other").reminders] == ["email"]


def test_an_address_a_receipt_calls_unreachable_is_not_tried_again(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    # 0004: the sandbox accepts, then reports undelivered (Twilio 30005).
    register(service, channels=["sms", "email"], offsets=["7d", "1d"],
             citizen={"phone": "+15145550004"})  # fmt: skip
    clock.set(datetime(2026, 12, 8, 22, 0, 30, tzinfo=UTC))
    rig.run_due()
    clock.set(datetime(2026, 12, 14, 22, 0, 30, tzinfo=UTC))
    rig.run_due()

    rows = state(service)
    assert rows[0] == ("sms", "undelivered", "30005")
    assert ("sms", "skipped", "address_failed") in rows
    assert rows.count(("email", "delivered", "")) == 2


def test_send_times_keep_the_millisecond_and_release_in_that_order(
    rig: Rig, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Reminders planned within one second are not released together: the
    schedule keeps each send time to the millisecond."""
    due = datetime(2026, 12, 15, 22, 0, 0, 250_000, tzinfo=UTC)
    later = due + timedelta(milliseconds=500)
    [early] = register(service, channels=["email"], offsets=["7d"], due=due.isoformat())
    [late] = register(
        service, ref="permit-2", channels=["email"], offsets=["7d"], due=later.isoformat()
    )
    keys = rig.scheduler.schedule.keys
    entries: Any = redis_client.zrange(keys.schedule(0), 0, -1, withscores=True)
    scores = {member.decode(): score for member, score in entries}
    send_at = due - timedelta(days=7)
    assert scores == {early: send_at.timestamp(), late: send_at.timestamp() + 0.5}
    assert service.get("saaq", REF).due == due

    clock.set(send_at - timedelta(milliseconds=50))
    assert rig.scheduler.claim().members == []
    clock.set(send_at + timedelta(milliseconds=10))
    assert rig.scheduler.claim().members == [early]
    clock.set(send_at + timedelta(milliseconds=490))
    assert rig.scheduler.claim().members == []
    clock.set(send_at + timedelta(milliseconds=510))
    assert rig.scheduler.claim().members == [late]


def test_the_scheduler_sleeps_until_the_next_due_member_at_least_a_tick(
    rig: Rig, service: ReminderService, clock: ManualClock
) -> None:
    scheduler = rig.scheduler
    assert scheduler.sleep_s() == scheduler.poll_s  # nothing planned
    due = datetime(2026, 12, 15, 22, 0, 0, 250_000, tzinfo=UTC)
    register(service, channels=["email"], offsets=["7d"], due=due.isoformat())
    send_at = due - timedelta(days=7)
    clock.set(send_at - timedelta(milliseconds=500))
    assert scheduler.sleep_s() == pytest.approx(0.5)
    clock.set(send_at - timedelta(milliseconds=1))
    assert scheduler.sleep_s() == scheduler.tick_s == rig.settings.scheduler_tick_s > 0
