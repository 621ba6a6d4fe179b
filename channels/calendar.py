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
from datetime import datetime, timedelta
from typing import Literal

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

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
    cal.add_component(
        Timezone.from_tzinfo(
            zone(invite.timezone),
            tzid=invite.timezone,
            first_date=first,
            last_date=local_due.date() + timedelta(days=2),
        )
    )
    cal.add_component(event)
    return bytes(cal.to_ical())
