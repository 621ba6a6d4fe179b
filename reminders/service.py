"""The library API agency systems and operators call: a thin facade.

:class:`ReminderService` holds no state of its own and no rules: each call
goes to the module of its use case (:mod:`.registration`, :mod:`.closing`,
:mod:`.snoozing`, :mod:`.optouts`, :mod:`.coverage`, :mod:`.retention`),
each of which reads, decides with pure rules and writes with a version check.
Build it with :func:`reminders.connect`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, ParamSpec, TypeVar

import redis

from . import coverage, listing
from .agencies import Agency, AgencyRegistry
from .clock import Clock
from .closing import Closer
from .coverage import CoverageReport, Slice
from .errors import DeadlineNotFound, InvalidRequest, Unavailable
from .ids import deadline_tag, split_reminder_id
from .models import Deadline
from .optouts import OptOuts
from .policy import PolicyBook
from .record import DeadlineRecord, ReminderRecord
from .redis.store import RedisStore
from .registration import Registrar
from .retention import Retention, SweepResult
from .snoozing import Snoozer
from .vault import ContactVault
from .views import DeadlineView, ItemResult, Receipt, ReminderView

P = ParamSpec("P")
R = TypeVar("R")


def _redis_errors(method: Callable[P, R]) -> Callable[P, R]:
    """A Redis that does not answer is :class:`Unavailable` (a ReminderError
    naming no address), not the client library's own exception."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as err:
            raise Unavailable(f"Redis does not answer ({type(err).__name__})") from err

    return call


@dataclass(frozen=True, slots=True)
class Found:
    """A reminder and the deadline document it belongs to."""

    reminder_id: str
    record: DeadlineRecord
    reminder: ReminderRecord


@dataclass(frozen=True, slots=True)
class Stopped:
    """What following a reminder's stop link did."""

    channel: Literal["sms", "email"]
    changed: bool
    """False when the address was already opted out."""


class ReminderService:
    """Registers citizens' deadlines and keeps their reminders planned."""

    def __init__(
        self,
        *,
        store: RedisStore,
        vault: ContactVault,
        policies: PolicyBook,
        clock: Clock,
        agencies: AgencyRegistry,
        max_attempts: int = 25,
        batch_size: int = 500,
        coverage_target: float = 0.60,
    ) -> None:
        self._store = store
        self._vault = vault
        self.clock = clock
        """The service's clock (a manual one in tests and the demo)."""
        self.coverage_target = coverage_target
        self._agencies = agencies
        self._registrar = Registrar(
            store=store,
            vault=vault,
            policies=policies,
            clock=clock,
            agencies=agencies,
            max_attempts=max_attempts,
            batch_size=batch_size,
        )
        self._closer = Closer(store=store, clock=clock, max_attempts=max_attempts)
        self._snoozer = Snoozer(
            store=store, policies=policies, clock=clock, max_attempts=max_attempts
        )
        self._optouts = OptOuts(store=store, vault=vault, clock=clock)
        self._retention = Retention(store, policies, clock)

    # -- registration -------------------------------------------------

    @_redis_errors
    def register(self, deadline: Deadline) -> Receipt:
        """Create or update a deadline (idempotent upsert on agency and ref).

        The same payload again changes nothing; a change re-plans the
        reminders not yet sent. A completed or cancelled deadline is not
        reopened: the receipt reports its status and nothing changes.
        """
        return self._registrar.register(deadline)

    @_redis_errors
    def register_many(self, items: Iterable[Deadline | Mapping[str, Any]]) -> list[ItemResult]:
        """Register many deadlines (Deadline objects or plain mappings) in
        pipelined batches. Each item gets its own result; a refused item is
        never half-written and never stops the others."""
        return self._registrar.register_many(items)

    @_redis_errors
    def reschedule(self, agency: str, ref: str, *, due: datetime | date) -> Receipt:
        """Move the deadline; reminders not yet sent are re-planned."""
        return self._registrar.reschedule(agency, ref, due=due)

    # -- agencies -------------------------------------------------------

    @_redis_errors
    def add_agency(self, slug: str, *, name_fr: str, name_en: str) -> Agency:
        """Register an agency (``reminders agencies add``): deadlines of
        agencies that are not registered are refused."""
        return self._agencies.add(slug, name_fr=name_fr, name_en=name_en)

    @_redis_errors
    def agency(self, slug: str) -> Agency:
        """A registered agency (AgencyNotFound otherwise)."""
        return self._agencies.get(slug)

    # -- reading --------------------------------------------------------

    @_redis_errors
    def get(self, agency: str, ref: str) -> DeadlineView:
        """The deadline registered under (agency, ref), with its reminders."""
        tag = deadline_tag(agency, ref)
        record = self._store.load(tag)
        if record is None:
            raise DeadlineNotFound(agency, ref)
        return DeadlineView.of(tag, record)

    @_redis_errors
    def deadlines(
        self,
        agency: str,
        *,
        status: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> listing.Page:
        """A page of the agency's deadlines by due time (UTC days); give the
        page's ``next_cursor`` back for the next one."""
        return listing.page(
            self._store,
            agency,
            status=status,
            due_from=due_from,
            due_to=due_to,
            cursor=cursor,
            limit=limit,
        )

    @_redis_errors
    def find(self, reminder_id: str) -> Found | None:
        """The reminder with that id and its deadline's document, or None."""
        parts = split_reminder_id(reminder_id)
        record = None if parts is None else self._store.load(parts[0])
        reminder = None if record is None or parts is None else record.reminder(parts[1])
        if record is None or reminder is None:
            return None
        return Found(reminder_id, record, reminder)

    @_redis_errors
    def latest_sms(self, phone: str) -> Found | None:
        """The latest SMS reminder sent to ``phone`` (for SNOOZE replies), or
        None; InvalidRequest when ``phone`` is not a valid number."""
        rid = self._store.last_sms(self._optouts.address_hash("sms", phone))
        return None if rid is None else self.find(rid)

    # -- changes ----------------------------------------------------------

    @_redis_errors
    def complete(self, agency: str, ref: str) -> DeadlineView:
        """The citizen did it: reminders not yet sent are skipped."""
        return self._closer.close(agency, ref, "completed")

    @_redis_errors
    def cancel(self, agency: str, ref: str) -> DeadlineView:
        """The agency withdrew the deadline: reminders not yet sent are skipped."""
        return self._closer.close(agency, ref, "cancelled")

    @_redis_errors
    def snooze(self, reminder: str, *, by: timedelta) -> ReminderView:
        """Put a reminder off by ``by``.

        A planned reminder moves later; one already sent is followed by a
        new reminder ``by`` from now on the same channel. Either way it must
        still land before the deadline (SnoozeTooLate otherwise).
        """
        return self._snoozer.snooze(reminder, by=by)

    # -- coverage ---------------------------------------------------------

    @_redis_errors
    def coverage(
        self,
        agency: str | None = None,
        start: date | None = None,
        end: date | None = None,
        *,
        target: float | None = None,
    ) -> CoverageReport:
        """Coverage of the deadlines due from ``start`` to ``end`` (whole
        months), for one agency or all, read from the counters."""
        if start is not None and end is not None and end < start:
            raise InvalidRequest("end", "must not be before start")
        return coverage.report(
            self._store.coverage_fields(),
            target=self.coverage_target if target is None else target,
            agency=agency,
            start=start,
            end=end,
            today=self.clock.now().date(),
        )

    @_redis_errors
    def coverage_grid(
        self, start: date | None = None, end: date | None = None
    ) -> dict[str, list[Slice]]:
        """Coverage by agency and by due month (each agency's months), from
        one read of the counters."""
        fields = self._store.coverage_fields()
        whole = coverage.report(fields, target=self.coverage_target, start=start, end=end)
        return {
            part.key: coverage.report(
                fields, target=self.coverage_target, agency=part.key, start=start, end=end
            ).by_month
            for part in whole.by_agency
        }

    @_redis_errors
    def recount(self, *, fix: bool = False) -> dict[str, tuple[int, int]]:
        """Rebuild the counters from the documents; returns every field where
        they differ as (counter, recount). ``fix`` writes the recount."""
        store = self._store
        counted_total: Counter[str] = Counter()
        kept_total: Counter[str] = Counter()
        for shard, kept in enumerate(store.coverage_by_shard()):
            counted = coverage.recount(store.shard_records(shard))
            counted_total.update(counted)
            kept_total.update(kept)
            if fix and +counted != +Counter(kept):
                store.replace_coverage(shard, {k: v for k, v in counted.items() if v})
        return {
            name: (kept_total[name], counted_total[name])
            for name in sorted(set(kept_total) | set(counted_total))
            if kept_total[name] != counted_total[name]
        }

    # -- retention --------------------------------------------------------

    @_redis_errors
    def purge(self, *, dry_run: bool = False) -> SweepResult:
        """Purge now the personal data that retention allows (a whole pass;
        see :mod:`reminders.retention`). ``dry_run`` only counts."""
        return self._retention.run_pass(dry_run=dry_run)

    # -- opt-outs ---------------------------------------------------------

    @_redis_errors
    def opt_out(self, channel: str, address: str) -> bool:
        """Stop all reminders on ``channel`` to ``address``; True if it was new."""
        return self._optouts.set(channel, address, out=True)

    @_redis_errors
    def opt_in(self, channel: str, address: str) -> bool:
        """Undo an opt-out; True if the address was opted out."""
        return self._optouts.set(channel, address, out=False)

    @_redis_errors
    def is_opted_out(self, channel: str, address: str) -> bool:
        return self._optouts.is_opted_out(channel, address)

    @_redis_errors
    def address_hash(self, channel: str, address: str) -> str:
        """The keyed hash an address is known by (opt-out lists, reply lookups);
        InvalidRequest when the address is not a valid phone number or email."""
        return self._optouts.address_hash(channel, address)

    @_redis_errors
    def stop(self, found: Found) -> Stopped | None:
        """Opt out the address ``found`` went to, on its channel (a calendar
        invite's is the email); None when that address is no longer on file."""
        channel, address = self._address_of(found)
        return None if address is None else Stopped(channel, self.opt_out(channel, address))

    @_redis_errors
    def restart(self, found: Found) -> Stopped | None:
        """Undo :meth:`stop`: the address ``found`` went to gets reminders on
        its channel again (``changed``: it was opted out); None when that
        address is no longer on file."""
        channel, address = self._address_of(found)
        return None if address is None else Stopped(channel, self.opt_in(channel, address))

    def _address_of(self, found: Found) -> tuple[Literal["sms", "email"], str | None]:
        """The channel and address a reminder went to (a calendar invite's
        is the email); None when the address is no longer on file."""
        channel: Literal["sms", "email"] = "sms" if found.reminder.channel == "sms" else "email"
        contact = self._vault.open(found.record.contact)
        return channel, (contact.phone if channel == "sms" else contact.email) or None

    # -- operations -------------------------------------------------------

    @_redis_errors
    def ping(self) -> bool:
        """Whether Redis answers (raises when it does not)."""
        return self._store.ping()

    @_redis_errors
    def close(self) -> None:
        """Close the Redis connections this service opened."""
        self._store.close()
