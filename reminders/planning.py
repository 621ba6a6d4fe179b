"""Planning: when each reminder of a deadline is sent, and on which channel.

Pure functions, no I/O. Rules (DESIGN.md, Reminder lifecycle):

- An offset of whole days means the same wall-clock time that many days
  earlier in the citizen's zone (DST-correct); other offsets are exact spans.
- Each offset gives one reminder on the first reachable message channel of
  the deadline's order (or on every reachable one when the policy says so).
- SMS never goes out in quiet hours: a time inside them moves to the end of
  the quiet period, or, when that would pass the deadline, to just before
  the quiet period began; when neither fits, the slot goes to the next
  channel in the order.
- Offsets already past at registration collapse into one catch-up reminder
  sent now, provided at least ``min_lead`` remains and nothing was sent yet.
- No two reminders closer than ``min_spacing`` (per channel when every
  channel is used, else per deadline): the earlier one stays.
- ``calendar`` is not a per-offset channel: a reachable calendar gets one
  invite now, whose alarms remind at the offsets.
- Nothing is ever planned at or after the due instant, nor before now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from .models import ChannelName
from .policy import Policy

SlotKind = Literal["offset", "catch_up", "invite"]
_DAY = timedelta(days=1)
_QUIET_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned send: the channel, the instant (UTC) and why."""

    channel: ChannelName
    send_at: datetime
    kind: SlotKind
    offset: timedelta | None = None


def offset_instant(due: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """The instant ``offset`` before ``due``; whole days keep the wall clock."""
    if offset % _DAY == timedelta(0):
        local = due.astimezone(tz).replace(tzinfo=None) - offset
        # Wall-clock arithmetic; a time in a DST gap resolves forward.
        return local.replace(tzinfo=tz).astimezone(UTC)
    return due - offset


def in_quiet_hours(instant: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    """Whether ``instant`` falls in [start, end) local time (may wrap midnight)."""
    local = instant.astimezone(tz).time()
    if start > end:
        return local >= start or local < end
    return start <= local < end


def _quiet_bounds(
    instant: datetime, tz: ZoneInfo, start: time, end: time
) -> tuple[datetime, datetime]:
    """For an instant inside quiet hours: (last allowed before, first allowed after)."""
    local = instant.astimezone(tz)
    day = local.date()
    if start > end and local.time() >= start:
        began, ends = datetime.combine(day, start), datetime.combine(day + _DAY, end)
    elif start > end:
        began, ends = datetime.combine(day - _DAY, start), datetime.combine(day, end)
    else:
        began, ends = datetime.combine(day, start), datetime.combine(day, end)
    before = began.replace(tzinfo=tz).astimezone(UTC) - _QUIET_MARGIN
    after = ends.replace(tzinfo=tz).astimezone(UTC)
    return before, after


def sms_time(
    instant: datetime, *, due: datetime, now: datetime, tz: ZoneInfo, policy: Policy
) -> datetime | None:
    """The instant to send an SMS wanted at ``instant``, out of quiet hours,
    after ``now`` and before ``due``; None when there is no such time."""
    if not in_quiet_hours(instant, tz, policy.quiet_start, policy.quiet_end):
        return instant
    before, after = _quiet_bounds(instant, tz, policy.quiet_start, policy.quiet_end)
    if after < due:
        return after
    if now <= before < due:
        return before
    return None


def plan(
    *,
    due: datetime,
    tz: ZoneInfo,
    now: datetime,
    offsets: Sequence[timedelta],
    channels: Sequence[ChannelName],
    reachable: Iterable[ChannelName],
    policy: Policy,
    already_sent: Sequence[datetime] = (),
    invite: bool = True,
) -> list[Slot]:
    """The reminders to plan for one deadline, sorted by send time.

    ``reachable`` holds the channels the citizen can receive now (has the
    address, has not opted out). ``already_sent`` are the send times of
    reminders that went out before a re-plan: no catch-up then, and new
    reminders keep their spacing from them. ``invite`` asks for a calendar
    invite (a new deadline, or one whose invite content changed).
    """
    now = now.astimezone(UTC).replace(microsecond=0)
    due = due.astimezone(UTC)
    if due <= now:
        return []
    can_reach = set(reachable)
    slots: list[Slot] = []
    if invite and "calendar" in channels and "calendar" in can_reach:
        slots.append(Slot("calendar", now, "invite"))
    order = [c for c in channels if c != "calendar" and c in can_reach]
    if not order:
        return slots

    wanted: list[tuple[datetime, SlotKind, timedelta]] = []
    missed: list[timedelta] = []
    for offset in sorted(offsets, reverse=True):
        at = offset_instant(due, offset, tz)
        if at < now:
            missed.append(offset)
        elif at < due:
            wanted.append((at, "offset", offset))
    if missed and not already_sent and due - now >= policy.min_lead:
        wanted.insert(0, (now, "catch_up", missed[-1]))

    candidates: list[Slot] = []
    for at, kind, offset in wanted:
        for channel in order:
            send_at: datetime | None = at
            if channel == "sms":
                send_at = sms_time(at, due=due, now=now, tz=tz, policy=policy)
            if send_at is None:
                continue
            candidates.append(Slot(channel, send_at, kind, offset))
            if not policy.every_channel:
                break
    slots.extend(_spaced(candidates, policy, already_sent))
    slots.sort(key=lambda slot: (slot.send_at, slot.channel))
    return slots


def _spaced(candidates: list[Slot], policy: Policy, already_sent: Sequence[datetime]) -> list[Slot]:
    kept: list[Slot] = []
    last: dict[str, datetime] = {}
    sent_before = max(already_sent, default=None)
    for slot in sorted(candidates, key=lambda s: (s.send_at, s.channel)):
        group = slot.channel if policy.every_channel else "all"
        previous = last.get(group, sent_before)
        if previous is not None and slot.send_at - previous < policy.min_spacing:
            continue
        last[group] = slot.send_at
        kept.append(slot)
    return kept
