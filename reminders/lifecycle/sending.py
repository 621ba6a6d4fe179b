"""The rules of sending one due reminder, as pure transitions.

The dispatcher (``workers/dispatch.py``) does the I/O; everything it decides
is here, as :data:`reminders.lifecycle.transitions.Change` functions that the
transition step applies inside one compare-and-set:

- :func:`verdict`: send it, skip it (with the reason recorded), defer an SMS
  out of quiet hours, or ignore the message (a duplicate, or a reminder
  re-planned later since it was released);
- :func:`take_lease`: ``planned -> sending``; only one worker wins;
- :func:`record_sent`, :func:`record_transient`, :func:`record_permanent`:
  the outcome of the provider call. A transient error re-plans with
  exponential backoff and full jitter, but never at or after the deadline
  (then the reminder fails instead); a permanent one fails the reminder.
  A failed or skipped reminder falls back to the next reachable channel of
  the deadline's order, planned now;
- :func:`check_receipt`: a reminder still waiting for its receipt
  ``no_receipt_after`` after the send becomes ``no_receipt``.

"queued" is not written into the document: a released reminder is in the
scheduler's lease set or in the broker's queue, and stays ``planned`` in its
document until a worker takes the ``sending`` lease. That keeps releasing to
one script call per batch of reminders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from ..clock import from_epoch, to_epoch
from ..ids import deadline_tag, reminder_id
from ..models import zone
from ..planning import in_quiet_hours, sms_time
from ..policy import Policy
from ..record import DeadlineRecord, ReminderRecord
from ..values import value_type
from .states import WAITING, WENT_OUT, allows
from .transitions import Change, Effect

EARLY_TOLERANCE_S = 5
"""A message may arrive this early (clock skew between processes)."""
RECEIPT_SUFFIX = ":r"
"""Schedule members ``<reminder id>:r`` are receipt checks, not sends."""

Action = Literal["send", "skip", "defer", "ignore"]
OPT_OUT_LIST = {"sms": "sms", "email": "email", "calendar": "email"}
"""The address list (opt-outs, address failures) each channel's address is on."""
ADDRESS_FAILURES = {
    # Twilio: not a valid number, not a mobile, cannot be routed, unknown
    # or landline destination (delivery receipts).
    "sms": frozenset({"21211", "21612", "21614", "30005", "30006"}),
}


def address_failure(channel: str, code: str) -> str | None:
    """The address list to mark when ``code`` says the address itself is bad
    (a hard email bounce, an invalid number), else None."""
    listed = OPT_OUT_LIST.get(channel)
    if listed == "email" and code.startswith("bounce"):
        return "email"
    if listed == "sms" and code in ADDRESS_FAILURES["sms"]:
        return "sms"
    return None


@value_type
class Verdict:
    action: Action
    reason: str = ""
    when: int = 0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, at most ``cap_s`` between tries, for
    as long as the deadline leaves room: a provider outage of hours delays
    reminders that have days left, it does not fail them."""

    base_s: float = 60.0
    cap_s: float = 1800.0
    """Longest wait between two tries (so a recovery is noticed within it)."""
    max_attempts: int = 0
    """A ceiling on tries (0: none; the deadline's margin is the bound)."""
    margin_s: int = 60
    """A retry must land at least this long before the deadline."""

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(attempt - 1, 0))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def reachable(record: DeadlineRecord, channel: str, opted_out: frozenset[str]) -> bool:
    """Whether the citizen can receive ``channel`` (address known, not opted out)."""
    has = record.phone_hash if channel == "sms" else record.email_hash
    return bool(has) and OPT_OUT_LIST[channel] not in opted_out


def verdict(
    record: DeadlineRecord,
    reminder: ReminderRecord,
    now: int,
    opted_out: frozenset[str],
    policy: Policy,
    failed: frozenset[str] = frozenset(),
) -> Verdict:
    """What to do with a released reminder at ``now``."""
    if reminder.state not in WAITING:
        return Verdict("ignore", "already " + reminder.state)
    if reminder.send_at > now + EARLY_TOLERANCE_S:
        return Verdict("ignore", "re-planned later")
    if now >= record.due:
        return Verdict("skip", "past_due")
    if record.status != "active" and reminder.kind != "invite_cancel":
        return Verdict("skip", record.status)
    if not reachable(record, reminder.channel, opted_out):
        has = record.phone_hash if reminder.channel == "sms" else record.email_hash
        return Verdict("skip", "opted_out" if has else "no_contact")
    if OPT_OUT_LIST[reminder.channel] in failed:
        return Verdict("skip", "address_failed")
    if reminder.channel == "sms":
        tz = zone(record.timezone)
        at = from_epoch(now)
        if in_quiet_hours(at, tz, policy.quiet_start, policy.quiet_end):
            later = sms_time(at, due=from_epoch(record.due), now=at, tz=tz, policy=policy)
            if later is None or later >= from_epoch(record.due):
                return Verdict("skip", "quiet_hours")
            return Verdict("defer", "quiet_hours", to_epoch(later))
    return Verdict("send")


def fallback(
    record: DeadlineRecord, failed: ReminderRecord, now: int, opted_out: frozenset[str]
) -> ReminderRecord | None:
    """Plan ``failed``'s reminder on the next reachable channel of the order
    (not the calendar, which is an invite, not a message), or None."""
    if failed.kind in ("invite", "invite_cancel") or record.status != "active":
        return None
    if now >= record.due - EARLY_TOLERANCE_S:
        return None
    order = record.channels
    start = order.index(failed.channel) + 1 if failed.channel in order else len(order)
    for channel in order[start:]:
        if channel == "calendar" or not reachable(record, channel, opted_out):
            continue
        taken = any(
            r.channel == channel and r.offset_s == failed.offset_s and r.kind == failed.kind
            for r in record.reminders
            if r.state in WAITING | WENT_OUT
        )
        if taken:
            continue
        added = ReminderRecord(
            seq=record.next_seq,
            channel=channel,
            send_at=now,
            kind=failed.kind,
            offset_s=failed.offset_s,
        )
        record.next_seq += 1
        record.reminders.append(added)
        return added
    return None


def fall_back(
    record: DeadlineRecord, failed: ReminderRecord, now: int, opted_out: frozenset[str]
) -> str:
    """:func:`fallback`, and the words it adds to the audit detail (the
    schedule follows the document: a fallback planned sooner than the
    deadline's other reminders is its next entry)."""
    added = fallback(record, failed, now, opted_out)
    return "" if added is None else f" fallback {added.seq} {added.channel}"


def _finish(
    record: DeadlineRecord,
    reminder: ReminderRecord,
    now: int,
    state: Literal["skipped", "failed"],
    reason: str,
    opted_out: frozenset[str],
    actor: str,
) -> Effect:
    reminder.state = state
    reminder.reason = reason
    then = fall_back(record, reminder, now, opted_out)
    return Effect(state, actor, f"{reminder.seq} {reason}{then}")


def _tag(record: DeadlineRecord) -> str:
    return deadline_tag(record.agency, record.ref)


def skip(reason: str, opted_out: frozenset[str]) -> Change:
    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("skip", reminder.state):
            return None
        # Closed deadlines and passed deadlines get no fallback (fallback checks).
        return _finish(record, reminder, now, "skipped", reason, opted_out, "dispatcher")

    return change


def defer(when: int) -> Change:
    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("defer", reminder.state) or when >= record.due:
            return None
        reminder.send_at = when
        return Effect("deferred", "dispatcher", f"{reminder.seq} quiet_hours to {when}")

    return change


def take_lease(no_receipt_after_s: int, token: str = "") -> Change:
    """``planned -> sending``: this worker, and no other, sends it now.

    The receipt check is planned already here, so a worker that dies after
    this step still leaves a reminder that ends as ``no_receipt``. ``token``
    marks the lease as this worker's: when the write's reply is lost (Redis
    restarting), the worker reads it back to learn whether it holds it."""

    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("lease", reminder.state) or reminder.send_at > now + EARLY_TOLERANCE_S:
            return None
        if now >= record.due:
            return None
        reminder.state = "sending"
        reminder.attempts += 1
        reminder.lease = token
        check = reminder_id(_tag(record), reminder.seq) + RECEIPT_SUFFIX
        # No audit event: the outcome's follows (sent, or no_receipt).
        return Effect("", "dispatcher", schedule_add={check: now + no_receipt_after_s})

    return change


def record_sent(provider: str, provider_id: str) -> Change:
    """``sending -> sent`` with the provider's id. The receipt check stays
    where taking the lease planned it (one schedule write fewer)."""

    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("sent", reminder.state):
            # The receipt overtook us: keep its state, remember the id, and
            # still say it was sent (once: the lease token marks the send
            # not yet recorded).
            if reminder.state in WENT_OUT and reminder.lease:
                reminder.provider_id = reminder.provider_id or provider_id
                reminder.lease = ""
                detail = f"{reminder.seq} late record"
                return Effect("sent", f"provider:{provider}", detail, keeps_time=True)
            return None
        reminder.state = "sent"
        reminder.provider_id = provider_id
        reminder.reason = ""
        reminder.lease = ""
        return Effect("sent", f"provider:{provider}", str(reminder.seq))

    return change


def record_transient(
    provider: str, code: str, retry: RetryPolicy, rng: random.Random, opted_out: frozenset[str]
) -> Change:
    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("retry", reminder.state):
            return None
        when = now + int(retry.delay_s(reminder.attempts, rng))
        actor = f"provider:{provider}"
        spent = retry.max_attempts and reminder.attempts >= retry.max_attempts
        if spent or when >= record.due - retry.margin_s:
            return _finish(record, reminder, now, "failed", f"{code} retries", opted_out, actor)
        reminder.state = "planned"
        reminder.send_at = when
        reminder.reason = code
        return Effect("retry", actor, f"{reminder.seq} {code} at {when}")

    return change


def record_permanent(provider: str, code: str, opted_out: frozenset[str]) -> Change:
    def change(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
        if not allows("fail", reminder.state):
            return None
        return _finish(record, reminder, now, "failed", code, opted_out, f"provider:{provider}")

    return change


def check_receipt(record: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect | None:
    """``sent`` (or a ``sending`` whose outcome never came) -> ``no_receipt``."""
    if not allows("no_receipt", reminder.state):
        return None
    reminder.state = "no_receipt"
    return Effect("no_receipt", "dispatcher", str(reminder.seq))


def parse_member(member: str) -> tuple[str, bool]:
    """(reminder id, is a receipt check) of a schedule member."""
    if member.endswith(RECEIPT_SUFFIX):
        return member[: -len(RECEIPT_SUFFIX)], True
    return member, False
