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

The sweep walks the deadline keys with SCAN in small steps whose cursor is
kept in Redis, so any scheduler carries on where another stopped; a short
lock keeps one sweeper at a time. ``reminders purge`` runs a whole pass.
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
    return record.due


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
        """One step of the shared sweep: up to about ``batch`` keys from the
        stored cursor. Nothing when another process is sweeping."""
        lock = self.store.retention_lock(self.lock_s)
        if not lock.acquire():
            return SweepResult()
        try:
            cursor = self.store.retention_cursor()
            following, records = self.store.scan_records(cursor, self.batch)
            result = self._purge(records, dry_run=False)
            self.store.set_retention_cursor(following)
            return SweepResult(result.scanned, result.purged, result.held, following == 0)
        finally:
            # LockError: it expired meanwhile (a very slow step); nothing to undo.
            with contextlib.suppress(LockError):
                lock.release()

    def run_pass(self, *, dry_run: bool = False) -> SweepResult:
        """A whole pass over every deadline now (``reminders purge``);
        ``dry_run`` counts what would go and writes nothing."""
        total = SweepResult()
        cursor = 0
        while True:
            cursor, records = self.store.scan_records(cursor, self.batch)
            total = total + self._purge(records, dry_run=dry_run)
            if cursor == 0:
                return SweepResult(total.scanned, total.purged, total.held, True)

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
