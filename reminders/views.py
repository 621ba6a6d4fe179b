"""What the service returns: read-only views without personal data."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from .clock import from_epoch
from .ids import reminder_id
from .lifecycle.states import DeadlineStatus, ReminderKind, ReminderState
from .record import DeadlineRecord, ReminderRecord


class ReminderView(BaseModel):
    """One reminder: where and when it goes, and what became of it."""

    model_config = ConfigDict(frozen=True)

    id: str
    channel: str
    send_at: datetime
    kind: ReminderKind
    state: ReminderState
    offset: timedelta | None
    attempts: int
    reason: str

    @classmethod
    def of(cls, tag: str, reminder: ReminderRecord) -> ReminderView:
        # Built from our own stored record: already valid, so not re-validated.
        return cls.model_construct(
            id=reminder_id(tag, reminder.seq),
            channel=reminder.channel,
            send_at=from_epoch(reminder.send_at),
            kind=reminder.kind,
            state=reminder.state,
            offset=None if reminder.offset_s is None else timedelta(seconds=reminder.offset_s),
            attempts=reminder.attempts,
            reason=reminder.reason,
        )


class DeadlineView(BaseModel):
    """A registered deadline and all its reminders (contact data left out)."""

    model_config = ConfigDict(frozen=True)

    agency: str
    ref: str
    status: DeadlineStatus
    due: datetime
    all_day: bool
    timezone: str
    locale: str
    title: dict[str, str]
    action_url: str | None
    channels: list[str]
    offsets: list[timedelta]
    has_phone: bool
    has_email: bool
    created_at: datetime
    updated_at: datetime
    reminders: list[ReminderView]
    purged_at: datetime | None = None
    """When retention removed the contact data (then ``has_phone`` and
    ``has_email`` still say whether there was an address)."""

    @classmethod
    def of(cls, tag: str, record: DeadlineRecord) -> DeadlineView:
        return cls(
            agency=record.agency,
            ref=record.ref,
            status=record.status,
            due=from_epoch(record.due),
            all_day=record.all_day,
            timezone=record.timezone,
            locale=record.locale,
            title=record.title,
            action_url=record.action_url,
            channels=record.channels,
            offsets=[timedelta(seconds=s) for s in record.offsets_s],
            has_phone=bool(record.phone_hash),
            has_email=bool(record.email_hash),
            created_at=from_epoch(record.created),
            updated_at=from_epoch(record.updated),
            reminders=[ReminderView.of(tag, r) for r in record.reminders],
            purged_at=from_epoch(record.purged) if record.purged else None,
        )


class Receipt(BaseModel):
    """What a registration did: created, changed, and the reminders planned."""

    model_config = ConfigDict(frozen=True)

    agency: str
    ref: str
    status: DeadlineStatus
    created: bool
    changed: bool
    reminders: list[ReminderView]
    """The reminders still waiting to go out (planned or queued)."""


class ItemResult(BaseModel):
    """One item of a bulk registration: its receipt, or why it was refused."""

    model_config = ConfigDict(frozen=True)

    index: int
    ok: bool
    receipt: Receipt | None = None
    error: str | None = None
