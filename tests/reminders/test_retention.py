"""Retention: contact data of closed deadlines goes after the agency's
retention period; coverage and opt-outs stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from reminders import Deadline, ManualClock, ReminderService
from reminders.ids import deadline_tag
from reminders.lifecycle.receipts import DeliveryReport, OutcomeRecorder
from reminders.retention import ADDRESS_REMOVED
from reminders.settings import Settings
from reminders.wiring import Core, build_core
from tests.conftest import deadline_data
from tests.reminders.test_cli import run
from tests.reminders.test_outcomes import put_state

REF = "permit-2026-00042"
DUE = datetime(2026, 12, 15, 22, 0, tzinfo=UTC)


def register(service: ReminderService, ref: str = REF, **overrides: object) -> list[str]:
    data = deadline_data(ref=ref, channels=["sms", "email"], offsets=["7d"], **overrides)
    return [r.id for r in service.register(Deadline.model_validate(data)).reminders]


def delivered(core: Core, clock: ManualClock, rid: str) -> None:
    """Send ``rid`` as the dispatcher would, then its receipt says delivered."""
    transitions = core.transitions
    put_state(transitions, rid, "sent", "SM0123")
    report = DeliveryReport(rid, "twilio", "SM0123", "delivered", clock.now())
    assert OutcomeRecorder(transitions).record(report) is not None


def raw_document(redis_client: redis.Redis, core: Core, ref: str = REF) -> str:
    raw = redis_client.get(core.store.keys.deadline(deadline_tag("saaq", ref)))
    assert isinstance(raw, bytes)
    return raw.decode()


def test_a_completed_deadline_keeps_its_contact_until_retention_then_loses_it(
    core: Core, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    (rid,) = register(service)
    clock.set(DUE - timedelta(days=7))
    delivered(core, clock, rid)
    service.complete("saaq", REF)
    counters = core.store.coverage_fields()
    assert "SM0123" in raw_document(redis_client, core)

    clock.advance(timedelta(days=89))
    assert service.purge().purged == 0
    assert service.get("saaq", REF).purged_at is None

    clock.advance(timedelta(days=2))
    result = service.purge()

    assert (result.purged, result.held, result.complete) == (1, 0, True)
    view = service.get("saaq", REF)
    assert view.purged_at == clock.now()
    assert (view.has_phone, view.has_email, view.action_url) == (True, True, None)
    assert [(r.state, r.channel) for r in view.reminders] == [("delivered", "sms")]
    record = core.store.load(deadline_tag("saaq", REF))
    assert record is not None
    assert record.contact == ""
    assert (record.phone_hash, record.email_hash) == (ADDRESS_REMOVED, ADDRESS_REMOVED)
    document = raw_document(redis_client, core)
    assert "SM0123" not in document and "gouv.qc.ca/renew" not in document
    # What coverage counts did not move, and a recount from the records agrees.
    assert core.store.coverage_fields() == counters
    assert service.coverage().covered == 1
    assert service.recount() == {}
    events: Any = redis_client.xrange(core.store.keys.audit(0))
    last = events[-1][1]
    assert (last[b"e"], last[b"by"], last[b"x"]) == (b"purged", b"retention", b"")


def test_an_active_deadline_is_purged_after_its_due_time_plus_retention(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    (rid,) = register(service)
    clock.set(DUE - timedelta(days=7))
    delivered(core, clock, rid)

    clock.set(DUE + timedelta(days=89))
    assert service.purge().purged == 0
    clock.set(DUE + timedelta(days=90))
    assert service.purge().purged == 1
    assert service.purge().purged == 0  # once


def test_a_deadline_with_a_reminder_still_waiting_is_held_not_scrubbed(
    service: ReminderService, clock: ManualClock
) -> None:
    register(service)  # nothing ever released its reminder
    clock.set(DUE + timedelta(days=120))

    result = service.purge()

    assert (result.purged, result.held) == (0, 1)
    assert service.get("saaq", REF).purged_at is None


def test_a_dry_run_counts_and_writes_nothing(
    core: Core, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    register(service)
    service.cancel("saaq", REF)
    clock.advance(timedelta(days=100))
    document = raw_document(redis_client, core)

    assert service.purge(dry_run=True).purged == 1

    assert raw_document(redis_client, core) == document


def test_an_opt_out_outlives_the_purge(service: ReminderService, clock: ManualClock) -> None:
    register(service)
    service.opt_out("sms", "+15145550123")
    service.cancel("saaq", REF)
    clock.advance(timedelta(days=100))

    assert service.purge().purged == 1

    assert service.is_opted_out("sms", "+15145550123")


def test_the_sweep_goes_in_steps_from_a_shared_cursor_one_sweeper_at_a_time(
    core: Core, service: ReminderService, clock: ManualClock, redis_client: redis.Redis
) -> None:
    refs = [f"r-{i}" for i in range(40)]
    for ref in refs:
        register(service, ref)
        service.cancel("saaq", ref)
    clock.advance(timedelta(days=100))
    first, second = core.retention(batch=5), core.retention(batch=5)

    redis_client.set(core.store.keys.retention_lock, "someone else", ex=30)
    assert second.step().scanned == 0  # another process is sweeping
    redis_client.delete(core.store.keys.retention_lock)

    steps, purged = 0, 0
    while True:
        result = (first if steps % 2 else second).step()
        steps += 1
        purged += result.purged
        if result.complete:
            break
    assert purged == len(refs)
    assert steps > 1
    assert all(service.get("saaq", ref).purged_at is not None for ref in refs)


def test_reminders_purge_command(settings: Settings, tmp_path: Path) -> None:
    # Closed 200 days before the real clock, which the command runs on.
    now = datetime.now(UTC).replace(microsecond=0)
    core = build_core(settings, clock=ManualClock(now - timedelta(days=210)))
    service = core.service
    register(service, due=(now - timedelta(days=200)).isoformat())
    service.cancel("saaq", REF)

    dry = run(["purge", "--dry-run"], settings, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would purge 1" in dry.stdout
    assert service.get("saaq", REF).purged_at is None

    done = run(["purge"], settings, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "purged 1" in done.stdout
    assert service.get("saaq", REF).purged_at is not None
    core.close()


def test_an_active_deadline_registered_again_after_its_purge_has_a_contact_again(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    (rid,) = register(service)
    clock.set(DUE - timedelta(days=7))
    delivered(core, clock, rid)
    clock.set(DUE + timedelta(days=91))
    assert service.purge().purged == 1

    # The agency reuses the reference for next year's renewal.
    register(service, due=(DUE + timedelta(days=365)).isoformat())

    view = service.get("saaq", REF)
    assert view.purged_at is None
    record = core.store.load(deadline_tag("saaq", REF))
    assert record is not None
    assert core.vault.open(record.contact).phone == "+15145550123"
    assert [r.state for r in view.reminders] == ["delivered", "planned"]
