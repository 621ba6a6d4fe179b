"""Invites parse back with every property the calendar clients rely on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from channels.calendar import Invite, build_invite, invite_uid

TORONTO = ZoneInfo("America/Toronto")
# 17:00 on 20 March 2027 in Toronto, after the 14 March DST change.
DUE = datetime(2027, 3, 20, 17, 0, tzinfo=TORONTO).astimezone(UTC)
INVITE = Invite(
    uid=invite_uid("0f8d0f3f9ce77c7dfbbf", "rappels.example.gouv.qc.ca"),
    sequence=1,
    method="REQUEST",
    organizer_email="rappels@saaq.example.gouv.qc.ca",
    organizer_name="SAAQ",
    attendee_email="a@example.ca",
    summary="Renouveler votre permis",
    description="Au plus tard le samedi 20 mars 2027 à 17 h 00.",
    due=DUE,
    all_day=False,
    timezone="America/Toronto",
    alarms=(timedelta(days=30), timedelta(days=7), timedelta(days=1)),
    stamp=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    url="https://saaq.example.gouv.qc.ca/renew",
)


def parse(raw: bytes) -> Calendar:
    return Calendar.from_ical(raw)


def test_request_has_method_uid_sequence_people_and_local_times_across_dst() -> None:
    cal = parse(build_invite(INVITE))
    assert str(cal["method"]) == "REQUEST"
    (event,) = cal.walk("VEVENT")
    assert str(event["uid"]) == "deadline-0f8d0f3f9ce77c7dfbbf@rappels.example.gouv.qc.ca"
    assert event.decoded("sequence") == 1
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["organizer"]) == "mailto:rappels@saaq.example.gouv.qc.ca"
    assert str(event["organizer"].params["cn"]) == "SAAQ"
    assert str(event["attendee"]) == "mailto:a@example.ca"
    start = event.decoded("dtstart")
    assert start == DUE
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=-4), "EDT after DST"
    assert event["dtstart"].params["TZID"] == "America/Toronto"
    assert str(event["url"]) == "https://saaq.example.gouv.qc.ca/renew"


def test_vtimezone_describes_both_sides_of_the_dst_change() -> None:
    cal = parse(build_invite(INVITE))
    (tz,) = cal.walk("VTIMEZONE")
    assert str(tz["tzid"]) == "America/Toronto"
    kinds = {component.name for component in tz.subcomponents}
    assert kinds == {"STANDARD", "DAYLIGHT"}


@pytest.mark.parametrize(
    "name",
    ["America/Toronto", "America/St_Johns", "America/Halifax", "Europe/Paris", "America/Regina"],
)
def test_every_observance_starts_at_its_onset_in_the_local_time_before_it(name: str) -> None:
    # RFC 5545 3.6.5: DTSTART minus TZOFFSETFROM is the transition's instant,
    # which must be the tz database's (icalendar's from_tzinfo wrote the
    # daylight onset at 03:00 instead of 02:00 in Toronto).
    cal = parse(build_invite(replace(INVITE, timezone=name)))
    (tz,) = cal.walk("VTIMEZONE")
    real = ZoneInfo(name)
    observances = tz.walk("STANDARD") + tz.walk("DAYLIGHT")
    changes = [o for o in observances if o.decoded("tzoffsetfrom") != o.decoded("tzoffsetto")]
    for observance in changes:
        before = observance.decoded("tzoffsetfrom")
        after = observance.decoded("tzoffsetto")
        instant = (observance.decoded("dtstart") - before).replace(tzinfo=UTC)
        assert (instant - timedelta(seconds=1)).astimezone(real).utcoffset() == before
        assert instant.astimezone(real).utcoffset() == after
        assert (observance.name == "DAYLIGHT") == bool(instant.astimezone(real).dst())
    if name == "America/Toronto":
        daylight = [o.decoded("dtstart") for o in changes if o.name == "DAYLIGHT"]
        assert datetime(2026, 3, 8, 2, 0) in daylight
    if name == "America/Regina":
        assert changes == []  # no DST in Saskatchewan
    else:
        assert len(changes) >= 2


def test_alarms_fire_at_the_offsets_before_the_start() -> None:
    (event,) = parse(build_invite(INVITE)).walk("VEVENT")
    triggers = sorted(alarm.decoded("trigger") for alarm in event.walk("VALARM"))
    assert triggers == [-timedelta(days=30), -timedelta(days=7), -timedelta(days=1)]
    assert {str(alarm["action"]) for alarm in event.walk("VALARM")} == {"DISPLAY"}


def test_a_date_deadline_is_an_all_day_event_with_morning_alarms() -> None:
    raw = build_invite(replace(INVITE, all_day=True, alarms=(timedelta(days=1),)))
    (event,) = parse(raw).walk("VEVENT")
    assert event.decoded("dtstart") == date(2027, 3, 20)
    assert event.decoded("dtend") == date(2027, 3, 21)
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(hours=15), "09:00 the day before"


def test_cancel_keeps_the_uid_raises_the_sequence_and_drops_alarms() -> None:
    first = parse(build_invite(INVITE)).walk("VEVENT")[0]
    cal = parse(build_invite(replace(INVITE, method="CANCEL", sequence=2)))
    assert str(cal["method"]) == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert str(event["uid"]) == str(first["uid"])
    assert event.decoded("sequence") == 2
    assert str(event["status"]) == "CANCELLED"
    assert event.walk("VALARM") == []
