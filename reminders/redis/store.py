"""The Redis store: deadline documents, the schedule, opt-outs, the audit.

Each write of a deadline is one compare-and-set script on its single key
(the version must still be the one read), which also appends the audit
events; a lost race writes nothing and is retried by the service.

The schedule (a sorted set of reminder ids by send time) lives in another
slot, so it is updated in the same round trip but outside the script: new
entries are added *before* the document that refers to them is written and
stale ones removed *after*. A crash in between leaves at most an extra
schedule entry, which the dispatcher discards because the document no longer
plans that reminder at that time; it never leaves a planned reminder that the
schedule does not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.lock import Lock

from .. import coverage
from ..record import DeadlineRecord
from .keys import Keys
from .scripts import Arg, lua, run_pipeline


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Write:
    """A compare-and-set of one deadline document, with its side effects."""

    tag: str
    expected_version: int
    record: DeadlineRecord
    at: int
    schedule_add: Mapping[str, int] = field(default_factory=dict)
    schedule_remove: Sequence[str] = ()
    audit: Sequence[AuditEvent] = ()
    before: DeadlineRecord | None = None
    """The document as read (None for a new one): the coverage counters move
    by the difference, in the same script as the document."""

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


class RedisStore:
    """Reads and writes deadlines in Redis; knows nothing of planning."""

    def __init__(self, client: redis.Redis, keys: Keys, *, audit_maxlen: int = 1_000_000) -> None:
        self.client = client
        self.keys = keys
        self._audit_maxlen = audit_maxlen
        self._cas = lua(__package__, "cas")

    def load(self, tag: str) -> DeadlineRecord | None:
        raw = self.client.get(self.keys.deadline(tag))
        return None if raw is None else DeadlineRecord.loads(_text(raw))

    def load_many(self, tags: Sequence[str]) -> list[DeadlineRecord | None]:
        """The documents of ``tags`` (None where there is none), one round trip."""
        if not tags:
            return []
        raws = self.client.mget([self.keys.deadline(tag) for tag in tags])
        return [None if raw is None else DeadlineRecord.loads(_text(raw)) for raw in raws]

    def due_index(
        self, agency: str, low: int | str, high: int | str, offset: int, count: int
    ) -> list[tuple[str, int]]:
        """(tag, due) of the agency's deadlines due from ``low`` to ``high``
        (epoch s, or ``-inf``/``+inf``), by due time then tag."""
        found = self.client.zrangebyscore(
            self.keys.agency_due(agency), low, high, start=offset, num=count, withscores=True
        )
        pairs: list[tuple[bytes | str, float]] = found  # type: ignore[assignment]
        return [(_text(member), int(score)) for member, score in pairs]

    def snapshots(self, lookups: Sequence[tuple[str, str, str]]) -> list[Snapshot]:
        """For each (tag, phone hash, email hash): the document and which of
        the two addresses are opted out; one round trip for all."""
        pipe = self.client.pipeline(transaction=False)
        for tag, phone_hash, email_hash in lookups:
            pipe.get(self.keys.deadline(tag))
            self._queue_address_state(pipe, phone_hash, email_hash)
        replies = pipe.execute()
        snaps: list[Snapshot] = []
        for i in range(0, len(replies), 5):
            raw = replies[i]
            opted, failed = _address_state(replies[i + 1 : i + 5])
            record = None if raw is None else DeadlineRecord.loads(_text(raw))
            snaps.append(Snapshot(record, opted, failed))
        return snaps

    def _queue_address_state(self, pipe: Any, phone_hash: str, email_hash: str) -> None:
        pipe.sismember(self.keys.optout("sms"), phone_hash or "-")
        pipe.sismember(self.keys.optout("email"), email_hash or "-")
        pipe.exists(self.keys.address_failed("sms", phone_hash or "-"))
        pipe.exists(self.keys.address_failed("email", email_hash or "-"))

    def address_state(
        self, phone_hash: str, email_hash: str
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(opted-out channels, channels whose address failed) of a
        deadline's two addresses; one round trip."""
        pipe = self.client.pipeline(transaction=False)
        self._queue_address_state(pipe, phone_hash, email_hash)
        return _address_state(pipe.execute())

    def mark_address_failed(self, channel: str, address_hash: str, code: str, ttl_s: int) -> None:
        """Remember that a provider reported this address invalid or unreachable."""
        if address_hash and ttl_s > 0:
            self.client.set(self.keys.address_failed(channel, address_hash), code, ex=ttl_s)

    def write_many(self, writes: Sequence[Write]) -> list[bool]:
        """Apply each write whose expected version still holds; True for those.
        One round trip for all of them (two when stale entries go)."""
        if not writes:
            return []
        # A resend after NOSCRIPT is safe: no script ran, and the schedule
        # additions are idempotent.
        replies = run_pipeline(self.client, [self._cas], lambda pipe: self._queue(pipe, writes))
        results: list[bool] = []
        position = 0
        for write in writes:
            position += 1 if write.schedule_add else 0
            results.append(replies[position] == 1)
            position += 1
        stale = [
            member
            for write, ok in zip(writes, results, strict=True)
            if ok
            for member in write.schedule_remove
        ]
        if stale:
            self.client.zrem(self.keys.schedule, *stale)
        return results

    def _queue(self, pipe: Any, writes: Sequence[Write]) -> None:
        for write in writes:
            if write.schedule_add:
                pipe.zadd(self.keys.schedule, dict(write.schedule_add))
            counters = coverage.delta(write.before, write.record)
            moved = write.before is None or write.before.due != write.record.due
            args: list[Arg] = [
                write.expected_version,
                write.record.dumps(),
                self._audit_maxlen,
                write.at,
                write.record.due if moved else "",
                write.tag,
                write.record.agency,
                len(counters),
            ]
            for name, change in counters.items():
                args += [name, change]
            for event in write.audit:
                args += [event.event, event.tag, event.detail, event.actor]
            keys = [
                self.keys.deadline(write.tag),
                self.keys.audit,
                self.keys.coverage,
                self.keys.agency_due(write.record.agency),
            ]
            self._cas.queue(pipe, keys, args)

    def set_opt_out(
        self, channel: str, address_hash: str, *, out: bool, event: AuditEvent, at: int
    ) -> bool:
        """Add or remove an address hash from an opt-out list; True if it changed."""
        pipe = self.client.pipeline(transaction=True)
        if out:
            pipe.sadd(self.keys.optout(channel), address_hash)
        else:
            pipe.srem(self.keys.optout(channel), address_hash)
        pipe.xadd(
            self.keys.audit,
            {"e": event.event, "d": event.tag, "x": event.detail, "by": event.actor, "at": at},
            maxlen=self._audit_maxlen,
            approximate=True,
        )
        changed, _ = pipe.execute()
        return bool(changed)

    def is_opted_out(self, channel: str, address_hash: str) -> bool:
        return bool(self.client.sismember(self.keys.optout(channel), address_hash))

    def coverage_fields(self) -> dict[str, int]:
        """Every coverage counter (one hash: O(agencies x months) fields)."""
        raw = self.client.hgetall(self.keys.coverage)
        return {_text(k): int(v) for k, v in raw.items()}

    def all_records(self, batch: int = 1000) -> Iterator[DeadlineRecord]:
        """Every deadline document, read in batches (for recounts)."""
        pattern = self.keys.deadline("*")
        names: list[bytes] = []
        for name in self.client.scan_iter(match=pattern, count=batch):
            names.append(name)
            if len(names) >= batch:
                yield from self._records(names)
                names = []
        yield from self._records(names)

    def scan_records(self, cursor: int, count: int) -> tuple[int, list[DeadlineRecord]]:
        """One SCAN step over the deadline documents from ``cursor``: the
        next cursor (0 when the pass is complete) and the documents found."""
        pattern = self.keys.deadline("*")
        following, names = self.client.scan(cursor=cursor, match=pattern, count=count)
        return int(following), list(self._records(list(names)))

    def _records(self, names: Sequence[bytes | str]) -> Iterator[DeadlineRecord]:
        if not names:
            return
        for raw in self.client.mget(names):
            if raw is not None:
                yield DeadlineRecord.loads(_text(raw))

    def replace_coverage(self, fields: Mapping[str, int]) -> None:
        """Overwrite the counters (after a recount), in one transaction."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.coverage)
        if fields:
            pipe.hset(self.keys.coverage, mapping={k: int(v) for k, v in fields.items()})
        pipe.execute()

    def retention_lock(self, timeout_s: int) -> Lock:
        """The lock that keeps one retention sweeper at a time (not taken yet)."""
        lock: Lock = self.client.lock(self.keys.retention_lock, timeout=timeout_s, blocking=False)
        return lock

    def retention_cursor(self) -> int:
        """Where the shared retention sweep's SCAN stands (0: a new pass)."""
        raw: Any = self.client.get(self.keys.retention_cursor)
        return int(raw or 0)

    def set_retention_cursor(self, cursor: int) -> None:
        self.client.set(self.keys.retention_cursor, cursor)

    def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(self.client.ping())

    def close(self) -> None:
        """Close the connection pool (the client is this store's own)."""
        self.client.close()

    def note_last_sms(self, phone_hash: str, rid: str, ttl_s: int) -> None:
        """Remember ``rid`` as the latest SMS to a number, for SNOOZE replies."""
        if phone_hash:
            self.client.set(self.keys.last_sms(phone_hash), rid, ex=ttl_s)

    def last_sms(self, phone_hash: str) -> str | None:
        raw = self.client.get(self.keys.last_sms(phone_hash))
        return None if raw is None else _text(raw)


def _address_state(replies: Sequence[Any]) -> tuple[frozenset[str], frozenset[str]]:
    sms_out, email_out, sms_failed, email_failed = replies
    opted = frozenset(name for name, out in (("sms", sms_out), ("email", email_out)) if out)
    failed = frozenset(name for name, bad in (("sms", sms_failed), ("email", email_failed)) if bad)
    return opted, failed


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
