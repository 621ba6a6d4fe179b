"""Registration: the idempotent upsert of a deadline, one or many at a time.

A registration reads the deadline's document and the opt-outs of its
addresses, decides with the pure planner, and writes back with a version
check (:func:`reminders.retrying.until_written`). The same payload again
changes nothing (its keyed fingerprint matches); a changed due date re-plans
the reminders not yet sent; a changed contact is used by those not yet sent.
A completed or cancelled deadline is not reopened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from .agencies import AgencyRegistry
from .clock import Clock, from_epoch, precise_epoch, to_epoch
from .errors import DeadlineClosed, DeadlineNotFound, DeadlinePassed, InvalidRequest
from .ids import deadline_tag, reminder_id
from .lifecycle.states import WAITING, WENT_OUT
from .models import ChannelName, Deadline, explain, zone
from .planning import Slot, plan
from .policy import Policy, PolicyBook
from .record import DeadlineRecord, ReminderRecord
from .redis.store import AuditEvent, RedisStore, Snapshot, Write, seqs_detail
from .retrying import LOST, Lost, until_written
from .vault import Contact, ContactVault
from .views import ItemResult, Receipt, ReminderView


@dataclass(frozen=True, slots=True)
class _Intent:
    """A validated registration, resolved against policy, contact sealed later."""

    tag: str
    deadline: Deadline
    policy: Policy
    due: float
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


class Registrar:
    """Registers, re-registers and reschedules deadlines."""

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
    ) -> None:
        self.agencies = agencies
        self.store = store
        self.vault = vault
        self.policies = policies
        self.clock = clock
        self._max_attempts = max_attempts
        self._batch_size = batch_size

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
        def attempt(_: int) -> Receipt | Lost:
            (snap,) = self.store.snapshots([intent.lookup])
            decision = self._decide(intent, snap)
            if decision.write is None or self.store.write_many([decision.write])[0]:
                return decision.receipt
            return LOST

        return until_written(
            attempt,
            attempts=self._max_attempts,
            conflict=f"deadline {intent.deadline.ref!r} kept changing; try again",
        )

    def _intent(self, deadline: Deadline) -> _Intent:
        self.agencies.require(deadline.agency)
        now = self.clock.now()
        due = deadline.due_instant()
        if due <= now:
            raise DeadlinePassed("due", "is not in the future")
        policy = self.policies.for_agency(deadline.agency)
        if due > now + policy.max_horizon:
            days = policy.max_horizon.days
            raise InvalidRequest(
                "due", f"is more than {days} days ahead (the agency's max_horizon)"
            )
        channels = list(deadline.channels or policy.channels)
        offsets = deadline.offsets or list(policy.offsets)
        offsets_s = [int(o.total_seconds()) for o in offsets]
        citizen = deadline.citizen
        contact = Contact(phone=citizen.phone, email=citizen.email)
        phone_hash = self.vault.address_hash("sms", citizen.phone) if citizen.phone else ""
        email_hash = self.vault.address_hash("email", citizen.email) if citizen.email else ""
        shown = {
            "due": precise_epoch(due),
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
            due=precise_epoch(due),
            channels=channels,
            offsets_s=offsets_s,
            contact=contact,
            phone_hash=phone_hash,
            email_hash=email_hash,
            fingerprint=content_fp + self.vault.fingerprint(payload.encode()),
            content=content_fp,
        )

    def _decide(self, intent: _Intent, snap: Snapshot) -> _Decision:
        now = to_epoch(self.clock.now())
        existing = snap.record
        if existing is not None and (
            existing.fingerprint == intent.fingerprint or existing.status != "active"
        ):
            return _Decision(_receipt(intent.tag, existing, created=False, changed=False), None)
        deadline = intent.deadline
        reachable = _reachable(intent.contact, snap.opted_out | snap.failed)
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
            due=from_epoch(intent.due),
            tz=zone(deadline.citizen.timezone),
            now=from_epoch(now),
            offsets=[timedelta(seconds=s) for s in intent.offsets_s],
            channels=intent.channels,
            reachable=reachable,
            policy=intent.policy,
            already_sent=[from_epoch(r.send_at) for r in kept if r.state in WENT_OUT],
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
            seqs_detail(planned=added, superseded=removed),
        )
        write = Write(
            tag=intent.tag,
            expected_version=0 if existing is None else existing.version,
            record=record,
            at=now,
            schedule_remove=[reminder_id(intent.tag, seq) for seq in removed],
            audit=[event],
            before=existing,
        )
        receipt = _receipt(intent.tag, record, created=existing is None, changed=True)
        return _Decision(receipt, write)

    def reschedule(self, agency: str, ref: str, *, due: datetime | date) -> Receipt:
        """Move the deadline; reminders not yet sent are re-planned."""
        record = self.store.load(deadline_tag(agency, ref))
        if record is None:
            raise DeadlineNotFound(agency, ref)
        if record.status != "active":
            raise DeadlineClosed(agency, ref, record.status)
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
        key = (slot.channel, precise_epoch(slot.send_at), slot.kind, offset_s)
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
            send_at=precise_epoch(slot.send_at),
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


def _receipt(tag: str, record: DeadlineRecord, *, created: bool, changed: bool) -> Receipt:
    return Receipt(
        agency=record.agency,
        ref=record.ref,
        status=record.status,
        created=created,
        changed=changed,
        reminders=[ReminderView.of(tag, r) for r in record.reminders if r.state in WAITING],
    )
