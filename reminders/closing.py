"""Closing a deadline: the citizen did it (completed) or the agency withdrew
it (cancelled). Reminders not yet sent are skipped; a calendar invite that
went out is followed by its cancellation (METHOD:CANCEL)."""

from __future__ import annotations

from typing import Literal

from .clock import Clock, to_epoch
from .errors import DeadlineClosed, DeadlineNotFound
from .ids import deadline_tag, reminder_id
from .lifecycle.states import WAITING, WENT_OUT
from .record import ReminderRecord
from .redis.store import AuditEvent, RedisStore, Write, seqs_detail
from .retrying import LOST, Lost, until_written
from .views import DeadlineView

Closing = Literal["completed", "cancelled"]


class Closer:
    """Completes and cancels deadlines."""

    def __init__(self, *, store: RedisStore, clock: Clock, max_attempts: int = 25) -> None:
        self.store = store
        self.clock = clock
        self._max_attempts = max_attempts

    def close(self, agency: str, ref: str, status: Closing) -> DeadlineView:
        """Close (agency, ref) as ``status``; closing it again the same way is
        a no-op, the other way :class:`DeadlineClosed`."""
        tag = deadline_tag(agency, ref)

        def attempt(_: int) -> DeadlineView | Lost:
            existing = self.store.load(tag)
            if existing is None:
                raise DeadlineNotFound(agency, ref)
            if existing.status == status:
                return DeadlineView.of(tag, existing)
            if existing.status != "active":
                raise DeadlineClosed(agency, ref, existing.status)
            now = to_epoch(self.clock.now())
            record = existing.copy()
            record.version += 1
            record.status = status
            record.closed = now
            record.updated = now
            skipped: list[int] = []
            for reminder in record.reminders:
                if reminder.state in WAITING:
                    reminder.state = "skipped"
                    reminder.reason = status
                    reminder.updated = now
                    skipped.append(reminder.seq)
            stale = [reminder_id(tag, seq) for seq in skipped]
            planned: list[int] = []
            invited = any(r.kind == "invite" and r.state in WENT_OUT for r in record.reminders)
            if invited and record.email_hash:
                record.invite_seq += 1
                cancel = ReminderRecord(
                    seq=record.next_seq, channel="calendar", send_at=now, kind="invite_cancel"
                )
                record.next_seq += 1
                record.reminders.append(cancel)
                planned.append(cancel.seq)
            detail = seqs_detail(skipped=skipped, planned=planned)
            event = AuditEvent(status, tag, f"agency:{agency}", detail)
            write = Write(tag, existing.version, record, now, {}, stale, [event], existing)
            if self.store.write_many([write])[0]:
                return DeadlineView.of(tag, record)
            return LOST

        return until_written(
            attempt,
            attempts=self._max_attempts,
            conflict=f"deadline {ref!r} kept changing; try again",
        )
