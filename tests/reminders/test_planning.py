"""The planner: offsets, DST, quiet hours, catch-up, spacing, channels."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.models import ChannelName
from reminders.planning import Slot, in_quiet_hours, offset_instant, plan
from reminders.policy import Policy

TORONTO = ZoneInfo("America/Toronto")
POLICY = Policy()
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EVERYTHING: set[ChannelName] = {"sms", "email", "calendar"}


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO).astimezone(UTC)


def plan_with(**overrides: Any) -> list[Slot]:
    """The planner with defaults; each test names only what it varies."""
    args: dict[str, Any] = {
        "due": local(2026, 12, 15, 17, 0),
        "tz": TORONTO,
        "now": NOW,
        "offsets": [timedelta(days=7)],
        "channels": ["sms", "email", "calendar"],
        "reachable": EVERYTHING,
        "policy": POLICY,
    }
    return plan(**(args | overrides))


def test_seven_days_before_keeps_the_wall_clock_across_the_dst_change() -> None:
    due = local(2027, 3, 20, 17, 0)  # after the 14 March 2027 change
    at = offset_instant(due, timedelta(days=7), TORONTO)
    assert at.astimezone(TORONTO).hour == 17
    assert due - at == timedelta(days=7) - timedelta(hours=1)


def test_hour_offsets_are_exact_spans_across_the_dst_change() -> None:
    due = local(2026, 11, 1, 3, 0)  # DST ended at 2:00 that morning
    assert due - offset_instant(due, timedelta(hours=3), TORONTO) == timedelta(hours=3)


def test_one_reminder_per_offset_on_the_first_reachable_channel_and_one_invite() -> None:
    slots = plan_with(
        offsets=[timedelta(days=7), timedelta(days=1)],
    )
    assert [(s.channel, s.kind) for s in slots] == [
        ("calendar", "invite"),
        ("sms", "offset"),
        ("sms", "offset"),
    ]
    assert slots[0].send_at == NOW


def test_an_unreachable_first_channel_falls_to_the_next() -> None:
    slots = plan_with(
        channels=["sms", "email"],
        reachable={"email", "calendar"},
    )
    assert [s.channel for s in slots] == ["email"]


def test_every_channel_policy_sends_each_offset_on_every_reachable_channel() -> None:
    slots = plan_with(
        offsets=[timedelta(days=7), timedelta(days=1)],
        channels=["sms", "email"],
        policy=Policy(every_channel=True),
    )
    assert sorted(s.channel for s in slots) == ["email", "email", "sms", "sms"]


def test_sms_in_quiet_hours_moves_to_the_morning() -> None:
    slots = plan_with(
        due=local(2026, 12, 15, 23, 0),
        channels=["sms"],
    )
    assert slots[0].send_at == local(2026, 12, 9, 8, 0)


def test_sms_that_cannot_move_past_the_deadline_goes_out_before_quiet_hours_begin() -> None:
    slots = plan_with(
        due=local(2026, 12, 15, 23, 30),
        offsets=[timedelta(hours=1)],
        channels=["sms"],
    )
    assert slots[0].send_at == local(2026, 12, 15, 20, 59)


def test_sms_with_no_allowed_time_left_falls_to_email() -> None:
    now = local(2026, 12, 15, 21, 30)
    slots = plan_with(
        due=local(2026, 12, 15, 23, 30),
        now=now,
        offsets=[timedelta(hours=1)],
        channels=["sms", "email"],
        reachable={"sms", "email"},
    )
    assert [(s.channel, s.send_at) for s in slots] == [("email", local(2026, 12, 15, 22, 30))]


def test_late_registration_gets_one_catch_up_reminder_now() -> None:
    slots = plan_with(
        due=NOW + timedelta(days=3),
        offsets=[timedelta(days=30), timedelta(days=7), timedelta(days=1)],
        channels=["email"],
    )
    assert [(s.kind, s.send_at) for s in slots] == [
        ("catch_up", NOW),
        ("offset", NOW + timedelta(days=2)),
    ]


def test_no_catch_up_when_less_than_the_minimum_lead_remains() -> None:
    slots = plan_with(
        due=NOW + timedelta(minutes=30),
        offsets=[timedelta(days=1)],
        channels=["email"],
    )
    assert slots == []


def test_no_catch_up_after_a_reminder_already_went_out() -> None:
    slots = plan_with(
        due=NOW + timedelta(days=3),
        offsets=[timedelta(days=7), timedelta(days=1)],
        channels=["email"],
        already_sent=[NOW - timedelta(days=4)],
        invite=False,
    )
    assert [s.kind for s in slots] == ["offset"]


def test_reminders_closer_than_the_spacing_collapse_into_the_earlier() -> None:
    slots = plan_with(
        due=NOW + timedelta(days=1, minutes=20),
        offsets=[timedelta(days=7), timedelta(days=1)],
        channels=["email"],
    )
    assert [(s.kind, s.send_at) for s in slots] == [("catch_up", NOW)]


def test_nothing_is_planned_without_a_reachable_channel() -> None:
    slots = plan_with(
        due=NOW + timedelta(days=10),
        reachable=set(),
    )
    assert slots == []


zones = st.sampled_from(
    ["America/Toronto", "America/Vancouver", "America/St_Johns", "Europe/Paris", "Pacific/Chatham"]
)
offsets_st = st.lists(
    st.one_of(
        st.integers(1, 60).map(lambda d: timedelta(days=d)),
        st.integers(1, 72).map(lambda h: timedelta(hours=h)),
        st.integers(5, 600).map(lambda m: timedelta(minutes=m)),
    ),
    min_size=1,
    max_size=5,
    unique=True,
)
channels_st = st.permutations(["sms", "email", "calendar"]).flatmap(
    lambda order: st.integers(1, 3).map(lambda n: list(order[:n]))
)
quiet_st = st.tuples(st.integers(18, 23), st.integers(5, 9)).map(
    lambda hours: (time(hours[0]), time(hours[1]))
)


@settings(max_examples=400, deadline=None)
@given(
    zone_name=zones,
    lead=st.integers(1, 200 * 24 * 3600),
    offsets=offsets_st,
    channels=channels_st,
    reachable=st.sets(st.sampled_from(["sms", "email", "calendar"])),
    quiet=quiet_st,
    every=st.booleans(),
)
def test_planning_properties(
    zone_name: str,
    lead: int,
    offsets: list[timedelta],
    channels: list[ChannelName],
    reachable: set[ChannelName],
    quiet: tuple[time, time],
    every: bool,
) -> None:
    tz = ZoneInfo(zone_name)
    policy = Policy(quiet_start=quiet[0], quiet_end=quiet[1], every_channel=every)
    due = NOW + timedelta(seconds=lead)
    args = {
        "due": due,
        "tz": tz,
        "now": NOW,
        "offsets": offsets,
        "channels": channels,
        "reachable": reachable,
        "policy": policy,
    }
    slots = plan(**args)  # type: ignore[arg-type]

    assert slots == plan(**args)  # type: ignore[arg-type]
    for slot in slots:
        assert NOW <= slot.send_at < due, "never before now, never at or after the deadline"
        assert slot.channel in reachable and slot.channel in channels
        if slot.channel == "sms":
            assert not in_quiet_hours(slot.send_at, tz, *quiet), "SMS outside quiet hours"
    invites = [s for s in slots if s.kind == "invite"]
    assert len(invites) == (1 if "calendar" in channels and "calendar" in reachable else 0)
    messages = sorted((s for s in slots if s.kind != "invite"), key=lambda s: s.send_at)
    groups = {s.channel if every else "all" for s in messages}
    for group in groups:
        times = [s.send_at for s in messages if (s.channel if every else "all") == group]
        gaps = [b - a for a, b in pairwise(times)]
        assert all(gap >= policy.min_spacing for gap in gaps), "spacing holds"
    for slot in messages:
        # DST-correct: a whole-day offset not moved by quiet hours keeps the
        # due's wall-clock time (unless that time does not exist that day).
        if (
            slot.kind == "offset"
            and slot.offset
            and slot.offset % timedelta(days=1) == timedelta(0)
        ):
            wanted = offset_instant(due, slot.offset, tz)
            if slot.send_at == wanted:
                naive = due.astimezone(tz).replace(tzinfo=None) - slot.offset
                if (
                    naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
                    == naive
                ):
                    assert slot.send_at.astimezone(tz).time() == due.astimezone(tz).time()
