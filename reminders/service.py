"""The library API agency systems call: register, update, close, snooze.

:class:`ReminderService` holds no state of its own: every call reads the
deadline's document, decides with the pure planner, and writes back with a
version check, retrying when a concurrent writer got there first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from . import coverage
from .clock import Clock
from .coverage import CoverageReport
from .errors import (
    ConflictError,
    DeadlineClosed,
    DeadlineNotFound,
    DeadlinePassed,
    InvalidRequest,
    ReminderNotFound,
    SnoozeTooLate,
)
from .keys import deadline_tag, reminder_id, split_reminder_id
from .models import ChannelName, Citizen, Deadline, explain, zone
from .planning import Slot, plan, sms_time
from .policy import Policy, PolicyBook
from .record import WAITING, WENT_OUT, DeadlineRecord, ReminderRecord
from .retention import Retention, SweepResult
from .store import AuditEvent, RedisStore, Snapshot, Write
from .vault import Contact, ContactVault
from .views import DeadlineView, ItemResult, Receipt, ReminderView

MAX_SNOOZE = timedelta(days=60)
OPT_OUT_CHANNELS: tuple[ChannelName, ...] = ("sms", "email")


@dataclass(frozen=True, slots=True)
class _Intent:
    """A validated registration, resolved against policy, contact sealed later."""

    tag: str
    deadline: Deadline
    policy: Policy
    due: int
    channels: list[ChannelName]
    offsets_s: list[int]
    contact: Contact
    phone_hash: str
    email_hash: str
    fingerprint: str
    """Keyed digest of the whole payload; it starts with ``content``."""
    content: str
    """Keyed digest of what a calendar invite shows: a change sends an update."""

    @property
    def lookup(self) -> tuple[str, str, str]:
        return self.tag, self.phone_hash, self.email_hash


@dataclass(frozen=True, slots=True)
class _Decision:
    receipt: Receipt
    write: Write | None


class ReminderService:
    """Registers citizens' deadlines and keeps their reminders planned."""

    def __init__(
        self,
        *,
        store: RedisStore,
        vault: ContactVault,
        policies: PolicyBook,
        clock: Clock,
        max_attempts: int = 25,
        batch_size: int = 500,
        coverage_target: float = 0.60,
    ) -> None:
        self.store = store
        self.vault = vault
        self.policies = policies
        self.clock = clock
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self.coverage_target = coverage_target

    # -- registration -------------------------------------------------

    def register(self, deadline: Deadline) -> Receipt:
        """Create or update a deadline (idempotent upsert on agency and ref).

        The same payload again changes nothing; a change re-plans the
        reminders not yet sent. A completed or cancelled deadline is not
        reopened: the receipt reports its status and nothing changes.
        """
        if not isinstance(deadline, Deadline):
            raise InvalidRequest("deadline", "must be a reminders.Deadline")
        return self._upsert(self._intent(deadline))

    def register_many(self, items: Iterable[Deadline | Mapping[str, Any]]) -> list[ItemResult]:
        """Register many deadlines (Deadline objects or plain mappings) in
        pipelined batches. Each item gets its own result; a refused item is
        never half-written and never stops the others."""
        results: list[ItemResult] = []
        batch: list[tuple[int, Deadline | Mapping[str, Any]]] = []
        for index, item in enumerate(items):
            batch.append((index, item))
            if len(batch) >= self._batch_size:
                results.extend(self._register_batch(batch))
                batch = []
        if batch:
            results.extend(self._register_batch(batch))
        return results

    def _register_batch(
        self, batch: Sequence[tuple[int, Deadline | Mapping[str, Any]]]
    ) -> list[ItemResult]:
        outcome: dict[int, ItemResult] = {}
        intents: dict[int, _Intent] = {}
        for index, item in batch:
            try:
                deadline = item if isinstance(item, Deadline) else Deadline.model_validate(item)
                intents[index] = self._intent(deadline)
            except ValidationError as err:
                outcome[index] = ItemResult(index=index, ok=False, error=explain(err))
            except InvalidRequest as err:
                outcome[index] = ItemResult(index=index, ok=False, error=str(err))
        # Items repeating a deadline of the batch go one by one afterwards.
        first: dict[str, int] = {}
        later: list[int] = []
        for index, intent in intents.items():
            if intent.tag in first:
                later.append(index)
            else:
                first[intent.tag] = index
        leaders = list(first.values())
        snaps = self.store.snapshots([intents[i].lookup for i in leaders])
        pending: list[tuple[int, _Decision]] = []
        for index, snap in zip(leaders, snaps, strict=True):
            decision = self._decide(intents[index], snap)
            if decision.write is None:
                outcome[index] = ItemResult(index=index, ok=True, receipt=decision.receipt)
            else:
                pending.append((index, decision))
        written = self.store.write_many([d.write for _, d in pending if d.write is not None])
        for (index, decision), ok in zip(pending, written, strict=True):
            if ok:
                outcome[index] = ItemResult(index=index, ok=True, receipt=decision.receipt)
            else:
                later.append(index)
        for index in sorted(later):
            try:
                receipt = self._upsert(intents[index])
                outcome[index] = ItemResult(index=index, ok=True, receipt=receipt)
            except InvalidRequest as err:
                outcome[index] = ItemResult(index=index, ok=False, error=str(err))
        return [outcome[index] for index, _ in batch]

    def _upsert(self, intent: _Intent) -> Receipt:
        for _ in range(self._max_attempts):
            (snap,) = self.store.snapshots([intent.lookup])
            decision = self._decide(intent, snap)
            if decision.write is None or self.store.write_many([decision.write])[0]:
                return decision.receipt
        raise ConflictError(f"deadline {intent.deadline.ref!r} kept changing; try again")

    def _intent(self, deadline: Deadline) -> _Intent:
        now = self.clock.now()
        due = deadline.due_instant()
        if due <= now:
            raise DeadlinePassed("due", "is not in the future")
        policy = self.policies.for_agency(deadline.agency)
        channels = list(deadline.channels or policy.channels)
        offsets = deadline.offsets or list(policy.offsets)
        offsets_s = [int(o.total_seconds()) for o in offsets]
        citizen = deadline.citizen
        contact = Contact(phone=citizen.phone, email=citizen.email)
        phone_hash = self.vault.address_hash("sms", citizen.phone) if citizen.phone else ""
        email_hash = self.vault.address_hash("email", citizen.email) if citizen.email else ""
        shown = {
            "due": int(due.timestamp()),
            "all_day": deadline.all_day,
            "tz": citizen.timezone,
            "locale": citizen.locale,
            "title": deadline.title,
            "url": deadline.action_url,
            "offsets": offsets_s,
        }
        content = json.dumps(shown, sort_keys=True)
        payload = json.dumps(
            [content, deadline.agency, deadline.ref, channels, citizen.phone, citizen.email],
            sort_keys=True,
        )
        content_fp = self.vault.fingerprint(content.encode())
        return _Intent(
            tag=deadline_tag(deadline.agency, deadline.ref),
            deadline=deadline,
            policy=policy,
            due=int(due.timestamp()),
            channels=channels,
            offsets_s=offsets_s,
            contact=contact,
            phone_hash=phone_hash,
            email_hash=email_hash,
            fingerprint=content_fp + self.vault.fingerprint(payload.encode()),
            content=content_fp,
        )

    def _decide(self, intent: _Intent, snap: Snapshot) -> _Decision:
        now = _epoch(self.clock.now())
        existing = snap.record
        if existing is not None and (
            existing.fingerprint == intent.fingerprint or existing.status != "active"
        ):
            return _Decision(_receipt(intent.tag, existing, created=False, changed=False), None)
        deadline = intent.deadline
        reachable = _reachable(intent.contact, snap.opted_out)
        actor = f"agency:{deadline.agency}"
        if existing is None:
            record = DeadlineRecord(
                version=1,
                agency=deadline.agency,
                ref=deadline.ref,
                due=intent.due,
                all_day=deadline.all_day,
                timezone=deadline.citizen.timezone,
                locale=deadline.citizen.locale,
                title={str(k): v for k, v in deadline.title.items()},
                action_url=deadline.action_url,
                channels=list(intent.channels),
                offsets_s=intent.offsets_s,
                contact=self.vault.seal(intent.contact),
                phone_hash=intent.phone_hash,
                email_hash=intent.email_hash,
                fingerprint=intent.fingerprint,
                created=now,
                updated=now,
            )
            kept: list[ReminderRecord] = []
            waiting: list[ReminderRecord] = []
            invite = True
        else:
            record = existing.copy()
            record.version += 1
            invite = not existing.fingerprint.startswith(intent.content)
            record.due = intent.due
            record.all_day = deadline.all_day
            record.timezone = deadline.citizen.timezone
            record.locale = deadline.citizen.locale
            record.title = {str(k): v for k, v in deadline.title.items()}
            record.action_url = deadline.action_url
            record.channels = list(intent.channels)
            record.offsets_s = intent.offsets_s
            record.contact = self.vault.seal(intent.contact)
            record.phone_hash = intent.phone_hash
            record.email_hash = intent.email_hash
            record.fingerprint = intent.fingerprint
            record.purged = 0  # a contact again (an active deadline re-registered)
            record.updated = now
            kept = [r for r in record.reminders if r.state not in WAITING]
            waiting = [r for r in record.reminders if r.state in WAITING]
        slots = plan(
            due=_utc(intent.due),
            tz=zone(deadline.citizen.timezone),
            now=_utc(now),
            offsets=[timedelta(seconds=s) for s in intent.offsets_s],
            channels=intent.channels,
            reachable=reachable,
            policy=intent.policy,
            already_sent=[_utc(r.send_at) for r in kept if r.state in WENT_OUT],
            invite=invite,
        )
        reminders, added, removed = _merge(
            record, kept, waiting, slots, now, keep_invites=not invite
        )
        record.reminders = reminders
        record.unplanned = ""
        if not reminders:
            wanted = set(intent.channels)
            addressed = _reachable(intent.contact, frozenset())
            record.unplanned = "opted_out" if wanted & addressed - reachable else "late"
        event = AuditEvent(
            "registered" if existing is None else "updated",
            intent.tag,
            actor,
            _detail(planned=added, superseded=removed),
        )
        write = Write(
            tag=intent.tag,
            expected_version=0 if existing is None else existing.version,
            record=record,
            at=now,
            schedule_add={
                reminder_id(intent.tag, r.seq): r.send_at for r in reminders if r.state == "planned"
            },
            schedule_remove=[reminder_id(intent.tag, seq) for seq in removed],
            audit=[event],
            before=existing,
        )
        receipt = _receipt(intent.tag, record, created=existing is None, changed=True)
        return _Decision(receipt, write)

    # -- reading --------------------------------------------------------

    def get(self, agency: str, ref: str) -> DeadlineView:
        """The deadline registered under (agency, ref), with its reminders."""
        tag = deadline_tag(agency, ref)
        record = self.store.load(tag)
        if record is None:
            raise DeadlineNotFound(agency, ref)
        return DeadlineView.of(tag, record)

    # -- changes ----------------------------------------------------------

    def reschedule(self, agency: str, ref: str, *, due: datetime) -> Receipt:
        """Move the deadline; reminders not yet sent are re-planned."""
        tag = deadline_tag(agency, ref)
        record = self._load_active(agency, ref, tag)
        contact = self.vault.open(record.contact)
        try:
            deadline = Deadline.model_validate(
                {
                    "agency": record.agency,
                    "ref": record.ref,
                    "due": due,
                    "title": record.title,
                    "action_url": record.action_url,
                    "channels": record.channels,
                    "offsets": [timedelta(seconds=s) for s in record.offsets_s],
                    "citizen": {
                        "phone": contact.phone,
                        "email": contact.email,
                        "locale": record.locale,
                        "timezone": record.timezone,
                    },
                }
            )
        except ValidationError as err:
            raise InvalidRequest("due", explain(err)) from None
        return self.register(deadline)

    def complete(self, agency: str, ref: str) -> DeadlineView:
        """The citizen did it: reminders not yet sent are skipped."""
        return self._close(agency, ref, "completed")

    def cancel(self, agency: str, ref: str) -> DeadlineView:
        """The agency withdrew the deadline: reminders not yet sent are skipped."""
        return self._close(agency, ref, "cancelled")

    def _close(self, agency: str, ref: str, status: str) -> DeadlineView:
        tag = deadline_tag(agency, ref)
        for _ in range(self._max_attempts):
            existing = self.store.load(tag)
            if existing is None:
                raise DeadlineNotFound(agency, ref)
            if existing.status == status:
                return DeadlineView.of(tag, existing)
            if existing.status != "active":
                raise DeadlineClosed(agency, ref, existing.status)
            now = _epoch(self.clock.now())
            record = existing.copy()
            record.version += 1
            record.status = "completed" if status == "completed" else "cancelled"
            record.closed = now
            record.updated = now
            skipped: list[int] = []
            for reminder in record.reminders:
                if reminder.state in WAITING:
                    reminder.state = "skipped"
                    reminder.reason = status
                    reminder.updated = now
                    skipped.append(reminder.seq)
            stale = [reminder_id(tag, seq) for seq in skipped]
            planned: list[int] = []
            add: dict[str, int] = {}
            invited = any(r.kind == "invite" and r.state in WENT_OUT for r in record.reminders)
            if invited and record.email_hash:
                record.invite_seq += 1
                cancel = ReminderRecord(
                    seq=record.next_seq, channel="calendar", send_at=now, kind="invite_cancel"
                )
                record.next_seq += 1
                record.reminders.append(cancel)
                add[reminder_id(tag, cancel.seq)] = now
                planned.append(cancel.seq)
            event = AuditEvent(
                status, tag, f"agency:{agency}", _detail(skipped=skipped, planned=planned)
            )
            write = Write(tag, existing.version, record, now, add, stale, [event], existing)
            if self.store.write_many([write])[0]:
                return DeadlineView.of(tag, record)
        raise ConflictError(f"deadline {ref!r} kept changing; try again")

    def snooze(self, reminder: str, *, by: timedelta) -> ReminderView:
        """Put a reminder off by ``by``.

        A planned reminder moves later; one already sent is followed by a
        new reminder ``by`` from now on the same channel. Either way it must
        still land before the deadline (SnoozeTooLate otherwise).
        """
        parts = split_reminder_id(reminder)
        if parts is None:
            raise ReminderNotFound(reminder)
        if by <= timedelta(0) or by > MAX_SNOOZE:
            raise InvalidRequest(
                "by", f"must be a positive duration of at most {MAX_SNOOZE.days} days"
            )
        tag, seq = parts
        for _ in range(self._max_attempts):
            existing = self.store.load(tag)
            target = None if existing is None else existing.reminder(seq)
            if existing is None or target is None:
                raise ReminderNotFound(reminder)
            if existing.status != "active":
                raise DeadlineClosed(existing.agency, existing.ref, existing.status)
            if target.channel == "calendar":
                raise InvalidRequest("reminder", "calendar invites cannot be snoozed")
            now = self.clock.now()
            record = existing.copy()
            record.version += 1
            moved = record.reminder(seq)
            assert moved is not None
            if moved.state == "planned":
                base = max(_utc(moved.send_at), now)
            elif moved.state in WENT_OUT and moved.state != "sending":
                base = now
            else:
                raise InvalidRequest("reminder", f"cannot be snoozed while {moved.state}")
            when = self._snooze_time(record, moved.channel, base + by, base, now)
            if moved.state == "planned":
                moved.send_at = when
                moved.updated = _epoch(now)
                result = moved
            else:
                result = ReminderRecord(
                    seq=record.next_seq, channel=moved.channel, send_at=when, kind="snooze"
                )
                record.next_seq += 1
                record.reminders.append(result)
            record.updated = _epoch(now)
            rid = reminder_id(tag, result.seq)
            event = AuditEvent("snoozed", tag, "citizen", f"{result.seq} to {when}")
            write = Write(
                tag, existing.version, record, _epoch(now), {rid: when}, (), [event], existing
            )
            if self.store.write_many([write])[0]:
                return ReminderView.of(tag, result)
        raise ConflictError(f"reminder {reminder!r} kept changing; try again")

    def _snooze_time(
        self, record: DeadlineRecord, channel: str, wanted: datetime, base: datetime, now: datetime
    ) -> int:
        due = _utc(record.due)
        latest = due - timedelta(minutes=1)
        when: datetime | None = wanted
        if channel == "sms":
            policy = self.policies.for_agency(record.agency)
            when = sms_time(wanted, due=due, now=now, tz=zone(record.timezone), policy=policy)
        if when is None or when >= latest:
            room = max((latest - base).days, 0)
            raise SnoozeTooLate(
                "by", f"would land after the deadline; {room} day(s) at most are possible"
            )
        return _epoch(when)

    # -- coverage ---------------------------------------------------------

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
            self.store.coverage_fields(),
            target=self.coverage_target if target is None else target,
            agency=agency,
            start=start,
            end=end,
            today=self.clock.now().date(),
        )

    def recount(self, *, fix: bool = False) -> dict[str, tuple[int, int]]:
        """Rebuild the counters from the documents; returns every field where
        they differ as (counter, recount). ``fix`` writes the recount."""
        counted = coverage.recount(self.store.all_records())
        kept = self.store.coverage_fields()
        differences = {
            name: (kept.get(name, 0), counted.get(name, 0))
            for name in sorted(set(kept) | set(counted))
            if kept.get(name, 0) != counted.get(name, 0)
        }
        if fix and differences:
            self.store.replace_coverage({k: v for k, v in counted.items() if v})
        return differences

    def retention(self, *, batch: int = 500) -> Retention:
        """The retention sweep over this service's deadlines."""
        return Retention(self.store, self.policies, self.clock, batch=batch)

    def purge(self, *, dry_run: bool = False) -> SweepResult:
        """Purge now the personal data that retention allows (a whole pass;
        see :mod:`reminders.retention`). ``dry_run`` only counts."""
        return self.retention().run_pass(dry_run=dry_run)

    def opt_out(self, channel: str, address: str) -> bool:
        """Stop all reminders on ``channel`` to ``address``; True if it was new."""
        return self._set_opt_out(channel, address, out=True)

    def opt_in(self, channel: str, address: str) -> bool:
        """Undo an opt-out; True if the address was opted out."""
        return self._set_opt_out(channel, address, out=False)

    def is_opted_out(self, channel: str, address: str) -> bool:
        return self.store.is_opted_out(channel, self.address_hash(channel, address))

    def _set_opt_out(self, channel: str, address: str, *, out: bool) -> bool:
        digest = self.address_hash(channel, address)
        event = AuditEvent("opted_out" if out else "opted_in", "", f"citizen:{channel}")
        return self.store.set_opt_out(
            channel, digest, out=out, event=event, at=_epoch(self.clock.now())
        )

    def address_hash(self, channel: str, address: str) -> str:
        """The keyed hash an address is known by (opt-out lists, reply lookups);
        InvalidRequest when the address is not a valid phone number or email."""
        if channel not in OPT_OUT_CHANNELS:
            raise InvalidRequest("channel", "must be sms or email")
        try:
            if channel == "sms":
                normal = Citizen(phone=address).phone
            else:
                normal = Citizen(email=address).email
        except ValidationError as err:
            raise InvalidRequest("address", explain(err).split(": ", 1)[-1]) from None
        if normal is None:
            raise InvalidRequest("address", "is empty")
        return self.vault.address_hash(channel, normal)

    def _load_active(self, agency: str, ref: str, tag: str) -> DeadlineRecord:
        record = self.store.load(tag)
        if record is None:
            raise DeadlineNotFound(agency, ref)
        if record.status != "active":
            raise DeadlineClosed(agency, ref, record.status)
        return record


def _reachable(contact: Contact, opted_out: frozenset[str]) -> set[ChannelName]:
    reachable: set[ChannelName] = set()
    if contact.phone and "sms" not in opted_out:
        reachable.add("sms")
    if contact.email and "email" not in opted_out:
        reachable.update(("email", "calendar"))
    return reachable


def _merge(
    record: DeadlineRecord,
    kept: list[ReminderRecord],
    waiting: list[ReminderRecord],
    slots: list[Slot],
    now: int,
    *,
    keep_invites: bool,
) -> tuple[list[ReminderRecord], list[int], list[int]]:
    """New reminder list: reminders that went out stay; waiting ones that the
    new plan repeats keep their id; the others are superseded."""
    by_key = {(r.channel, r.send_at, r.kind, r.offset_s): r for r in waiting}
    result = list(kept)
    added: list[int] = []
    reused: set[int] = set()
    for slot in slots:
        offset_s = None if slot.offset is None else int(slot.offset.total_seconds())
        key = (slot.channel, _epoch(slot.send_at), slot.kind, offset_s)
        match = by_key.get(key)
        if match is not None and match.seq not in reused:
            reused.add(match.seq)
            result.append(match)
            continue
        if slot.kind == "invite":
            record.invite_seq += 1
        fresh = ReminderRecord(
            seq=record.next_seq,
            channel=slot.channel,
            send_at=_epoch(slot.send_at),
            kind=slot.kind,
            offset_s=offset_s,
            updated=now,
        )
        record.next_seq += 1
        result.append(fresh)
        added.append(fresh.seq)
    removed: list[int] = []
    for reminder in waiting:
        if reminder.seq in reused:
            continue
        if keep_invites and reminder.kind in ("invite", "invite_cancel"):
            result.append(reminder)
            continue
        removed.append(reminder.seq)
    result.sort(key=lambda r: r.seq)
    return result, added, removed


def _detail(**changes: list[int]) -> str:
    """Audit detail such as ``planned 1,2,3 superseded 4``."""
    return " ".join(f"{what} {','.join(map(str, seqs))}" for what, seqs in changes.items() if seqs)


def _receipt(tag: str, record: DeadlineRecord, *, created: bool, changed: bool) -> Receipt:
    return Receipt(
        agency=record.agency,
        ref=record.ref,
        status=record.status,
        created=created,
        changed=changed,
        reminders=[ReminderView.of(tag, r) for r in record.reminders if r.state in WAITING],
    )


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
