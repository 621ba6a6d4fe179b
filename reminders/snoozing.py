"""Snoozing: a citizen puts a reminder off by some days.

A planned reminder moves later; one that already went out is followed by a
new reminder on the same channel. Either way it must land before the
deadline, at least :data:`LAST_CALL` before it, and an SMS outside quiet
hours. The window is computed here only: the service, the SMS replies and
the snooze page all ask :func:`snooze_base`, :func:`latest` and
:func:`choices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from .clock import Clock, from_epoch, to_epoch
from .errors import DeadlineClosed, InvalidRequest, ReminderNotFound, SnoozeTooLate
from .ids import split_reminder_id
from .lifecycle.states import allows
from .models import zone
from .planning import sms_time
from .policy import PolicyBook
from .record import DeadlineRecord, ReminderRecord
from .redis.store import AuditEvent, RedisStore, Write
from .retrying import LOST, Lost, until_written
from .views import ReminderView

MAX_SNOOZE_DAYS = 60
MAX_SNOOZE = timedelta(days=MAX_SNOOZE_DAYS)
MAX_FOLLOW_UPS = 3
"""Follow-ups (snoozes of reminders that went out) one deadline may gain."""
LAST_CALL = timedelta(minutes=1)
"""A snoozed reminder lands at least this long before the deadline."""


def snooze_base(reminder: ReminderRecord, now: datetime) -> datetime:
    """What a snooze counts from: a planned reminder's own time (if later than
    now), else now (a follow-up of a reminder that went out)."""
    return max(from_epoch(reminder.send_at), now) if reminder.state == "planned" else now


def latest(record: DeadlineRecord) -> datetime:
    """The last instant a snoozed reminder may be planned for (exclusive)."""
    return from_epoch(record.due) - LAST_CALL


def room_days(record: DeadlineRecord, base: datetime) -> int:
    """How many whole days a snooze from ``base`` may still take."""
    return max((latest(record) - base).days, 0)


def choices(
    record: DeadlineRecord, reminder: ReminderRecord, now: datetime, offered: Iterable[int]
) -> list[int]:
    """The numbers of days among ``offered`` that still land in time."""
    base = snooze_base(reminder, now)
    return [d for d in offered if base + timedelta(days=d) < latest(record)]


class Snoozer:
    """Moves reminders later, or adds a follow-up after one that went out."""

    def __init__(
        self, *, store: RedisStore, policies: PolicyBook, clock: Clock, max_attempts: int = 25
    ) -> None:
        self.store = store
        self.policies = policies
        self.clock = clock
        self._max_attempts = max_attempts

    def snooze(self, reminder: str, *, by: timedelta) -> ReminderView:
        """Put ``reminder`` off by ``by`` (see the module)."""
        parts = split_reminder_id(reminder)
        if parts is None:
            raise ReminderNotFound(reminder)
        if by <= timedelta(0) or by > MAX_SNOOZE:
            raise InvalidRequest(
                "by", f"must be a positive duration of at most {MAX_SNOOZE_DAYS} days"
            )
        tag, seq = parts

        def attempt(_: int) -> ReminderView | Lost:
            existing = self.store.load(tag)
            target = None if existing is None else existing.reminder(seq)
            if existing is None or target is None:
                raise ReminderNotFound(reminder)
            if existing.status != "active":
                raise DeadlineClosed(existing.agency, existing.ref, existing.status)
            if target.channel == "calendar":
                raise InvalidRequest("reminder", "calendar invites cannot be snoozed")
            if not (allows("snooze", target.state) or allows("follow_up", target.state)):
                raise InvalidRequest("reminder", f"cannot be snoozed while {target.state}")
            now = self.clock.now()
            record = existing.copy()
            record.version += 1
            moved = record.reminder(seq)
            assert moved is not None
            base = snooze_base(moved, now)
            when = self._time(record, moved.channel, base + by, base, now)
            if allows("snooze", moved.state):
                moved.send_at = when
                moved.updated = to_epoch(now)
                result = moved
            else:
                result = self._follow_up(record, moved.channel, when)
                result.updated = to_epoch(now)
            record.updated = to_epoch(now)
            at = result.send_at  # ``when``, or the nearby reminder's that stands in
            event = AuditEvent("snoozed", tag, "citizen", f"{result.seq} to {at}")
            # The schedule follows the document (the next planned reminder).
            write = Write(
                tag, existing.version, record, to_epoch(now), audit=[event], before=existing
            )
            if self.store.write_many([write])[0]:
                return ReminderView.of(tag, result)
            return LOST

        return until_written(
            attempt,
            attempts=self._max_attempts,
            conflict=f"reminder {reminder!r} kept changing; try again",
        )

    def _follow_up(self, record: DeadlineRecord, channel: str, when: int) -> ReminderRecord:
        """The follow-up of a reminder that went out: the one already pending
        on that channel moves (repeated SNOOZE replies never multiply
        messages); a planned reminder within ``min_spacing`` stands in for
        it; else a new one, at most :data:`MAX_FOLLOW_UPS` per deadline."""
        waiting = [r for r in record.reminders if r.channel == channel and r.state == "planned"]
        pending = [r for r in waiting if r.kind == "snooze"]
        if pending:
            pending[0].send_at = when
            return pending[0]
        spacing = int(self.policies.for_agency(record.agency).min_spacing.total_seconds())
        near = [r for r in waiting if abs(r.send_at - when) < spacing]
        if near:
            return near[0]
        if sum(1 for r in record.reminders if r.kind == "snooze") >= MAX_FOLLOW_UPS:
            raise InvalidRequest(
                "reminder",
                f"the deadline already had {MAX_FOLLOW_UPS} follow-ups, the most it gets",
            )
        fresh = ReminderRecord(seq=record.next_seq, channel=channel, send_at=when, kind="snooze")
        record.next_seq += 1
        record.reminders.append(fresh)
        return fresh

    def _time(
        self, record: DeadlineRecord, channel: str, wanted: datetime, base: datetime, now: datetime
    ) -> int:
        due = from_epoch(record.due)
        when: datetime | None = wanted
        if channel == "sms":
            policy = self.policies.for_agency(record.agency)
            when = sms_time(wanted, due=due, now=now, tz=zone(record.timezone), policy=policy)
        if when is None or when >= latest(record):
            room = room_days(record, base)
            raise SnoozeTooLate(
                "by", f"would land after the deadline; {room} day(s) at most are possible", room
            )
        return to_epoch(when)
