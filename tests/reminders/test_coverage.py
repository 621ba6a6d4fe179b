"""Coverage: the outcome of each deadline, counters that match the records."""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reminders import Deadline, ManualClock, ReminderService
from reminders.coverage import REASONS, outcome
from reminders.errors import ReminderError
from reminders.ids import deadline_tag, reminder_id
from reminders.lifecycle.receipts import DeliveryReport, OutcomeRecorder
from reminders.lifecycle.sending import (
    RetryPolicy,
    check_receipt,
    record_permanent,
    record_sent,
    record_transient,
    skip,
    take_lease,
)
from reminders.lifecycle.transitions import Transitions
from reminders.record import DeadlineRecord
from reminders.settings import Settings
from reminders.wiring import Core, build_core
from tests.conftest import START, deadline_data, register_agencies


def register(service: ReminderService, ref: str = "permit-2026-00042", **overrides: Any) -> None:
    service.register(Deadline.model_validate(deadline_data(ref=ref, **overrides)))


def record_of(core: Core, ref: str = "permit-2026-00042") -> DeadlineRecord:
    record = core.store.load(deadline_tag("saaq", ref))
    assert record is not None
    return record


def send(core: Core, clock: ManualClock, rid: str, status: str | None) -> None:
    """Take the lease, record the send, then a receipt (None: no receipt)."""
    moves = core.transitions
    assert moves.apply(rid, take_lease(3600)) is not None
    assert moves.apply(rid, record_sent("sandbox", "SB1")) is not None
    if status is not None:
        report = DeliveryReport(rid, "sandbox", "SB1", status, clock.now())  # type: ignore[arg-type]
        assert OutcomeRecorder(moves).record(report) is not None


def first_due(service: ReminderService, clock: ManualClock, ref: str = "permit-2026-00042") -> str:
    view = service.get("saaq", ref)
    planned = [r for r in view.reminders if r.state == "planned"]
    clock.set(max(clock.now(), planned[0].send_at))
    return planned[0].id


def test_each_outcome_by_precedence(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    register(service, "a", channels=["sms"])
    send(core, clock, first_due(service, clock, "a"), "delivered")
    assert outcome(record_of(core, "a")) == ("covered", "sms")

    register(service, "b", channels=["sms"], citizen={"phone": None})
    assert outcome(record_of(core, "b")) == ("no_contact", "-")

    service.opt_out("email", "a@example.ca")
    register(service, "c", channels=["email"])
    assert outcome(record_of(core, "c")) == ("opted_out", "-")
    service.opt_in("email", "a@example.ca")

    soon = clock.now() + timedelta(minutes=20)
    register(service, "d", channels=["email"], due=soon.isoformat())
    assert outcome(record_of(core, "d")) == ("registered_late", "-")

    register(service, "e", channels=["email"])
    service.complete("saaq", "e")
    assert outcome(record_of(core, "e")) == ("completed_early", "-")

    register(service, "f", channels=["email"])
    assert outcome(record_of(core, "f")) == ("pending", "-")
    rid = first_due(service, clock, "f")
    send(core, clock, rid, "undelivered")
    # The 1-day reminder is still planned: pending, not failed yet.
    assert outcome(record_of(core, "f")) == ("pending", "-")
    rid = first_due(service, clock, "f")
    send(core, clock, rid, None)
    core.transitions.apply(rid, check_receipt)
    assert outcome(record_of(core, "f")) == ("failed", "-")

    register(service, "g", channels=["sms"], offsets=["1d"])
    rid = first_due(service, clock, "g")
    send(core, clock, rid, None)
    core.transitions.apply(rid, check_receipt)
    assert outcome(record_of(core, "g")) == ("no_receipt", "-")

    register(service, "h", channels=["sms"])
    service.cancel("saaq", "h")
    assert outcome(record_of(core, "h")) == ("withdrawn", "-")


def test_a_delivery_after_the_deadline_does_not_cover(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    register(service, channels=["sms"], offsets=["1d"])
    rid = first_due(service, clock)
    send(core, clock, rid, None)
    clock.advance(timedelta(days=2))
    late = DeliveryReport(rid, "sandbox", "SB1", "delivered", clock.now())
    core.receipts.record(late)
    assert outcome(record_of(core)) == ("failed", "-")


def test_the_report_reads_the_counters(
    core: Core, service: ReminderService, clock: ManualClock
) -> None:
    register(service, "a", channels=["sms"])
    register(service, "b", channels=["sms"], citizen={"phone": None, "email": None})
    register(service, "c", channels=["sms"], due="2027-01-20T17:00:00-05:00")
    register(service, "d", channels=["sms"])
    service.cancel("saaq", "d")
    send(core, clock, first_due(service, clock, "a"), "delivered")
    report = service.coverage()
    assert (report.in_scope, report.covered, report.withdrawn) == (3, 1, 1)
    assert report.rate == pytest.approx(1 / 3) and report.target == 0.6 and not report.met
    assert report.reasons == {**dict.fromkeys(REASONS, 0), "no_contact": 1, "pending": 1}
    assert [(s.key, s.in_scope, s.covered) for s in report.by_month] == [
        ("2026-12", 2, 1),
        ("2027-01", 1, 0),
    ]
    sms = next(c for c in report.by_channel if c.channel == "sms")
    assert (sms.covered_deadlines, sms.delivered, sms.failure_rate) == (1, 1, 0.0)
    december = service.coverage(start=date(2026, 12, 1), end=date(2026, 12, 31))
    assert (december.in_scope, december.covered, december.met) == (2, 1, False)
    assert service.coverage(agency="nobody").in_scope == 0
    assert service.coverage(target=0.3).met
    with pytest.raises(ReminderError, match="end: must not be before start"):
        service.coverage(start=date(2027, 1, 1), end=date(2026, 1, 1))


def test_a_recount_finds_and_fixes_drift(core: Core, service: ReminderService) -> None:
    register(service, "a", channels=["sms"])
    assert service.recount() == {}
    field = next(iter(core.store.coverage_fields()))
    core.store.client.hincrby(core.store.keys.coverage(0), field, 5)
    assert service.recount() == {field: (6, 1)}
    assert service.recount(fix=True) == {field: (6, 1)}
    assert service.recount() == {}


def test_a_recount_with_fix_replaces_counters_of_an_older_layout(
    core: Core, service: ReminderService
) -> None:
    """Counters kept before coverage counted only what the report reads
    (one per reminder state, pending by name) are rebuilt, not added to."""
    register(service, "a", channels=["sms"])
    name = core.store.keys.coverage(0)
    old = {"d|saaq|2026-12|pending|-": 1, "r|saaq|2026-12|sms|planned": 2}
    for field, count in old.items():
        core.store.client.hset(name, field, count)
    assert set(old) <= set(service.recount())
    service.recount(fix=True)
    assert service.recount() == {}
    assert not set(old) & set(core.store.coverage_fields())
    assert service.coverage().in_scope == 1


# -- randomized runs ----------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "register",
                "reschedule",
                "complete",
                "cancel",
                "opt_out",
                "opt_in",
                "snooze",
                "advance",
                "lease",
                "sent",
                "delivered",
                "undelivered",
                "permanent",
                "transient",
                "no_receipt",
                "skip",
            ]
        ),
        st.integers(0, 4),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=40,
)


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_counters_agree_with_a_recount_after_random_runs(
    settings: Settings, ops: list[tuple[str, int, int]]
) -> None:
    clock = ManualClock(START)
    tuned = settings.model_copy(update={"key_prefix": f"h{secrets.token_hex(4)}:"})
    register_agencies(tuned)
    core = build_core(tuned, clock=clock)
    moves = core.transitions
    outcomes = core.receipts
    rng = random.Random(0)
    try:
        for op, n, k in ops:
            _apply(core, clock, moves, outcomes, rng, op, n, k)
        assert core.service.recount() == {}
    finally:
        core.close()


def _apply(
    core: Core,
    clock: ManualClock,
    moves: Transitions,
    outcomes: OutcomeRecorder,
    rng: random.Random,
    op: str,
    n: int,
    k: int,
) -> None:
    ref = f"r{n}"
    tag = deadline_tag("saaq", ref)
    record = core.store.load(tag)
    rid = reminder_id(tag, 1 + k % max(1, record.next_seq - 1)) if record else ""
    phone = f"+1514555{n:04d}"
    email = f"c{n}@example.ca"
    act: dict[str, Callable[[], object]] = {
        "register": lambda: core.service.register(
            Deadline.model_validate(
                deadline_data(
                    ref=ref,
                    due=(clock.now() + timedelta(days=2 + k, hours=n)).isoformat(),
                    channels=[["sms", "email"], ["email", "calendar"], ["sms"]][k % 3],
                    citizen={
                        "phone": phone if k % 4 else None,
                        "email": email if k % 5 else None,
                    },
                    offsets=["7d", "1d"],
                )
            )
        ),
        "reschedule": lambda: core.service.reschedule(
            "saaq", ref, due=clock.now() + timedelta(days=1 + k)
        ),
        "complete": lambda: core.service.complete("saaq", ref),
        "cancel": lambda: core.service.cancel("saaq", ref),
        "opt_out": lambda: core.service.opt_out(
            "sms" if k % 2 else "email", phone if k % 2 else email
        ),
        "opt_in": lambda: core.service.opt_in(
            "sms" if k % 2 else "email", phone if k % 2 else email
        ),
        "snooze": lambda: core.service.snooze(rid, by=timedelta(days=1 + k % 3)),
        "advance": lambda: clock.advance(timedelta(hours=1 + k * 3)),
        "lease": lambda: moves.apply(rid, take_lease(3600)),
        "sent": lambda: moves.apply(rid, record_sent("sandbox", f"SB{k}")),
        "delivered": lambda: outcomes.record(
            DeliveryReport(rid, "sandbox", f"SB{k}", "delivered", clock.now())
        ),
        "undelivered": lambda: outcomes.record(
            DeliveryReport(rid, "sandbox", f"SB{k}", "undelivered", clock.now(), "x")
        ),
        "permanent": lambda: moves.apply(rid, record_permanent("sandbox", "p", frozenset())),
        "transient": lambda: moves.apply(
            rid, record_transient("sandbox", "t", RetryPolicy(), rng, frozenset())
        ),
        "no_receipt": lambda: moves.apply(rid, check_receipt),
        "skip": lambda: moves.apply(rid, skip("opted_out", frozenset({"sms", "email"}))),
    }
    if not rid and op not in ("register", "opt_out", "opt_in", "advance"):
        return
    # Refused calls (past due, closed, too late) must change nothing.
    with contextlib.suppress(ReminderError):
        act[op]()


def _outcome_as_defined(record: DeadlineRecord) -> tuple[str, str]:
    """The coverage outcome read literally off the definition (the module
    docstring), one rule at a time: the reference the fast one-pass
    :func:`outcome` must agree with."""
    if record.status == "cancelled":
        return "withdrawn", "-"
    reminders = [r for r in record.reminders if r.kind != "invite_cancel"]
    in_time = [r for r in reminders if r.state == "delivered" and r.updated <= record.due]
    if in_time:
        return "covered", min(in_time, key=lambda r: (r.updated, r.seq)).channel
    has = {"phone": bool(record.phone_hash), "email": bool(record.email_hash)}
    if not any(has["phone" if c == "sms" else "email"] for c in record.channels):
        return "no_contact", "-"
    went_out = {"sending", "sent", "delivered", "undelivered", "no_receipt"}
    if not any(r.state in went_out for r in reminders):
        opted = any(r.state == "skipped" and r.reason == "opted_out" for r in reminders)
        if opted or (not reminders and record.unplanned == "opted_out"):
            return "opted_out", "-"
        if not reminders:
            return "registered_late", "-"
    if record.status == "completed":
        return "completed_early", "-"
    if any(r.state in ("planned", "queued", "sending", "sent") for r in reminders):
        return "pending", "-"
    if any(r.state in ("failed", "undelivered", "skipped", "delivered") for r in reminders):
        return "failed", "-"
    if any(r.state == "no_receipt" for r in reminders):
        return "no_receipt", "-"
    return "pending", "-"


def test_the_outcome_agrees_with_the_definition_on_random_documents() -> None:
    from reminders.lifecycle.states import ReminderKind, ReminderState
    from reminders.record import ReminderRecord

    kinds: list[ReminderKind] = ["offset", "catch_up", "invite", "invite_cancel", "snooze"]
    states: list[ReminderState] = [
        "planned", "queued", "sending", "sent", "delivered", "undelivered", "failed",
        "skipped", "no_receipt",
    ]  # fmt: skip
    rng = random.Random(29)
    seen: set[str] = set()
    for _ in range(3000):
        reminders = [
            ReminderRecord(
                seq, rng.choice(["sms", "email", "calendar"]), 1_799_000_000, rng.choice(kinds),
                state=rng.choice(states), reason=rng.choice(["", "opted_out", "past_due"]),
                updated=rng.choice([1_799_999_000, 1_800_000_000, 1_800_000_500]),
            )
            for seq in range(1, rng.randint(0, 4) + 1)
        ]  # fmt: skip
        record = DeadlineRecord(
            version=1, agency="saaq", ref="r", due=1_800_000_000, all_day=False,
            timezone="UTC", locale="fr", title={"fr": "T"}, action_url=None,
            channels=rng.sample(["sms", "email", "calendar"], rng.randint(1, 3)),
            offsets_s=[], contact="", phone_hash=rng.choice(["", "ph"]),
            email_hash=rng.choice(["", "eh"]), fingerprint="fp",
            status=rng.choice(["active", "active", "completed", "cancelled"]),
            reminders=reminders, unplanned=rng.choice(["", "opted_out", "late"]),
        )  # fmt: skip
        expected = _outcome_as_defined(record)
        assert outcome(record) == expected, record
        seen.add(expected[0])
    assert seen == {"covered", "withdrawn", *REASONS}  # every outcome was met
