"""Coverage: the share of deadlines with a reminder delivered in time.

The definition (DESIGN.md, Coverage):

- **in scope**: deadlines due in the window, except those the agency
  cancelled (withdrawn); completed deadlines stay in scope;
- **covered**: at least one reminder was delivered (a provider receipt)
  before the due instant, on any channel;
- **coverage** = covered / in scope, against the target from settings;
- every uncovered deadline has exactly one **reason**, by precedence:
  ``no_contact`` (no address for any of its channels), ``opted_out`` (nothing
  went out because the citizen opted out), ``registered_late`` (too late for
  any reminder), ``completed_early`` (done before a reminder was delivered),
  then what became of its reminders: ``pending`` while one is still planned
  or awaiting its receipt, else ``failed`` (failed, undelivered, skipped or
  delivered after the deadline), else ``no_receipt``.

``pending`` is placed before ``failed`` and ``no_receipt`` on purpose: a
failed SMS whose email fallback is still planned is not a failure yet.

Counters: :func:`tally` turns one deadline document into counter fields, and
every write adds the difference between the document's tally after and
before (in the same Redis script as the document), so the figures are
always those of the documents and a report reads only
O(agencies x months x outcomes) fields. :func:`report` builds the
:class:`CoverageReport` from those fields. Pure: no I/O here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from .clock import from_epoch
from .lifecycle.states import WENT_OUT
from .models import zone
from .record import DeadlineRecord, ReminderRecord

Reason = Literal[
    "no_contact",
    "opted_out",
    "registered_late",
    "completed_early",
    "failed",
    "no_receipt",
    "pending",
]
REASONS: tuple[Reason, ...] = get_args(Reason)
"""In order of precedence."""
Outcome = Literal["covered", "withdrawn"] | Reason
IN_FLIGHT = frozenset({"planned", "queued", "sending", "sent"})
ENDED = frozenset({"failed", "undelivered", "skipped", "delivered"})
"""States that count as failed when nothing covered the deadline (a delivery too late)."""
CHANNELS = ("sms", "email", "calendar")
BREAKDOWNS = ("agency", "month", "channel", "reason")
NEEDS = {"sms": "phone", "email": "email", "calendar": "email"}


def outcome(record: DeadlineRecord) -> tuple[Outcome, str]:
    """The deadline's coverage outcome, and the channel that covered it
    ("-" when it is not covered)."""
    if record.status == "cancelled":
        return "withdrawn", "-"
    # One pass over the reminders (every write computes this twice).
    first: ReminderRecord | None = None
    planned_any = went_out = opted = in_flight = ended = no_receipt = False
    for reminder in record.reminders:
        if reminder.kind == "invite_cancel":
            continue
        planned_any = True
        state = reminder.state
        in_time = state == "delivered" and reminder.updated <= record.due
        if in_time and (first is None or _earlier(reminder, first)):
            first = reminder
        if state in WENT_OUT:
            went_out = True
        if state in IN_FLIGHT:
            in_flight = True
        elif state in ENDED:
            ended = True
            opted = opted or (state == "skipped" and reminder.reason == "opted_out")
        elif state == "no_receipt":
            no_receipt = True
    if first is not None:
        return "covered", first.channel
    reachable = {"phone": bool(record.phone_hash), "email": bool(record.email_hash)}
    if not any(reachable[NEEDS.get(c, "email")] for c in record.channels):
        return "no_contact", "-"
    if not went_out:
        if opted or (not planned_any and record.unplanned == "opted_out"):
            return "opted_out", "-"
        if not planned_any:
            return "registered_late", "-"
    if record.status == "completed":
        return "completed_early", "-"
    if in_flight:
        return "pending", "-"
    if ended:
        return "failed", "-"
    if no_receipt:
        return "no_receipt", "-"
    return "pending", "-"


def _earlier(a: ReminderRecord, b: ReminderRecord) -> bool:
    return (a.updated, a.seq) < (b.updated, b.seq)


def due_month(record: DeadlineRecord) -> str:
    """``YYYY-MM`` of the due instant in the citizen's own time zone."""
    return _month(record.due, record.timezone)


@lru_cache(maxsize=8192)
def _month(due: float, timezone: str) -> str:
    # Every write of a deadline asks again (a reminder's lease, its send and
    # its receipt are three writes): the conversion was a third of a write's
    # counting.
    local = from_epoch(due).astimezone(zone(timezone))
    return f"{local.year:04d}-{local.month:02d}"


FINAL = ("delivered", "undelivered", "failed", "no_receipt")
"""Reminder states counted by name (the report's per-channel figures)."""


def tally(record: DeadlineRecord | None) -> Counter[str]:
    """The counter fields one deadline contributes to.

    Only what the report reads is counted, so that most steps of a
    reminder change no counter: every deadline counts once in ``all``, and
    once more under its outcome unless that is ``pending`` (pending is
    ``all`` minus the other outcomes); a reminder counts under ``out``
    once it went out (sending onwards) and under its final state. Taking
    the lease adds one ``out``, recording ``sent`` changes nothing, a
    receipt adds its state (and the outcome's change)."""
    if record is None:
        return Counter()
    return Counter(_tally(record, f"{record.agency}|{due_month(record)}"))


def _tally(record: DeadlineRecord, head: str) -> dict[str, int]:
    result, channel = outcome(record)
    counts = {f"d|{head}|all|-": 1}
    if result != "pending":
        counts[f"d|{head}|{result}|{channel}"] = 1
    for reminder in record.reminders:
        state = reminder.state
        if state in WENT_OUT:
            out = f"r|{head}|{reminder.channel}|out"
            counts[out] = counts.get(out, 0) + 1
        if state in FINAL:
            final = f"r|{head}|{reminder.channel}|{state}"
            counts[final] = counts.get(final, 0) + 1
    return counts


def delta(before: DeadlineRecord | None, after: DeadlineRecord | None) -> dict[str, int]:
    """What a write changes in the counters (zero changes left out)."""
    if before is None or after is None or _place(before) != _place(after):
        change: dict[str, int] = tally(after)
        subtract: Mapping[str, int] = tally(before)
    else:  # most writes: the same agency and due month, computed once
        head = f"{after.agency}|{due_month(after)}"
        change, subtract = _tally(after, head), _tally(before, head)
    for name, n in subtract.items():
        change[name] = change.get(name, 0) - n
    return {name: n for name, n in change.items() if n}


def _place(record: DeadlineRecord) -> tuple[str, float, str]:
    return record.agency, record.due, record.timezone


class Slice(BaseModel):
    """Coverage of one part of the window (an agency, a month, a channel)."""

    model_config = ConfigDict(frozen=True)

    key: str
    in_scope: int
    covered: int
    rate: float | None
    """covered / in scope; None when nothing is in scope."""
    reasons: dict[str, int]


class ChannelFigures(BaseModel):
    """What became of the reminders sent on one channel."""

    model_config = ConfigDict(frozen=True)

    channel: str
    covered_deadlines: int
    """Deadlines whose first in-time delivery was on this channel."""
    sent: int
    delivered: int
    undelivered: int
    failed: int
    no_receipt: int
    failure_rate: float | None
    """(undelivered + failed + no_receipt) / reminders that reached an outcome."""


class CoverageReport(BaseModel):
    """Coverage against the target, with breakdowns and the reasons for the gap."""

    model_config = ConfigDict(frozen=True)

    agency: str | None
    start: date | None
    end: date | None
    target: float
    in_scope: int
    covered: int
    withdrawn: int
    rate: float | None
    met: bool
    reasons: dict[str, int]
    """Uncovered deadlines by reason (every reason listed, zeros included)."""
    forecast: float | None
    """For months not yet over: share of in-scope deadlines covered or with
    a reminder still planned or in flight, i.e. where coverage is heading."""
    by_agency: list[Slice]
    by_month: list[Slice]
    by_channel: list[ChannelFigures]


def report(
    fields: Mapping[str, int],
    *,
    target: float,
    agency: str | None = None,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
) -> CoverageReport:
    """A report from counter fields; the window is whole months of due dates
    (``start`` and ``end`` pick the months they fall in)."""
    first = None if start is None else f"{start.year:04d}-{start.month:02d}"
    last = None if end is None else f"{end.year:04d}-{end.month:02d}"
    current = None if today is None else f"{today.year:04d}-{today.month:02d}"
    deadlines: list[tuple[str, str, str, str, int]] = []
    reminders: list[tuple[str, str, str, int]] = []
    for field, count in fields.items():
        parts = field.split("|")
        if count == 0 or (agency is not None and parts[1] != agency):
            continue
        month = parts[2]
        if (first is not None and month < first) or (last is not None and month > last):
            continue
        if parts[0] == "d" and len(parts) == 5:
            if parts[3] == "all":
                # Pending is what the other outcomes leave of ``all``.
                deadlines.append((parts[1], month, "pending", "-", count))
            else:
                deadlines.append((parts[1], month, parts[3], parts[4], count))
                deadlines.append((parts[1], month, "pending", "-", -count))
        elif parts[0] == "r" and len(parts) == 5:
            reminders.append((parts[1], parts[3], parts[4], count))

    def slices(index: int) -> list[Slice]:
        groups: dict[str, Counter[str]] = {}
        for row in deadlines:
            key = row[0] if index == 0 else row[1]
            group = groups.get(key)
            if group is None:  # (setdefault would build a Counter per row)
                group = groups[key] = Counter()
            group[row[2]] += row[4]
        return [_slice(key, groups[key]) for key in sorted(groups)]

    totals: Counter[str] = Counter()
    ahead: Counter[str] = Counter()
    covered_by: Counter[str] = Counter()
    for _, month, result, channel, count in deadlines:
        totals[result] += count
        if current is None or month >= current:
            ahead[result] += count
        if result == "covered":
            covered_by[channel] += count
    states: dict[str, Counter[str]] = {c: Counter() for c in CHANNELS}
    for _, channel, state, count in reminders:
        states.setdefault(channel, Counter())[state] += count
    whole = _slice("all", totals)
    ahead_scope = sum(n for k, n in ahead.items() if k != "withdrawn")
    forecast = None if not ahead_scope else (ahead["covered"] + ahead["pending"]) / ahead_scope
    return CoverageReport(
        agency=agency,
        start=start,
        end=end,
        target=target,
        in_scope=whole.in_scope,
        covered=whole.covered,
        withdrawn=totals["withdrawn"],
        rate=whole.rate,
        met=whole.rate is not None and whole.rate >= target,
        reasons=whole.reasons,
        forecast=forecast,
        by_agency=slices(0),
        by_month=slices(1),
        by_channel=[_channel(c, states[c], covered_by[c]) for c in sorted(states)],
    )


def _slice(key: str, counts: Counter[str]) -> Slice:
    in_scope = sum(n for k, n in counts.items() if k != "withdrawn")
    covered = counts["covered"]
    return Slice(
        key=key,
        in_scope=in_scope,
        covered=covered,
        rate=None if not in_scope else covered / in_scope,
        reasons={reason: counts[reason] for reason in REASONS},
    )


def _channel(channel: str, states: Counter[str], covered: int) -> ChannelFigures:
    bad = states["undelivered"] + states["failed"] + states["no_receipt"]
    ended = bad + states["delivered"]
    return ChannelFigures(
        channel=channel,
        covered_deadlines=covered,
        sent=states["out"],
        delivered=states["delivered"],
        undelivered=states["undelivered"],
        failed=states["failed"],
        no_receipt=states["no_receipt"],
        failure_rate=None if not ended else bad / ended,
    )


def recount(records: Iterable[DeadlineRecord]) -> Counter[str]:
    """The counter fields rebuilt from the documents themselves."""
    total: Counter[str] = Counter()
    for record in records:
        total.update(tally(record))
    return total
