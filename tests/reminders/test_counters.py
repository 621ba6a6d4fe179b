"""Coverage counters packed one field per agency and month, on a real Redis."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from reminders import ReminderService
from reminders.coverage import CHANNELS, FINAL, REASONS
from reminders.redis import counters
from reminders.wiring import Core
from tests.conftest import deadline_data


def _random_fields(rng: random.Random, count: int) -> dict[str, int]:
    """Counter names the tally writes, with a few outside the layout."""
    fields: Counter[str] = Counter()
    for _ in range(count):
        head = f"{rng.choice(['saaq', 'revenu', 'rq'])}|2027-{rng.randint(1, 12):02d}"
        slot = rng.choice(counters.SLOTS)
        kind, rest = slot.split("|", 1)
        fields[f"{kind}|{head}|{rest}"] += rng.randint(1, 5)
    fields["d|saaq|2027-01|covered|fax"] += 2  # a channel the layout does not know
    fields["x|not|a|counter"] += 1
    return dict(fields)


def test_every_counter_the_tally_writes_has_its_place_in_the_layout() -> None:
    names = [f"d|a|2027-01|{outcome}|-" for outcome in ("all", "withdrawn", *REASONS)]
    names.remove("d|a|2027-01|pending|-")  # pending is never stored (all minus the rest)
    names += [f"d|a|2027-01|covered|{channel}" for channel in CHANNELS]
    names += [f"r|a|2027-01|{c}|{s}" for c in CHANNELS for s in ("out", *FINAL)]
    places = [counters.place(name) for name in names]
    assert None not in places
    assert len(set(places)) == len(names) == len(counters.SLOTS)
    assert counters.place("d|a|2027-01|covered|fax") is None
    assert counters.place("d|a|2027-01") is None


def test_packing_keeps_every_counter_and_sums_shards_as_names_would() -> None:
    rng = random.Random(7)
    shards = [_random_fields(rng, 300) for _ in range(5)]
    expected: Counter[str] = Counter()
    stored = []
    for fields in shards:
        expected.update(fields)
        packed, plain = counters.pack(fields)
        assert set(plain) == {"d|saaq|2027-01|covered|fax", "x|not|a|counter"}
        assert all(len(v) == counters.PACKED_SIZE for v in packed.values())
        as_read = {group.encode(): value for group, value in packed.items()}
        assert counters.unpack(as_read, plain) == fields
        stored.append((as_read, plain))
    assert counters.summed(stored) == dict(expected)


def test_values_of_a_shorter_or_longer_layout_read_by_position() -> None:
    full = counters.pack({"d|saaq|2027-01|all|-": 3, "r|saaq|2027-01|sms|out": 2})[0]
    value = full["saaq|2027-01"]
    short = value[: 4 * 2]  # only the first two counters, as an older layout wrote
    longer = value + bytes(8)  # two counters a later layout added
    assert counters.unpack({b"saaq|2027-01": short}, {}) == {"d|saaq|2027-01|all|-": 3}
    assert counters.summed([({b"saaq|2027-01": longer}, {}), ({b"saaq|2027-01": short}, {})]) == {
        "d|saaq|2027-01|all|-": 6,
        "r|saaq|2027-01|sms|out": 2,
    }


def test_writes_keep_packed_counters_that_agree_with_the_recount(
    sharded_core: Callable[[int], Core],
) -> None:
    core = sharded_core(4)
    service = core.service
    done = service.register_many(
        [deadline_data(ref=f"p-{i}", channels=["sms", "email"]) for i in range(40)]
    )
    assert all(r.ok for r in done)
    service.cancel("saaq", "p-3")
    service.complete("saaq", "p-4")
    client = core.store.client
    plain = [client.hlen(core.store.keys.coverage(s)) for s in range(4)]
    packed = [client.hlen(core.store.keys.coverage_packed(s)) for s in range(4)]
    assert plain == [0, 0, 0, 0] and packed == [1, 1, 1, 1]  # one field: one agency, one month
    assert service.recount() == {}
    report = service.coverage()
    assert (report.in_scope, report.withdrawn) == (39, 1)
    assert report.reasons["completed_early"] == 1


def test_counters_written_by_name_still_count_and_a_fix_packs_them(
    core: Core, service: ReminderService
) -> None:
    """Counters kept one field per name (as before the packed layout) are
    added to the packed ones; a recount with ``fix`` rewrites them packed."""
    assert service.register_many([deadline_data(ref="old-1")])[0].ok
    fields = core.store.coverage_fields()
    client = core.store.client
    packed_key, plain_key = core.store.keys.coverage_packed(0), core.store.keys.coverage(0)
    # The same counts, as an older release kept them.
    client.delete(packed_key)
    for name, count in fields.items():
        client.hset(plain_key, name, count)
    assert core.store.coverage_fields() == fields
    assert service.recount() == {}
    assert service.register_many([deadline_data(ref="new-1")])[0].ok
    assert service.coverage().in_scope == 2
    assert service.recount() == {}
    client.hincrby(plain_key, "d|saaq|2099-01|all|-", 1)  # drift, by name
    assert service.recount(fix=True) == {"d|saaq|2099-01|all|-": (1, 0)}
    assert client.hlen(plain_key) == 0 and client.hlen(packed_key) >= 1
    assert service.recount() == {}
    assert service.coverage().in_scope == 2
