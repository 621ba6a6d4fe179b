"""The store's compare-and-set and key layout."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from reminders import ReminderService
from reminders.errors import Unavailable
from reminders.ids import deadline_tag, split_reminder_id
from reminders.redis.claims import Claims
from reminders.redis.keys import Keys
from reminders.redis.store import AuditEvent, Write
from reminders.settings import Settings
from reminders.wiring import Core
from tests.conftest import deadline_data, next_planned, scheduled_for
from tests.fakes.lossy_proxy import LossyProxy


def test_a_write_with_a_stale_version_writes_nothing_not_even_audit(
    core: Core, service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    service.register_many([deadline_data()])
    tag = deadline_tag("saaq", "permit-2026-00042")
    record = core.store.load(tag)
    assert record is not None and record.version == 1
    audit_before = redis_client.xlen(Keys(settings.key_prefix).audit(0))
    changed = record.copy()
    changed.version = 2
    changed.title = {"fr": "autre"}
    stale = Write(tag, expected_version=0, record=changed, at=0, audit=[AuditEvent("x", tag, "t")])
    fresh = Write(tag, 1, record=changed, at=0, audit=[AuditEvent("y", tag, "t")], before=record)
    assert core.store.write_many([stale]) == [False]
    assert core.store.load(tag) == record
    assert redis_client.xlen(Keys(settings.key_prefix).audit(0)) == audit_before
    counters = core.store.coverage_fields()
    assert core.store.write_many([fresh]) == [True]
    loaded = core.store.load(tag)
    assert loaded is not None and loaded.title == {"fr": "autre"}
    # A write whose coverage outcome does not change leaves the counters be;
    # a lost race never touched them.
    assert core.store.coverage_fields() == counters
    assert sum(counters.values()) > 0
    with pytest.raises(ValueError, match="needs the document it read"):
        Write(tag, 1, record=changed, at=0)


def test_reminder_ids_round_trip_and_reject_garbage() -> None:
    tag = deadline_tag("saaq", "x")
    assert split_reminder_id(f"{tag}-12") == (tag, 12)
    for bad in ("", "abc-1", f"{tag}-0", f"{tag}-x", f"{tag}", f"{tag}-1-2", f"{tag.upper()}-1"):
        assert split_reminder_id(bad) is None


def test_writes_recover_when_redis_forgets_its_scripts(
    service: ReminderService, redis_client: redis.Redis
) -> None:
    service.register_many([deadline_data(ref="s-1")])
    redis_client.script_flush()
    (result,) = service.register_many([deadline_data(ref="s-2")])
    assert result.ok and result.receipt is not None and result.receipt.created
    assert service.get("saaq", "s-2").status == "active"


@pytest.fixture
def lossy(redis_url: str) -> Iterator[tuple[LossyProxy, redis.Redis]]:
    upstream = urlsplit(redis_url)
    with LossyProxy(upstream.hostname or "127.0.0.1", upstream.port or 6379) as proxy:
        client = redis.Redis.from_url(proxy.url)
        client.ping()  # the pooled connection is open: the next request is the test's
        yield proxy, client
        client.close()


def test_a_claim_whose_reply_is_lost_is_still_ours(
    settings: Settings, lossy: tuple[LossyProxy, redis.Redis]
) -> None:
    # The client retries the SET NX that landed; without its own token the
    # claim would look taken and a first webhook would be dropped as a repeat.
    proxy, client = lossy
    claims = Claims(client, Keys(settings.key_prefix))
    proxy.lose_next_reply()
    assert claims.claim_once("sg:event-1", 60)
    assert proxy.lost == 1
    assert not claims.claim_once("sg:event-1", 60)


def test_a_registration_whose_reply_is_lost_can_be_sent_again_and_lands_once(
    make_core: Callable[..., Core],
    lossy: tuple[LossyProxy, redis.Redis],
    redis_client: redis.Redis,
) -> None:
    # The agency cannot know whether the call landed; sending it again must
    # neither fail nor leave two of anything.
    proxy, client = lossy
    core = make_core(client=client)
    service = core.service
    proxy.lose_next_reply()
    with pytest.raises(Unavailable):  # the library's error, the client's as its cause
        service.register_many([deadline_data(ref="lost-1")])
    assert proxy.lost == 1
    (result,) = service.register_many([deadline_data(ref="lost-1")])
    assert result.ok, result.error
    view = service.get("saaq", "lost-1")
    assert view.status == "active"
    ids = [r.id for r in view.reminders]
    assert len(ids) == len(set(ids)) > 0
    scheduled = scheduled_for(redis_client, core.store.keys, view)
    assert scheduled == next_planned(view) != {}


def test_a_document_leaves_out_its_defaults_and_reads_back_whole() -> None:
    from reminders.record import DeadlineRecord, ReminderRecord

    def record(**changes: Any) -> DeadlineRecord:
        base = DeadlineRecord(
            version=3, agency="saaq", ref="r-1", due=1_800_000_000.25, all_day=False,
            timezone="America/Toronto", locale="fr", title={"fr": "T"}, action_url=None,
            channels=["sms"], offsets_s=[86_400], contact="sealed", phone_hash="ph",
            email_hash="", fingerprint="fp", created=1_700_000_000, updated=1_700_000_100,
            reminders=[
                ReminderRecord(1, "sms", 1_799_913_600.25, "offset", 86_400, updated=1_700_000_000),
                ReminderRecord(2, "calendar", 1_700_000_000, "invite_cancel"),
            ],
        )  # fmt: skip
        for name, value in changes.items():
            setattr(base, name, value)
        return base

    plain = record()
    raw = plain.dumps()
    assert raw.startswith('{"v":3,')
    stored = json.loads(raw)
    assert not set(stored) & {"ad", "u", "eh", "st", "cl", "iq", "np", "pg"}
    assert "u" not in stored["rm"][0] and stored["rm"][1]["u"] == 0
    assert DeadlineRecord.loads(raw) == plain
    busy = record(
        all_day=True, action_url="https://x", email_hash="eh", status="cancelled",
        closed=1_700_000_200, invite_seq=2, unplanned="late", purged=1_700_000_300,
    )  # fmt: skip
    assert DeadlineRecord.loads(busy.dumps()) == busy
    # A document written before defaults were left out reads the same.
    legacy = json.loads(plain.dumps())
    legacy.update({"ad": 0, "u": "", "eh": "", "st": "active", "cl": 0, "iq": 0, "sq": 1})
    legacy["up"] = 1_700_000_100
    legacy["rm"][0].update({"i": 1, "c": "sms", "o": 86_400, "u": 1_700_000_000})
    assert DeadlineRecord.loads(json.dumps(legacy)) == plain


def test_a_fresh_document_writes_each_reminder_as_its_send_time_only() -> None:
    """A deadline as registered: reminders numbered 1.., on its first
    channel, at its offsets in order, planned; nothing else is written."""
    from reminders.record import DeadlineRecord, ReminderRecord

    offsets = [2_592_000, 604_800, 86_400]
    due = 1_800_446_820
    fresh = DeadlineRecord(
        version=1, agency="saaq", ref="r-1", due=due, all_day=False,
        timezone="America/Toronto", locale="fr", title={"fr": "T"}, action_url=None,
        channels=["sms", "email"], offsets_s=offsets, contact="sealed", phone_hash="ph",
        email_hash="eh", fingerprint="fp", created=1_795_262_400, updated=1_795_262_400,
        next_seq=4,
        reminders=[
            ReminderRecord(n + 1, "sms", due - o, "offset", o, updated=1_795_262_400)
            for n, o in enumerate(offsets)
        ],
    )  # fmt: skip
    stored = json.loads(fresh.dumps())
    assert stored["rm"] == [{"t": due - o} for o in offsets]
    assert not set(stored) & {"up", "sq"}
    assert DeadlineRecord.loads(fresh.dumps()) == fresh


def test_any_document_reads_back_whole() -> None:
    """Whatever departs from a default is written: gaps in the numbering,
    other channels, other offsets or none, any state, any next number."""
    import random

    from reminders.lifecycle.states import ReminderKind, ReminderState
    from reminders.record import DeadlineRecord, ReminderRecord

    kinds: list[ReminderKind] = ["offset", "catch_up", "invite", "invite_cancel", "snooze"]
    states: list[ReminderState] = ["planned", "sending", "sent", "delivered", "failed"]
    rng = random.Random(13)
    for _ in range(500):
        channels = rng.sample(["sms", "email", "calendar"], rng.randint(0, 3))
        offsets = rng.sample([2_592_000, 604_800, 86_400, 3_600], rng.randint(0, 4))
        reminders: list[ReminderRecord] = []
        seq = 0
        for _ in range(rng.randint(0, 6)):
            seq += rng.choice([1, 1, 1, 2, 5])
            reminders.append(
                ReminderRecord(
                    seq,
                    rng.choice(["sms", "email", "calendar"]),
                    rng.choice([1_799_000_000, 1_799_000_000.5]),
                    rng.choice(kinds),
                    rng.choice([None, *offsets, 7_200]),
                    rng.choice(states),
                    updated=rng.choice([1_700_000_000, 1_700_000_050]),
                )
            )
        record = DeadlineRecord(
            version=2, agency="saaq", ref="r", due=1_800_000_000, all_day=False,
            timezone="UTC", locale="en", title={"en": "T"}, action_url=None,
            channels=channels, offsets_s=offsets, contact="", phone_hash="",
            email_hash="", fingerprint="fp", created=1_700_000_000,
            updated=rng.choice([1_700_000_000, 1_700_000_060]),
            next_seq=rng.choice([1, seq + 1, seq + 3]), reminders=reminders,
        )  # fmt: skip
        raw = record.dumps()
        assert DeadlineRecord.loads(raw) == record, raw
        # The compact form the standard library writes, byte for byte.
        assert raw == json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)


def test_a_copy_has_every_field_and_shares_nothing_it_could_change() -> None:
    from reminders.record import DeadlineRecord, ReminderRecord

    reminder = ReminderRecord(
        4, "email", 1_799_000_000.5, "snooze", 7_200, "sending", 2, "SB1", "why", 1_700_000_050,
        "t1",
    )  # fmt: skip
    record = DeadlineRecord(
        7, "saaq", "r", 1_800_000_000.25, True, "UTC", "en", {"en": "T"}, "https://x",
        ["email"], [86_400], "sealed", "ph", "eh", "fp", "completed", 1_700_000_000,
        1_700_000_060, 1_700_000_070, 9, 3, [reminder], "late", 1_700_000_080,
    )  # fmt: skip
    copied = record.copy()

    assert copied == record  # every field given a value other than its default
    copied.title["fr"] = "autre"
    copied.channels.append("sms")
    copied.offsets_s.append(3_600)
    copied.reminders[0].state = "sent"
    copied.reminders.append(reminder)
    assert record.title == {"en": "T"} and record.channels == ["email"]
    assert record.offsets_s == [86_400] and record.reminders == [reminder]
    assert reminder.state == "sending"


def _script_calls(client: redis.Redis) -> int:
    stats: Any = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_writes_go_in_one_script_call_per_shard_and_each_lands_or_not_alone(
    sharded_core: Callable[[int], Core], redis_client: redis.Redis
) -> None:
    from reminders.redis.store import WRITES_PER_CALL

    core = sharded_core(2)
    refs = [f"w-{i}" for i in range(150)]
    done = core.service.register_many([deadline_data(ref=ref, channels=["email"]) for ref in refs])
    assert all(r.ok for r in done)
    tags = [deadline_tag("saaq", ref) for ref in refs]
    records = core.store.load_many(tags)
    writes = []
    for tag, record in zip(tags, records, strict=True):
        assert record is not None
        changed = record.copy()
        changed.version += 1
        changed.title = {"fr": f"nouveau {tag}"}
        event = AuditEvent("renamed", tag, "test")
        writes.append(Write(tag, record.version, changed, 0, audit=[event], before=record))
    stale_at, twice_at = 7, 70
    stale = writes[stale_at]
    writes[stale_at] = replace(stale, expected_version=stale.expected_version + 5)
    writes.append(writes[twice_at])  # the same write again: refused, its version moved
    keys = core.keys
    per_shard = [sum(1 for w in writes if keys.shard_of(w.tag) == s) for s in range(2)]
    assert max(per_shard) > WRITES_PER_CALL  # a shard needs two calls (151 writes)
    expected_calls = sum(-(-n // WRITES_PER_CALL) for n in per_shard)
    audit_before = sum(redis_client.xlen(keys.audit(s)) for s in range(2))
    calls_before = _script_calls(redis_client)

    landed = core.store.write_many(writes)

    assert _script_calls(redis_client) - calls_before == expected_calls
    assert landed == [i != stale_at for i in range(150)] + [False]
    titles = [r.title if r else None for r in core.store.load_many(tags)]
    assert titles == [
        {"fr": f"nouveau {tag}"} if i != stale_at else writes[stale_at].before.title  # type: ignore[union-attr]
        for i, tag in enumerate(tags)
    ]
    assert sum(redis_client.xlen(keys.audit(s)) for s in range(2)) == audit_before + 149


def test_address_states_are_read_in_one_script_call_per_shard(
    sharded_core: Callable[[int], Core], redis_client: redis.Redis
) -> None:
    core = sharded_core(8)
    store = core.store
    digests = [f"{i:064x}" for i in range(1, 41)]
    opted = {("sms", d) for d in digests[::3]} | {("email", d) for d in digests[::4]}
    failed = {("email", d) for d in digests[::5]} | {("sms", d) for d in digests[1::6]}
    for channel, digest in opted:
        event = AuditEvent("opted_out", "", "test")
        assert store.set_opt_out(channel, digest, out=True, event=event, at=0)
    for channel, digest in failed:
        store.mark_address_failed(channel, digest, "bounce", 3600)
    pairs = [(digests[i], digests[-i - 1]) for i in range(20)] + [("", digests[3]), ("", "")]
    shards = {store.keys.address_shard(d) for pair in pairs for d in pair if d}
    store.address_state(digests[0], "")  # Redis has the script (no NOSCRIPT resend below)
    calls_before = _script_calls(redis_client)

    states = store.address_states(pairs)

    assert _script_calls(redis_client) - calls_before == len(shards) > 1
    for (phone, email), (opted_now, failed_now) in zip(pairs, states, strict=True):
        addresses = [("sms", phone), ("email", email)]
        assert opted_now == {c for c, d in addresses if d and (c, d) in opted}
        assert failed_now == {c for c, d in addresses if d and (c, d) in failed}
    assert store.address_state("", "") == (frozenset(), frozenset())
    assert store.address_states([]) == []
