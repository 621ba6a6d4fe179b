"""Retention: the personal data of a closed deadline goes once its agency's
``retention`` period has passed (DESIGN.md, Storage); what coverage counts
stays.

A deadline is closed when it is completed or cancelled (since then), or when
its due time passed (since then). Once it has been closed for longer than the
retention of its agency's policy, and no reminder of it is still waiting or
being sent, its document is scrubbed by one compare-and-set write:

- the sealed contact (phone number, email address) is removed;
- the keyed address hashes become a marker: whether there was an address is
  still known (coverage tells ``no_contact`` from the rest), which address
  is not (a hash would link the deadlines of one citizen);
- the providers' message ids (their logs hold the address) and the action
  URL (it may carry a case token) are removed;
- ``purged`` says when, and the audit stream gets a ``purged`` event.

The coverage outcome of a scrubbed document is the one it had, so the
counters do not move and a recount still agrees. Opt-outs stay: they are the
citizen's own request, kept by hash only.

The sweep walks the deadlines shard by shard and agency by agency, through
the due indexes, in small steps whose cursor (shard, agency, rank) is kept in
Redis, so any scheduler carries on where another stopped; a short lock keeps
one sweeper at a time. ``reminders purge`` runs a whole pass. (Ranks move
when deadlines are added: a deadline passed over is met on the next pass.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from redis.exceptions import LockError

from .clock import Clock, to_epoch
from .ids import deadline_tag
from .lifecycle.states import NOT_YET_FINAL
from .policy import Policy, PolicyBook
from .record import DeadlineRecord
from .redis.store import AuditEvent, RedisStore, Write

ADDRESS_REMOVED = "purged"
"""What a scrubbed document holds instead of an address hash."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one step or pass of the sweep saw and did."""

    scanned: int = 0
    purged: int = 0
    held: int = 0
    """Closed long enough, but a reminder is still waiting or being sent."""
    complete: bool = False
    """The pass reached the end of the deadline keys."""

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.scanned + other.scanned,
            self.purged + other.purged,
            self.held + other.held,
            other.complete,
        )


def closed_since(record: DeadlineRecord) -> int:
    """When the deadline closed (epoch s): completed or cancelled, or due."""
    if record.status != "active":
        return record.closed or record.updated
    return int(record.due)


def purge_after(record: DeadlineRecord, policy: Policy) -> int:
    """From when (epoch s) its personal data may be purged."""
    return closed_since(record) + int(policy.retention.total_seconds())


def scrub(record: DeadlineRecord, now: int) -> None:
    """Remove the personal data of ``record`` in place (see the module)."""
    record.contact = ""
    record.phone_hash = ADDRESS_REMOVED if record.phone_hash else ""
    record.email_hash = ADDRESS_REMOVED if record.email_hash else ""
    record.action_url = None
    for reminder in record.reminders:
        reminder.provider_id = ""
    record.purged = now


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a pass of the sweep stands: a shard, an agency, a rank in that
    shard's part of the agency's due index."""

    shard: int = 0
    agency: str = ""
    rank: int = 0

    def __str__(self) -> str:
        return f"{self.shard}:{self.agency}:{self.rank}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """The cursor ``str`` gave (a fresh one for "" or anything else)."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
            return cls()
        return cls(int(parts[0]), parts[1], int(parts[2]))


class Retention:
    """Purges what retention allows, in steps or in whole passes."""

    def __init__(
        self,
        store: RedisStore,
        policies: PolicyBook,
        clock: Clock,
        *,
        batch: int = 500,
        lock_s: int = 60,
    ) -> None:
        self.store = store
        self.policies = policies
        self.clock = clock
        self.batch = batch
        self.lock_s = lock_s

    def step(self) -> SweepResult:
        """One step of the shared sweep: up to ``batch`` deadlines from the
        stored cursor. Nothing when another process is sweeping."""
        lock = self.store.retention_lock(self.lock_s)
        if not lock.acquire():
            return SweepResult()
        try:
            cursor = Cursor.parse(self.store.retention_cursor())
            records, following = self._read(cursor)
            result = self._purge(records, dry_run=False)
            self.store.set_retention_cursor(str(following))
            done = following == Cursor()
            return SweepResult(result.scanned, result.purged, result.held, done)
        finally:
            # LockError: it expired meanwhile (a very slow step); nothing to undo.
            with contextlib.suppress(LockError):
                lock.release()

    def run_pass(self, *, dry_run: bool = False) -> SweepResult:
        """A whole pass over every deadline now (``reminders purge``);
        ``dry_run`` counts what would go and writes nothing."""
        total = SweepResult()
        cursor = Cursor()
        while True:
            records, cursor = self._read(cursor)
            total = total + self._purge(records, dry_run=dry_run)
            if cursor == Cursor():
                return SweepResult(total.scanned, total.purged, total.held, True)

    def _read(self, cursor: Cursor) -> tuple[list[DeadlineRecord], Cursor]:
        """Up to ``batch`` deadlines from ``cursor``, and where to go on
        (``Cursor()`` once the pass is complete)."""
        agencies = self.store.agency_slugs()
        shards = self.store.keys.shards
        shard, rank = cursor.shard, cursor.rank
        # The agency the cursor names, or the next one (it may be gone).
        index = next((i for i, a in enumerate(agencies) if a >= cursor.agency), len(agencies))
        if index < len(agencies) and agencies[index] != cursor.agency:
            rank = 0
        while shard < shards:
            if index >= len(agencies):
                shard, index, rank = shard + 1, 0, 0
                continue
            tags = self.store.index_slice(shard, agencies[index], rank, self.batch)
            if not tags:
                index, rank = index + 1, 0
                continue
            records = [r for r in self.store.load_many(tags) if r is not None]
            following = Cursor(shard, agencies[index], rank + len(tags))
            return records, following
        return [], Cursor()

    def _purge(self, records: list[DeadlineRecord], *, dry_run: bool) -> SweepResult:
        now = to_epoch(self.clock.now())
        writes: list[Write] = []
        held = 0
        for record in records:
            if record.purged:
                continue
            if purge_after(record, self.policies.for_agency(record.agency)) > now:
                continue
            if any(r.state in NOT_YET_FINAL for r in record.reminders):
                held += 1
                continue
            tag = deadline_tag(record.agency, record.ref)
            after = record.copy()
            after.version = record.version + 1
            after.updated = now
            scrub(after, now)
            event = AuditEvent("purged", tag, "retention")
            writes.append(Write(tag, record.version, after, now, audit=[event], before=record))
        if dry_run or not writes:
            return SweepResult(len(records), len(writes), held)
        # A document changed since it was read is left for the next pass.
        purged = sum(1 for ok in self.store.write_many(writes) if ok)
        return SweepResult(len(records), purged, held)
