"""One reminder's state change as one atomic step.

A transition reads the deadline document, lets a pure function change the
reminder in a copy (or decline: not allowed from this state, so a no-op),
and writes the copy back with the store's version check, which also appends
the audit entry. A concurrent writer makes the version check fail and the
step is tried again on the fresh document, so duplicate messages and webhooks
cannot move a reminder backwards or apply twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import field

from ..clock import Clock, to_epoch
from ..ids import split_reminder_id
from ..record import DeadlineRecord, ReminderRecord
from ..redis.store import AuditEvent, RedisStore, Write
from ..retrying import LOST, Lost, until_written
from ..values import value_type


@value_type
class Effect:
    """What a transition did, for the audit stream and the schedule."""

    event: str
    """The audit event; "" for a step no one is told of (taking the lease:
    the outcome's event follows, and the document counts the attempts)."""
    actor: str
    detail: str = ""
    schedule_add: Mapping[str, float] = field(default_factory=dict)
    schedule_remove: Sequence[str] = ()
    keeps_time: bool = False
    """The reminder keeps the time of its last change (a send recorded after
    its receipt: the receipt's time is when it was delivered, and coverage
    asks whether that was before the deadline)."""


Change = Callable[[DeadlineRecord, ReminderRecord, int], Effect | None]
"""Changes the (copied) record and reminder at ``now`` (epoch s) in place and
says what it did, or returns None when the transition does not apply."""


@value_type
class Applied:
    """The document after a transition, and the reminder it changed."""

    record: DeadlineRecord
    reminder: ReminderRecord
    effect: Effect


class Transitions:
    """Applies changes to single reminders, atomically."""

    def __init__(self, store: RedisStore, clock: Clock, *, attempts: int = 16) -> None:
        self.store = store
        self.clock = clock
        self.attempts = attempts

    def apply(
        self,
        rid: str,
        change: Change,
        *,
        loaded: DeadlineRecord | None = None,
        handled: Sequence[str] = (),
    ) -> Applied | None:
        """Apply ``change`` to reminder ``rid``; None if it is unknown or the
        change declined. ``loaded`` saves the first read when the caller has
        just read the document (a stale one only costs a retry); the leases
        of the schedule members ``handled`` end in the same write."""
        parts = split_reminder_id(rid)
        if parts is None:
            return None
        tag = parts[0]

        def attempt(number: int) -> Applied | Lost | None:
            existing = loaded if number == 0 and loaded is not None else self.store.load(tag)
            built = self._build(rid, change, existing, handled)
            if built is None:
                return None
            write, applied = built
            return applied if self.store.write_many([write])[0] else LOST

        return until_written(
            attempt, attempts=self.attempts, conflict=f"reminder {rid} kept changing; try again"
        )

    def apply_many(
        self, steps: Sequence[tuple[str, Change, DeadlineRecord, Sequence[str]]]
    ) -> list[Applied | None]:
        """:meth:`apply` of each (reminder id, change, document as read,
        members handled), written in one round trip; a write that lost a race
        (another step of the same deadline, a receipt) is applied again on
        its own, on the document read afresh."""
        built = [self._build(*step) for step in steps]
        writes = [b[0] for b in built if b is not None]
        landed = iter(self.store.write_many(writes))
        results: list[Applied | None] = []
        for (rid, change, _, handled), one in zip(steps, built, strict=True):
            if one is None:
                results.append(None)
            elif next(landed):
                results.append(one[1])
            else:
                results.append(self.apply(rid, change, handled=handled))
        return results

    def _build(
        self,
        rid: str,
        change: Change,
        existing: DeadlineRecord | None,
        handled: Sequence[str],
    ) -> tuple[Write, Applied] | None:
        """The write of ``change`` to reminder ``rid`` of ``existing`` (a
        copy changed), or None when there is nothing to change."""
        parts = split_reminder_id(rid)
        if parts is None or existing is None or existing.reminder(parts[1]) is None:
            return None
        tag, seq = parts
        now = to_epoch(self.clock.now())
        record = existing.copy()
        reminder = record.reminder(seq)
        assert reminder is not None
        record.version = existing.version + 1
        record.updated = now
        last_change = reminder.updated
        reminder.updated = now  # the change may set a truer time
        effect = change(record, reminder, now)
        if effect is None:
            return None
        if effect.keeps_time:
            reminder.updated = last_change
        audit = (
            [AuditEvent(effect.event, tag, effect.actor, effect.detail or str(seq))]
            if effect.event
            else []
        )
        write = Write(
            tag,
            existing.version,
            record,
            now,
            effect.schedule_add,
            effect.schedule_remove,
            audit,
            existing,
            handled,
        )
        return write, Applied(record, reminder, effect)
