"""The library API on a real Redis."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis

from reminders import (
    Deadline,
    DeadlineClosed,
    DeadlineNotFound,
    InvalidRequest,
    ManualClock,
    ReminderError,
    ReminderNotFound,
    ReminderService,
    SnoozeTooLate,
    Unavailable,
    connect,
)
from reminders.ids import deadline_tag
from reminders.record import DeadlineRecord
from reminders.redis.keys import Keys
from reminders.settings import Settings
from reminders.snoozing import MAX_FOLLOW_UPS
from reminders.wiring import Core
from tests.conftest import deadline_data, next_planned, prefixed_keys, scheduled_for


def keys_of(settings: Settings) -> Keys:
    return Keys(settings.key_prefix, settings.shard_count())


def deadline(**overrides: Any) -> Deadline:
    return Deadline.model_validate(deadline_data(**overrides))


def stored(client: redis.Redis, settings: Settings, agency: str, ref: str) -> DeadlineRecord:
    raw = client.get(keys_of(settings).deadline(deadline_tag(agency, ref)))
    assert raw is not None
    return DeadlineRecord.loads(raw)


def mark_sent(client: redis.Redis, settings: Settings, ref: str, index: int, state: str) -> None:
    """Do what the dispatcher will: the reminder leaves the schedule and is sent."""
    keys = keys_of(settings)
    key = keys.deadline(deadline_tag("saaq", ref))
    record = DeadlineRecord.loads(client.get(key) or b"")
    reminder = record.reminders[index]
    reminder.state = state  # type: ignore[assignment]
    tag = deadline_tag("saaq", ref)
    client.zrem(keys.schedule(keys.shard_of(tag)), f"{tag}-{reminder.seq}")
    client.set(key, record.dumps())


def schedule(client: redis.Redis, settings: Settings) -> dict[str, int]:
    entries = cast(
        "list[tuple[bytes, float]]",
        client.zrange(keys_of(settings).schedule(0), 0, -1, withscores=True),
    )
    return {member.decode(): int(score) for member, score in entries}


def test_register_plans_reminders_and_schedules_them(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    receipt = service.register(deadline())
    assert receipt.created and receipt.changed
    assert [(r.channel, r.kind) for r in receipt.reminders] == [
        ("calendar", "invite"),
        ("sms", "offset"),
        ("sms", "offset"),
    ]
    assert receipt.reminders[1].send_at == datetime(2026, 12, 8, 22, 0, tzinfo=UTC)
    view = service.get("saaq", "permit-2026-00042")
    # Only the next reminder is in the schedule: the invite, sent at once.
    invite = receipt.reminders[0]
    assert schedule(redis_client, settings) == {invite.id: int(invite.send_at.timestamp())}
    assert view.status == "active" and view.has_phone and view.has_email
    assert [r.state for r in view.reminders] == ["planned"] * 3


def test_the_same_payload_again_changes_nothing(
    service: ReminderService, redis_client: redis.Redis, settings: Settings, clock: ManualClock
) -> None:
    first = service.register(deadline())
    before = stored(redis_client, settings, "saaq", "permit-2026-00042")
    clock.advance(timedelta(hours=5))
    again = service.register(deadline())
    assert not again.created and not again.changed
    assert again.reminders == first.reminders
    assert stored(redis_client, settings, "saaq", "permit-2026-00042") == before


def test_a_changed_due_date_replans_the_reminders_not_yet_sent(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    first = service.register(deadline())
    receipt = service.reschedule(
        "saaq", "permit-2026-00042", due=datetime(2026, 12, 22, 17, 0, tzinfo=UTC)
    )
    assert receipt.changed and not receipt.created
    sms = [r for r in receipt.reminders if r.channel == "sms"]
    assert [r.send_at for r in sms] == [
        datetime(2026, 12, 15, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 21, 17, 0, tzinfo=UTC),
    ]
    old_ids = {r.id for r in first.reminders if r.channel == "sms"}
    sched = schedule(redis_client, settings)
    assert old_ids.isdisjoint(sched), "superseded reminders left the schedule"
    view = service.get("saaq", "permit-2026-00042")
    assert scheduled_for(redis_client, keys_of(settings), view) == next_planned(view) != {}


def test_a_changed_contact_keeps_the_plan_and_is_used_by_unsent_reminders(
    core: Core, service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    first = service.register(deadline())
    second = service.register(deadline(citizen={"phone": "+15145550199"}))
    assert second.changed
    assert [r.id for r in second.reminders] == [r.id for r in first.reminders]
    contact = core.vault.open(stored(redis_client, settings, "saaq", "permit-2026-00042").contact)
    assert contact.phone == "+15145550199"


def test_contacts_are_encrypted_at_rest_and_absent_from_every_key(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    service.register(deadline())
    service.opt_out("email", "other@example.ca")
    for key in prefixed_keys(redis_client, settings):
        kind = redis_client.type(key)
        if kind == b"string":
            dump = redis_client.get(key) or b""
        elif kind == b"stream":
            dump = repr(redis_client.xrange(key)).encode()
        elif kind == b"set":
            dump = repr(redis_client.smembers(key)).encode()
        elif kind == b"hash":
            dump = repr(redis_client.hgetall(key)).encode()
        else:
            dump = repr(redis_client.zrange(key, 0, -1)).encode()
        for secret in (b"5145550123", b"a@example.ca", b"other@example.ca"):
            assert secret not in dump, key


def test_user_data_never_appears_in_key_names(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    service.register(deadline(ref="TAX/2026:00042#a"))
    service.register(deadline(ref="TAX/2026:00042#b"))
    keys = [k.decode() for k in prefixed_keys(redis_client, settings)]
    assert not any("TAX" in key for key in keys)
    assert sum(1 for key in keys if ":d:" in key) == 2


def test_get_of_an_unknown_deadline_raises_deadline_not_found(service: ReminderService) -> None:
    with pytest.raises(DeadlineNotFound, match="no deadline with that ref for agency 'saaq'"):
        service.get("saaq", "nope")


def test_complete_skips_waiting_reminders_and_plans_an_invite_cancellation(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    first = service.register(deadline())
    mark_sent(redis_client, settings, "permit-2026-00042", 0, "sent")

    view = service.complete("saaq", "permit-2026-00042")
    assert view.status == "completed"
    states = [(r.kind, r.state, r.reason) for r in view.reminders]
    assert states == [
        ("invite", "sent", ""),
        ("offset", "skipped", "completed"),
        ("offset", "skipped", "completed"),
        ("invite_cancel", "planned", ""),
    ]
    sched = schedule(redis_client, settings)
    assert set(sched) == {view.reminders[-1].id}
    assert first.reminders[1].id not in sched
    assert service.complete("saaq", "permit-2026-00042").status == "completed"
    with pytest.raises(DeadlineClosed, match="is completed"):
        service.cancel("saaq", "permit-2026-00042")


def test_a_closed_deadline_is_not_reopened_by_registering_it_again(
    service: ReminderService,
) -> None:
    service.register(deadline())
    service.cancel("saaq", "permit-2026-00042")
    receipt = service.register(deadline(due="2027-01-15T17:00:00-05:00"))
    assert receipt.status == "cancelled" and not receipt.changed and receipt.reminders == []
    with pytest.raises(DeadlineClosed):
        service.reschedule("saaq", "permit-2026-00042", due=datetime(2027, 2, 1, tzinfo=UTC))


def test_snooze_moves_a_planned_reminder_and_its_schedule_entry(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    receipt = service.register(deadline(channels=["sms"]))
    target = receipt.reminders[0]
    moved = service.snooze(target.id, by=timedelta(days=2))
    assert moved.id == target.id
    assert moved.send_at == target.send_at + timedelta(days=2)
    # Still the deadline's next reminder: its one schedule entry moved with it.
    assert schedule(redis_client, settings) == {target.id: int(moved.send_at.timestamp())}


def test_a_reminder_snoozed_past_the_next_one_leaves_the_schedule_to_it(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    receipt = service.register(deadline(channels=["sms"], offsets=["7d", "5d"]))
    first, second = receipt.reminders
    moved = service.snooze(first.id, by=timedelta(days=3))
    assert moved.send_at > second.send_at
    assert schedule(redis_client, settings) == {second.id: int(second.send_at.timestamp())}


def test_snooze_of_a_sent_reminder_plans_a_new_one_from_now(
    service: ReminderService, redis_client: redis.Redis, settings: Settings, clock: ManualClock
) -> None:
    receipt = service.register(deadline())
    mark_sent(redis_client, settings, "permit-2026-00042", 1, "delivered")
    clock.set(datetime(2026, 12, 9, 15, 0, tzinfo=UTC))
    new = service.snooze(receipt.reminders[1].id, by=timedelta(days=2))
    assert new.id != receipt.reminders[1].id
    assert new.kind == "snooze" and new.channel == "sms"
    assert new.send_at == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)


def test_repeated_snoozes_of_a_sent_reminder_move_one_follow_up_never_add_more(
    service: ReminderService, redis_client: redis.Redis, settings: Settings, clock: ManualClock
) -> None:
    receipt = service.register(deadline())
    mark_sent(redis_client, settings, "permit-2026-00042", 1, "delivered")
    clock.set(datetime(2026, 12, 9, 15, 0, tzinfo=UTC))
    sent = receipt.reminders[1].id
    follow_ups = {service.snooze(sent, by=timedelta(days=1)).id for _ in range(10)}

    view = service.get("saaq", "permit-2026-00042")
    planned = [r for r in view.reminders if r.kind == "snooze"]
    assert len(follow_ups) == 1 and len(planned) == 1
    assert planned[0].send_at == datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
    assert scheduled_for(redis_client, keys_of(settings), view) == next_planned(view) != {}


def test_a_deadline_gains_at_most_a_few_follow_ups(
    service: ReminderService, redis_client: redis.Redis, settings: Settings, clock: ManualClock
) -> None:
    receipt = service.register(deadline())
    mark_sent(redis_client, settings, "permit-2026-00042", 1, "delivered")
    clock.set(datetime(2026, 12, 9, 15, 0, tzinfo=UTC))
    latest = receipt.reminders[1].id
    for _ in range(MAX_FOLLOW_UPS):
        latest = service.snooze(latest, by=timedelta(hours=3)).id
        clock.advance(timedelta(hours=3))
        mark_sent(redis_client, settings, "permit-2026-00042", -1, "delivered")  # it went out
    with pytest.raises(InvalidRequest, match="follow-up"):
        service.snooze(latest, by=timedelta(hours=3))
    kinds = [r.kind for r in service.get("saaq", "permit-2026-00042").reminders]
    assert kinds.count("snooze") == MAX_FOLLOW_UPS


def test_snooze_that_would_pass_the_deadline_is_refused_and_changes_nothing(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    receipt = service.register(deadline())
    before = stored(redis_client, settings, "saaq", "permit-2026-00042")
    with pytest.raises(SnoozeTooLate, match="0 day"):
        service.snooze(receipt.reminders[-1].id, by=timedelta(days=1))
    assert stored(redis_client, settings, "saaq", "permit-2026-00042") == before


def test_snooze_refuses_unknown_ids_and_bad_durations(service: ReminderService) -> None:
    receipt = service.register(deadline())
    with pytest.raises(ReminderNotFound):
        service.snooze("not-an-id", by=timedelta(days=1))
    with pytest.raises(ReminderNotFound):
        service.snooze(receipt.reminders[1].id.rsplit("-", 1)[0] + "-99", by=timedelta(days=1))
    with pytest.raises(InvalidRequest, match=r"^by:"):
        service.snooze(receipt.reminders[1].id, by=timedelta(0))
    with pytest.raises(InvalidRequest, match="calendar invites"):
        service.snooze(receipt.reminders[0].id, by=timedelta(days=1))


def test_an_opted_out_phone_is_not_planned_and_opt_in_restores_it(service: ReminderService) -> None:
    assert service.opt_out("sms", "+15145550123") is True
    assert service.opt_out("sms", "+15145550123") is False
    assert service.is_opted_out("sms", "+15145550123")
    receipt = service.register(deadline())
    assert {r.channel for r in receipt.reminders} == {"email", "calendar"}
    assert service.opt_in("sms", "+15145550123") is True
    again = service.register(deadline(ref="permit-2026-00043"))
    assert "sms" in {r.channel for r in again.reminders}


def test_opt_out_refuses_bad_channels_and_addresses_without_echoing_them(
    service: ReminderService,
) -> None:
    with pytest.raises(InvalidRequest, match=r"^channel: must be sms or email"):
        service.opt_out("fax", "+15145550123")
    with pytest.raises(InvalidRequest) as caught:
        service.opt_out("sms", "514-555-0123")
    assert caught.value.field == "address" and "0123" not in str(caught.value)


def test_every_change_is_audited(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    receipt = service.register(deadline())
    service.snooze(receipt.reminders[1].id, by=timedelta(days=1))
    service.cancel("saaq", "permit-2026-00042")
    entries = cast(
        "list[tuple[bytes, dict[bytes, bytes]]]",
        redis_client.xrange(keys_of(settings).audit(0)),
    )
    events = [fields[b"e"].decode() for _, fields in entries]
    assert events == ["registered", "snoozed", "cancelled"]
    details = [fields[b"x"].decode() for _, fields in entries]
    assert details == [
        "planned 1,2,3",
        f"2 to {int(receipt.reminders[1].send_at.timestamp()) + 86400}",
        "skipped 1,2,3",
    ]


def test_register_many_gives_per_item_results_and_never_half_writes(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    items: list[Any] = [
        deadline_data(ref="a-1"),
        deadline_data(ref="a-2", citizen={"phone": "12"}),
        deadline(ref="a-3"),
        deadline_data(ref="a-1"),
        deadline_data(ref="a-4", due="2020-01-01"),
    ]
    results = service.register_many(items)
    assert [r.ok for r in results] == [True, False, True, True, False]
    assert results[1].error is not None and results[1].error.startswith("citizen.phone")
    assert results[3].receipt is not None and not results[3].receipt.changed
    assert results[4].error == "due: is not in the future"
    tags = {deadline_tag("saaq", ref) for ref in ("a-1", "a-3")}
    stored_tags = {
        k.decode().rsplit(":d:", 1)[1] for k in prefixed_keys(redis_client, settings) if b":d:" in k
    }
    assert stored_tags == tags


def test_concurrent_registrations_leave_one_deadline_each_and_no_duplicate_reminder(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    refs = [f"c-{i:04d}" for i in range(1000)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for round_ in range(2):
                shifted = (
                    "2026-12-16T17:00:00-05:00" if (n + round_) % 2 else "2026-12-15T17:00:00-05:00"
                )
                items = [deadline_data(ref=ref, due=shifted) for ref in refs]
                for result in service.register_many(items):
                    assert result.ok, result.error
                for ref in refs[n::50]:
                    service.register(deadline(ref=ref))
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    deadline_keys = [k for k in prefixed_keys(redis_client, settings) if b":d:" in k]
    assert len(deadline_keys) == 1000
    planned: set[str] = set()
    for ref in refs:
        view = service.get("saaq", ref)
        waiting = [r for r in view.reminders if r.state == "planned"]
        slots = Counter((r.channel, r.kind, r.offset) for r in waiting)
        assert all(n == 1 for n in slots.values()), f"duplicate reminder in {ref}: {slots}"
        assert len(waiting) == 3
        planned.update(r.id for r in waiting)
        for r in waiting:
            assert r.send_at < view.due
    for ref in refs:
        view = service.get("saaq", ref)
        entries = scheduled_for(redis_client, keys_of(settings), view)
        assert entries == next_planned(view) != {}, "each deadline's next reminder is scheduled"


def test_a_redis_that_does_not_answer_is_a_reminder_error(
    settings: Settings, unused_port: int
) -> None:
    away = settings.model_copy(update={"redis_url": f"redis://:secret@127.0.0.1:{unused_port}/0"})
    service = connect(away)
    with pytest.raises(Unavailable) as caught:
        service.register(deadline())
    assert isinstance(caught.value, ReminderError)
    assert "secret" not in str(caught.value) and str(unused_port) not in str(caught.value)
    with pytest.raises(Unavailable):
        service.coverage()
    service.close()
