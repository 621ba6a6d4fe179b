"""The Redis store: deadline documents, the schedule, opt-outs, the audit.

Each write of a deadline is one compare-and-set script in the deadline's
shard (the version must still be the one read): it writes the document and,
in the same step, its coverage counters, its due index entry, its schedule
entries (added and removed), the lease of the member being handled and its
audit events. A lost race writes nothing and is retried by the caller.

The client is a plain ``redis.Redis`` or a ``redis.RedisCluster``; every
multi-key step stays in one slot, and reads over many slots go through
pipelines (one round trip per node).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.lock import Lock

from .. import coverage
from ..clock import compact_epoch
from ..ids import reminder_id
from ..record import DeadlineRecord, ReminderRecord
from ..values import value_type
from . import counters
from .keys import Keys
from .scripts import Arg, lua, run_pipeline


@value_type
class AuditEvent:
    """One line of the audit stream: what happened, to what, by whom.

    ``detail`` says which reminders of the deadline it touched (by their
    sequence number), e.g. ``planned 4,5 superseded 2,3``.
    """

    event: str
    tag: str
    actor: str
    detail: str = ""


def seqs_detail(**changes: Sequence[int]) -> str:
    """Audit detail naming reminders by sequence, e.g. ``planned 1,2 superseded 4``."""
    return " ".join(f"{what} {','.join(map(str, seqs))}" for what, seqs in changes.items() if seqs)


@value_type
class Write:
    """A compare-and-set of one deadline document, with its side effects."""

    tag: str
    expected_version: int
    record: DeadlineRecord
    at: int
    schedule_add: Mapping[str, float] = field(default_factory=dict)
    """Receipt checks to plan. A deadline's own entry in the schedule is not
    given: it is its next planned reminder, derived from the document before
    and after (see :func:`next_planned`)."""
    schedule_remove: Sequence[str] = ()
    audit: Sequence[AuditEvent] = ()
    before: DeadlineRecord | None = None
    """The document as read (None for a new one): the coverage counters move
    by the difference, in the same script as the document."""
    handled: Sequence[str] = ()
    """Schedule members whose lease ends with this write (a worker handled them)."""

    def __post_init__(self) -> None:
        if self.expected_version and self.before is None:
            raise ValueError("a write of an existing document needs the document it read")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A deadline document as read, with the opt-outs of its addresses."""

    record: DeadlineRecord | None
    opted_out: frozenset[str]
    failed: frozenset[str] = frozenset()
    """Channels whose address a provider reported invalid or unreachable."""


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, redis.RedisCluster)


def close_client(client: redis.Redis) -> None:
    """Close a client and its connections. (redis-py's ``RedisCluster.close``
    leaves the nodes' connection pools open: they are closed here.)"""
    if is_cluster(client):
        cluster: Any = client
        for node in cluster.get_nodes():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
    client.close()


WRITES_PER_CALL = 64
"""Most deadline writes in one script call: a batch of a worker's message in
one, and no call long enough to hold other clients back (a registration of
thousands is many calls, still in one round trip)."""


class RedisStore:
    """Reads and writes deadlines in Redis; knows nothing of planning."""

    def __init__(self, client: redis.Redis, keys: Keys, *, audit_maxlen: int = 1_000_000) -> None:
        self.client = client
        self.keys = keys
        self._audit_maxlen = audit_maxlen
        self._cas = lua(__package__, "cas")
        self._address_state = lua(__package__, "address_state")
        self._cluster = is_cluster(client)

    def load(self, tag: str) -> DeadlineRecord | None:
        raw = self.client.get(self.keys.deadline(tag))
        return None if raw is None else DeadlineRecord.loads(_text(raw))

    def load_many(self, tags: Sequence[str]) -> list[DeadlineRecord | None]:
        """The documents of ``tags`` (None where there is none), one round
        trip (one per node of a cluster)."""
        raws = self._get_many([self.keys.deadline(tag) for tag in tags])
        return [None if raw is None else DeadlineRecord.loads(_text(raw)) for raw in raws]

    def _get_many(self, names: Sequence[str | bytes]) -> list[Any]:
        if not names:
            return []
        if self._cluster:
            # One MGET per slot, sent to each node in one go.
            cluster: Any = self.client
            return list(cluster.mget_nonatomic(list(names)))
        return list(self.client.mget(names))

    def due_index(
        self,
        agency: str,
        low: int | str,
        high: int | str,
        after: tuple[float, str] | None,
        count: int,
    ) -> list[tuple[str, float]]:
        """Up to ``count`` (tag, due) of the agency's deadlines due from
        ``low`` to ``high`` (epoch s, or ``-inf``/``+inf``), after ``after``
        (due, tag), by due time then tag, merged over the shards."""
        start: float | str = low
        if after is not None:
            start = after[0] if isinstance(low, str) else max(low, after[0])
        merged = [
            e for entries in self._index_reads(agency, start, high, after, count) for e in entries
        ]
        merged.sort(key=lambda pair: (pair[1], pair[0]))
        return merged[:count]

    def _index_reads(
        self,
        agency: str,
        low: float | str,
        high: int | str,
        after: tuple[float, str] | None,
        count: int,
    ) -> Iterator[list[tuple[str, float]]]:
        """Per shard: up to ``count`` index entries after ``after``. Entries
        tied with the cursor's due time are skipped by reading on."""
        pending = {shard: 0 for shard in range(self.keys.shards)}
        while pending:
            pipe = self.client.pipeline(transaction=False)
            order = sorted(pending)
            for shard in order:
                pipe.zrangebyscore(
                    self.keys.agency_due(agency, shard),
                    low,
                    high,
                    start=pending[shard],
                    num=count,
                    withscores=True,
                )
            replies = pipe.execute()
            for shard, found in zip(order, replies, strict=True):
                pairs = [(_text(member), compact_epoch(score)) for member, score in found]
                fresh = [p for p in pairs if after is None or (p[1], p[0]) > (after[0], after[1])]
                if fresh or len(pairs) < count:
                    del pending[shard]
                    yield fresh
                else:
                    pending[shard] += len(pairs)

    def snapshots(self, lookups: Sequence[tuple[str, str, str]]) -> list[Snapshot]:
        """For each (tag, phone hash, email hash): the document and which of
        the two addresses are opted out; one round trip for all."""
        pipe = self.client.pipeline(transaction=False)
        queued: list[tuple[str, ...]] = []
        for tag, phone_hash, email_hash in lookups:
            pipe.get(self.keys.deadline(tag))
            queued.append(self._queue_address_state(pipe, phone_hash, email_hash))
        replies = iter(pipe.execute())
        snaps: list[Snapshot] = []
        for channels in queued:
            raw = next(replies)
            opted, failed = _address_state(channels, replies)
            record = None if raw is None else DeadlineRecord.loads(_text(raw))
            snaps.append(Snapshot(record, opted, failed))
        return snaps

    def snapshot(self, tag: str, phone_hash: str, email_hash: str) -> Snapshot:
        """One deadline's document and the state of its two addresses, in
        one round trip."""
        (snap,) = self.snapshots([(tag, phone_hash, email_hash)])
        return snap

    def _queue_address_state(self, pipe: Any, phone_hash: str, email_hash: str) -> tuple[str, ...]:
        """Queue the opt-out and failure checks of the addresses a deadline
        has (none for one it has not); the channels checked, in order."""
        channels: list[str] = []
        for channel, digest in (("sms", phone_hash), ("email", email_hash)):
            if digest:
                pipe.sismember(self.keys.optout(channel, digest), digest)
                pipe.exists(self.keys.address_failed(channel, digest))
                channels.append(channel)
        return tuple(channels)

    def address_state(
        self, phone_hash: str, email_hash: str
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(opted-out channels, channels whose address failed) of a
        deadline's two addresses; one round trip."""
        return self.address_states([(phone_hash, email_hash)])[0]

    def address_states(
        self, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[frozenset[str], frozenset[str]]]:
        """:meth:`address_state` of each (phone hash, email hash): one script
        call per shard of the addresses, in one round trip (one per node of
        a cluster)."""
        checks = [
            [(channel, digest) for channel, digest in (("sms", phone), ("email", email)) if digest]
            for phone, email in pairs
        ]
        by_shard: dict[int, list[tuple[str, str]]] = {}
        for channel, digest in {check for listed in checks for check in listed}:
            by_shard.setdefault(self.keys.address_shard(digest), []).append((channel, digest))
        if not by_shard:
            return [(frozenset(), frozenset()) for _ in pairs]
        calls = list(by_shard.values())

        def fill(pipe: Any) -> None:
            for call in calls:
                names: list[str] = []
                for channel, digest in call:
                    names += [self.keys.optout(channel, digest)]
                    names += [self.keys.address_failed(channel, digest)]
                self._address_state.queue(pipe, names, [digest for _, digest in call])

        flags: dict[tuple[str, str], tuple[bool, bool]] = {}
        replies = run_pipeline(self.client, [self._address_state], fill)
        for call, reply in zip(calls, replies, strict=True):
            for n, check in enumerate(call):
                flags[check] = (bool(reply[2 * n]), bool(reply[2 * n + 1]))
        return [
            (
                frozenset(channel for channel, digest in listed if flags[channel, digest][0]),
                frozenset(channel for channel, digest in listed if flags[channel, digest][1]),
            )
            for listed in checks
        ]

    def mark_address_failed(self, channel: str, address_hash: str, code: str, ttl_s: int) -> None:
        """Remember that a provider reported this address invalid or unreachable."""
        if address_hash and ttl_s > 0:
            self.client.set(self.keys.address_failed(channel, address_hash), code, ex=ttl_s)

    def write_many(self, writes: Sequence[Write]) -> list[bool]:
        """Apply each write whose expected version still holds; True for
        those. One script call per shard (up to :data:`WRITES_PER_CALL`
        writes each), all in one round trip (one per node of a cluster)."""
        if not writes:
            return []
        calls: list[list[int]] = []
        filling: dict[int, list[int]] = {}
        for index, write in enumerate(writes):
            shard = self.keys.shard_of(write.tag)
            call = filling.get(shard)
            if call is None or len(call) == WRITES_PER_CALL:
                call = filling[shard] = []
                calls.append(call)
            call.append(index)

        def fill(pipe: Any) -> None:
            for call in calls:
                self._queue(pipe, [writes[i] for i in call])

        # A resend after NOSCRIPT is safe: a compare-and-set that ran the
        # first time fails its version check.
        replies = run_pipeline(self.client, [self._cas], fill)
        landed = [False] * len(writes)
        for call, reply in zip(calls, replies, strict=True):
            for index, one in zip(call, reply, strict=True):
                landed[index] = one == 1
        return landed

    def _queue(self, pipe: Any, writes: Sequence[Write]) -> None:
        """Queue one script call writing ``writes`` (all of one shard)."""
        keys = self.keys
        shard = keys.shard_of(writes[0].tag)
        schedule, leases = keys.schedules[shard]
        names = [
            keys.audit(shard),
            keys.coverage(shard),
            schedule,
            leases,
            keys.coverage_packed(shard),
        ]
        args: list[Arg] = [self._audit_maxlen, counters.PACKED_SIZE]
        for write in writes:
            changes = coverage.delta(write.before, write.record)
            adds, removes = _schedule_changes(write)
            moved = write.before is None or write.before.due != write.record.due
            args += [
                write.expected_version,
                write.record.dumps(),
                write.at,
                write.record.due if moved else "",
                write.tag,
                write.record.agency,
                len(changes),
                len(adds),
                len(removes),
                len(write.handled),
                len(write.audit),
            ]
            for name, change in changes.items():
                where = counters.place(name)
                if where is None:
                    args += [name, -1, change]
                else:
                    args += [where[0], where[1], change]
            for member, when in adds.items():
                args += [member, when]
            args += removes
            args += write.handled
            for event in write.audit:
                args += [event.event, event.tag, event.detail, event.actor]
            names += [keys.deadline(write.tag), keys.agency_due(write.record.agency, shard)]
        self._cas.queue(pipe, names, args)

    def set_opt_out(
        self, channel: str, address_hash: str, *, out: bool, event: AuditEvent, at: int
    ) -> bool:
        """Add or remove an address hash from an opt-out list, with its audit
        event in the address's shard, atomically; True if it changed."""
        pipe = self.client.pipeline(transaction=True)
        listed = self.keys.optout(channel, address_hash)
        if out:
            pipe.sadd(listed, address_hash)
        else:
            pipe.srem(listed, address_hash)
        pipe.xadd(
            self.keys.audit(self.keys.address_shard(address_hash)),
            {"e": event.event, "d": event.tag, "x": event.detail, "by": event.actor, "at": at},
            maxlen=self._audit_maxlen,
            approximate=True,
        )
        changed, _ = pipe.execute()
        return bool(changed)

    def is_opted_out(self, channel: str, address_hash: str) -> bool:
        listed = self.keys.optout(channel, address_hash)
        return bool(self.client.sismember(listed, address_hash))

    def coverage_fields(self) -> dict[str, int]:
        """Every coverage counter, summed over the shards (one round trip:
        O(agencies x months x shards) packed fields)."""
        return counters.summed(self._coverage_reads())

    def coverage_by_shard(self) -> list[dict[str, int]]:
        """Each shard's coverage counters by name, by shard."""
        return [counters.unpack(packed, plain) for packed, plain in self._coverage_reads()]

    def _coverage_reads(self) -> list[tuple[dict[bytes, bytes], dict[str, int]]]:
        """Each shard's packed counters and plain ones, as stored."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.keys.shards):
            pipe.hgetall(self.keys.coverage_packed(shard))
            pipe.hgetall(self.keys.coverage(shard))
        replies = pipe.execute()
        return [
            (packed, {_text(k): int(v) for k, v in plain.items()})
            for packed, plain in zip(replies[::2], replies[1::2], strict=True)
        ]

    def agency_slugs(self) -> list[str]:
        """The registered agencies (their deadlines are in their due indexes)."""
        return sorted(_text(s) for s in self.client.smembers(self.keys.agencies))

    def index_slice(self, shard: int, agency: str, start: int, count: int) -> list[str]:
        """Tags ``start`` to ``start + count`` (by rank) of a shard's part of
        an agency's due index."""
        found: Any = self.client.zrange(
            self.keys.agency_due(agency, shard), start, start + count - 1
        )
        return [_text(tag) for tag in found]

    def shard_records(self, shard: int, batch: int = 1000) -> Iterator[DeadlineRecord]:
        """Every deadline document of one shard, read in batches."""
        for agency in self.agency_slugs():
            start = 0
            while True:
                tags = self.index_slice(shard, agency, start, batch)
                yield from (r for r in self.load_many(tags) if r is not None)
                if len(tags) < batch:
                    break
                start += len(tags)

    def all_records(self, batch: int = 1000) -> Iterator[DeadlineRecord]:
        """Every deadline document, shard by shard (for recounts)."""
        for shard in range(self.keys.shards):
            yield from self.shard_records(shard, batch)

    def replace_coverage(self, shard: int, fields: Mapping[str, int]) -> None:
        """Overwrite one shard's counters (after a recount), atomically, in
        the packed layout."""
        packed, plain = counters.pack(fields)
        names = self.keys.coverage_packed(shard), self.keys.coverage(shard)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*names)
        if packed:
            pipe.hset(names[0], mapping=packed)  # type: ignore[arg-type]
        if plain:
            pipe.hset(names[1], mapping={k: int(v) for k, v in plain.items()})
        pipe.execute()

    def retention_lock(self, timeout_s: int) -> Lock:
        """The lock that keeps one retention sweeper at a time (not taken yet)."""
        lock: Lock = self.client.lock(self.keys.retention_lock, timeout=timeout_s, blocking=False)
        return lock

    def retention_cursor(self) -> str:
        """Where the shared retention sweep stands ("": a new pass)."""
        raw: Any = self.client.get(self.keys.retention_cursor)
        return "" if raw is None else _text(raw)

    def set_retention_cursor(self, cursor: str) -> None:
        self.client.set(self.keys.retention_cursor, cursor)

    def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(self.client.ping())

    def close(self) -> None:
        """Close the connection pool (the client is this store's own)."""
        close_client(self.client)

    def note_last_sms(self, phone_hash: str, rid: str, ttl_s: int) -> None:
        """Remember ``rid`` as the latest SMS to a number, for SNOOZE replies."""
        if phone_hash:
            self.client.set(self.keys.last_sms(phone_hash), rid, ex=ttl_s)

    def last_sms(self, phone_hash: str) -> str | None:
        raw = self.client.get(self.keys.last_sms(phone_hash))
        return None if raw is None else _text(raw)


def _address_state(
    channels: Sequence[str], replies: Iterator[Any]
) -> tuple[frozenset[str], frozenset[str]]:
    """(opted-out channels, failed channels) from the next replies: an
    opt-out check then a failure check per channel checked."""
    opted: set[str] = set()
    failed: set[str] = set()
    for channel in channels:
        if next(replies):
            opted.add(channel)
        if next(replies):
            failed.add(channel)
    return frozenset(opted), frozenset(failed)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def next_planned(tag: str, record: DeadlineRecord | None) -> tuple[str, float] | None:
    """A deadline's entry in the schedule: its earliest planned reminder
    (member, send time), or None. Only that one is in the schedule; when it
    leaves ``planned`` (taken, skipped, re-planned), the write that moves it
    puts the next one there: a third of the memory for three reminders."""
    first = _first_planned(record)
    return None if first is None else (reminder_id(tag, first.seq), first.send_at)


def _first_planned(record: DeadlineRecord | None) -> ReminderRecord | None:
    first: ReminderRecord | None = None
    if record is not None:  # one pass: every write asks twice (before, after)
        for r in record.reminders:
            if r.state == "planned" and (
                first is None or (r.send_at, r.seq) < (first.send_at, first.seq)
            ):
                first = r
    return first


def _schedule_changes(write: Write) -> tuple[dict[str, float], list[str]]:
    """The schedule entries a write adds and removes: its receipt checks,
    and the deadline's next planned reminder when that changed.

    The former next reminder is removed only when it is still planned (moved
    later than another): one that left ``planned`` was either claimed (no
    longer in the schedule) or is in the write's own removals (superseded,
    closed)."""
    adds = dict(write.schedule_add)
    removes = list(write.schedule_remove)
    was, will = _first_planned(write.before), _first_planned(write.record)
    if _entry(was) != _entry(will):
        if will is not None:
            adds[reminder_id(write.tag, will.seq)] = will.send_at
        still = None if was is None else write.record.reminder(was.seq)
        if still is not None and still.state == "planned":
            removes.append(reminder_id(write.tag, still.seq))
    return adds, [m for m in dict.fromkeys(removes) if m not in adds]


def _entry(reminder: ReminderRecord | None) -> tuple[int, float] | None:
    return None if reminder is None else (reminder.seq, reminder.send_at)
