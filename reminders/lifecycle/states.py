"""The states of a reminder and the one table of the steps between them.

::

    planned --(due; scheduler releases)--> (queued) --(lease)--> sending
    sending --> sent            provider accepted; provider id kept
            --> planned         transient error: re-planned with backoff
            --> failed          permanent error, or retries ran out
    sent    --> delivered | undelivered   receipt
            --> no_receipt                no receipt in time
    planned --> skipped         closed, opted out, past due, no contact
    planned --> planned         snoozed, deferred out of quiet hours

"queued" is not written into a document: a released reminder is in the
scheduler's lease set or the broker's queue, and stays ``planned`` until a
worker takes the ``sending`` lease. A step whose reminder is not in one of
its :data:`ALLOWED` states is a no-op, so duplicate messages, duplicate
webhooks and out-of-order receipts cannot move a reminder backwards.
"""

from __future__ import annotations

from typing import Literal

ReminderState = Literal[
    "planned",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "no_receipt",
    "failed",
    "skipped",
]
DeadlineStatus = Literal["active", "completed", "cancelled"]
ReminderKind = Literal["offset", "catch_up", "invite", "invite_cancel", "snooze"]

WAITING: frozenset[str] = frozenset({"planned", "queued"})
"""States from which a reminder can still be skipped or re-planned."""
WENT_OUT: frozenset[str] = frozenset({"sending", "sent", "delivered", "undelivered", "no_receipt"})
"""States in which a reminder reached (or may have reached) the provider."""
NOT_YET_FINAL: frozenset[str] = WAITING | {"sending"}
"""States whose outcome is still to come (retention holds the document)."""

Step = Literal[
    "skip",
    "defer",
    "snooze",
    "lease",
    "sent",
    "retry",
    "fail",
    "accepted",
    "delivered",
    "undelivered",
    "no_receipt",
    "follow_up",
]

ALLOWED: dict[Step, frozenset[str]] = {
    "skip": WAITING,  # closed, opted out, past due, no contact, quiet hours
    "defer": WAITING,  # an SMS moved out of quiet hours
    "snooze": frozenset({"planned"}),  # moved later
    "lease": WAITING,  # -> sending: only one worker wins
    "sent": frozenset({"sending"}),  # the worker records the provider's id
    "retry": frozenset({"sending"}),  # transient error -> planned, later
    "fail": frozenset({"sending"}),  # permanent error -> failed (fallback)
    # The provider took it (Twilio "sent", SendGrid "processed"): this closes
    # the window where a worker died before recording its own send.
    "accepted": frozenset({"sending"}),
    # A receipt after the no-receipt timeout still counts: the citizen got it.
    "delivered": frozenset({"sending", "sent", "no_receipt"}),
    "undelivered": frozenset({"sending", "sent", "no_receipt"}),
    "no_receipt": frozenset({"sending", "sent"}),
    # A snooze of a reminder that went out adds a follow-up after it.
    "follow_up": frozenset({"sent", "delivered", "undelivered", "no_receipt"}),
}
"""For each step, the states a reminder may take it from."""


def allows(step: Step, state: str) -> bool:
    """Whether a reminder in ``state`` may take ``step``."""
    return state in ALLOWED[step]
