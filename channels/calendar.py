"""Calendar invites: an iCalendar file per deadline, sent by email.

One UID per deadline (from its tag) so a re-send updates the event instead
of adding one; SEQUENCE rises on every change; METHOD:CANCEL with
STATUS:CANCELLED withdraws it. Times are in the citizen's zone with its
VTIMEZONE; a date deadline is an all-day event. VALARMs fire at the offsets
(09:00 local for all-day events, since "one day before midnight" helps
no one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vText,
)

from reminders.models import zone

Method = Literal["REQUEST", "CANCEL"]
EVENT_LENGTH = timedelta(minutes=15)
ALL_DAY_ALARM_HOUR = timedelta(hours=9)


@dataclass(frozen=True, slots=True)
class Invite:
    """What one invite says."""

    uid: str
    sequence: int
    method: Method
    organizer_email: str
    organizer_name: str
    attendee_email: str
    summary: str
    description: str
    due: datetime
    all_day: bool
    timezone: str
    alarms: tuple[timedelta, ...]
    stamp: datetime
    url: str | None = None


def invite_uid(tag: str, domain: str) -> str:
    """The stable UID of a deadline's event."""
    return f"deadline-{tag}@{domain}"


def build_invite(invite: Invite) -> bytes:
    """The VCALENDAR bytes for ``invite``."""
    cal = Calendar()
    cal.add("prodid", "-//Deadline reminders//rappels//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", invite.method)

    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", invite.stamp)
    local_due = invite.due.astimezone(zone(invite.timezone))
    if invite.all_day:
        event.add("dtstart", local_due.date())
        event.add("dtend", local_due.date() + timedelta(days=1))
    else:
        event.add("dtstart", local_due)
        event.add("dtend", local_due + EVENT_LENGTH)
    event.add("summary", invite.summary)
    event.add("description", invite.description)
    if invite.url:
        event.add("url", invite.url)
    event.add("transp", "TRANSPARENT")
    organizer = vCalAddress(f"mailto:{invite.organizer_email}")
    organizer.params["cn"] = vText(invite.organizer_name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{invite.attendee_email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    if invite.method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
        for offset in invite.alarms:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", invite.summary)
            lead = offset - ALL_DAY_ALARM_HOUR if invite.all_day else offset
            alarm.add("trigger", -lead)
            event.add_component(alarm)
    # Only the transitions around the event and its alarms, not since 1970.
    first = local_due.date() - timedelta(days=410)
    cal.add_component(vtimezone(invite.timezone, first, local_due.date() + timedelta(days=2)))
    cal.add_component(event)
    return bytes(cal.to_ical())


def transitions(name: str, first: date, last: date) -> list[tuple[datetime, timedelta, timedelta]]:
    """The UTC offset changes of zone ``name`` from ``first`` to ``last``:
    (instant in UTC, offset before, offset after), from the tz database."""
    tz = zone(name)
    start = datetime.combine(first, time(0), tzinfo=UTC)
    end = datetime.combine(last, time(0), tzinfo=UTC)

    def offset(at: datetime) -> timedelta:
        found = at.astimezone(tz).utcoffset()
        assert found is not None
        return found

    found: list[tuple[datetime, timedelta, timedelta]] = []
    step = timedelta(hours=1)
    at, before = start, offset(start)
    while at < end:
        after = offset(at + step)
        if after != before:
            low, high = at, at + step  # the change is in (low, high]: to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if offset(middle) == before:
                    low = middle
                else:
                    high = middle
            found.append((high.replace(second=0, microsecond=0), before, after))
            before = after
        at += step
    return found


def vtimezone(name: str, first: date, last: date) -> Timezone:
    """The VTIMEZONE of zone ``name`` from ``first`` to ``last``.

    RFC 5545 (3.6.5): an observance's DTSTART is its onset in the local
    time in force *before* it (the daylight onset in Toronto is 02:00, the
    standard one 02:00 too). icalendar's ``Timezone.from_tzinfo`` writes the
    daylight onset at 03:00, the time after the change; this is built from
    the tz database's transitions instead.
    """
    tz = zone(name)
    timezone = Timezone()
    timezone.add("tzid", name)
    opening = datetime.combine(first, time(0), tzinfo=tz)
    changes = transitions(name, first, last)
    offset = opening.utcoffset() or timedelta(0)
    observances = [(opening.replace(tzinfo=None), offset, offset, opening)]
    for instant, before, after in changes:
        onset = (instant + before).replace(tzinfo=None)
        observances.append((onset, before, after, instant.astimezone(tz)))
    for onset, before, after, local in observances:
        daylight = bool(local.dst())
        part = TimezoneDaylight() if daylight else TimezoneStandard()
        part.add("dtstart", onset)
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        abbreviation = local.tzname()
        if abbreviation:
            part.add("tzname", abbreviation)
        timezone.add_component(part)
    return timezone
