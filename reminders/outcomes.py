"""What providers report after accepting a message: delivered or not.

Twilio status callbacks, SendGrid events and the sandbox provider all end up
here as a :class:`DeliveryReport`, so a receipt means the same thing whatever
its source. Reports are idempotent and order-safe: a final state is never
left, so a late "sent" after "delivered", or the same webhook twice, changes
nothing. A receipt may arrive before the worker has recorded the send
(``sending``); it is taken then too, and the send's own record keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .record import DeadlineRecord, ReminderRecord
from .transitions import Applied, Effect, Transitions

ReportStatus = Literal["accepted", "delivered", "undelivered"]

ACCEPTS: dict[str, frozenset[str]] = {
    # The provider took it (Twilio "sent", SendGrid "processed"): this closes
    # the window where a worker died before recording its own send.
    "accepted": frozenset({"sending"}),
    # A receipt after the no-receipt timeout still counts: the citizen got it.
    "delivered": frozenset({"sending", "sent", "no_receipt"}),
    "undelivered": frozenset({"sending", "sent", "no_receipt"}),
}


@dataclass(frozen=True, slots=True)
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

    def __init__(self, transitions: Transitions) -> None:
        self.transitions = transitions

    def record(self, report: DeliveryReport) -> Applied | None:
        """Apply ``report``; None when it changes nothing (duplicate, late,
        unknown reminder)."""

        def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
            if reminder.state not in ACCEPTS[report.status]:
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
            reminder.updated = int(report.at.timestamp())
            return Effect(
                report.status,
                f"provider:{report.provider}",
                f"{reminder.seq} {report.code}".strip(),
            )

        return self.transitions.apply(report.reminder_id, change)
