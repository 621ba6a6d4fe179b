"""What providers report after accepting a message: delivered or not.

Twilio status callbacks, SendGrid events and the sandbox provider all end up
here as a :class:`DeliveryReport`, so a receipt means the same thing whatever
its source. Reports are idempotent and order-safe: a final state is never
left, so a late "sent" after "delivered", or the same webhook twice, changes
nothing. A receipt may arrive before the worker has recorded the send
(``sending``); it is taken then too, and the send's own record keeps it.

A message reported undelivered (an unreachable number, a bounced address)
falls back to the next reachable channel of the deadline's order, as a
permanent send error does, while the deadline is active and not yet due.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from ..clock import to_epoch
from ..ids import split_reminder_id
from ..policy import PolicyBook
from ..record import DeadlineRecord, ReminderRecord
from ..values import value_type
from .sending import RECEIPT_SUFFIX, address_failure, fall_back
from .states import allows
from .transitions import Applied, Change, Effect, Transitions

ReportStatus = Literal["accepted", "delivered", "undelivered"]
log = logging.getLogger("reminders.receipts")


@value_type
class DeliveryReport:
    """A provider's final word on one message (nothing personal in it)."""

    reminder_id: str
    provider: str
    provider_id: str
    status: ReportStatus
    at: datetime
    code: str = ""


class OutcomeRecorder:
    """Records delivery reports as reminder transitions."""

    def __init__(self, transitions: Transitions, *, policies: PolicyBook | None = None) -> None:
        self.transitions = transitions
        self.policies = policies
        """For how long a bad address is remembered (no policies: it is not)."""

    def record(self, report: DeliveryReport) -> Applied | None:
        """Apply ``report``; None when it changes nothing (duplicate, late,
        unknown reminder)."""
        opted_out: frozenset[str] = frozenset()
        loaded: DeadlineRecord | None = None
        if report.status == "undelivered":
            # The fallback must know which channels the citizen still accepts.
            parts = split_reminder_id(report.reminder_id)
            store = self.transitions.store
            loaded = None if parts is None else store.load(parts[0])
            if loaded is not None:
                opted, failed = store.address_state(loaded.phone_hash, loaded.email_hash)
                opted_out = opted | failed
        applied = self.transitions.apply(
            report.reminder_id, self._change(report, opted_out), loaded=loaded
        )
        self._after(report, applied)
        return applied

    def record_many(self, reports: Sequence[DeliveryReport]) -> list[Applied | None]:
        """:meth:`record` of each report: the documents read in one round
        trip and the changes written in one (a report that lost a race is
        applied again on its own)."""
        store = self.transitions.store
        parts = [split_reminder_id(r.reminder_id) for r in reports]
        tags = sorted({p[0] for p in parts if p is not None})
        records = dict(zip(tags, store.load_many(tags), strict=True))
        bounced: list[DeadlineRecord] = [
            records[p[0]]  # type: ignore[misc]
            for r, p in zip(reports, parts, strict=True)
            if r.status == "undelivered" and p is not None and records.get(p[0]) is not None
        ]
        pairs = [(b.phone_hash, b.email_hash) for b in bounced]
        states = dict(zip([id(b) for b in bounced], store.address_states(pairs), strict=True))
        steps: list[tuple[str, Change, DeadlineRecord, Sequence[str]]] = []
        results: dict[int, Applied | None] = {}
        for index, (report, part) in enumerate(zip(reports, parts, strict=True)):
            record = None if part is None else records.get(part[0])
            if record is None:
                results[index] = None
                continue
            opted, failed = states.get(id(record), (frozenset(), frozenset()))
            steps.append((report.reminder_id, self._change(report, opted | failed), record, ()))
        written = iter(self.transitions.apply_many(steps))
        out: list[Applied | None] = []
        for index, report in enumerate(reports):
            applied = results[index] if index in results else next(written)
            self._after(report, applied)
            out.append(applied)
        return out

    def _after(self, report: DeliveryReport, applied: Applied | None) -> None:
        if applied is None:
            return
        log.info(
            "receipt reminder=%s provider=%s status=%s code=%s",
            report.reminder_id,
            report.provider,
            report.status,
            report.code or "-",
        )
        if report.status == "undelivered":
            self._remember_bad_address(applied.record, applied.reminder, report.code)

    def _change(self, report: DeliveryReport, opted_out: frozenset[str]) -> Change:
        """The transition ``report`` asks for. A final outcome also drops the
        reminder's receipt check from the schedule, in the same step."""

        def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
            if not allows(report.status, reminder.state):
                return None
            if reminder.provider_id and report.provider_id != reminder.provider_id:
                return None  # about an earlier attempt's message, not this one
            if report.status == "accepted":
                reminder.state = "sent"
                reminder.provider_id = report.provider_id
                return Effect("sent", f"provider:{report.provider}", f"{reminder.seq} receipt")
            reminder.state = report.status
            if not reminder.provider_id:
                reminder.provider_id = report.provider_id
            reminder.reason = report.code if report.status == "undelivered" else ""
            # When it happened at the provider, not when we heard of it:
            # coverage asks whether it was delivered before the deadline.
            reminder.updated = to_epoch(report.at)
            detail = f"{reminder.seq} {report.code}".strip()
            check = [report.reminder_id + RECEIPT_SUFFIX]
            if report.status == "delivered":
                return Effect(report.status, f"provider:{report.provider}", detail, {}, check)
            then = fall_back(record, reminder, now, opted_out)
            actor = f"provider:{report.provider}"
            return Effect(report.status, actor, detail + then, {}, check)

        return change

    def _remember_bad_address(
        self, record: DeadlineRecord, reminder: ReminderRecord, code: str
    ) -> None:
        listed = address_failure(reminder.channel, code)
        if listed is None or self.policies is None:
            return
        digest = record.phone_hash if listed == "sms" else record.email_hash
        ttl = self.policies.for_agency(record.agency).address_failure_ttl
        self.transitions.store.mark_address_failed(listed, digest, code, int(ttl.total_seconds()))
